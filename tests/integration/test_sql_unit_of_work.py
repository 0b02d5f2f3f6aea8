"""The SQL unit of work on real databases (SQLite file, PostgreSQL), and the event codec it stores with."""

from __future__ import annotations

import inspect
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st

from adapters.sql import (
    SqlUnitOfWork,
    codec,
    create_engine_for,
    current_revision,
    forget_cached_yards,
    head_revision,
    migrate,
)
from adapters.sql.tables import ledger, metadata, units
from tests.wms_factories import make_coil, make_stack, place_coil, tiny_plant
from wms.domain import events as ev
from wms.domain.errors import StackingRuleViolated, StaleVersion
from wms.domain.units import HoldKind, Packaging
from wms.domain.yard import Yard

EngineFactory = Callable[[str], sa.Engine]  # the make_engine fixture (conftest.py)

P03, P04, P05 = "FS1-B1-R01-P03-G", "FS1-B1-R01-P04-G", "FS1-B1-R01-P05-G"


def uow_for(make_engine: EngineFactory, url: str) -> SqlUnitOfWork:
    """A unit of work as a new process would have it: its own engine, so an empty yard cache.

    These tests interleave two writers in one thread to pin down the optimistic check, so writers race
    here instead of queueing on PostgreSQL's advisory lock (queueing has tests of its own).
    """
    return SqlUnitOfWork(make_engine(url), tiny_plant(), serialize_writers=False)


def committed_snapshot(make_engine: EngineFactory, url: str) -> dict[str, object]:
    with uow_for(make_engine, url) as uow:
        return uow.yard.snapshot()


def count_rows(make_engine: EngineFactory, url: str, table: sa.Table) -> int:
    with make_engine(url).connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --------------------------------------------------------------------------------------------- codec


def every_event() -> list[ev.Event]:
    """One or more of each event type, with the awkward values: inf, None, empty and non-ASCII text, 0.1."""
    coil = make_coil(
        id="K-Ω1",
        temperature=612.5,
        temperature_at=0.1 + 0.2,
        packaging=Packaging.SKID,
        due=None,
        parents=("K-P1", "L-77"),
        lot="lot 5",
    )
    return [
        ev.CoilReceived(at=0.1 + 0.2, actor="hot mill", reason="", coil=coil, location="HM-X"),
        ev.CoilReceived(
            at=1e-300, actor="mes", coil=make_coil(id="K2", due=1.7976931348623157e308), location="H"
        ),
        ev.IngotStackReceived(
            at=2.0, actor="caster", stack=make_stack(id="S1", cast_lot="C-9"), location="H-IS1"
        ),
        ev.MovePlanned(
            at=3,
            actor="wms",
            move="M000001",
            unit="K-Ω1",
            source="HM-X",
            target="P",
            purpose="putaway",
            score={"distance": 12.25, "burial": -0.0},
        ),
        ev.MovePlanned(at=3.5, actor="wms", move="M000002", unit="K2", source="H", target="Q", purpose="x"),
        ev.MoveStarted(at=4.0, actor="AGV-01", move="M000001", unit="K-Ω1", source="HM-X", carrier="AGV-01"),
        ev.MoveLegCompleted(
            at=5.0, actor="AGV-01", move="M000001", unit="K-Ω1", carrier="AGV-01", location="H"
        ),
        ev.MoveCompleted(at=6.0, actor="C1", move="M000001", unit="K-Ω1", carrier="C1", target="P"),
        ev.MoveCancelled(at=7.0, actor="ops", reason="crane down", move="M000002", unit="K2", location="H"),
        ev.HoldPlaced(at=8.0, actor="qa", reason="edge crack", unit="K2", hold="H000001", kind=HoldKind.QA),
        ev.HoldPlaced(
            at=8.5, actor="wms", unit="K-Ω1", hold="H000002", kind=HoldKind.COOLING, release_at=math.inf
        ),
        ev.HoldReleased(at=9.0, actor="qa", reason="ok", unit="K2", hold="H000001"),
        ev.TemperatureMeasured(at=10.0, actor="pyrometer", coil="K-Ω1", temperature=-50.0),
        ev.StockReserved(at=11.0, actor="sales", unit="K2", order="SO-1"),
        ev.ReservationReleased(at=12.0, actor="sales", unit="K2", order="SO-1"),
        ev.CountRecorded(at=13.0, actor="counter", location="P", expected=("K-Ω1",), observed=()),
        ev.LocationLocked(at=14.0, actor="safety", reason="saddle bent", location="P", direction="both"),
        ev.LocationUnlocked(at=15.0, actor="safety", location="P", direction="in"),
        ev.UnitShipped(at=16.0, actor="dock", unit="K2", location="DOCK1", shipment="SH-1"),
        ev.ShipmentPlanned(
            at=16.5,
            actor="shipping",
            shipment="SH-1",
            truck="TR 7",
            dock="DOCK1",
            payload=24.5,
            coils=("K2", "K-Ω1"),
            window=(3600.0, math.inf),
        ),
        ev.ShipmentPlanned(
            at=16.6, actor="shipping", shipment="SH-2", truck="TR 8", dock="DOCK1", payload=0.1, coils=()
        ),
        ev.StockLevelCrossed(at=16.7, actor="wms", store="FS1", alloy="5182", count=3, level="low"),
        ev.CoilConsumed(at=17.0, actor="CM1", coil="K-Ω1", location="RS2", station="CM1"),
        ev.IngotStackConsumed(at=17.1, actor="HM", stack="S1", location="H-IS1", station="HM"),
    ]


