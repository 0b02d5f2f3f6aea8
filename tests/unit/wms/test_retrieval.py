"""Retrieval planning on the tiny plant: relocation counts against known minima, refusals, hard rules.

Positions: FS1 bay B1, rows R01/R02, ground P01..P08 and upper Pk-U resting on ground Pk and Pk+1. Every
coil is the factory's 20 t, 1.8 m coil, so any upper position over two occupied grounds is legal for it.
"""

from __future__ import annotations

import json
import random

import pytest

from tests.wms_factories import fresh_yard, make_coil, make_stack, place_coil
from wms.domain.errors import (
    Blocked,
    InvalidInput,
    LocationLocked,
    NoPlaceFound,
    OnHold,
    Reserved,
    UnitBusy,
    UnknownCoil,
)
from wms.domain.locations import LocationKind
from wms.domain.retrieval import (
    RELOCATION,
    RETRIEVAL,
    NotEnoughStock,
    RetrievalPlan,
    StepState,
    plan_retrieval,
    plan_retrieval_batch,
    plan_retrieval_by_criteria,
    select_by_criteria,
)
from wms.domain.stacking import placement_violations
from wms.domain.units import HoldKind
from wms.domain.yard import MoveState, Yard

DEST = "H-FS1"
T0 = 100.0


def g(k: int, row: int = 1) -> str:
    return f"FS1-B1-R{row:02d}-P{k:02d}-G"


def u(k: int, row: int = 1) -> str:
    return f"FS1-B1-R{row:02d}-P{k:02d}-U"


def yard_with(places: dict[str, str], *, due: dict[str, float] | None = None) -> Yard:
    """A yard with coil `name` at each position (grounds first, so uppers find their supports)."""
    yard = fresh_yard()
    for name, position in sorted(places.items(), key=lambda item: item[1].endswith("-U")):
        place_coil(yard, make_coil(id=name, due=(due or {}).get(name)), position)
    return yard


def lock_in(yard: Yard, positions: list[str]) -> None:
    for position in positions:
        yard.lock(position, "in", "test: not available", at=0, actor="test")


def supports_of(yard: Yard, position: str) -> set[str]:
    saddle = yard.plant.saddle_positions[position]
    return set(saddle.supports or ())


def relocation_targets(plan: RetrievalPlan) -> list[str]:
    return [s.target for s in plan.steps if s.purpose == RELOCATION]


def assert_relocations_bury_no_plan_unit(yard: Yard, plan: RetrievalPlan) -> None:
    """No relocation target rests on a unit of the batch (checked on the yard as planned)."""
    units = set(plan.units)
    for target in relocation_targets(plan):
        for support in supports_of(yard, target) if target in yard.plant.saddle_positions else set():
            assert not units & set(yard.locations[support].occupants), (target, support)


def assert_hard_rules_hold(yard: Yard, at: float) -> None:
    for place in yard.locations.values():
        if place.kind is not LocationKind.SADDLE or not place.occupants:
            continue
        (occupant,) = place.occupants
        assert placement_violations(yard, yard.unit(occupant), place, at) == [], place.id
        supports = yard.plant.saddle_positions[place.id].supports
        if supports is not None:
            assert all(yard.locations[s].occupants for s in supports), place.id


def execute(yard: Yard, plan: RetrievalPlan, at: float = T0, carrier: str = "C1") -> float:
    """Carry out the plan's steps in order with `carrier`, advancing the plan after every start and drop.

    Checks every hard rule after each drop, and that the plan is complete at the end."""
    t = at
    i = 0
    while i < len(plan.steps):
        if plan.steps[i].state is StepState.PENDING:
            plan.advance(yard, at=t)  # may insert a relocation step at i
        step = plan.steps[i]
        if step.state is StepState.SKIPPED:
            i += 1
            continue
        assert step.move is not None, f"step {step.id} ({step.purpose} of {step.unit}) was never planned"
        state = yard.moves[step.move].state
        if state is MoveState.DONE:  # carried out before this call
            i += 1
            continue
        t += 1
        if state is MoveState.PLANNED:
            yard.start_move(step.move, carrier, at=t, actor="crane")
            plan.advance(yard, at=t)
            t += 1
        yard.complete_move(step.move, at=t, actor="crane")
        plan.advance(yard, at=t)
        assert_hard_rules_hold(yard, t)
        i += 1
    assert plan.is_complete(yard)
    return t


