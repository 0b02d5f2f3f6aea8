"""Shipments and stock-level thresholds."""

from __future__ import annotations

import pytest

from tests.wms_factories import fresh_yard, make_coil, place_coil
from wms.domain.errors import InvalidInput, OnHold
from wms.domain.shipments import WrongCoilScanned, confirm_loading, group_into_trucks, plan_shipments
from wms.domain.units import HoldKind
from wms.domain.yard import Yard


def test_first_fit_decreasing_fills_trucks_heaviest_first() -> None:
    weights = {"A": 12.0, "B": 11.0, "C": 9.0, "D": 8.0, "E": 5.0}  # 45 t in 24 t trucks: two trucks suffice
    trucks = group_into_trucks(weights, 24.0)
    assert trucks == [["A", "B"], ["C", "D", "E"]]
    assert all(sum(weights[c] for c in t) <= 24.0 for t in trucks)


def test_a_coil_heavier_than_the_payload_is_refused() -> None:
    with pytest.raises(InvalidInput, match="more than a truck's payload"):
        group_into_trucks({"A": 30.0}, 25.0)


def _yard_with_coils_at_dock(weights: list[float]) -> tuple[Yard, list[str]]:
    yard = fresh_yard()
    ids = []
    for w in weights:
        spec = make_coil(weight=w)
        yard.receive_coil(spec, "DOCK1", at=0, actor="test")
        ids.append(spec.id)
    return yard, ids


def test_planned_shipments_are_loaded_in_sequence_by_scan() -> None:
    yard, (a, b, c) = _yard_with_coils_at_dock([8.0, 14.0, 10.0])
    shipments = plan_shipments(yard, "SH1", [a, b, c], payload=25.0, dock="DOCK1", at=1, actor="planner")
    assert [s.coils for s in shipments] == [(b, c), (a,)]
    first = shipments[0]
    with pytest.raises(WrongCoilScanned, match=f"loads '{b}' next; '{c}' was scanned"):
        confirm_loading(yard, first.id, c, at=2, actor="loader")
    assert yard.coils[c].location == "DOCK1"
    confirm_loading(yard, first.id, b, at=3, actor="loader")
    confirm_loading(yard, first.id, c, at=4, actor="loader")
    assert first.complete and first.loaded == [b, c]
    assert yard.coils[b].status == "shipped" and b not in yard.locations["DOCK1"].occupants
    replayed = Yard.replay(yard.plant, yard.ledger)
    assert replayed.snapshot() == yard.snapshot()


def test_held_coils_cannot_be_shipped_and_nothing_is_recorded() -> None:
    yard, (a, b) = _yard_with_coils_at_dock([8.0, 9.0])
    yard.place_hold(b, HoldKind.QA, "surface defect", at=0, actor="qa")
    before = len(yard.ledger)
    with pytest.raises(OnHold):
        plan_shipments(yard, "SH1", [a, b], payload=25.0, dock="DOCK1", at=1, actor="planner")
    assert len(yard.ledger) == before and not yard.shipments


def test_a_coil_cannot_ride_two_open_shipments() -> None:
    yard, (a,) = _yard_with_coils_at_dock([8.0])
    plan_shipments(yard, "SH1", [a], payload=25.0, dock="DOCK1", at=1, actor="planner")
    with pytest.raises(InvalidInput, match="already on an open shipment"):
        plan_shipments(yard, "SH2", [a], payload=25.0, dock="DOCK1", at=1, actor="planner")


def test_stock_level_thresholds_raise_events_when_crossed() -> None:
    yard = fresh_yard()
    yard.set_stock_thresholds({("FS1", "5182"): (1, 2)})
    specs = [make_coil(alloy="5182") for _ in range(3)]
    place_coil(yard, specs[0], "FS1-B1-R02-P01-G")
    place_coil(yard, specs[1], "FS1-B1-R02-P02-G")
    place_coil(yard, specs[2], "FS1-B1-R02-P03-G")
    crossed = [e.event for e in yard.ledger if e.kind == "StockLevelCrossed"]
    # Empty is below the low threshold; the first coil brings it back to normal, the third makes it high.
    assert [(c.level, c.count) for c in crossed] == [("low", 0), ("normal", 1), ("high", 3)]  # type: ignore[attr-defined]
    assert yard.stock[("FS1", "5182")] == 3
    assert yard.stock_levels[("FS1", "5182")] == "high"
    assert Yard.replay(yard.plant, yard.ledger).snapshot() == yard.snapshot()
