"""Ingot (slab) stores: piles, putaway, retrieval with relocations, consumption, through domain and bus.

The tiny plant's IS1 has one row R01 of five stack positions (2.4 m, 90 t each), served by crane IC1
(35 t) from handover H-IS1.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.wms_factories import fresh_yard, tiny_plant
from wms.domain import events as ev
from wms.domain.errors import Blocked, NoPlaceFound, StackingRuleViolated
from wms.domain.genealogy import ancestors
from wms.domain.putaway import legal_positions, propose_putaway, putaway
from wms.domain.retrieval import plan_retrieval, select_by_criteria
from wms.domain.units import IngotStackSpec, UnitStatus
from wms.domain.yard import MoveState, Yard
from wms.service_layer import commands as cmd
from wms.service_layer.in_memory import InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus

PILES = [f"IS1-B1-R01-S{i:02d}" for i in range(1, 6)]


def slab(sid: str, **overrides: Any) -> IngotStackSpec:
    values: dict[str, Any] = {
        "id": sid, "alloy": "5182", "count": 1, "unit_weight": 20.0, "unit_height": 0.55,
        "cast_lot": "CP1-0001", "width": 1.8, "length": 8.5,
    }  # fmt: skip
    values.update(overrides)
    return IngotStackSpec(**values)


def store_all(yard: Yard, move_ids: list[str], at: float) -> None:
    """Carry planned moves to their targets with the slab crane, in the order given."""
    for mid in move_ids:
        yard.start_move(mid, "IC1", at=at, actor="test")
        yard.complete_move(mid, at=at, actor="test")


def test_a_cast_drop_fills_its_own_pile_and_opens_one_more() -> None:
    yard = fresh_yard()
    for k in range(5):
        yard.receive_ingot_stack(slab(f"A{k}"), "H-IS1", at=0.0, actor="caster")
    moves = [putaway(yard, f"A{k}", "IS1", at=1.0, actor="wms") for k in range(5)]  # all planned at once
    targets = [m.target for m in moves]
    assert targets[:4] == [targets[0]] * 4  # 4 x 0.55 m = 2.2 m <= 2.4 m; a fifth would be 2.75 m
    assert targets[4] != targets[0]
    assert yard.locations[targets[0]].inbound == [m.id for m in moves[:4]]
    assert moves[1].score["campaign"] == -10.0 and moves[0].score["open"] == 20.0
    store_all(yard, [moves[2].id, moves[0].id, moves[3].id, moves[1].id, moves[4].id], 2.0)  # any order
    assert yard.locations[targets[0]].occupants == ["A2", "A0", "A3", "A1"]
    assert yard.locations[targets[0]].inbound == []
    assert Yard.replay(yard.plant, yard.ledger).snapshot() == yard.snapshot()


def test_pile_rules_alloy_format_height_weight_and_crane() -> None:
    yard = fresh_yard()
    yard.receive_ingot_stack(slab("B0"), PILES[0], at=0.0, actor="test")
    cases = {
        "one alloy per pile": slab("X1", alloy="3104"),
        "slab format": slab("X2", width=1.5),
        "stack height": slab("X3", count=4),  # 0.55 + 2.2 m
        "stack weight": slab("X4", unit_weight=36.0, count=2, unit_height=0.3),  # 20 + 72 t > 90 t
    }
    for rule, spec in cases.items():
        with pytest.raises(StackingRuleViolated) as caught:
            yard.receive_ingot_stack(spec, PILES[0], at=0.0, actor="test")
        assert rule in [v.rule for v in caught.value.violations], (rule, caught.value.violations)
    yard.receive_ingot_stack(slab("B1", width=1.85), PILES[0], at=0.0, actor="test")  # within 0.1 m
    with pytest.raises(StackingRuleViolated) as wide:
        yard.receive_ingot_stack(slab("X5", width=2.5), PILES[1], at=0.0, actor="test")
    assert [v.rule for v in wide.value.violations] == ["footprint"]
    yard.receive_ingot_stack(slab("H1", unit_weight=38.0), "H-IS1", at=0.0, actor="test")
    with pytest.raises(NoPlaceFound, match="crane safe working load"):
        propose_putaway(yard, "H1", "IS1", at=1.0)  # IC1 lifts 35 t
    assert legal_positions(yard, "H1", "IS1", at=1.0) == []


def test_an_older_cast_is_not_buried_while_a_pile_is_free() -> None:
    yard = fresh_yard()
    for k, pile in enumerate(PILES[:4]):
        yard.receive_ingot_stack(slab(f"O{k}", cast_lot="CP1-0001"), pile, at=0.0, actor="test")
    yard.receive_ingot_stack(slab("N0", cast_lot="CP2-0002"), "H-IS1", at=100.0, actor="test")
    assert propose_putaway(yard, "N0", "IS1", at=100.0).location == PILES[4]
    yard.receive_ingot_stack(slab("P4", cast_lot="CP1-0001"), PILES[4], at=0.0, actor="test")
    proposal = propose_putaway(yard, "N0", "IS1", at=100.0)  # no empty pile left: bury one slab
    assert proposal.breakdown["bury"] == 60.0 and proposal.candidates == 5


def test_retrieving_the_bottom_slab_relocates_those_above_top_first() -> None:
    yard = fresh_yard()
    for k in range(4):
        yard.receive_ingot_stack(slab(f"S{k}"), PILES[0], at=float(k), actor="test")
    plan = plan_retrieval(yard, "S0", "H-IS1", at=10.0, actor="mill")
    relocations = [s for s in plan.steps if s.purpose == "relocation"]
    assert [s.unit for s in relocations] == ["S3", "S2", "S1"]
    assert all(s.target != PILES[0] for s in relocations)
    assert plan.relocations == 3
    with pytest.raises(Blocked):  # only the top slab can be lifted
        yard.plan_move("S1", PILES[3], at=11.0, actor="test")
    t = 11.0
    while not plan.is_complete(yard):
        for mid in plan.moves:
            move = yard.moves[mid]
            if move.state is MoveState.PLANNED:
                yard.start_move(mid, "IC1", at=t, actor="test")
                yard.complete_move(mid, at=t, actor="test")
                plan.advance(yard, at=t)
                t += 1.0
                break
        else:
            plan.advance(yard, at=t)
    assert yard.unit("S0").location == "H-IS1"
    moved = [m for m in yard.moves.values() if m.purpose == "relocation"]
    assert sorted(m.unit for m in moved) == ["S1", "S2", "S3"]  # each relocated once
    yard.consume("S0", "HM", at=t, actor="mill")
    assert yard.unit("S0").status is UnitStatus.CONSUMED
    assert isinstance(yard.ledger[-1].event, ev.IngotStackConsumed)
    assert Yard.replay(yard.plant, yard.ledger).snapshot() == yard.snapshot()


def test_a_pile_with_a_move_bound_for_it_gives_nothing_out() -> None:
    yard = fresh_yard()
    yard.receive_ingot_stack(slab("T0"), PILES[0], at=0.0, actor="test")
    yard.receive_ingot_stack(slab("T1"), "H-IS1", at=0.0, actor="test")
    yard.plan_move("T1", PILES[0], at=1.0, actor="test")
    assert yard.blockers(yard.unit("T0")) == [f"move {yard.unit('T1').move} onto {PILES[0]}"]
    assert select_by_criteria(yard, store="IS1", at=2.0) == []
    with pytest.raises(Blocked):
        plan_retrieval(yard, "T0", "H-IS1", at=2.0, actor="mill")


def test_selection_in_an_ingot_store_is_first_in_first_out_top_first() -> None:
    yard = fresh_yard()
    yard.receive_ingot_stack(slab("F0", cast_lot="L1"), PILES[0], at=0.0, actor="test")
    yard.receive_ingot_stack(slab("F1", cast_lot="L1"), PILES[0], at=0.0, actor="test")
    yard.receive_ingot_stack(slab("G0", alloy="3104", cast_lot="L2"), PILES[1], at=5.0, actor="test")
    assert select_by_criteria(yard, store="IS1", count=3, at=10.0) == ["F1", "F0", "G0"]
    assert select_by_criteria(yard, store="IS1", alloy="3104", at=10.0) == ["G0"]
    assert select_by_criteria(yard, store="IS1", temper="F", at=10.0) == []
    assert select_by_criteria(yard, at=10.0) == []  # without an ingot store: coils only


def test_a_slab_names_its_cast_in_the_genealogy() -> None:
    yard = fresh_yard()
    yard.receive_ingot_stack(slab("Q0", cast_lot="CP2-0007"), "H-IS1", at=0.0, actor="test")
    assert ancestors(yard, "Q0") == ["CP2-0007"]


def test_the_bus_receives_puts_away_retrieves_and_consumes_a_slab() -> None:
    uow = InMemoryUnitOfWork(tiny_plant())
    bus = MessageBus(uow, _Clock([0.0]))
    bus.handle(
        cmd.ReceiveIngotStack(
            actor="caster", stack="Z1", location="H-IS1", alloy="5182", count=1, unit_weight=22.0,
            unit_height=0.55, cast_lot="CP1-0003", width=1.8, length=8.5,
        )
    )  # fmt: skip
    result = bus.handle(cmd.ProposePutaway(actor="wms", coil="Z1", store="IS1"))
    assert result["target"] in PILES and "campaign" in result["score"]
    bus.handle(cmd.StartMove(actor="IC1", move=result["move"], carrier="IC1"))
    bus.handle(cmd.CompleteMove(actor="IC1", move=result["move"]))
    plan = bus.handle(cmd.PlanRetrieval(actor="mill", coils=("Z1",), destination="H-IS1"))
    move = plan["plan"]["steps"][0]["move"]
    bus.handle(cmd.StartMove(actor="IC1", move=move, carrier="IC1"))
    bus.handle(cmd.CompleteMove(actor="IC1", move=move))
    bus.handle(cmd.Consume(actor="mill", coil="Z1", station="HM"))
    assert uow.yard.unit("Z1").status is UnitStatus.CONSUMED


class _Clock:
    def __init__(self, now: list[float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now[0]