def moves_of(plan: RetrievalPlan) -> int:
    return sum(1 for s in plan.steps if s.state is not StepState.SKIPPED)


# ------------------------------------------------------------------------------------------ single coil


def test_a_free_ground_coil_needs_no_relocation() -> None:
    yard = yard_with({"A": g(3), "N": g(4)})  # minimum: 0 relocations, 1 move
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan), plan.pending) == (0, 1, [])
    (move,) = plan.moves
    assert (yard.moves[move].purpose, yard.moves[move].target) == (RETRIEVAL, DEST)
    execute(yard, plan)
    assert yard.coils["A"].location == DEST


def test_a_ground_coil_under_one_upper_needs_one_relocation_and_waits_for_it() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "V": u(3)})  # minimum: 1 relocation (V), 2 moves
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan)) == (1, 2)
    relocation, retrieval = plan.steps
    assert (relocation.unit, relocation.state, retrieval.unit, retrieval.state) == (
        "V",
        StepState.PLANNED,
        "A",
        StepState.PENDING,  # the yard refuses a move for a blocked coil: planned once V is lifted
    )
    assert relocation.target not in (u(2), u(3))  # never onto A
    assert plan.advance(yard, at=T0) == []  # V still rests on A
    assert relocation.move is not None
    yard.start_move(relocation.move, "C1", at=T0 + 1, actor="crane")
    (planned,) = plan.advance(yard, at=T0 + 1)
    assert (planned.unit, planned.target, retrieval.move) == ("A", DEST, planned.id)
    assert plan.advance(yard, at=T0 + 1) == []  # nothing is planned twice
    yard.complete_move(relocation.move, at=T0 + 2, actor="crane")
    execute(yard, plan, T0 + 2)
    assert yard.coils["A"].location == DEST


def test_a_ground_coil_under_two_uppers_needs_two_relocations() -> None:
    yard = yard_with({"N1": g(3), "A": g(4), "N2": g(5), "V1": u(3), "V2": u(4)})  # minimum: 2
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan), plan.sequence) == (2, 3, ["A"])
    targets = relocation_targets(plan)
    assert sorted(s.unit for s in plan.steps if s.purpose == RELOCATION) == ["V1", "V2"]
    assert len(set(targets)) == 2 and not set(targets) & {u(3), u(4)}
    assert_relocations_bury_no_plan_unit(yard, plan)
    execute(yard, plan)
    assert yard.locations[DEST].occupants == ["A"]
    assert {yard.coils["V1"].location, yard.coils["V2"].location} == set(targets)


def test_coils_in_a_high_bay_cell_or_an_ingot_stack_position_come_out_in_one_move() -> None:
    yard = fresh_yard()
    place_coil(yard, make_coil(id="HB"), "HB1-A01-L-C001-L01")
    yard.receive_ingot_stack(make_stack(id="ING", count=1), "IS1-B1-R01-S01", at=0, actor="test")
    for unit, destination, carrier in (("HB", "IO-HB1", "HB1-SC01"), ("ING", "H-IS1", "IC1")):
        plan = plan_retrieval(yard, unit, destination, at=T0, actor="planner")
        assert (plan.relocations, moves_of(plan)) == (0, 1)
        execute(yard, plan, carrier=carrier)
        assert yard.unit(unit).location == destination


# ------------------------------------------------------------------------------------------ batches


def _trap() -> Yard:
    """R01: A at P05, N at P06, B at P07; V on P05-U (over A and N). P04 and P08 empty.

    The legal place nearest to V is P06-U, resting on N and B: a relocation there buries B and costs a
    second relocation of V. Minimum for the batch [A, B]: 1 relocation, 3 moves (V to P04, A, B).
    """
    return yard_with({"A": g(5), "N": g(6), "B": g(7), "V": u(5)})


def test_a_batch_never_buries_its_later_coils_and_reaches_the_minimum() -> None:
    yard = _trap()
    plan = plan_retrieval_batch(yard, ["A", "B"], DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan), plan.sequence) == (1, 3, ["A", "B"])
    (target,) = relocation_targets(plan)
    assert target != u(6)
    assert_relocations_bury_no_plan_unit(yard, plan)
    execute(yard, plan)
    assert yard.locations[DEST].occupants == ["A", "B"]


