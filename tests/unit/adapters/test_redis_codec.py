"""Stream entries: fleet and WMS events round-trip through the bus codec; bad entries are named; backoff bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.redis_bus import Backoff, InProcessEventBus, LedgerPublisher, decode_entry, encode_entry
from adapters.redis_bus.codec import FLEET_EVENT_TYPES, CodecError, FleetEvent, encode_fleet_event
from fleet.domain.orders import Operation, OrderState, OrderTransition
from fleet.domain.vehicles import VehicleState
from fleet.ports import Arrived, CraneAt, EnergyReport, OperationDone, Progress, StateChanged
from wms.domain.events import LedgerEntry, MoveCompleted, MovePlanned

ids = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=1, max_size=12)
times = st.floats(allow_nan=False, allow_infinity=False, width=64)

fleet_events = st.one_of(
    st.builds(Progress, vehicle=ids, node=ids, at=times, order=st.none() | ids),
    st.builds(Arrived, vehicle=ids, node=ids, at=times, order=st.none() | ids),
    st.builds(
        OperationDone,
        vehicle=ids,
        node=ids,
        operation=st.sampled_from(Operation),
        at=times,
        order=st.none() | ids,
    ),
    st.builds(
        StateChanged, vehicle=ids, state=st.sampled_from(VehicleState), at=times, error=st.none() | ids
    ),
    st.builds(EnergyReport, vehicle=ids, energy=times, at=times),
    st.builds(CraneAt, vehicle=ids, along=times, at=times),
    st.builds(
        OrderTransition,
        order=ids,
        from_state=st.sampled_from(OrderState),
        to_state=st.sampled_from(OrderState),
        at=times,
        reason=st.text(max_size=20),
        vehicle=st.none() | ids,
    ),
)


@given(event=fleet_events)
def test_fleet_events_round_trip(event: FleetEvent) -> None:
    fields = encode_entry(event)
    assert fields["type"] == "fleet" and "seq" not in fields
    decoded = decode_entry(fields)
    assert decoded.event == event and type(decoded.event) is type(event)
    assert decoded.seq is None


def test_every_fleet_event_type_has_a_strategy() -> None:
    assert {cls.__name__ for cls in FLEET_EVENT_TYPES} == {
        "Progress",
        "Arrived",
        "OperationDone",
        "StateChanged",
        "EnergyReport",
        "CraneAt",
        "OrderTransition",
    }


def test_wms_events_use_the_ledger_codec_and_keep_their_seq() -> None:
    event = MovePlanned(
        at=1.5,
        actor="planner",
        move="M1",
        unit="C1",
        source="A",
        target="B",
        purpose="putaway",
        score={"distance": 0.25},
    )
    fields = encode_entry(event, seq=42)
    assert fields["type"] == "wms" and fields["seq"] == "42"
    assert '"event":"MovePlanned"' in fields["event"]
    decoded = decode_entry(fields)
    assert (decoded.event, decoded.seq) == (event, 42)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "fleet"}, "no 'event' field"),
        ({"type": "fleet", "event": "{oops"}, "not JSON"),
        ({"type": "bogus", "event": "{}"}, "type 'bogus' is not 'wms' or 'fleet'"),
        ({"type": "fleet", "event": '{"v":2,"event":"Progress","data":{}}'}, "version 2 is not supported"),
        (
            {"type": "fleet", "event": '{"v":1,"event":"Teleported","data":{}}'},
            "unknown fleet event type 'Teleported'",
        ),
        ({"type": "fleet", "event": '{"v":1,"event":"Progress","data":{"vehicle":"A"}}'}, "lacks"),
        (
            {
                "type": "fleet",
                "event": '{"v":1,"event":"StateChanged","data":{"vehicle":"A","state":"dizzy","at":1}}',
            },
            "'dizzy' is not a VehicleState",
        ),
        (
            {"type": "wms", "event": '{"v":1,"event":"HoldReleased","data":{}}', "seq": "x"},
            "'seq' is not an integer",
        ),
    ],
)
def test_bad_entries_raise_codec_error_naming_the_problem(fields: dict[str, str], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_entry(fields)


def test_seq_is_refused_for_fleet_events_and_unknown_types_are_refused() -> None:
    with pytest.raises(CodecError, match="seq is for ledger events"):
        encode_entry(Progress(vehicle="A", node="N", at=0.0), seq=3)
    with pytest.raises(CodecError, match="not a fleet event the bus carries"):
        encode_fleet_event("nope")  # type: ignore[arg-type]


@given(attempt=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_backoff_stays_within_its_exponential_ceiling(attempt: int, seed: int) -> None:
    backoff = Backoff(base_s=0.05, factor=2.0, cap_s=5.0, rng=random.Random(seed))
    assert 0 <= backoff.delay(attempt) <= min(5.0, 0.05 * 2 ** (attempt - 1))


def test_backoff_is_jittered() -> None:
    backoff = Backoff(base_s=1.0, cap_s=1.0, rng=random.Random(7))
    assert len({backoff.delay(3) for _ in range(20)}) == 20


def test_in_process_bus_is_the_wms_event_publisher() -> None:
    bus = InProcessEventBus()
    seen: list[int | None] = []
    bus.subscribe("wms", lambda d: seen.append(d.seq))
    events = [
        MoveCompleted(at=float(i), actor="t", move=f"M{i}", unit=f"C{i}", carrier="C1", target="P")
        for i in range(3)
    ]
    LedgerPublisher(bus, "wms").publish([LedgerEntry(seq=i + 10, event=e) for i, e in enumerate(events)])
    assert bus.events("wms") == events
    assert seen == [10, 11, 12]
