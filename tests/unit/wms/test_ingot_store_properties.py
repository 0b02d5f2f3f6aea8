"""Random operations on the tiny plant's slab store keep every pile consistent.

A hypothesis state machine receives slabs of two alloys, three casts and a few formats at the store's
handover, puts them away (several moves planned onto one pile at once), lifts and sets them down with the
slab crane in any order, plans retrievals of any stored slab (relocating what lies above it), advances
those plans, cancels planned moves and consumes slabs that reached the handover. Every command either
succeeds or raises a `WmsError` that left ledger and snapshot as they were. After every step:

* every slab in stock or in transit is an occupant of exactly one place, the one it names; consumed slabs
  are nowhere;
* every pile keeps its limits counting the slabs bound for it (height, weight), holds one alloy and one
  format, and each occupant keeps the hard rules of its place;
* a pile lists exactly the open moves bound for it; a slab's blockers are the slabs above it (top first)
  and those moves;
* replaying the ledger gives an equal snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.wms_factories import fresh_yard
from wms.domain.errors import WmsError
from wms.domain.locations import LocationKind
from wms.domain.putaway import putaway
from wms.domain.retrieval import RetrievalPlan, plan_retrieval
from wms.domain.stacking import FORMAT_TOLERANCE_M, TOLERANCE, pile_units, placement_violations
from wms.domain.units import IngotStackSpec, UnitStatus
from wms.domain.yard import Move, MoveState, Yard

OPEN = (MoveState.PLANNED, MoveState.ACTIVE, MoveState.STAGED)
HANDOVER = "H-IS1"


class PileMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.yard: Yard = fresh_yard()
        self.now = 0.0
        self.serial = 0
        self.plans: list[RetrievalPlan] = []

    def attempt(self, command: Callable[[], object]) -> bool:
        ledger, before = list(self.yard.ledger), self.yard.snapshot()
        try:
            command()
        except WmsError:
            assert self.yard.ledger == ledger, "a refused command wrote to the ledger"
            assert self.yard.snapshot() == before, "a refused command changed the yard"
            return False
        return True

    def piles(self) -> list[str]:
        return sorted(i for i, p in self.yard.locations.items() if p.kind is LocationKind.STACK)

    @rule(
        alloy=st.sampled_from(["5182", "3104"]),
        cast=st.sampled_from(["L1", "L2", "L3"]),
        width=st.sampled_from([1.8, 1.85, 1.5, None]),
        height=st.sampled_from([0.5, 0.6]),
        weight=st.integers(100, 340).map(lambda n: n / 10),
    )
    def receive(self, alloy: str, cast: str, width: float | None, height: float, weight: float) -> None:
        self.serial += 1
        spec = IngotStackSpec(f"S{self.serial:03d}", alloy, 1, weight, height, cast, width, 8.5)
        self.attempt(lambda: self.yard.receive_ingot_stack(spec, HANDOVER, at=self.now, actor="caster"))

    def _put_away(self, unit: str, into: list[Move]) -> None:
        into.append(putaway(self.yard, unit, "IS1", at=self.now, actor="wms"))

    def _carry(self, move: str) -> None:
        if self.attempt(partial(self.yard.start_move, move, "IC1", at=self.now, actor="IC1")):
            self.attempt(partial(self.yard.complete_move, move, at=self.now, actor="IC1"))

    @rule(data=st.data(), size=st.integers(1, 5), alloy=st.sampled_from(["5182", "3104"]))
    def store_a_drop(self, data: st.DataObject, size: int, alloy: str) -> None:
        """A casting drop: slabs of one cast, all put away at once, then carried in a drawn order."""
        self.serial += 1
        cast, moves = f"C{self.serial}", list[Move]()
        width = data.draw(st.sampled_from([1.8, 1.5]), label="width")
        for k in range(size):
            spec = IngotStackSpec(f"D{self.serial:03d}-{k}", alloy, 1, 22.0, 0.55, cast, width, 8.5)
            self.attempt(partial(self.yard.receive_ingot_stack, spec, HANDOVER, at=self.now, actor="caster"))
            self.attempt(partial(self._put_away, spec.id, moves))
        for move in data.draw(st.permutations(moves), label="order"):
            self._carry(move.id)

    @rule(data=st.data(), steps=st.integers(1, 8))
    def retrieve_and_run(self, data: st.DataObject, steps: int) -> None:
        """Plan a retrieval and carry up to `steps` of its moves (relocations first)."""
        self.retrieve(data)
        if not self.plans:
            return
        plan = self.plans[-1]
        for _ in range(steps):
            planned = [m for m in plan.moves if self.yard.moves[m].state is MoveState.PLANNED]
            if not planned or self.yard.locations["IC1"].occupants:
                break
            self._carry(planned[0])
            self.attempt(partial(plan.advance, self.yard, at=self.now))

    @rule(data=st.data())
    def put_away(self, data: st.DataObject) -> None:
        waiting = sorted(o for o in self.yard.locations[HANDOVER].occupants if self.yard.unit(o).move is None)
        if waiting:
            unit = data.draw(st.sampled_from(waiting), label="slab")
            self.attempt(lambda: putaway(self.yard, unit, "IS1", at=self.now, actor="wms"))

    @rule(data=st.data(), finish=st.booleans())
    def crane(self, data: st.DataObject, finish: bool) -> None:
        """Lift a planned move's slab, or set down the one on the crane (at its target)."""
        yard = self.yard
        carried = yard.locations["IC1"].occupants
        if carried:
            move = yard.unit(carried[0]).move or ""
            self.attempt(lambda: yard.complete_move(move, at=self.now, actor="IC1"))
            return
        planned = sorted(m.id for m in yard.moves.values() if m.state is MoveState.PLANNED)
        if planned:
            move = data.draw(st.sampled_from(planned), label="move")
            if self.attempt(lambda: yard.start_move(move, "IC1", at=self.now, actor="IC1")) and finish:
                self.attempt(lambda: yard.complete_move(move, at=self.now, actor="IC1"))

    @rule(data=st.data())
    def retrieve(self, data: st.DataObject) -> None:
        stored = sorted(
            s.id
            for s in self.yard.stacks.values()
            if s.move is None and self.yard.locations[s.location].kind is LocationKind.STACK
        )
        if stored:
            unit = data.draw(st.sampled_from(stored), label="wanted")
            self.attempt(
                lambda: self.plans.append(
                    plan_retrieval(self.yard, unit, HANDOVER, at=self.now, actor="mill")
                )
            )

    @rule()
    def advance_plans(self) -> None:
        for plan in list(self.plans):
            if plan.is_complete(self.yard):
                self.plans.remove(plan)
                continue
            try:
                plan.advance(self.yard, at=self.now)
            except WmsError:
                self.plans.remove(plan)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        planned = sorted(m.id for m in self.yard.moves.values() if m.state is MoveState.PLANNED)
        if planned:
            move = data.draw(st.sampled_from(planned), label="move")
            self.attempt(lambda: self.yard.cancel_move(move, at=self.now, actor="op", reason="test"))

    @rule(data=st.data())
    def consume(self, data: st.DataObject) -> None:
        here = sorted(self.yard.locations[HANDOVER].occupants)
        if here:
            unit = data.draw(st.sampled_from(here), label="slab")
            self.attempt(lambda: self.yard.consume(unit, "HM", at=self.now, actor="mill"))

    @rule()
    def tick(self) -> None:
        self.now += 60.0
        tallest = max(len(self.yard.locations[p].occupants) for p in self.piles())
        relocated = sum(
            1 for m in self.yard.moves.values() if m.purpose == "relocation" and m.state is MoveState.DONE
        )
        event(f"tallest pile {tallest}")
        event(f"relocations done: {min(relocated, 3)}{'+' if relocated >= 3 else ''}")

    # -------------------------------------------------------------------------------------- invariants

    @invariant()
    def every_unit_is_in_exactly_one_place(self) -> None:
        where: dict[str, list[str]] = {}
        for place in self.yard.locations.values():
            for occupant in place.occupants:
                where.setdefault(occupant, []).append(place.id)
        for stack in self.yard.stacks.values():
            if stack.status is UnitStatus.CONSUMED:
                assert stack.id not in where
                continue
            assert where.get(stack.id) == [stack.location], (stack.id, stack.location, where.get(stack.id))

    @invariant()
    def every_pile_keeps_its_limits_with_what_is_bound_for_it(self) -> None:
        yard = self.yard
        for pile_id in self.piles():
            place = yard.locations[pile_id]
            row = yard.plant.stack_positions[pile_id].row
            pile = pile_units(yard, place)
            assert sum(u.spec.height for u in pile) <= row.max_height + TOLERANCE
            assert sum(u.spec.weight for u in pile) <= row.max_weight + TOLERANCE
            assert len({u.spec.alloy for u in pile}) <= 1
            widths = [u.spec.width for u in pile if u.spec.width is not None]
            assert not widths or max(widths) - min(widths) <= 2 * FORMAT_TOLERANCE_M + TOLERANCE
            for occupant in place.occupants:
                assert not placement_violations(yard, yard.unit(occupant), place, self.now), occupant

    @invariant()
    def piles_list_their_moves_and_block_what_lies_below(self) -> None:
        yard = self.yard
        bound = {
            m.id: m.target
            for m in yard.moves.values()
            if m.state in OPEN and yard.locations[m.target].kind is LocationKind.STACK
        }
        for pile_id in self.piles():
            place = yard.locations[pile_id]
            assert sorted(place.inbound) == sorted(m for m, t in bound.items() if t == pile_id)
            for k, occupant in enumerate(place.occupants):
                above = place.occupants[k + 1 :][::-1]
                expected = above + [f"move {m} onto {pile_id}" for m in place.inbound]
                assert yard.blockers(yard.unit(occupant)) == expected

    @invariant()
    def replaying_the_ledger_rebuilds_the_yard(self) -> None:
        assert Yard.replay(self.yard.plant, self.yard.ledger).snapshot() == self.yard.snapshot()


PileMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPileStateMachine = PileMachine.TestCase