def test_retrieving_the_same_coils_one_by_one_falls_into_the_trap() -> None:
    """Without the batch's lookahead V goes next door onto B: 2 relocations instead of the batch's 1."""
    yard = _trap()
    first = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    assert relocation_targets(first) == [u(6)]  # nearest legal place; B is not part of this plan
    t = execute(yard, first)
    second = plan_retrieval(yard, "B", DEST, at=t, actor="planner")
    execute(yard, second, t)
    assert first.relocations + second.relocations == 2


def test_a_blocker_that_is_a_later_batch_coil_is_retrieved_not_relocated() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "B": u(3)})  # B rests on A; minimum for [A, B]: 0 relocations
    plan = plan_retrieval_batch(yard, ["A", "B"], DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan), plan.sequence) == (0, 2, ["B", "A"])
    execute(yard, plan)
    assert yard.locations[DEST].occupants == ["B", "A"]
    assert yard.coils["N"].location == g(4)


def test_strict_order_relocates_a_later_blocker_once() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "B": u(3)})  # the loading order must hold: minimum 1 relocation
    plan = plan_retrieval_batch(yard, ["A", "B"], DEST, at=T0, actor="planner", strict_order=True)
    assert (plan.relocations, moves_of(plan), plan.sequence) == (1, 3, ["A", "B"])
    assert_relocations_bury_no_plan_unit(yard, plan)
    execute(yard, plan)
    assert yard.locations[DEST].occupants == ["A", "B"]


def test_a_blocker_shared_by_two_batch_coils_is_relocated_once() -> None:
    yard = yard_with({"A": g(3), "C": g(4), "V": u(3)})  # V rests on A and C: minimum 1 relocation
    plan = plan_retrieval_batch(yard, ["A", "C"], DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan)) == (1, 3)
    assert_relocations_bury_no_plan_unit(yard, plan)
    execute(yard, plan)
    assert yard.locations[DEST].occupants == ["A", "C"]


def test_a_place_emptied_by_the_batch_takes_a_relocation_once_its_coil_has_left() -> None:
    """R01: X1 P01, X2 P02, N P03, C P04, A P06, X8 P08; V on P03-U. Every other place is locked, so the only
    place for V is where A was. Batch [A, C]: 1 relocation (minimum), planned when A's move starts."""
    yard = yard_with({"X1": g(1), "X2": g(2), "N": g(3), "C": g(4), "A": g(6), "X8": g(8), "V": u(3)})
    lock_in(yard, [g(5), g(7), u(1), u(2)] + [g(k, 2) for k in range(1, 9)] + [u(k, 2) for k in range(1, 8)])
    before = len(yard.ledger)
    with pytest.raises(NoPlaceFound):
        plan_retrieval(yard, "C", DEST, at=T0, actor="planner")  # alone, C has nowhere to put V
    assert len(yard.ledger) == before
    plan = plan_retrieval_batch(yard, ["A", "C"], DEST, at=T0, actor="planner")
    assert (plan.relocations, moves_of(plan), plan.sequence) == (1, 3, ["A", "C"])
    retrieve_a, relocate_v, retrieve_c = plan.steps
    assert (relocate_v.unit, relocate_v.target, relocate_v.after) == ("V", g(6), (retrieve_a.id,))
    assert (retrieve_a.state, relocate_v.state, retrieve_c.state) == (
        StepState.PLANNED,
        StepState.PENDING,
        StepState.PENDING,
    )
    execute(yard, plan)
    assert yard.coils["V"].location == g(6)
    assert yard.locations[DEST].occupants == ["A", "C"]


def _freed_place_with_an_alternative() -> tuple[Yard, RetrievalPlan]:
    """As above, but R02-P08 (11.9 m from V) is open too: V still waits for A's place (6 m away)."""
    yard = yard_with({"X1": g(1), "X2": g(2), "N": g(3), "C": g(4), "A": g(6), "X8": g(8), "V": u(3)})
    lock_in(yard, [g(5), g(7), u(1), u(2)] + [g(k, 2) for k in range(1, 8)] + [u(k, 2) for k in range(1, 8)])
    plan = plan_retrieval_batch(yard, ["A", "C"], DEST, at=T0, actor="planner")
    assert relocation_targets(plan) == [g(6)] and plan.relocations == 1
    return yard, plan


