"""The service layer: commands through the bus, whole or not at all, once per idempotency key, retried on conflict."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wms_factories import tiny_plant
from wms.domain.errors import InvalidInput, StackingRuleViolated, StaleVersion, UnknownCoil
from wms.domain.events import LedgerEntry
from wms.service_layer import commands as cmd
from wms.service_layer.in_memory import InMemoryLedgerStore, InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus


class ManualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t


def receive(coil: str, **overrides: Any) -> cmd.ReceiveCoil:
    values: dict[str, Any] = {
        "actor": "mes",
        "coil": coil,
        "location": "H-FS1",
        "alloy": "5182",
        "temper": "H19",
        "width": 1.5,
        "gauge": 2.0,
        "outer_diameter": 1.8,
        "inner_diameter": 0.6,
        "weight": 20.0,
    }
    values.update(overrides)
    return cmd.ReceiveCoil(**values)


def make_bus(
    store: InMemoryLedgerStore | None = None,
) -> tuple[MessageBus, InMemoryLedgerStore, list[LedgerEntry]]:
    store = store or InMemoryLedgerStore()
    published: list[LedgerEntry] = []
    bus = MessageBus(InMemoryUnitOfWork(tiny_plant(), store), ManualClock(100.0), publish=published.extend)
    return bus, store, published


def test_a_move_from_receipt_to_position_commits_every_event() -> None:
    bus, store, published = make_bus()
    bus.handle(receive("K1"))
    planned = bus.handle(cmd.PlanMove(actor="wms", unit="K1", target="FS1-B1-R02-P03-G", purpose="putaway"))
    bus.handle(cmd.StartMove(actor="C1", move=planned["move"], carrier="C1"))
    done = bus.handle(cmd.CompleteMove(actor="C1", move=planned["move"]))
    assert done["state"] == "done"
    kinds = [e.kind for e in store.entries]
    assert kinds == ["CoilReceived", "MovePlanned", "MoveStarted", "MoveCompleted"]
    assert published == store.entries
    assert all(e.event.at == 100.0 for e in store.entries)  # time comes from the clock, not the command


def test_a_refused_command_writes_nothing() -> None:
    bus, store, published = make_bus()
    bus.handle(receive("K1", width=2.1))  # wider than any row or cell of the tiny plant accepts
    with pytest.raises(StackingRuleViolated) as refused:
        bus.handle(cmd.PlanMove(actor="wms", unit="K1", target="FS1-B1-R02-P03-G"))
    assert refused.value.rule == "width band"
    assert "2.1 m" in str(refused.value)
    with pytest.raises(UnknownCoil):
        bus.handle(cmd.MeasureTemperature(actor="qa", coil="NOPE", temperature=20))
    assert [e.kind for e in store.entries] == ["CoilReceived"]
    assert published == store.entries


def test_nothing_is_half_written_when_a_command_fails_midway() -> None:
    bus, store, _ = make_bus()
    bus.handle(receive("K1"))
    with pytest.raises(StackingRuleViolated):
        bus.handle(cmd.PlanMove(actor="wms", unit="K1", target="FS1-B1-R02-P01-U"))
    assert [e.kind for e in store.entries] == ["CoilReceived"]
    assert bus.uow.yard.coils["K1"].move is None
    assert bus.uow.yard.locations["FS1-B1-R02-P01-U"].reserved_by is None


def test_an_idempotency_key_applies_a_command_once() -> None:
    bus, store, _ = make_bus()
    first = bus.handle(receive("K1", idempotency_key="scan-7f3a"))
    again = bus.handle(receive("K1", idempotency_key="scan-7f3a"))
    assert again == first
    assert [e.kind for e in store.entries] == ["CoilReceived"]
    # Without the key the same receipt is a duplicate, which the domain refuses.
    with pytest.raises(Exception, match="already known"):
        bus.handle(receive("K1"))


def test_a_key_reused_for_another_command_is_refused() -> None:
    bus, store, _ = make_bus()
    bus.handle(receive("K1", idempotency_key="scan-1"))
    with pytest.raises(InvalidInput, match="already used for a different command"):
        bus.handle(receive("K2", idempotency_key="scan-1"))
    assert "K2" not in bus.uow.yard.coils
    assert len(store.entries) == 1


def test_the_idempotent_result_survives_a_new_unit_of_work() -> None:
    bus, store, _ = make_bus()
    result = bus.handle(receive("K1", idempotency_key="k"))
    other, _, _ = make_bus(store)
    assert other.handle(receive("K1", idempotency_key="k")) == result
    assert len(store.entries) == 1


def test_a_stale_commit_is_retried_on_fresh_state() -> None:
    store = InMemoryLedgerStore()
    slow, _, _ = make_bus(store)
    fast, _, _ = make_bus(store)
    slow.handle(receive("K1"))
    slow.handle(receive("K2"))

    # `fast` commits a move into P04 while `slow` is deciding on the same position.
    original = slow.uow._commit
    raced = False

    def race_then_commit(entries: list[LedgerEntry]) -> None:
        nonlocal raced
        if not raced:
            raced = True
            fast.handle(cmd.PlanMove(actor="t2", unit="K2", target="FS1-B1-R02-P04-G"))
        original(entries)

    slow.uow._commit = race_then_commit  # type: ignore[method-assign]
    with pytest.raises(StackingRuleViolated) as refused:
        slow.handle(cmd.PlanMove(actor="t1", unit="K1", target="FS1-B1-R02-P04-G"))
    assert refused.value.rule == "location reserved"  # decided again on the fresh state, and refused there
    assert slow.retries == 1
    moves = [e for e in store.entries if e.kind == "MovePlanned"]
    assert len(moves) == 1 and moves[0].event.actor == "t2"


def test_a_conflict_that_never_clears_gives_up_with_stale_version() -> None:
    bus, store, _ = make_bus()

    def always_stale(entries: list[LedgerEntry]) -> None:
        raise StaleVersion(0, 1)

    bus.uow._commit = always_stale  # type: ignore[method-assign]
    with pytest.raises(StaleVersion):
        bus.handle(receive("K1"))
    assert store.entries == []
    assert bus.retries == bus.max_attempts - 1


def test_a_truck_is_planned_and_loaded_by_scans_through_the_bus() -> None:
    bus, store, _ = make_bus()
    for coil, weight in (("K1", 12.0), ("K2", 9.0)):
        bus.handle(receive(coil, location="DOCK1", weight=weight))
    planned = bus.handle(
        cmd.PlanShipment(actor="planner", shipment="SH7", coils=("K2", "K1"), payload=24.0, dock="DOCK1")
    )
    assert planned["shipments"] == [{"shipment": "SH7-1", "coils": ["K1", "K2"], "dock": "DOCK1"}]
    scan = cmd.ConfirmLoading(actor="loader", shipment="SH7-1", coil="K1", idempotency_key="scan-91")
    assert bus.handle(scan)["next"] == "K2"
    assert bus.handle(scan)["next"] == "K2"  # the scanner retried: applied once
    with pytest.raises(Exception, match="loads 'K2' next; 'K1' was scanned"):
        bus.handle(cmd.ConfirmLoading(actor="loader", shipment="SH7-1", coil="K1"))
    assert [e.kind for e in store.entries].count("UnitShipped") == 1


def test_retrieval_through_the_bus_relocates_the_coil_on_top() -> None:
    bus, _, _ = make_bus()
    for coil, target in (("K1", "FS1-B1-R02-P03-G"), ("K2", "FS1-B1-R02-P04-G"), ("K3", "FS1-B1-R02-P03-U")):
        bus.handle(receive(coil, weight=15.0 if coil == "K3" else 20.0))
        bus.handle(cmd.MoveNow(actor="c", unit=coil, target=target, carrier="C1"))
    result = bus.handle(cmd.PlanRetrieval(actor="mes", coils=("K1",), destination="H-FS1"))
    yard = bus.uow.yard
    relocation = next(m for m in yard.moves.values() if m.purpose == "relocation")
    assert relocation.unit == "K3"
    assert "plan" in result
    # Once the relocation has started, asking again plans the retrieval itself.
    bus.handle(cmd.StartMove(actor="c", move=relocation.id, carrier="C1"))
    bus.handle(cmd.PlanRetrieval(actor="mes", coils=("K1",), destination="H-FS1"))
    assert any(m.unit == "K1" and m.purpose == "retrieval" for m in bus.uow.yard.moves.values())