def stored(event: ev.Event) -> ev.Event:
    """Through the codec and JSON text (strict JSON: no NaN or Infinity tokens) and back."""
    text = json.dumps(codec.encode_event(event), allow_nan=False)
    return codec.decode_event(json.loads(text))


def test_the_codec_knows_every_event_class() -> None:
    declared = {
        cls
        for _, cls in inspect.getmembers(ev, inspect.isclass)
        if issubclass(cls, ev.Event) and cls is not ev.Event and cls.__module__ == ev.__name__
    }
    assert declared == set(codec.EVENT_TYPES)
    assert {type(e) for e in every_event()} == declared


@pytest.mark.parametrize("event", every_event(), ids=lambda e: type(e).__name__)
def test_every_event_round_trips_exactly(event: ev.Event) -> None:
    back = stored(event)
    assert type(back) is type(event)
    assert back == event
    assert repr(back) == repr(event)  # floats to the bit (-0.0 and 0.1 + 0.2 included), enums as enums


@given(
    at=st.floats(allow_nan=False),
    temperature=st.floats(allow_nan=False),
    actor=st.text(),
)
def test_any_float_and_text_round_trip(at: float, temperature: float, actor: str) -> None:
    event = ev.TemperatureMeasured(at=at, actor=actor, coil="K1", temperature=temperature)
    assert repr(stored(event)) == repr(event)


def test_nan_is_stored_as_text() -> None:
    event = ev.TemperatureMeasured(at=math.nan, actor="x", coil="K1", temperature=1.0)
    assert codec.encode_event(event)["data"]["at"] == "nan"
    assert math.isnan(stored(event).at)