def test_a_relocation_whose_place_was_taken_meanwhile_gets_another() -> None:
    yard, plan = _freed_place_with_an_alternative()
    retrieve_a, relocate_v, _ = plan.steps
    assert retrieve_a.move is not None
    yard.start_move(retrieve_a.move, "C1", at=T0 + 1, actor="crane")
    yard.receive_coil(make_coil(id="W"), "RS1", at=T0 + 1, actor="mill")
    yard.plan_move("W", g(6), at=T0 + 1, actor="putaway", purpose="putaway")  # takes A's place first
    plan.advance(yard, at=T0 + 2)
    assert (relocate_v.state, relocate_v.target) == (StepState.PLANNED, g(8, 2))
    execute(yard, plan, T0 + 2)
    assert yard.locations[DEST].occupants == ["A", "C"]


def test_a_pending_relocation_is_skipped_when_its_coil_was_taken_away() -> None:
    yard, plan = _freed_place_with_an_alternative()
    moved = yard.plan_move("V", g(8, 2), at=T0, actor="operator", purpose="transfer")
    yard.start_move(moved.id, "C2", at=T0 + 1, actor="crane")
    yard.complete_move(moved.id, at=T0 + 2, actor="crane")
    plan.advance(yard, at=T0 + 2)
    assert (plan.steps[1].state, plan.relocations) == (StepState.SKIPPED, 0)
    execute(yard, plan, T0 + 2)
    assert yard.locations[DEST].occupants == ["A", "C"]


def test_a_hold_placed_after_planning_stops_the_retrieval_without_writing() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "V": u(3)})
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    relocation = plan.steps[0]
    assert relocation.move is not None
    yard.start_move(relocation.move, "C1", at=T0 + 1, actor="crane")
    yard.place_hold("A", HoldKind.QA, "customer complaint on the lot", at=T0 + 1, actor="qa")
    before = len(yard.ledger)
    with pytest.raises(OnHold):
        plan.advance(yard, at=T0 + 2)
    assert len(yard.ledger) == before
    assert plan.steps[1].state is StepState.PENDING


def test_a_coil_put_on_a_pending_retrieval_after_planning_is_relocated_too() -> None:
    yard = yard_with({"N": g(3), "A": g(4), "M": g(5), "V": u(4)})  # minimum 1, then W arrives on P03-U
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    assert plan.relocations == 1
    place_coil(yard, make_coil(id="W"), u(3), at=T0)  # a putaway onto A, which has no move yet
    execute(yard, plan, T0)
    assert plan.relocations == 2
    assert yard.coils["A"].location == DEST
    assert yard.coils["W"].location != u(3)


@pytest.mark.parametrize("seed", range(40))
def test_random_yards_reach_the_lower_bound_and_keep_every_rule(seed: int) -> None:
    """Every coil not in the batch that rests on a batch coil must move once; nothing moves more."""
    rng = random.Random(seed)
    yard = fresh_yard()
    where: dict[str, str] = {}
    for row in (1, 2):
        for k in range(1, 9):
            if rng.random() < 0.6:
                where[f"G{row}{k}"] = g(k, row)
                place_coil(yard, make_coil(id=f"G{row}{k}"), g(k, row))
        for k in range(1, 8):
            supported = bool(yard.locations[g(k, row)].occupants and yard.locations[g(k + 1, row)].occupants)
            if supported and rng.random() < 0.5:
                where[f"U{row}{k}"] = u(k, row)
                place_coil(yard, make_coil(id=f"U{row}{k}"), u(k, row))
    strict = rng.random() < 0.5
    batch = rng.sample(sorted(where), k=min(len(where), rng.randint(1, 5)))
    forced = set()
    for i, unit in enumerate(batch):
        for upper in yard.uppers_above(where[unit]):
            for resting in yard.locations[upper].occupants:
                later = resting in batch and batch.index(resting) > i
                if resting not in batch or (strict and later):
                    forced.add(resting)
    before = len(yard.ledger)
    try:
        plan = plan_retrieval_batch(yard, batch, DEST, at=T0, actor="planner", strict_order=strict)
    except NoPlaceFound:
        assert len(yard.ledger) == before
        return
    assert plan.relocations == len(forced)
    assert moves_of(plan) == len(forced) + len(batch)
    assert_relocations_bury_no_plan_unit(yard, plan)
    execute(yard, plan)
    assert sorted(yard.locations[DEST].occupants) == sorted(batch)
    if strict:
        assert yard.locations[DEST].occupants == batch


# ------------------------------------------------------------------------------------------ relocation targets


