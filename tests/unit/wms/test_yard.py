"""The yard's commands on the tiny plant: what they record, and what they refuse.

Every refusal is checked through `refused`: the command raises the one typed domain error expected, its
message carries the words and numbers an operator needs, and the yard is exactly as before (same ledger,
same snapshot): nothing is half-written.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from tests.wms_factories import fresh_yard, make_coil, make_stack, place_coil, tiny_plant
from wms.domain import events as ev
from wms.domain.errors import (
    Blocked,
    DuplicateUnit,
    InvalidInput,
    InvalidMoveState,
    LocationLocked,
    OnHold,
    Reserved,
    StackingRuleViolated,
    UnitBusy,
    UnknownCoil,
    UnknownLocation,
    UnknownMove,
    UnknownUnit,
    Violation,
    WmsError,
)
from wms.domain.locations import LocationKind
from wms.domain.units import CoilSpec, CoolingModel, HoldKind, Packaging, UnitStatus
from wms.domain.yard import Move, MoveState, Yard

E = TypeVar("E", bound=WmsError)

CELL = "HB1-A01-L-C001-L01"
STACKS = [f"IS1-B1-R01-S{i:02d}" for i in range(1, 6)]
AMBIENT_C = 25.0
THRESHOLD_C = 80.0
TAU_S = 18 * 3600.0  # the default cooling time constant (18 h); tiny.yaml does not override it


def ground(position: int, row: int = 1) -> str:
    return f"FS1-B1-R{row:02d}-P{position:02d}-G"


def upper(position: int, row: int = 1) -> str:
    """The upper position `position` rests on ground positions `position` and `position + 1`."""
    return f"FS1-B1-R{row:02d}-P{position:02d}-U"


@contextmanager
def refused(yard: Yard, error: type[E], *words: str) -> Iterator[pytest.ExceptionInfo[E]]:
    """The body raises exactly `error`, whose message names every word, and the yard is unchanged."""
    ledger = list(yard.ledger)
    snapshot = yard.snapshot()
    with pytest.raises(error) as caught:
        yield caught
    assert type(caught.value) is error, f"{type(caught.value).__name__} is a subclass of {error.__name__}"
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} is not in the message {message!r}"
    assert yard.ledger == ledger, "a refused command wrote to the ledger"
    assert yard.snapshot() == snapshot, "a refused command changed the yard"


def violation(caught: pytest.ExceptionInfo[StackingRuleViolated], rule: str, *words: str) -> Violation:
    """The refusal lists `rule`, its detail names every word, and the message shows it."""
    found = [v for v in caught.value.violations if v.rule == rule]
    assert found, f"no {rule!r} among {[str(v) for v in caught.value.violations]}"
    for word in words:
        assert word in found[0].detail, f"{word!r} is not in {found[0]}"
    assert str(found[0]) in str(caught.value)
    return found[0]


def only_rule(caught: pytest.ExceptionInfo[StackingRuleViolated], rule: str, *words: str) -> None:
    assert [v.rule for v in caught.value.violations] == [rule]
    assert caught.value.rule == rule
    violation(caught, rule, *words)


def received(yard: Yard, location: str = "H-FS1", at: float = 0.0, **overrides: Any) -> CoilSpec:
    spec = make_coil(**overrides)
    yard.receive_coil(spec, location, at=at, actor="test")
    return spec


def placed(yard: Yard, position: str, at: float = 0.0, **overrides: Any) -> CoilSpec:
    spec = make_coil(**overrides)
    place_coil(yard, spec, position, at=at)
    return spec


def carried(yard: Yard, coil: str, target: str, carrier: str = "C1", at: float = 0.0) -> Move:
    """Plan and start a move: the coil is on `carrier`, bound for `target`."""
    move = yard.plan_move(coil, target, at=at, actor="test")
    return yard.start_move(move.id, carrier, at=at, actor="test")


def events(yard: Yard) -> list[ev.Event]:
    return [entry.event for entry in yard.ledger]


# ---------------------------------------------------------------------------------------------- receiving


def test_receiving_a_coil_records_it_at_the_place() -> None:
    yard = fresh_yard()
    spec = make_coil()
    coil = yard.receive_coil(spec, "HM-X", at=12.0, actor="mes", reason="from the hot mill")
    assert events(yard) == [
        ev.CoilReceived(at=12.0, actor="mes", reason="from the hot mill", coil=spec, location="HM-X")
    ]
    assert [e.seq for e in yard.ledger] == [1]
    assert yard.ledger[0].kind == "CoilReceived"
    assert (coil.location, coil.status, coil.received_at, coil.move) == (
        "HM-X",
        UnitStatus.IN_STOCK,
        12.0,
        None,
    )
    assert yard.location("HM-X").occupants == [spec.id]
    assert yard.coil(spec.id) is coil
    assert yard.unit(spec.id) is coil
    assert not coil.holds


def test_a_coil_can_be_received_straight_onto_a_saddle_or_into_a_cell() -> None:
    yard = fresh_yard()
    on_floor = received(yard, ground(3))
    in_rack = received(yard, CELL)
    assert yard.location(ground(3)).occupants == [on_floor.id]
    assert yard.location(CELL).occupants == [in_rack.id]


def test_a_unit_is_not_received_on_a_carrier() -> None:
    yard = fresh_yard()
    with refused(yard, InvalidInput, "carrier 'AGV-01'"):
        yard.receive_coil(make_coil(), "AGV-01", at=0.0, actor="test")
    with refused(yard, InvalidInput, "carrier 'C1'"):
        yard.receive_ingot_stack(make_stack(), "C1", at=0.0, actor="test")


def test_receiving_at_an_unknown_place_is_refused() -> None:
    yard = fresh_yard()
    received(yard)
    with refused(yard, UnknownLocation, "unknown location 'NOWHERE'") as caught:
        yard.receive_coil(make_coil(), "NOWHERE", at=0.0, actor="test")
    assert caught.value.location == "NOWHERE"
    with refused(yard, UnknownLocation, "'IS1-B1-R01-S09'"):
        yard.receive_ingot_stack(make_stack(), "IS1-B1-R01-S09", at=0.0, actor="test")


def test_a_duplicate_receipt_is_refused() -> None:
    yard = fresh_yard()
    spec = received(yard)
    stack = make_stack()
    yard.receive_ingot_stack(stack, "H-IS1", at=0.0, actor="test")
    with refused(yard, DuplicateUnit, f"'{spec.id}' is already known") as caught:
        yard.receive_coil(spec, "HM-X", at=1.0, actor="test")
    assert caught.value.unit == spec.id
    with refused(yard, DuplicateUnit, spec.id):
        yard.receive_coil(make_coil(id=spec.id, weight=10.0), "HM-X", at=1.0, actor="test")
    with refused(yard, DuplicateUnit, spec.id):  # coils and stacks share one id space
        yard.receive_ingot_stack(make_stack(id=spec.id), "H-IS1", at=1.0, actor="test")
    with refused(yard, DuplicateUnit, stack.id):
        yard.receive_coil(make_coil(id=stack.id), "H-FS1", at=1.0, actor="test")


def test_a_shipped_coils_id_is_never_received_again() -> None:
    yard = fresh_yard()
    spec = received(yard, "DOCK1")
    yard.ship(spec.id, "SH1", at=1.0, actor="test")
    with refused(yard, DuplicateUnit, spec.id):
        yard.receive_coil(spec, "DOCK1", at=2.0, actor="test")


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"weight": -3.0}, ["weight must be a positive number (got -3.0)"]),
        ({"weight": 0.0}, ["weight must be a positive number (got 0.0)"]),
        ({"width": math.nan}, ["width must be a positive number (got nan)"]),
        ({"gauge": math.nan}, ["gauge must be a positive number (got nan)"]),
        ({"outer_diameter": math.inf}, ["outer_diameter must be a positive number (got inf)"]),
        ({"inner_diameter": 1.8}, ["inner diameter 1.8 m must be below the outer diameter 1.8 m"]),
        ({"inner_diameter": 2.0}, ["inner diameter 2.0 m must be below the outer diameter 1.8 m"]),
        ({"temperature": math.nan}, ["temperature nan °C is outside -50..700 °C"]),
        ({"temperature": 750.0}, ["temperature 750.0 °C is outside -50..700 °C"]),
        ({"temperature": -60.0}, ["temperature -60.0 °C"]),
        ({"turnover": "D"}, ["turnover class must be A, B or C (got 'D')"]),
        ({"id": "  "}, ["coil id is empty"]),
        ({"weight": -1.0, "width": math.nan}, ["weight must be", "width must be"]),  # every problem at once
    ],
)
def test_an_invalid_coil_spec_is_refused_before_anything_is_written(
    overrides: dict[str, Any], words: list[str]
) -> None:
    yard = fresh_yard()
    received(yard)
    with refused(yard, InvalidInput, *words):
        yard.receive_coil(make_coil(**overrides), "H-FS1", at=1.0, actor="test")


@pytest.mark.parametrize("when", [math.nan, math.inf])
def test_a_coil_spec_with_an_impossible_measurement_time_is_refused(when: float) -> None:
    # A NaN temperature_at once gave a cooling hold released at NaN, that is never.
    yard = fresh_yard()
    with refused(yard, InvalidInput, "temperature_at must be a finite time"):
        yard.receive_coil(make_coil(temperature=300.0, temperature_at=when), "HM-X", at=0.0, actor="test")


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"count": 0}, ["count must be at least 1 (got 0)"]),
        ({"unit_weight": -1.0}, ["unit_weight must be a positive number (got -1.0)"]),
        ({"unit_height": math.nan}, ["unit_height must be a positive number (got nan)"]),
    ],
)
def test_an_invalid_ingot_stack_spec_is_refused(overrides: dict[str, Any], words: list[str]) -> None:
    yard = fresh_yard()
    with refused(yard, InvalidInput, *words):
        yard.receive_ingot_stack(make_stack(**overrides), "H-IS1", at=0.0, actor="test")


def test_an_ingot_stack_spec_with_an_empty_id_is_refused() -> None:
    yard = fresh_yard()
    with refused(yard, InvalidInput, "ingot stack id is empty"):
        yard.receive_ingot_stack(make_stack(id=" "), "H-IS1", at=0.0, actor="test")


# ---------------------------------------------------------------------------------------------- unknown things


def test_unknown_coils_and_units_are_named() -> None:
    yard = fresh_yard()
    stack = make_stack()
    yard.receive_ingot_stack(stack, "H-IS1", at=0.0, actor="test")
    with refused(yard, UnknownCoil, "unknown coil 'K-NONE'") as coil_caught:
        yard.coil("K-NONE")
    assert coil_caught.value.coil == "K-NONE"
    with refused(yard, UnknownCoil, f"unknown coil '{stack.id}'"):  # a stack is not a coil
        yard.coil(stack.id)
    with refused(yard, UnknownUnit, "unknown coil or ingot stack 'K-NONE'") as unit_caught:
        yard.unit("K-NONE")
    assert unit_caught.value.unit == "K-NONE"


def test_commands_on_an_unknown_unit_change_nothing() -> None:
    yard = fresh_yard()
    received(yard)
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.plan_move("K-NONE", ground(3), at=1.0, actor="test")
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.place_hold("K-NONE", HoldKind.QA, "check", at=1.0, actor="test")
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.release_hold("K-NONE", "H000001", at=1.0, actor="test")
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.reserve("K-NONE", "O1", at=1.0, actor="test")
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.release_reservation("K-NONE", at=1.0, actor="test")
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.ship("K-NONE", "SH1", at=1.0, actor="test")
    with refused(yard, UnknownUnit, "'K-NONE'"):
        yard.consume("K-NONE", "CM1", at=1.0, actor="test")
    with refused(yard, UnknownCoil, "'K-NONE'"):
        yard.measure_temperature("K-NONE", 50.0, at=1.0, actor="test")
    with refused(yard, UnknownCoil, "'K-NONE'"):
        yard.temperature("K-NONE", 1.0)


def test_commands_at_an_unknown_place_change_nothing() -> None:
    yard = fresh_yard()
    spec = received(yard)
    other = received(yard)
    move = yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    with refused(yard, UnknownLocation, "'FS1-B1-R09-P01-G'"):
        yard.plan_move(other.id, "FS1-B1-R09-P01-G", at=1.0, actor="test")
    with refused(yard, UnknownLocation, "'CRANE-9'"):
        yard.start_move(move.id, "CRANE-9", at=2.0, actor="test")
    yard.start_move(move.id, "AGV-01", at=2.0, actor="test")
    with refused(yard, UnknownLocation, "'H-NOWHERE'"):
        yard.complete_leg(move.id, "H-NOWHERE", at=3.0, actor="test")
    with refused(yard, UnknownLocation, "'H-NOWHERE'"):
        yard.cancel_move(move.id, at=3.0, actor="test", reason="stop", set_down_at="H-NOWHERE")
    with refused(yard, UnknownLocation, "'H-NOWHERE'"):
        yard.lock("H-NOWHERE", "in", "repairs", at=3.0, actor="test")
    with refused(yard, UnknownLocation, "'H-NOWHERE'"):
        yard.unlock("H-NOWHERE", "in", at=3.0, actor="test")
    with refused(yard, UnknownLocation, "'H-NOWHERE'"):
        yard.record_count("H-NOWHERE", [], at=3.0, actor="test")


def test_commands_on_an_unknown_move_change_nothing() -> None:
    yard = fresh_yard()
    spec = received(yard)
    yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    with refused(yard, UnknownMove, "unknown move 'M999999'") as caught:
        yard.start_move("M999999", "C1", at=2.0, actor="test")
    assert caught.value.move == "M999999"
    with refused(yard, UnknownMove, "'M999999'"):
        yard.complete_leg("M999999", "H-FS1", at=2.0, actor="test")
    with refused(yard, UnknownMove, "'M999999'"):
        yard.complete_move("M999999", at=2.0, actor="test")
    with refused(yard, UnknownMove, "'M999999'"):
        yard.cancel_move("M999999", at=2.0, actor="test", reason="typo")
    with refused(yard, UnknownMove, "'M999999'"):
        yard.move("M999999")


# ---------------------------------------------------------------------------------------------- stacking rules


@pytest.mark.parametrize(
    ("overrides", "rule", "words"),
    [
        ({"width": 2.1}, "width band", ["width 2.1 m", "R01", "1–2 m"]),
        ({"width": 0.9}, "width band", ["width 0.9 m", "1–2 m"]),
        ({"outer_diameter": 2.3}, "diameter band", ["outer diameter 2.3 m", "1.2–2.2 m"]),
        (
            {"outer_diameter": 1.1, "inner_diameter": 0.5},
            "diameter band",
            ["outer diameter 1.1 m", "1.2–2.2 m"],
        ),
        ({"weight": 31.0}, "floor load", ["31 t", "R01", "30 t"]),
    ],
)
def test_a_coil_outside_the_rows_limits_is_refused_by_name(
    overrides: dict[str, Any], rule: str, words: list[str]
) -> None:
    yard = fresh_yard()
    spec = received(yard, **overrides)
    with refused(yard, StackingRuleViolated, spec.id, ground(3)) as caught:
        yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    only_rule(caught, rule, *words)
    assert (caught.value.unit, caught.value.location) == (spec.id, ground(3))
    with refused(yard, StackingRuleViolated, ground(4)) as direct:  # the same rules hold for receipt
        yard.receive_coil(make_coil(**overrides), ground(4), at=1.0, actor="test")
    only_rule(direct, rule, *words)


def test_a_coil_heavier_than_the_crane_may_lift_breaks_both_weight_rules() -> None:
    yard = fresh_yard()
    spec = received(yard, weight=36.0)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    assert [v.rule for v in caught.value.violations] == ["floor load", "crane safe working load"]
    violation(caught, "floor load", "36 t", "30 t")
    violation(caught, "crane safe working load", "36 t", "35 t", "bay B1")


@pytest.mark.parametrize(
    ("overrides", "rule", "words"),
    [
        ({"width": 2.05}, "width band", ["width 2.05 m", "1–2 m"]),
        ({"outer_diameter": 2.25}, "diameter band", ["outer diameter 2.25 m", "1.2–2.2 m"]),
        ({"weight": 31.0}, "cell load", ["31 t", "30 t"]),
    ],
)
def test_a_coil_outside_the_cells_limits_is_refused_by_name(
    overrides: dict[str, Any], rule: str, words: list[str]
) -> None:
    yard = fresh_yard()
    spec = received(yard, "IO-HB1", **overrides)
    with refused(yard, StackingRuleViolated, CELL) as caught:
        yard.plan_move(spec.id, CELL, at=1.0, actor="test")
    only_rule(caught, rule, *words)


def test_each_kind_of_unit_goes_only_to_its_kind_of_place() -> None:
    yard = fresh_yard()
    coil = received(yard)
    stack = make_stack(count=1)
    yard.receive_ingot_stack(stack, "H-IS1", at=0.0, actor="test")
    with refused(yard, StackingRuleViolated) as coil_to_stack:
        yard.plan_move(coil.id, STACKS[0], at=1.0, actor="test")
    only_rule(coil_to_stack, "unit kind", "ingot or slab stacks")
    with refused(yard, StackingRuleViolated) as stack_to_saddle:
        yard.plan_move(stack.id, ground(3), at=1.0, actor="test")
    only_rule(stack_to_saddle, "unit kind", "only coils go on saddles")
    with refused(yard, StackingRuleViolated) as stack_to_cell:
        yard.plan_move(stack.id, CELL, at=1.0, actor="test")
    only_rule(stack_to_cell, "unit kind", "high-bay cells")


def test_an_occupied_place_is_refused_naming_its_occupant() -> None:
    yard = fresh_yard()
    there = placed(yard, ground(3))
    spec = received(yard)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    only_rule(caught, "location occupied", ground(3), there.id)
    with refused(yard, StackingRuleViolated) as direct:
        yard.receive_coil(make_coil(), ground(3), at=1.0, actor="test")
    only_rule(direct, "location occupied", there.id)


def test_a_place_reserved_by_another_move_is_refused_naming_the_move() -> None:
    yard = fresh_yard()
    first = received(yard)
    move = yard.plan_move(first.id, ground(3), at=1.0, actor="test")
    second = received(yard)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(second.id, ground(3), at=2.0, actor="test")
    only_rule(caught, "location reserved", ground(3), move.id)
    with refused(yard, StackingRuleViolated) as direct:
        yard.receive_coil(make_coil(), ground(3), at=2.0, actor="test")
    only_rule(direct, "location reserved", move.id)


def test_a_loaded_carrier_takes_nothing_more() -> None:
    yard = fresh_yard()
    first, second = received(yard), received(yard)
    carried(yard, first.id, ground(3), carrier="C1")
    move = yard.plan_move(second.id, ground(4), at=1.0, actor="test")
    with refused(yard, StackingRuleViolated) as caught:
        yard.start_move(move.id, "C1", at=1.0, actor="test")
    only_rule(caught, "location occupied", "'C1'", first.id)


def test_a_carrier_lifts_no_more_than_its_capacity() -> None:
    yard = fresh_yard()
    spec = received(yard, weight=33.0)  # a handover takes any weight; no saddle or cell of tiny does
    move = yard.plan_move(spec.id, "DOCK1", at=1.0, actor="test")
    with refused(yard, StackingRuleViolated) as caught:
        yard.start_move(move.id, "AGV-01", at=2.0, actor="test")
    only_rule(caught, "carrier capacity", "33 t", "'AGV-01'", "32 t")
    yard.start_move(move.id, "C1", at=2.0, actor="test")  # the crane's 35 t suffice
    assert yard.coil(spec.id).location == "C1"


def test_a_hot_coil_goes_only_to_a_ground_cooling_position() -> None:
    yard = fresh_yard()
    placed(yard, ground(3))
    placed(yard, ground(4))
    hot = received(yard, "HM-X", temperature=300.0)
    with refused(yard, StackingRuleViolated) as not_cooling:
        yard.plan_move(hot.id, ground(5), at=1.0, actor="test")
    only_rule(not_cooling, "hot coil", "80 °C", "ground cooling position")
    with refused(yard, StackingRuleViolated) as on_top:
        yard.plan_move(hot.id, upper(3), at=1.0, actor="test")
    only_rule(on_top, "hot coil", "80 °C")
    with refused(yard, StackingRuleViolated) as in_rack:
        yard.plan_move(hot.id, CELL, at=1.0, actor="test")
    only_rule(in_rack, "hot coil", "rack")
    move = yard.plan_move(hot.id, ground(1), at=1.0, actor="test")  # P01 and P02 of R01 are cooling positions
    assert move.target == ground(1)


def test_a_skid_packed_coil_is_stored_in_one_layer() -> None:
    yard = fresh_yard()
    placed(yard, ground(3))
    placed(yard, ground(4))
    skid = received(yard, packaging=Packaging.SKID)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(skid.id, upper(3), at=1.0, actor="test")
    only_rule(caught, "skid", "one layer")


def test_an_upper_coil_needs_both_supports() -> None:
    yard = fresh_yard()
    placed(yard, ground(3))
    spec = received(yard)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, upper(3), at=1.0, actor="test")
    only_rule(caught, "support", f"support {ground(4)} is empty")
    with refused(yard, StackingRuleViolated) as both:
        yard.plan_move(spec.id, upper(5), at=1.0, actor="test")
    assert [v.detail for v in both.value.violations] == [
        f"support {ground(5)} is empty: an upper coil rests on two coils",
        f"support {ground(6)} is empty: an upper coil rests on two coils",
    ]


def test_an_upper_coil_does_not_rest_on_a_coil_about_to_move() -> None:
    yard = fresh_yard()
    placed(yard, ground(3))
    leaving = placed(yard, ground(4))
    away = yard.plan_move(leaving.id, "H-FS1", at=1.0, actor="test")
    spec = received(yard)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, upper(3), at=2.0, actor="test")
    only_rule(caught, "support", leaving.id, away.id, "about to be moved")


@pytest.mark.parametrize(
    ("support", "why"),
    [
        ({"packaging": Packaging.SKID}, "is skid-packed"),
        ({"gauge": 0.8}, "is thin gauge 0.8 mm < 1 mm"),
        ({"temperature": 300.0}, "is hot"),
    ],
)
def test_nothing_rests_on_a_skid_thin_or_hot_coil(support: dict[str, Any], why: str) -> None:
    yard = fresh_yard()
    weak = received(yard, "HM-X", **support)
    yard.complete_move(carried(yard, weak.id, ground(1)).id, at=0.0, actor="test")  # a cooling position
    placed(yard, ground(2))
    spec = received(yard)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, upper(1), at=1.0, actor="test")
    only_rule(caught, "nothing on top", f"support coil {weak.id} {why}")


def test_an_upper_coil_is_no_heavier_than_its_lighter_support() -> None:
    yard = fresh_yard()
    placed(yard, ground(3), weight=10.0)
    placed(yard, ground(4), weight=20.0)
    heavy, light = received(yard, weight=15.0), received(yard, weight=10.0)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(heavy.id, upper(3), at=1.0, actor="test")
    only_rule(caught, "upper weight", "15 t", "(10 t)")
    yard.plan_move(light.id, upper(3), at=1.0, actor="test")  # exactly the factor 1.0 is allowed


def test_supports_of_an_upper_coil_match_in_diameter() -> None:
    yard = fresh_yard()
    placed(yard, ground(3), outer_diameter=1.4)
    placed(yard, ground(4), outer_diameter=1.8)
    spec = received(yard, weight=10.0)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, upper(3), at=1.0, actor="test")
    only_rule(caught, "support diameters", "0.400 m", "tolerance 0.15 m")


def test_a_legal_upper_coil_rests_on_two_and_blocks_both() -> None:
    yard = fresh_yard()
    left, right = placed(yard, ground(3)), placed(yard, ground(4))
    top = placed(yard, upper(3), weight=18.0)
    assert yard.location(upper(3)).occupants == [top.id]
    assert yard.uppers_above(ground(4)) == [upper(3), upper(4)]
    for support in (left, right):
        with refused(yard, Blocked, support.id, top.id) as caught:
            yard.plan_move(support.id, "H-FS1", at=1.0, actor="test")
        assert caught.value.blockers == [top.id]


# ---------------------------------------------------------------------------------------------- move states


def test_a_move_is_completed_once() -> None:
    yard = fresh_yard()
    spec = received(yard)
    move = carried(yard, spec.id, ground(3))
    yard.complete_move(move.id, at=1.0, actor="test")
    with refused(yard, InvalidMoveState, move.id, "is done", "active") as caught:
        yard.complete_move(move.id, at=2.0, actor="test")
    assert caught.value.state == MoveState.DONE
    with refused(yard, InvalidMoveState, "is done", "planned or staged"):
        yard.start_move(move.id, "C2", at=2.0, actor="test")
    with refused(yard, InvalidMoveState, "is done"):
        yard.complete_leg(move.id, "H-FS1", at=2.0, actor="test")


def test_a_finished_move_is_not_cancelled() -> None:
    yard = fresh_yard()
    spec = received(yard)
    done = carried(yard, spec.id, ground(3))
    yard.complete_move(done.id, at=1.0, actor="test")
    with refused(yard, InvalidMoveState, done.id, "is done", "planned, active or staged"):
        yard.cancel_move(done.id, at=2.0, actor="test", reason="too late")
    dropped = yard.plan_move(spec.id, ground(4), at=2.0, actor="test")
    yard.cancel_move(dropped.id, at=3.0, actor="test", reason="changed plan")
    with refused(yard, InvalidMoveState, dropped.id, "is cancelled"):
        yard.cancel_move(dropped.id, at=4.0, actor="test", reason="again")
    with refused(yard, InvalidMoveState, "is cancelled"):
        yard.start_move(dropped.id, "C1", at=4.0, actor="test")


def test_a_move_not_on_a_carrier_cannot_complete_or_be_started_twice() -> None:
    yard = fresh_yard()
    spec = received(yard)
    move = yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    with refused(yard, InvalidMoveState, "is planned", "active (on a carrier)"):
        yard.complete_move(move.id, at=2.0, actor="test")
    with refused(yard, InvalidMoveState, "is planned"):
        yard.complete_leg(move.id, "H-FS1", at=2.0, actor="test")
    yard.start_move(move.id, "C1", at=2.0, actor="test")
    with refused(yard, InvalidMoveState, "is active", "planned or staged"):
        yard.start_move(move.id, "C2", at=3.0, actor="test")


def test_moves_begin_and_end_at_places_and_ride_on_carriers() -> None:
    yard = fresh_yard()
    spec = received(yard)
    with refused(yard, InvalidInput, "not on carrier 'AGV-01'"):
        yard.plan_move(spec.id, "AGV-01", at=1.0, actor="test")
    with refused(yard, InvalidInput, f"'{spec.id}' is already at 'H-FS1'"):
        yard.plan_move(spec.id, "H-FS1", at=1.0, actor="test")
    move = yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    with refused(yard, InvalidInput, "'IO-HB1' is not a vehicle or crane"):
        yard.start_move(move.id, "IO-HB1", at=2.0, actor="test")
    yard.start_move(move.id, "AGV-01", at=2.0, actor="test")
    with refused(yard, InvalidInput, f"'{ground(4)}' is a saddle"):
        yard.complete_leg(move.id, ground(4), at=3.0, actor="test")


def test_a_unit_has_one_move_at_a_time() -> None:
    yard = fresh_yard()
    spec = received(yard)
    move = yard.plan_move(spec.id, ground(3), at=1.0, actor="test")
    with refused(yard, UnitBusy, spec.id, move.id) as caught:
        yard.plan_move(spec.id, ground(4), at=2.0, actor="test")
    assert caught.value.move == move.id
    yard.start_move(move.id, "AGV-01", at=2.0, actor="test")
    with refused(yard, InvalidInput, "in_transit", "only units in stock"):
        yard.plan_move(spec.id, ground(4), at=3.0, actor="test")
    yard.complete_leg(move.id, "H-FS1", at=3.0, actor="test")
    with refused(yard, UnitBusy, move.id):  # staged at a handover, still its move's
        yard.plan_move(spec.id, ground(4), at=4.0, actor="test")


def test_a_shipped_unit_is_not_moved() -> None:
    yard = fresh_yard()
    spec = received(yard, "DOCK1")
    yard.ship(spec.id, "SH1", at=1.0, actor="test")
    with refused(yard, InvalidInput, "shipped"):
        yard.plan_move(spec.id, ground(3), at=2.0, actor="test")


def test_a_blocked_coil_lists_what_rests_on_it_and_what_is_planned_onto_it() -> None:
    yard = fresh_yard()
    bottom_left, bottom_mid, bottom_right = (
        placed(yard, ground(3)),
        placed(yard, ground(4)),
        placed(yard, ground(5)),
    )
    top = placed(yard, upper(3), weight=15.0)
    incoming = received(yard, weight=15.0)
    onto = yard.plan_move(incoming.id, upper(4), at=1.0, actor="test")
    with refused(yard, Blocked, bottom_mid.id, top.id, onto.id) as caught:
        yard.plan_move(bottom_mid.id, "H-FS1", at=2.0, actor="test")
    assert caught.value.blockers == [top.id, f"move {onto.id} onto {upper(4)}"]
    assert caught.value.unit == bottom_mid.id
    with refused(yard, Blocked) as left:
        yard.plan_move(bottom_left.id, "H-FS1", at=2.0, actor="test")
    assert left.value.blockers == [top.id]
    with refused(yard, Blocked) as right:
        yard.plan_move(bottom_right.id, "H-FS1", at=2.0, actor="test")
    assert right.value.blockers == [f"move {onto.id} onto {upper(4)}"]
    yard.plan_move(top.id, "H-FS1", at=2.0, actor="test")  # the top coil itself is free to go


def test_a_coil_is_not_planned_onto_a_position_that_rests_on_itself() -> None:
    # Such a move was once accepted, and then could never start: Blocked by its own reservation.
    yard = fresh_yard()
    placed(yard, ground(2))
    mover = placed(yard, ground(3))
    placed(yard, ground(4))
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(mover.id, upper(3), at=1.0, actor="test")  # upper(3) rests on ground(3) and ground(4)
    only_rule(caught, "support", mover.id, "rest on itself", ground(3))
    with refused(yard, StackingRuleViolated) as left:
        yard.plan_move(mover.id, upper(2), at=1.0, actor="test")  # upper(2) rests on ground(2) and ground(3)
    only_rule(left, "support", mover.id, "rest on itself")


# ---------------------------------------------------------------------------------------------- holds, reservations


def test_a_held_coil_is_not_retrieved_but_may_be_relocated() -> None:
    yard = fresh_yard()
    spec = placed(yard, ground(3))
    hold = yard.place_hold(spec.id, HoldKind.QA, "edge crack suspected", at=1.0, actor="qa")
    assert hold.kind is HoldKind.QA
    with refused(yard, OnHold, spec.id, "qa: edge crack suspected") as caught:
        yard.plan_move(spec.id, "DOCK1", at=2.0, actor="test", purpose="retrieval")
    assert caught.value.holds == ["qa: edge crack suspected"]
    yard.plan_move(spec.id, ground(4), at=2.0, actor="test", purpose="relocation")


def test_holds_need_a_reason_and_release_only_what_exists() -> None:
    yard = fresh_yard()
    spec = received(yard)
    with refused(yard, InvalidInput, "a hold needs a reason"):
        yard.place_hold(spec.id, HoldKind.DAMAGE, "  ", at=1.0, actor="qa")
    hold = yard.place_hold(spec.id, HoldKind.DAMAGE, "dent", at=1.0, actor="qa")
    with refused(yard, InvalidInput, f"'{spec.id}' has no hold 'H999999'"):
        yard.release_hold(spec.id, "H999999", at=2.0, actor="qa")
    yard.release_hold(spec.id, hold.id, at=2.0, actor="qa", reason="checked")
    assert not yard.coil(spec.id).holds
    assert events(yard)[-1] == ev.HoldReleased(
        at=2.0, actor="qa", reason="checked", unit=spec.id, hold=hold.id
    )
    with refused(yard, InvalidInput, hold.id):
        yard.release_hold(spec.id, hold.id, at=3.0, actor="qa")


def test_stock_reserved_for_an_order_goes_only_to_that_order() -> None:
    yard = fresh_yard()
    spec = placed(yard, ground(3))
    yard.reserve(spec.id, "O1", at=1.0, actor="sales")
    assert yard.coil(spec.id).reserved_for == "O1"
    with refused(yard, Reserved, spec.id, "order 'O1'") as caught:
        yard.plan_move(spec.id, "DOCK1", at=2.0, actor="test", purpose="retrieval", order="O2")
    assert caught.value.order == "O1"
    with refused(yard, Reserved, "'O1'"):
        yard.plan_move(spec.id, "DOCK1", at=2.0, actor="test", purpose="retrieval")
    with refused(yard, Reserved, "'O1'"):
        yard.reserve(spec.id, "O2", at=2.0, actor="sales")
    size = len(yard.ledger)
    yard.reserve(spec.id, "O1", at=2.0, actor="sales")  # the same reservation again is a no-op
    assert len(yard.ledger) == size
    yard.plan_move(spec.id, "DOCK1", at=2.0, actor="test", purpose="retrieval", order="O1")


def test_reservations_need_an_order_and_release_only_what_exists() -> None:
    yard = fresh_yard()
    spec = received(yard)
    with refused(yard, InvalidInput, "a reservation needs an order"):
        yard.reserve(spec.id, " ", at=1.0, actor="sales")
    with refused(yard, InvalidInput, f"'{spec.id}' is not reserved"):
        yard.release_reservation(spec.id, at=1.0, actor="sales")
    yard.reserve(spec.id, "O1", at=1.0, actor="sales")
    yard.release_reservation(spec.id, at=2.0, actor="sales", reason="order cancelled")
    assert yard.coil(spec.id).reserved_for is None
    assert events(yard)[-1] == ev.ReservationReleased(
        at=2.0, actor="sales", reason="order cancelled", unit=spec.id, order="O1"
    )
    held = received(yard)
    yard.place_hold(held.id, HoldKind.QA, "sample", at=3.0, actor="qa")
    with refused(yard, OnHold, "qa: sample"):
        yard.reserve(held.id, "O1", at=3.0, actor="sales")


# ---------------------------------------------------------------------------------------------- locks


def test_a_place_locked_for_taking_out_keeps_its_coil() -> None:
    yard = fresh_yard()
    spec = placed(yard, ground(3))
    yard.lock(ground(3), "out", "saddle inspection", at=1.0, actor="maint")
    assert events(yard)[-1] == ev.LocationLocked(
        at=1.0, actor="maint", reason="saddle inspection", location=ground(3), direction="out"
    )
    with refused(yard, LocationLocked, ground(3), "taking out", "saddle inspection") as caught:
        yard.plan_move(spec.id, ground(4), at=2.0, actor="test")
    assert (caught.value.location, caught.value.reason) == (ground(3), "saddle inspection")
    yard.unlock(ground(3), "out", at=3.0, actor="maint")
    yard.plan_move(spec.id, ground(4), at=4.0, actor="test")


def test_a_lock_placed_after_planning_stops_the_lift() -> None:
    yard = fresh_yard()
    spec = placed(yard, ground(3))
    move = yard.plan_move(spec.id, ground(4), at=1.0, actor="test")
    yard.lock(ground(3), "both", "crane fault", at=2.0, actor="maint")
    with refused(yard, LocationLocked, "crane fault"):
        yard.start_move(move.id, "C1", at=3.0, actor="test")


def test_a_place_locked_for_putting_in_takes_nothing() -> None:
    yard = fresh_yard()
    spec = received(yard)
    yard.lock(ground(3), "in", "floor repair", at=1.0, actor="maint")
    with refused(yard, StackingRuleViolated) as planned:
        yard.plan_move(spec.id, ground(3), at=2.0, actor="test")
    only_rule(planned, "location locked", ground(3), "floor repair")
    with refused(yard, StackingRuleViolated) as direct:
        yard.receive_coil(make_coil(), ground(3), at=2.0, actor="test")
    only_rule(direct, "location locked", "floor repair")
    yard.lock("AGV-01", "in", "battery swap", at=2.0, actor="maint")
    move = yard.plan_move(spec.id, ground(4), at=2.0, actor="test")
    with refused(yard, StackingRuleViolated) as on_carrier:
        yard.start_move(move.id, "AGV-01", at=3.0, actor="test")
    only_rule(on_carrier, "location locked", "'AGV-01'", "battery swap")
    yard.start_move(move.id, "C1", at=3.0, actor="test")
    yard.lock(ground(4), "in", "floor repair", at=4.0, actor="maint")  # locked after the target was reserved
    with refused(yard, StackingRuleViolated) as at_target:
        yard.complete_move(move.id, at=5.0, actor="test")
    only_rule(at_target, "location locked", ground(4))
    yard.unlock(ground(4), "both", at=6.0, actor="maint")
    yard.complete_move(move.id, at=7.0, actor="test")
    assert yard.coil(spec.id).location == ground(4)


def test_locks_need_a_direction_and_a_reason() -> None:
    yard = fresh_yard()
    with refused(yard, InvalidInput, "in, out or both", "'sideways'"):
        yard.lock(ground(3), "sideways", "why", at=1.0, actor="maint")
    with refused(yard, InvalidInput, "a lock needs a reason"):
        yard.lock(ground(3), "in", "", at=1.0, actor="maint")
    with refused(yard, InvalidInput, "'up'"):
        yard.unlock(ground(3), "up", at=1.0, actor="maint")


# ---------------------------------------------------------------------------------------------- leaving


def test_a_coil_ships_from_a_handover() -> None:
    yard = fresh_yard()
    spec = received(yard, "DOCK1")
    yard.ship(spec.id, "SH1", at=5.0, actor="dock")
    assert events(yard)[-1] == ev.UnitShipped(
        at=5.0, actor="dock", unit=spec.id, location="DOCK1", shipment="SH1"
    )
    assert yard.coil(spec.id).status is UnitStatus.SHIPPED
    assert yard.location("DOCK1").occupants == []
    with refused(yard, InvalidInput, "shipped"):
        yard.ship(spec.id, "SH2", at=6.0, actor="dock")


def test_nothing_ships_from_a_store_place_or_a_carrier() -> None:
    yard = fresh_yard()
    stored = placed(yard, ground(3))
    with refused(yard, InvalidInput, "leaves from a handover", ground(3)):
        yard.ship(stored.id, "SH1", at=1.0, actor="dock")
    with refused(yard, InvalidInput, "leaves from a handover", ground(3)):
        yard.consume(stored.id, "CM1", at=1.0, actor="mill")
    moving = received(yard, "DOCK1")
    carried(yard, moving.id, ground(4), carrier="AGV-01")
    with refused(yard, InvalidInput, "being moved"):
        yard.ship(moving.id, "SH1", at=1.0, actor="dock")
    planned = received(yard, "DOCK1")
    yard.plan_move(planned.id, ground(5), at=1.0, actor="test")
    with refused(yard, InvalidInput, "being moved"):
        yard.ship(planned.id, "SH1", at=1.0, actor="dock")


def test_held_or_foreign_reserved_stock_does_not_ship() -> None:
    yard = fresh_yard()
    held = received(yard, "DOCK1")
    yard.place_hold(held.id, HoldKind.CUSTOMER, "claim open", at=1.0, actor="qa")
    with refused(yard, OnHold, "customer: claim open"):
        yard.ship(held.id, "SH1", at=2.0, actor="dock")
    reserved = received(yard, "DOCK1")
    yard.reserve(reserved.id, "O1", at=1.0, actor="sales")
    with refused(yard, Reserved, "'O1'"):
        yard.ship(reserved.id, "O2", at=2.0, actor="dock")
    yard.ship(reserved.id, "O1", at=2.0, actor="dock")


def test_nothing_leaves_from_a_dock_locked_for_taking_out() -> None:
    yard = fresh_yard()
    spec = received(yard, "DOCK1")
    yard.lock("DOCK1", "out", "dock door jammed", at=1.0, actor="maint")
    with refused(yard, LocationLocked, "'DOCK1'", "taking out", "dock door jammed"):
        yard.ship(spec.id, "SH1", at=2.0, actor="dock")
    with refused(yard, LocationLocked, "dock door jammed"):
        yard.consume(spec.id, "SD1", at=2.0, actor="dock")
    yard.unlock("DOCK1", "out", at=3.0, actor="maint")
    yard.ship(spec.id, "SH1", at=4.0, actor="dock")


def test_a_consumed_coil_leaves_the_yard() -> None:
    yard = fresh_yard()
    spec = received(yard, "RS2")
    yard.consume(spec.id, "CM1", at=3.0, actor="mill")
    assert events(yard)[-1] == ev.CoilConsumed(
        at=3.0, actor="mill", coil=spec.id, location="RS2", station="CM1"
    )
    assert yard.coil(spec.id).status is UnitStatus.CONSUMED
    assert yard.location("RS2").occupants == []


# ---------------------------------------------------------------------------------------------- happy paths


def test_a_move_in_two_legs_records_who_carried_it_from_where_to_where() -> None:
    yard = fresh_yard()
    spec = make_coil()
    yard.receive_coil(spec, "HM-X", at=0.0, actor="mes")
    coil = yard.coil(spec.id)
    move = yard.plan_move(spec.id, ground(3), at=10.0, actor="wms", purpose="putaway", score={"cost": 1.5})
    assert (move.state, move.source, move.target, move.purpose) == (
        MoveState.PLANNED,
        "HM-X",
        ground(3),
        "putaway",
    )
    assert yard.location(ground(3)).reserved_by == move.id
    assert coil.move == move.id

    yard.start_move(move.id, "AGV-01", at=20.0, actor="agv-01")
    assert (coil.location, coil.status) == ("AGV-01", UnitStatus.IN_TRANSIT)
    assert (move.state, move.carrier) == (MoveState.ACTIVE, "AGV-01")
    assert yard.location("HM-X").occupants == []
    assert yard.location("AGV-01").occupants == [spec.id]

    yard.complete_leg(move.id, "H-FS1", at=30.0, actor="agv-01")
    assert (coil.location, coil.status) == ("H-FS1", UnitStatus.IN_STOCK)
    assert (move.state, move.carrier) == (MoveState.STAGED, None)
    assert yard.location("AGV-01").occupants == []
    assert yard.location(ground(3)).reserved_by == move.id

    yard.start_move(move.id, "C1", at=40.0, actor="crane-C1")
    yard.complete_move(move.id, at=50.0, actor="crane-C1")
    done = yard.coil(spec.id)
    assert (done.location, done.status, done.move) == (ground(3), UnitStatus.IN_STOCK, None)
    assert (move.state, move.carrier) == (MoveState.DONE, None)
    assert yard.location(ground(3)).occupants == [spec.id]
    assert yard.location(ground(3)).reserved_by is None
    assert yard.location("C1").occupants == []

    assert events(yard)[1:] == [
        ev.MovePlanned(
            at=10.0,
            actor="wms",
            move=move.id,
            unit=spec.id,
            source="HM-X",
            target=ground(3),
            purpose="putaway",
            score={"cost": 1.5},
        ),
        ev.MoveStarted(at=20.0, actor="agv-01", move=move.id, unit=spec.id, source="HM-X", carrier="AGV-01"),
        ev.MoveLegCompleted(
            at=30.0, actor="agv-01", move=move.id, unit=spec.id, carrier="AGV-01", location="H-FS1"
        ),
        ev.MoveStarted(at=40.0, actor="crane-C1", move=move.id, unit=spec.id, source="H-FS1", carrier="C1"),
        ev.MoveCompleted(
            at=50.0, actor="crane-C1", move=move.id, unit=spec.id, carrier="C1", target=ground(3)
        ),
    ]
    assert [entry.kind for entry in yard.ledger] == [
        "CoilReceived",
        "MovePlanned",
        "MoveStarted",
        "MoveLegCompleted",
        "MoveStarted",
        "MoveCompleted",
    ]
    assert [entry.seq for entry in yard.ledger] == list(range(1, 7))


def test_move_ids_count_up() -> None:
    yard = fresh_yard()
    first, second = received(yard), received(yard)
    assert yard.plan_move(first.id, ground(3), at=1.0, actor="test").id == "M000001"
    assert yard.plan_move(second.id, ground(4), at=1.0, actor="test").id == "M000002"


def test_cancelling_before_the_start_releases_the_target() -> None:
    yard = fresh_yard()
    spec, other = received(yard), received(yard)
    move = yard.plan_move(spec.id, ground(3), at=1.0, actor="wms")
    yard.cancel_move(move.id, at=2.0, actor="wms", reason="order changed")
    assert events(yard)[-1] == ev.MoveCancelled(
        at=2.0, actor="wms", reason="order changed", move=move.id, unit=spec.id, location="H-FS1"
    )
    assert move.state is MoveState.CANCELLED
    assert yard.location(ground(3)).reserved_by is None
    coil = yard.coil(spec.id)
    assert (coil.location, coil.status, coil.move) == ("H-FS1", UnitStatus.IN_STOCK, None)
    yard.plan_move(other.id, ground(3), at=3.0, actor="wms")  # the place is free again
    yard.plan_move(spec.id, ground(4), at=3.0, actor="wms")  # and the coil free to move


def test_cancelling_in_transit_needs_a_legal_place_to_set_the_coil_down() -> None:
    yard = fresh_yard()
    spec = received(yard)
    placed(yard, ground(5))
    move = carried(yard, spec.id, ground(3), carrier="C1")
    with refused(yard, InvalidInput, "on C1", "say where it was set down"):
        yard.cancel_move(move.id, at=1.0, actor="crane", reason="fault")
    with refused(yard, InvalidInput, "'C2' is a carrier"):
        yard.cancel_move(move.id, at=1.0, actor="crane", reason="fault", set_down_at="C2")
    with refused(yard, StackingRuleViolated) as caught:
        yard.cancel_move(move.id, at=1.0, actor="crane", reason="fault", set_down_at=ground(5))
    only_rule(caught, "location occupied", ground(5))
    yard.cancel_move(move.id, at=1.0, actor="crane", reason="fault", set_down_at=ground(4))
    coil = yard.coil(spec.id)
    assert (coil.location, coil.status, coil.move) == (ground(4), UnitStatus.IN_STOCK, None)
    assert yard.location("C1").occupants == []
    assert yard.location(ground(4)).occupants == [spec.id]
    assert yard.location(ground(3)).reserved_by is None
    assert events(yard)[-1] == ev.MoveCancelled(
        at=1.0, actor="crane", reason="fault", move=move.id, unit=spec.id, location=ground(4)
    )


def test_a_cancelled_move_may_set_down_at_its_own_target() -> None:
    yard = fresh_yard()
    spec = received(yard)
    move = carried(yard, spec.id, ground(3))
    yard.cancel_move(move.id, at=1.0, actor="crane", reason="done by hand", set_down_at=ground(3))
    assert yard.location(ground(3)).occupants == [spec.id]
    assert yard.location(ground(3)).reserved_by is None


def test_cancelling_a_staged_move_leaves_the_coil_at_the_handover() -> None:
    yard = fresh_yard()
    spec = received(yard, "HM-X")
    move = carried(yard, spec.id, ground(3), carrier="AGV-02")
    yard.complete_leg(move.id, "H-FS1", at=1.0, actor="agv")
    yard.cancel_move(move.id, at=2.0, actor="wms", reason="no crane")
    coil = yard.coil(spec.id)
    assert (coil.location, coil.status, coil.move) == ("H-FS1", UnitStatus.IN_STOCK, None)
    assert yard.location(ground(3)).reserved_by is None


def test_ingot_stacks_obey_the_positions_height_and_weight() -> None:
    yard = fresh_yard()
    heaviest = make_stack(count=3, unit_weight=30.0, unit_height=0.5)  # exactly 90 t
    tallest = make_stack(count=4, unit_weight=10.0, unit_height=0.6)  # exactly 2.4 m
    yard.receive_ingot_stack(heaviest, STACKS[0], at=0.0, actor="test")
    yard.receive_ingot_stack(tallest, STACKS[1], at=0.0, actor="test")
    assert yard.location(STACKS[0]).occupants == [heaviest.id]
    with refused(yard, StackingRuleViolated) as heavy:
        yard.receive_ingot_stack(make_stack(count=4, unit_weight=25.0), STACKS[2], at=0.0, actor="test")
    only_rule(heavy, "stack weight", "100 t", "90 t")
    with refused(yard, StackingRuleViolated) as tall:
        yard.receive_ingot_stack(
            make_stack(count=5, unit_weight=5.0, unit_height=0.6), STACKS[2], at=0.0, actor="test"
        )
    only_rule(tall, "stack height", "3 m", "2.4 m")
    with refused(yard, StackingRuleViolated) as both:
        yard.receive_ingot_stack(make_stack(count=6, unit_weight=20.0), STACKS[2], at=0.0, actor="test")
    assert [v.rule for v in both.value.violations] == ["stack weight", "stack height"]
    with refused(yard, StackingRuleViolated) as on_top:  # a pile: the units on it count
        yard.receive_ingot_stack(make_stack(count=1), STACKS[0], at=0.0, actor="test")
    only_rule(on_top, "stack weight", "115 t", "90 t")


def test_an_ingot_stack_is_carried_by_the_slab_crane() -> None:
    yard = fresh_yard()
    light = make_stack(count=2, unit_weight=15.0)
    heavy = make_stack(count=2, unit_weight=25.0)
    yard.receive_ingot_stack(light, "H-IS1", at=0.0, actor="test")
    yard.receive_ingot_stack(heavy, "H-IS1", at=0.0, actor="test")
    move = yard.plan_move(light.id, STACKS[2], at=1.0, actor="test")
    yard.start_move(move.id, "IC1", at=2.0, actor="test")
    yard.complete_move(move.id, at=3.0, actor="test")
    assert yard.stacks[light.id].location == STACKS[2]
    assert yard.unit(light.id).status is UnitStatus.IN_STOCK
    big = yard.plan_move(heavy.id, STACKS[3], at=4.0, actor="test")
    with refused(yard, StackingRuleViolated) as caught:
        yard.start_move(big.id, "IC1", at=5.0, actor="test")
    only_rule(caught, "carrier capacity", "50 t", "'IC1'", "35 t")


def test_counts_record_discrepancies() -> None:
    yard = fresh_yard()
    spec = placed(yard, ground(3))
    a, b = received(yard), received(yard)
    agreed = yard.record_count("H-FS1", [b.id, a.id], at=1.0, actor="counter")
    assert not agreed.discrepancy
    assert yard.discrepancies == []
    missing = yard.record_count(ground(3), [], at=2.0, actor="counter")
    assert missing.discrepancy
    assert (missing.expected, missing.observed) == ((spec.id,), ())
    extra = yard.record_count(ground(4), ["K-STRANGER"], at=3.0, actor="counter")
    assert yard.discrepancies == [missing, extra]
    assert [entry.kind for entry in yard.ledger[-3:]] == ["CountRecorded"] * 3
    assert yard.location(ground(3)).occupants == [spec.id]  # a count corrects nothing by itself
    assert Yard.replay(tiny_plant(), yard.ledger).discrepancies == [missing, extra]


# ---------------------------------------------------------------------------------------------- cooling


def modelled(t0: float, measured_at: float, now: float) -> float:
    """T = T_amb + (T0 − T_amb)·e^(−t/τ), written out here independently of CoolingModel."""
    return AMBIENT_C + (t0 - AMBIENT_C) * math.exp(-(now - measured_at) / TAU_S)


def test_the_yard_cools_coils_with_newtons_law_at_the_stores_threshold() -> None:
    yard = fresh_yard()
    assert (yard.cooling, yard.hot_threshold_c) == (CoolingModel(AMBIENT_C, TAU_S), THRESHOLD_C)
    spec = received(yard, "HM-X", temperature=300.0)
    for now in (0.0, 3600.0, TAU_S, 5 * TAU_S):
        assert math.isclose(yard.temperature(spec.id, now), modelled(300.0, 0.0, now), rel_tol=1e-12)
    assert yard.temperature(spec.id, -100.0) == 300.0  # no cooling before the measurement


def test_a_hot_coil_is_held_from_receipt_until_it_has_cooled() -> None:
    yard = fresh_yard()
    spec = make_coil(temperature=300.0, temperature_at=0.0)
    coil = yard.receive_coil(spec, "HM-X", at=60.0, actor="mes")
    [hold] = coil.holds.values()
    release = TAU_S * math.log((300.0 - AMBIENT_C) / (THRESHOLD_C - AMBIENT_C))  # T(release) = 80 °C
    assert hold.kind is HoldKind.COOLING
    assert hold.placed_at == 60.0
    assert hold.release_at is not None
    assert math.isclose(hold.release_at, release, rel_tol=1e-12)
    assert "300" in hold.reason
    assert [entry.kind for entry in yard.ledger] == ["CoilReceived", "HoldPlaced"]
    assert yard.next_cooling_release() == hold.release_at
    with refused(yard, OnHold, "cooling"):
        yard.plan_move(spec.id, "DOCK1", at=100.0, actor="test", purpose="retrieval")

    just_before = hold.release_at - 1.0
    assert modelled(300.0, 0.0, just_before) > THRESHOLD_C
    assert yard.is_hot(coil, just_before)
    size = len(yard.ledger)
    assert yard.release_cooled(at=just_before) == []
    assert len(yard.ledger) == size
    assert hold.id in coil.holds

    assert yard.release_cooled(at=hold.release_at) == [spec.id]
    assert not coil.holds
    assert events(yard)[-1] == ev.HoldReleased(
        at=hold.release_at, actor="cooling-model", reason="cooled below threshold", unit=spec.id, hold=hold.id
    )
    assert yard.next_cooling_release() is None
    assert not yard.is_hot(coil, hold.release_at + 1.0)
    assert yard.release_cooled(at=hold.release_at + 10.0) == []


def test_a_cold_or_already_cooled_coil_gets_no_hold() -> None:
    yard = fresh_yard()
    cold = received(yard, temperature=80.0)  # at the threshold is not above it
    cooled = received(yard, at=10 * TAU_S, temperature=400.0, temperature_at=0.0)
    assert not yard.coil(cold.id).holds
    assert not yard.coil(cooled.id).holds
    assert yard.next_cooling_release() is None


def test_a_coil_released_from_cooling_is_no_longer_hot() -> None:
    # At time_to_reach the model can still say 80.00000000000001 °C; that once counted as hot, and the rack
    # refused a coil whose cooling hold had just been released.
    yard = fresh_yard()
    spec = received(yard, "IO-HB1", temperature=183.0)
    [hold] = yard.coil(spec.id).holds.values()
    assert hold.release_at is not None
    assert yard.release_cooled(at=hold.release_at) == [spec.id]
    assert not yard.is_hot(yard.coil(spec.id), hold.release_at)
    yard.plan_move(spec.id, CELL, at=hold.release_at, actor="test")


def test_measuring_a_hotter_coil_postpones_its_release() -> None:
    yard = fresh_yard()
    spec = received(yard, "HM-X", temperature=300.0)
    [first] = yard.coil(spec.id).holds.values()
    yard.measure_temperature(spec.id, 400.0, at=3600.0, actor="pyrometer")
    coil = yard.coil(spec.id)
    [second] = coil.holds.values()
    assert second.id != first.id
    assert (coil.temperature, coil.temperature_at) == (400.0, 3600.0)
    assert first.release_at is not None
    assert second.release_at is not None
    assert second.release_at > first.release_at
    assert math.isclose(second.release_at, 3600.0 + TAU_S * math.log(375.0 / 55.0), rel_tol=1e-12)
    assert events(yard)[-3:] == [
        ev.TemperatureMeasured(at=3600.0, actor="pyrometer", coil=spec.id, temperature=400.0),
        ev.HoldReleased(at=3600.0, actor="pyrometer", reason="re-measured", unit=spec.id, hold=first.id),
        ev.HoldPlaced(
            at=3600.0,
            actor="pyrometer",
            reason="measured 400 °C",
            unit=spec.id,
            hold=second.id,
            kind=HoldKind.COOLING,
            release_at=second.release_at,
        ),
    ]
    assert yard.release_cooled(at=first.release_at) == []
    assert yard.release_cooled(at=second.release_at) == [spec.id]


def test_measuring_a_cooler_coil_releases_it_at_once() -> None:
    yard = fresh_yard()
    spec = received(yard, "HM-X", temperature=300.0)
    yard.measure_temperature(spec.id, 70.0, at=600.0, actor="pyrometer")
    coil = yard.coil(spec.id)
    assert not coil.holds
    assert not yard.is_hot(coil, 600.0)
    assert [entry.kind for entry in yard.ledger[-2:]] == ["TemperatureMeasured", "HoldReleased"]
    yard.plan_move(spec.id, CELL, at=600.0, actor="test")


def test_measuring_a_cold_coil_hot_holds_it() -> None:
    yard = fresh_yard()
    spec = received(yard)
    yard.measure_temperature(spec.id, 200.0, at=100.0, actor="pyrometer")
    [hold] = yard.coil(spec.id).holds.values()
    assert hold.kind is HoldKind.COOLING
    assert hold.release_at is not None
    assert math.isclose(hold.release_at, 100.0 + TAU_S * math.log(175.0 / 55.0), rel_tol=1e-12)
    with refused(yard, StackingRuleViolated) as caught:
        yard.plan_move(spec.id, ground(3), at=200.0, actor="test")
    only_rule(caught, "hot coil")


@pytest.mark.parametrize("temperature", [math.nan, math.inf, 701.0, -51.0])
def test_an_impossible_measurement_is_refused(temperature: float) -> None:
    yard = fresh_yard()
    spec = received(yard)
    with refused(yard, InvalidInput, "outside -50..700 °C"):
        yard.measure_temperature(spec.id, temperature, at=1.0, actor="pyrometer")


# ---------------------------------------------------------------------------------------------- replay, views


def test_stock_counts_units_in_each_store_by_alloy() -> None:
    yard = fresh_yard()
    spec = placed(yard, ground(3))
    assert yard.stock[("FS1", "5182")] == 1
    moved = yard.plan_move(spec.id, "H-FS1", at=1.0, actor="test")
    yard.start_move(moved.id, "C1", at=1.0, actor="test")
    assert yard.stock[("FS1", "5182")] == 0  # on the crane it is in no store
    yard.complete_move(moved.id, at=1.0, actor="test")
    assert yard.stock[("FS1", "5182")] == 0


def test_a_coil_received_straight_into_a_store_counts_in_its_stock() -> None:
    yard = fresh_yard()
    spec = received(yard, ground(3))
    assert yard.stock[("FS1", "5182")] == 1
    move = carried(yard, spec.id, "H-FS1")
    yard.complete_move(move.id, at=1.0, actor="test")
    assert yard.stock[("FS1", "5182")] == 0


def test_replaying_the_ledger_rebuilds_the_same_yard() -> None:
    yard = fresh_yard()
    hot = received(yard, "HM-X", temperature=250.0)
    yard.complete_move(carried(yard, hot.id, ground(1), carrier="C1").id, at=1.0, actor="test")
    left, right = placed(yard, ground(3)), placed(yard, ground(4))
    placed(yard, upper(3), weight=12.0)
    yard.reserve(left.id, "O7", at=2.0, actor="sales")
    yard.place_hold(right.id, HoldKind.QA, "sample", at=3.0, actor="qa")
    yard.lock(ground(8), "both", "pillar", at=4.0, actor="maint")
    staged = carried(yard, received(yard, "HM-X").id, ground(6), carrier="AGV-01")
    yard.complete_leg(staged.id, "H-FS1", at=5.0, actor="agv")
    yard.record_count(ground(3), [], at=6.0, actor="counter")
    yard.measure_temperature(hot.id, 150.0, at=7.0, actor="pyrometer")
    yard.release_cooled(at=10 * TAU_S)
    dock = received(yard, "DOCK1")
    yard.ship(dock.id, "SH1", at=8.0, actor="dock")

    again = Yard.replay(tiny_plant(), yard.ledger)
    assert again.snapshot() == yard.snapshot()
    assert again.ledger == yard.ledger
    # move and hold ids go on where the ledger left off
    nxt = received(again)
    assert again.plan_move(nxt.id, ground(7), at=9.0, actor="test").id == f"M{len(yard.moves) + 1:06d}"
    hold_ids = [e.hold for e in events(yard) if isinstance(e, ev.HoldPlaced)]
    assert again.place_hold(nxt.id, HoldKind.QA, "x", at=9.0, actor="qa").id == f"H{len(hold_ids) + 1:06d}"


def test_watchers_hear_of_every_place_a_command_touches() -> None:
    yard = fresh_yard()
    heard: list[str] = []
    yard.watch(heard.append)
    spec = received(yard)
    move = carried(yard, spec.id, ground(3))
    yard.complete_move(move.id, at=1.0, actor="test")
    assert heard == ["H-FS1", "H-FS1", ground(3), "H-FS1", "C1", "C1", ground(3)]


def test_every_place_of_the_tiny_plant_is_a_location() -> None:
    yard = fresh_yard()
    kinds: dict[LocationKind, int] = {}
    for place in yard.locations.values():
        kinds[place.kind] = kinds.get(place.kind, 0) + 1
    assert kinds == {
        LocationKind.SADDLE: 30,
        LocationKind.STACK: 5,
        LocationKind.CELL: 80,
        LocationKind.HANDOVER: 7,
        LocationKind.CARRIER: 7,
    }
    assert yard.carrier_capacity_t("AGV-01") == 32.0
    assert yard.carrier_capacity_t("C1") == 35.0
    assert yard.carrier_capacity_t("HB1-SC01") == 32.0