def test_format_1_is_pinned() -> None:
    event = ev.HoldPlaced(
        at=8, actor="wms", unit="K1", hold="H000002", kind=HoldKind.COOLING, release_at=math.inf
    )
    assert codec.encode_event(event) == {
        "v": 1,
        "event": "HoldPlaced",
        "data": {
            "at": 8,
            "actor": "wms",
            "reason": "",
            "unit": "K1",
            "hold": "H000002",
            "kind": "cooling",
            "release_at": "inf",
        },
    }
    older = {"v": 1, "event": "HoldReleased", "data": {"at": 1, "actor": "qa", "unit": "K1", "hold": "H1"}}
    assert codec.decode_event(older) == ev.HoldReleased(at=1, actor="qa", unit="K1", hold="H1")


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ({"v": 2, "event": "HoldReleased", "data": {}}, "version 2"),
        ({"v": 1, "event": "CoilTeleported", "data": {}}, "unknown event type"),
        (
            {
                "v": 1,
                "event": "HoldReleased",
                "data": {"at": 1, "actor": "a", "unit": "K", "hold": "H", "x": 1},
            },
            "['x']",
        ),
        ({"v": 1, "event": "HoldReleased", "data": {"at": 1, "actor": "a", "unit": "K"}}, "lacks ['hold']"),
        (
            {"v": 1, "event": "HoldReleased", "data": {"at": "1", "actor": "a", "unit": "K", "hold": "H"}},
            "number",
        ),
        (
            {
                "v": 1,
                "event": "HoldPlaced",
                "data": {"at": 1, "actor": "a", "unit": "K", "hold": "H", "kind": "x"},
            },
            "HoldKind",
        ),
    ],
)
def test_decoding_refuses_what_it_does_not_know(payload: dict[str, Any], complaint: str) -> None:
    with pytest.raises(codec.CodecError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        codec.decode_event(payload)


def test_payloads_survive_the_database_exactly(database_url: str, make_engine: EngineFactory) -> None:
    events = every_event()
    rows = [codec.ledger_row(ev.LedgerEntry(i + 1, e)) for i, e in enumerate(events)]
    engine = make_engine(database_url)
    with engine.begin() as connection:  # a scratch ledger: these events are not a replayable history
        connection.execute(sa.insert(ledger), rows)
    with engine.connect() as connection:
        payloads = connection.execute(sa.select(ledger.c.payload).order_by(ledger.c.seq)).scalars().all()
    assert [repr(codec.decode_event(p)) for p in payloads] == [repr(e) for e in events]


# --------------------------------------------------------------------------------------------- unit of work


def test_commit_persists_and_a_new_process_sees_the_same_yard(
    database_url: str, make_engine: EngineFactory
) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.yard.receive_ingot_stack(make_stack(id="S1"), "H-IS1", at=1.0, actor="caster")
        uow.commit()
        expected = uow.yard.snapshot()
    with uow:  # a second command on the same (cached) yard
        uow.yard.place_hold("K1", HoldKind.QA, "edge crack", at=2.0, actor="qa")
        uow.commit()
        expected = uow.yard.snapshot()
    assert committed_snapshot(make_engine, database_url) == expected
    assert count_rows(make_engine, database_url, ledger) == 6


def test_without_commit_nothing_is_persisted(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
    assert uow.yard.snapshot() == Yard(tiny_plant()).snapshot()
    assert count_rows(make_engine, database_url, ledger) == 0
    assert count_rows(make_engine, database_url, units) == 0
    assert committed_snapshot(make_engine, database_url) == Yard(tiny_plant()).snapshot()


def test_an_exception_in_the_block_leaves_database_and_cached_yard_unchanged(
    database_url: str, make_engine: EngineFactory
) -> None:
    engine = make_engine(database_url)
    uow = SqlUnitOfWork(engine, tiny_plant())
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.commit()
    before, cached = uow.yard.snapshot(), uow.yard

    with pytest.raises(RuntimeError, match="crane fault"), uow:
        place_coil(uow.yard, make_coil(id="K2"), P04)
        assert len(uow.yard.ledger) == 8
        raise RuntimeError("crane fault")

    assert uow.yard.snapshot() == before
    assert count_rows(make_engine, database_url, ledger) == 4
    assert count_rows(make_engine, database_url, units) == 1
    with SqlUnitOfWork(engine, tiny_plant()) as other:  # same engine: the cached yard
        assert other.yard.snapshot() == before
        assert other.yard is not cached  # rebuilt from the committed entries, since K2's were discarded
    assert committed_snapshot(make_engine, database_url) == before


def test_a_refused_command_keeps_the_cached_yard(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.yard.receive_coil(make_coil(id="K2", width=2.5), "H-FS1", at=1.0, actor="t")
        uow.commit()
    cached = uow.yard
    with pytest.raises(StackingRuleViolated), uow:
        uow.yard.plan_move("K2", P04, at=1.0, actor="t")  # too wide for the row: refused before recording
    with uow:
        assert uow.yard is cached  # nothing to forget, so nothing replayed
        assert len(uow.yard.ledger) == 5


def test_the_cache_reads_only_new_entries(database_url: str, make_engine: EngineFactory) -> None:
    ours, theirs = uow_for(make_engine, database_url), uow_for(make_engine, database_url)
    with ours:
        place_coil(ours.yard, make_coil(id="K1"), P03)
        ours.commit()
    cached = ours.yard
    with theirs:
        place_coil(theirs.yard, make_coil(id="K2"), P04)
        theirs.commit()
    statements: list[str] = []
    sa.event.listen(ours.engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))
    with ours:
        assert ours.yard is cached  # brought up to date in place, not replayed
        assert ours.yard.coil("K2").location == P04
        assert ours.read_version == 8
    reads = [s for s in statements if "FROM ledger" in s]  # besides taking and giving back the writers' lock
    assert len(reads) == 1 and "seq >" in reads[0]
    assert all("ledger" in s or "advisory" in s or "set_config" in s for s in statements)


def test_a_stale_commit_raises_and_writes_nothing(database_url: str, make_engine: EngineFactory) -> None:
    first, second = uow_for(make_engine, database_url), uow_for(make_engine, database_url)
    with first:
        place_coil(first.yard, make_coil(id="K1"), P03)
        first.commit()
    with second:
        assert second.read_version == 4
    with pytest.raises(StaleVersion) as stale, first:  # both read version 4 and want P05
        with second:
            place_coil(second.yard, make_coil(id="K3"), P05)
            second.commit()
        place_coil(first.yard, make_coil(id="K2"), P05)
        first.remember("put K2 away", "done")
        first.commit()
    assert (stale.value.expected, stale.value.found) == (4, 8)
    assert count_rows(make_engine, database_url, ledger) == 8
    with make_engine(database_url).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM idempotency")).scalar_one() == 0
        assert connection.execute(sa.select(units.c.id).where(units.c.location == P05)).scalar_one() == "K3"
    with first:  # the retry runs on the fresh state, where the domain refuses the taken place
        assert first.yard.snapshot() == second.yard.snapshot()
        assert first.recall("put K2 away") is None
        with pytest.raises(StackingRuleViolated, match="occupied"):
            place_coil(first.yard, make_coil(id="K2"), P05)


def test_a_commit_of_results_only_is_checked_too(database_url: str, make_engine: EngineFactory) -> None:
    reader, writer = uow_for(make_engine, database_url), uow_for(make_engine, database_url)
    with writer:
        place_coil(writer.yard, make_coil(id="K1"), P03)
        writer.commit()
    with pytest.raises(StaleVersion), reader:
        with writer:
            writer.yard.place_hold("K1", HoldKind.QA, "dent", at=1.0, actor="qa")
            writer.commit()
        reader.remember("where is K1", reader.yard.coil("K1").location)
        reader.commit()  # recorded nothing, but its answer was about a state that is gone
    with reader:
        reader.remember("where is K1", reader.yard.coil("K1").location)
        reader.commit()
    assert uow_for(make_engine, database_url).recall("where is K1") == P03


def test_idempotent_results_survive_a_new_process(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        assert uow.recall("scan-1") is None
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.remember("scan-1", {"move": "M000001", "weights": (20.0, 0.1 + 0.2), "ok": True, "none": None})
        assert uow.recall("scan-1") is not None  # visible to the command that remembered it
        uow.commit()
    with uow:
        uow.remember("scan-2", "never committed")
    fresh = uow_for(make_engine, database_url)
    assert fresh.recall("scan-1") == {
        "move": "M000001",
        "weights": [20.0, 0.30000000000000004],
        "ok": True,
        "none": None,
    }
    assert fresh.recall("scan-2") is None
    with make_engine(database_url).connect() as connection:
        row = connection.execute(sa.text("SELECT ledger_seq, at FROM idempotency WHERE key = 'scan-1'")).one()
    assert row.ledger_seq == 4 and row.at is not None


def test_racing_twins_with_one_key_apply_once(database_url: str, make_engine: EngineFactory) -> None:
    twin_a, twin_b = uow_for(make_engine, database_url), uow_for(make_engine, database_url)

    def put_away(uow: SqlUnitOfWork, coil: str, meanwhile: Callable[[], object] = lambda: None) -> Any:
        if (done := uow.recall("receive K1")) is not None:
            return done
        meanwhile()
        place_coil(uow.yard, make_coil(id=coil), P03)
        uow.remember("receive K1", coil)
        uow.commit()
        return coil

    def twin_b_first() -> None:
        with twin_b:
            assert put_away(twin_b, "K1") == "K1"

    with pytest.raises(StaleVersion), twin_a:  # both found no result, twin B commits first
        put_away(twin_a, "K1-twin", meanwhile=twin_b_first)
    with twin_a:
        assert put_away(twin_a, "K1-twin") == "K1"  # the retry finds the stored result
    assert count_rows(make_engine, database_url, ledger) == 4


def test_results_must_be_json_data(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        with pytest.raises(TypeError, match="JSON"):
            uow.remember("k", {1, 2})
        with pytest.raises(TypeError, match="JSON"):
            uow.remember("k", math.inf)
    with pytest.raises(RuntimeError, match="inside"):
        uow.remember("k", 1)


def test_a_nested_unit_of_work_on_the_same_yard_is_refused(
    database_url: str, make_engine: EngineFactory
) -> None:
    engine = make_engine(database_url)
    with SqlUnitOfWork(engine, tiny_plant()), pytest.raises(RuntimeError, match="already inside"):  # noqa: SIM117
        with SqlUnitOfWork(engine, tiny_plant()):
            pass


def test_other_threads_wait_their_turn_on_a_shared_engine(
    database_url: str, make_engine: EngineFactory
) -> None:
    engine = make_engine(database_url)
    inside, order = threading.Event(), []

    def other() -> None:
        inside.wait()
        with SqlUnitOfWork(engine, tiny_plant()) as uow:
            order.append(("other", uow.read_version))

    thread = threading.Thread(target=other)
    thread.start()
    with SqlUnitOfWork(engine, tiny_plant()) as uow:
        inside.set()
        thread.join(0.2)
        assert thread.is_alive()  # blocked until we leave
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.commit()
        order.append(("first", uow.read_version))
    thread.join()
    assert order == [("first", 4), ("other", 4)]


def test_ledger_rows_say_who_when_what_from_to_why(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        yard = uow.yard
        yard.receive_coil(make_coil(id="K1"), "H-FS1", at=10.0, actor="mes", reason="from hot mill")
        move = yard.plan_move("K1", P03, at=11.0, actor="planner", purpose="putaway", reason="best score")
        yard.start_move(move.id, "C1", at=12.0, actor="crane C1")
        yard.complete_move(move.id, at=13.5, actor="crane C1")
        yard.lock(P04, "in", "saddle bent", at=14.0, actor="safety")
        uow.commit()
    with make_engine(database_url).connect() as connection:
        rows = connection.execute(
            sa.select(
                ledger.c.seq,
                ledger.c.at,
                ledger.c.actor,
                ledger.c.kind,
                ledger.c.unit,
                ledger.c.source,
                ledger.c.target,
                ledger.c.reason,
            ).order_by(ledger.c.seq)
        ).all()
        recorded = connection.execute(sa.select(ledger.c.recorded_at)).scalars().all()
    assert [tuple(r) for r in rows] == [
        (1, 10.0, "mes", "CoilReceived", "K1", None, "H-FS1", "from hot mill"),
        (2, 11.0, "planner", "MovePlanned", "K1", "H-FS1", P03, "best score"),
        (3, 12.0, "crane C1", "MoveStarted", "K1", "H-FS1", "C1", ""),
        (4, 13.5, "crane C1", "MoveCompleted", "K1", "C1", P03, ""),
        (5, 14.0, "safety", "LocationLocked", None, None, P04, "saddle bent"),
    ]
    assert all(r is not None for r in recorded)


def test_the_units_projection_follows_the_yard(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
        place_coil(uow.yard, make_coil(id="K2"), P04)
        uow.yard.receive_coil(make_coil(id="K3"), "H-FS1", at=0.0, actor="t")
        uow.yard.receive_ingot_stack(make_stack(id="S1"), "H-IS1", at=0.0, actor="t")
        uow.commit()
    with uow:  # K1 to the dock and away; K2 onto a crane
        move = uow.yard.plan_move("K1", "H-FS1", at=1.0, actor="t")
        uow.yard.start_move(move.id, "C1", at=1.0, actor="t")
        uow.yard.complete_move(move.id, at=1.0, actor="t")
        uow.yard.ship("K1", "SH-1", at=2.0, actor="dock")
        move = uow.yard.plan_move("K2", P05, at=3.0, actor="t")
        uow.yard.start_move(move.id, "C2", at=3.0, actor="t")
        uow.commit()
    with make_engine(database_url).connect() as connection:
        rows = connection.execute(
            sa.select(units.c.id, units.c.kind, units.c.location, units.c.status, units.c.exclusive).order_by(
                units.c.id
            )
        ).all()
        latest = connection.execute(sa.select(units.c.ledger_seq).where(units.c.id == "K2")).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("K1", "coil", "H-FS1", "shipped", False),
        ("K2", "coil", "C2", "in_transit", True),
        ("K3", "coil", "H-FS1", "in_stock", False),
        ("S1", "ingot_stack", "H-IS1", "in_stock", False),
    ]
    assert latest == count_rows(make_engine, database_url, ledger)


def test_the_database_refuses_two_units_in_one_place(database_url: str, make_engine: EngineFactory) -> None:
    uow = uow_for(make_engine, database_url)
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.commit()
    row = {
        "id": "K9",
        "kind": "coil",
        "location": P03,
        "status": "in_stock",
        "exclusive": True,
        "ledger_seq": 4,
    }
    with pytest.raises(sa.exc.IntegrityError), make_engine(database_url).begin() as connection:
        connection.execute(sa.insert(units), row)
    with make_engine(database_url).begin() as connection:  # a handover takes any number
        connection.execute(sa.insert(units), {**row, "location": "H-FS1", "exclusive": False})


def test_in_memory_sqlite_works() -> None:
    engine = create_engine_for("sqlite://")
    try:
        migrate(engine)
        with SqlUnitOfWork(engine, tiny_plant()) as uow:
            place_coil(uow.yard, make_coil(id="K1"), P03)
            uow.commit()
            expected = uow.yard.snapshot()
        forget_cached_yards(engine)
        results: list[dict[str, object]] = []

        def read() -> None:
            with SqlUnitOfWork(engine, tiny_plant()) as uow:
                results.append(uow.yard.snapshot())

        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
        assert results == [expected]  # another thread, the same in-memory database
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------- migrations


def test_migrating_twice_changes_nothing(blank_database_url: str, make_engine: EngineFactory) -> None:
    migrate(blank_database_url)
    uow = uow_for(make_engine, blank_database_url)
    with uow:
        place_coil(uow.yard, make_coil(id="K1"), P03)
        uow.commit()
        expected = uow.yard.snapshot()
    migrate(blank_database_url)
    engine = make_engine(blank_database_url)
    assert current_revision(engine) == head_revision() == "0003"
    assert committed_snapshot(make_engine, blank_database_url) == expected
    with engine.connect() as connection:  # the revision creates exactly what tables.py declares
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        assert set(sa.inspect(connection).get_table_names()) == {
            "ledger",
            "idempotency",
            "units",
            "api_users",
            "api_tokens",
            "audit",
            "alerts",
            "rfid_tags",
            "alembic_version",
        }


@pytest.mark.parametrize("blank_database_url", ["postgresql"], indirect=True)
def test_a_writer_waiting_for_its_turn_gives_up_after_wait_s(
    database_url: str, make_engine: EngineFactory
) -> None:
    holder = SqlUnitOfWork(make_engine(database_url), tiny_plant())
    waiter = SqlUnitOfWork(make_engine(database_url), tiny_plant(), wait_s=0.3)
    with holder:  # holds the ledger's advisory lock until it leaves
        started = time.perf_counter()
        with pytest.raises(TimeoutError, match="kept the ledger"), waiter:
            pass
        assert 0.25 < time.perf_counter() - started < 5
    with waiter:  # once the holder has left, the waiter gets its turn
        assert waiter.read_version == 0