@pytest.mark.parametrize(
    ("e_due", "e_reserved", "expected"),
    [
        (2000.0, False, u(4)),  # E leaves after V: the nearest place, P04-U over N and E, is fine
        (500.0, False, g(2)),  # E leaves before V: V goes to the nearest ground place instead
        (2000.0, True, g(2)),  # E is reserved for an order: requested, so do not bury it
    ],
)
def test_relocations_do_not_bury_coils_wanted_earlier(e_due: float, e_reserved: bool, expected: str) -> None:
    """R01: A P03, N P04, E P05, V (due 1000) on P03-U; P01, P02 and P06..P08 empty.

    Candidates for V: P04-U over N and E (2.4 m away), ground P02 (3.6 m), ground P01/P06 (6 m), ..."""
    yard = yard_with({"A": g(3), "N": g(4), "E": g(5), "V": u(3)}, due={"V": 1000.0, "E": e_due})
    if e_reserved:
        yard.reserve("E", "SO-9", at=0, actor="sales")
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    assert relocation_targets(plan) == [expected]


def test_relocation_targets_never_rest_on_the_retrieved_coil() -> None:
    # P02-U (over X and A) is the nearest upper place and legal for V1 by the stacking rules alone
    yard = yard_with({"X": g(2), "A": g(3), "N": g(4), "V": u(3)})
    lock_in(yard, [g(k) for k in (1, 5, 6, 7, 8)] + [g(k, 2) for k in range(1, 9)])
    before = len(yard.ledger)
    with pytest.raises(NoPlaceFound):
        plan_retrieval(yard, "A", DEST, at=T0, actor="planner")  # only P02-U and P04-U remain: both on A
    assert len(yard.ledger) == before


# ------------------------------------------------------------------------------------------ refusals


def _refused(yard: Yard, error: type[Exception], coils: list[str], order: str | None = None) -> None:
    before = len(yard.ledger)
    snapshot = yard.snapshot()
    with pytest.raises(error):
        plan_retrieval_batch(yard, coils, DEST, at=T0, actor="planner", order=order)
    assert len(yard.ledger) == before
    assert yard.snapshot() == snapshot


def test_held_coils_are_refused_and_nothing_is_written() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "V": u(3), "B": g(6)})
    yard.place_hold("B", HoldKind.QA, "surface check", at=0, actor="qa")
    _refused(yard, OnHold, ["B"])
    _refused(yard, OnHold, ["A", "B"])  # A alone could be planned: no partial plan is left


def test_coils_reserved_for_another_order_are_refused_but_not_for_their_own() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "V": u(3)})
    yard.reserve("A", "SO-1", at=0, actor="sales")
    _refused(yard, Reserved, ["A"])
    _refused(yard, Reserved, ["A"], order="SO-2")
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner", order="SO-1")
    execute(yard, plan)
    assert yard.coils["A"].location == DEST


def test_unknown_busy_locked_and_blocked_coils_are_refused() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "B": g(6), "C": g(7), "D": g(1), "E": g(2)})
    _refused(yard, UnknownCoil, ["A", "NOPE"])
    yard.plan_move("B", g(8, 2), at=0, actor="test", purpose="transfer")
    _refused(yard, UnitBusy, ["A", "B"])
    yard.lock(g(7), "out", "saddle repair", at=0, actor="test")
    _refused(yard, LocationLocked, ["C"])
    yard.receive_coil(make_coil(id="W"), DEST, at=0, actor="test")
    yard.plan_move("W", u(1), at=0, actor="test", purpose="putaway")  # onto D and E
    _refused(yard, Blocked, ["D"])


def test_bad_requests_are_refused() -> None:
    yard = yard_with({"A": g(3)})
    _refused(yard, InvalidInput, [])
    _refused(yard, InvalidInput, ["A", "A"])
    before = len(yard.ledger)
    with pytest.raises(InvalidInput, match="handover"):
        plan_retrieval(yard, "A", g(5), at=T0, actor="planner")
    assert len(yard.ledger) == before


def test_a_plan_can_be_cancelled_and_described() -> None:
    yard = yard_with({"N1": g(3), "A": g(4), "N2": g(5), "V1": u(3), "V2": u(4)})
    plan = plan_retrieval(yard, "A", DEST, at=T0, actor="planner", order=None)
    described = plan.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["relocations"] == 2 and len(described["steps"]) == 3
    cancelled = plan.cancel(yard, at=T0 + 1, reason="truck cancelled")
    assert len(cancelled) == 2
    assert all(yard.moves[m].state is MoveState.CANCELLED for m in cancelled)
    assert all(p.reserved_by is None for p in yard.locations.values())
    assert all(c.move is None for c in yard.coils.values())


