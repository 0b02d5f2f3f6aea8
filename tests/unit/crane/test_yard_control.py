"""`crane.yard_control.YardControl`: the routing between the fleet core, the crane core and the yard flow."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

from crane.core import CraneJobChanged, SubmitCraneJob
from crane.yard_control import (
    ARCHIVE_S,
    Settle,
    TickCore,
    Wake,
    YardControl,
)
from crane.yard_flow import CoilArrived, RequestChanged, RetrievalRequested, TaskChanged
from fleet.core import OrderChanged, SubmitOrder
from fleet.domain.orders import OrderState
from fleet.domain.vehicles import VehicleState
from fleet.ports import SendCraneMove, SendRoute, StateChanged
from layout import load_plant
from simulation.scenario import scenario_from_mapping
from simulation.shell import Replication, ReplicationSetup
from wms.service_layer.in_memory import InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus

ROOT = Path(__file__).resolve().parents[3]
PLANT = load_plant(ROOT / "examples" / "tiny.yaml")


class Clock:
    t = 0.0

    def now(self) -> float:
        return self.t


def control() -> tuple[YardControl, InMemoryUnitOfWork]:
    uow = InMemoryUnitOfWork(PLANT)
    return YardControl(PLANT, MessageBus(uow, Clock()), lambda: uow.yard), uow


def arrival(coil: str, handover: str = "HM-X", station: str = "HM") -> CoilArrived:
    return CoilArrived(
        coil=coil, source="HM", station=station, handover=handover, store="FS1", alloy="AA3104",
        temper="H19", width=1.5, gauge=2.0, outer_diameter=1.8, inner_diameter=0.61, weight=18.0,
    )  # fmt: skip


def kinds(effects: list[Any]) -> list[str]:
    return [type(e).__name__ for e in effects]


def test_an_arrival_becomes_a_transport_order_sent_to_an_agv() -> None:
    yard, _ = control()
    effects = yard.handle(arrival("C-1"), 0.0)
    created = [e for e in effects if isinstance(e, TaskChanged)]
    assert [(t.kind, t.coil, t.state) for t in created] == [("putaway", "C-1", "created")]
    order = next(e for e in effects if isinstance(e, SubmitOrder))
    assert order.spec.destinations[0].node == "HM-X"
    # the fleet core queues the order; dispatch waits for the tick the control asks for at once
    assert kinds(effects) == ["TaskChanged", "SubmitOrder", "Wake", "SettleSoon"]
    assert yard.fleet_dirty
    settled = yard.handle(Settle(), 0.0)
    assert kinds(settled)[:2] == ["OrderChanged", "SendRoute"]
    routes = [e for e in settled if isinstance(e, SendRoute)]
    assert [r.order for r in routes] == [order.spec.id]
    assert routes[0].vehicle in PLANT.vehicles
    assert not yard.fleet_dirty
    assert yard.handle(Settle(), 0.0) == []  # nothing new: no tick


def test_a_coil_at_a_handover_the_cranes_reach_goes_by_crane_alone() -> None:
    yard, _ = control()
    effects = yard.handle(arrival("C-1", handover="H-FS1", station="HM"), 0.0)
    assert not any(isinstance(e, SubmitOrder) for e in effects)
    job = next(e for e in effects if isinstance(e, SubmitCraneJob))
    assert job.pick == "H-FS1" and job.store == "FS1"
    queued = [e for e in effects if isinstance(e, CraneJobChanged)]
    assert queued and queued[0].job == job.job
    moves = [e for e in effects if isinstance(e, SendCraneMove)]
    assert [m.vehicle for m in moves] and all(m.vehicle in {"C1", "C2"} for m in moves)


def test_crane_events_go_to_the_crane_core_and_leave_the_fleet_alone() -> None:
    yard, _ = control()
    effects = yard.handle(StateChanged(vehicle="C1", state=VehicleState.ERROR, at=1.0, error="drive"), 1.0)
    assert not yard.fleet_dirty
    assert "C1" not in yard.fleet.vehicles
    assert not any(isinstance(e, SendRoute | OrderChanged) for e in effects)
    agv = yard.handle(StateChanged(vehicle="AGV-01", state=VehicleState.IDLE, at=1.0), 1.0)
    assert yard.fleet_dirty, "an idle vehicle may take an order: the fleet must tick"
    assert not any(isinstance(e, SendCraneMove) for e in agv)


def test_a_retrieval_with_nothing_in_stock_waits_and_asks_the_flow_to_be_woken() -> None:
    yard, _ = control()
    request = RetrievalRequested(request="R-1", store="FS1", station="CM1", destination="RS2")
    effects = yard.handle(request, 10.0)
    waiting = [e for e in effects if isinstance(e, RequestChanged)]
    assert [w.state for w in waiting] == ["waiting"]
    assert not yard.idle(), "a waiting request keeps the yard busy"
    wakes = [e for e in effects if isinstance(e, Wake)]
    assert wakes and all(w.core == "flow" and w.at > 10.0 for w in wakes)
    again = yard.handle(TickCore("flow"), wakes[0].at)
    assert not any(isinstance(e, SubmitOrder | SubmitCraneJob) for e in again)


def test_orders_from_outside_the_flow_are_routed_as_the_flows() -> None:
    yard, _ = control()
    job = SubmitCraneJob(job="J1", store="FS1", pick="H-FS1", drop="FS1-B1-R01-P08-G")
    effects = yard.handle(job, 0.0)
    assert effects[0] is job
    assert any(isinstance(e, SendCraneMove) for e in effects)
    assert yard.cranes.open_jobs() == ["J1"]
    assert not yard.idle()


def test_an_unknown_message_is_refused_by_name() -> None:
    yard, _ = control()
    with pytest.raises(TypeError, match="OrderChanged"):
        yard.handle(object.__new__(OrderChanged), 0.0)  # type: ignore[arg-type]


def test_finished_orders_are_archived_at_most_every_archive_period() -> None:
    rep = _twin()
    rep.env.process(_script(rep, [arrival("C-1")]))
    rep.run()
    book = rep.control.fleet.book
    finished = [o for o in book.orders.values() if o.state is OrderState.FINISHED]
    assert finished, "the putaway's transport order finished"
    assert rep.control.archive(rep.env.now + ARCHIVE_S) == len(finished)
    assert not book.orders
    assert rep.control.archive(rep.env.now + ARCHIVE_S + 1.0) == 0


def test_the_twin_stores_scripted_arrivals_through_the_control_and_retrieves_the_oldest() -> None:
    rep = _twin()
    rep.env.process(_script(rep, [arrival("C-1"), arrival("C-2"), _retrieval("R-1")]))
    rep.run()
    yard = rep.uow.yard
    placed = {c: yard.coils[c].location for c in ("C-1", "C-2")}
    assert placed["C-2"].startswith("FS1-B1-")
    assert placed["C-1"] == "RS2"  # FIFO: the first coil went to the cold mill
    assert rep.control.idle()


def _retrieval(request: str) -> RetrievalRequested:
    return RetrievalRequested(request=request, store="FS1", station="CM1", destination="RS2")


def _twin() -> Replication:
    scenario = scenario_from_mapping({"scenario": {"id": "t"}, "run": {"trace": False}}, plant=PLANT)
    return Replication(ReplicationSetup(PLANT, scenario, 0, np.random.SeedSequence(3), 4.0, 0.0))


def _script(rep: Replication, messages: list[CoilArrived | RetrievalRequested]) -> Generator[simpy.Event]:
    for message in messages:
        rep.submit(message)
        yield rep.env.timeout(1.0)
        while not rep.control.idle():
            yield rep.env.timeout(5.0)