# ------------------------------------------------------------------------------------------ selection


def test_fifo_selection_takes_the_oldest_available_coils() -> None:
    yard = fresh_yard()
    for k, name in enumerate(["OLD", "HELD", "RES", "MOVING", "MID", "NEW"], start=1):
        place_coil(yard, make_coil(id=name), g(k), at=10.0 * k)
    yard.place_hold("HELD", HoldKind.DAMAGE, "dented", at=70, actor="qa")
    yard.reserve("RES", "SO-1", at=70, actor="sales")
    yard.plan_move("MOVING", g(8, 2), at=70, actor="test", purpose="transfer")
    assert select_by_criteria(yard, count=5, at=T0) == ["OLD", "MID", "NEW"]
    assert select_by_criteria(yard, count=2, at=T0) == ["OLD", "MID"]
    assert select_by_criteria(yard, order="SO-1", count=5, at=T0) == ["RES"]  # the order's own coil
    assert select_by_criteria(yard, count=5, at=45.0) == ["OLD"]  # received by then


def test_due_selection_puts_coils_without_a_due_time_last() -> None:
    yard = fresh_yard()
    for k, (name, due) in enumerate([("LATE", 900.0), ("NONE", None), ("SOON", 300.0)], start=1):
        place_coil(yard, make_coil(id=name, due=due), g(k), at=float(k))
    assert select_by_criteria(yard, policy="due", count=3, at=T0) == ["SOON", "LATE", "NONE"]
    assert select_by_criteria(yard, policy="fifo", count=3, at=T0) == ["LATE", "NONE", "SOON"]


def test_selection_filters_by_attributes_and_prefers_fewer_blockers() -> None:
    yard = fresh_yard()
    place_coil(yard, make_coil(id="BURIED", alloy="3104"), g(3))
    place_coil(yard, make_coil(id="NEXT", alloy="1050"), g(4))
    place_coil(yard, make_coil(id="TOP", alloy="1050"), u(3))
    place_coil(yard, make_coil(id="FREE", alloy="3104"), g(6))
    place_coil(yard, make_coil(id="CUST", alloy="3104", customer="ACME"), g(1, 2))
    assert select_by_criteria(yard, alloy="3104", count=3, at=T0) == ["CUST", "FREE", "BURIED"]
    assert select_by_criteria(yard, alloy="3104", customer="ACME", count=3, at=T0) == ["CUST"]
    assert select_by_criteria(yard, temper="O", count=3, at=T0) == []
    assert select_by_criteria(yard, store="HB1", count=3, at=T0) == []
    with pytest.raises(InvalidInput):
        select_by_criteria(yard, count=0, at=T0)


def test_plan_by_criteria_retrieves_the_selected_coils_or_nothing() -> None:
    yard = fresh_yard()
    place_coil(yard, make_coil(id="K1", alloy="5754", due=500.0), g(3))
    place_coil(yard, make_coil(id="K2"), g(4))
    place_coil(yard, make_coil(id="K3", alloy="5754", due=200.0), u(3))
    plan = plan_retrieval_by_criteria(yard, DEST, alloy="5754", policy="due", count=2, at=T0, actor="p")
    assert (plan.units, plan.sequence, plan.relocations) == (("K3", "K1"), ["K3", "K1"], 0)
    execute(yard, plan)
    assert yard.locations[DEST].occupants == ["K3", "K1"]
    before = len(yard.ledger)
    with pytest.raises(NotEnoughStock):
        plan_retrieval_by_criteria(yard, DEST, alloy="5754", count=1, at=T0 + 50, actor="p")
    assert len(yard.ledger) == before


def test_planning_the_same_coil_again_adds_only_what_is_missing() -> None:
    yard = yard_with({"A": g(3), "N": g(4), "V": u(3)})
    first = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")
    before = len(yard.ledger)
    again = plan_retrieval(yard, "A", DEST, at=T0, actor="planner")  # V's relocation is already planned
    assert (again.relocations, [s.state for s in again.steps]) == (0, [StepState.PENDING])
    assert len(yard.ledger) == before
    relocation = first.steps[0].move
    assert relocation is not None
    yard.start_move(relocation, "C1", at=T0 + 1, actor="crane")
    (move,) = again.advance(yard, at=T0 + 1)
    assert (move.unit, move.target) == ("A", DEST)
