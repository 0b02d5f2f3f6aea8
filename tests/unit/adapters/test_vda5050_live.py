"""The asyncio live shell driving FleetCore through the VDA 5050 port and emulated vehicles, bridged in
memory (no broker): commands are awaited, refusals raise in the caller, snapshots and subscriptions follow."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.vda5050.emulator import EmulatedVehicle
from adapters.vda5050.port import Vda5050Port
from adapters.vda5050.wire import encode, header
from coilyard.live import LiveFleet
from fleet.core import CancelOrder, FleetCore, SubmitOrder
from fleet.domain.orders import Destination, DuplicateOrder, Operation, OrderSpec, OrderState, UnknownOrder
from fleet.domain.vehicles import VehicleState
from fleet.ports import VehicleCommand, VehicleEvent
from tests.wms_factories import tiny_plant

PLANT = tiny_plant()


class Bridge:
    """A vehicle port that is a `Vda5050Port` whose wire is a direct line to emulated vehicles."""

    def __init__(self, speed_up: float) -> None:
        self.port = Vda5050Port(plant=PLANT)
        self.vehicles = {v: EmulatedVehicle(PLANT, v, "coilyard", speed_up=speed_up) for v in PLANT.vehicles}
        for v in self.vehicles:
            online = {**header(0, "coilyard", v), "connectionState": "ONLINE"}
            self.port.process(f"uagv/v2/coilyard/{v}/connection", encode(online), time.monotonic())

    def send(self, command: VehicleCommand) -> None:
        self.port.send(command)

    def drain(self) -> list[VehicleEvent]:
        now = time.monotonic()
        for topic, message in self.port.outbox:
            self.vehicles[message["serialNumber"]].receive(topic, encode(message), now)
        self.port.outbox.clear()
        for v, emulated in self.vehicles.items():
            for topic, message in emulated.step(now):
                self.port._inbox.append((f"uagv/v2/coilyard/{v}/{topic}", encode(message)))
        return self.port.drain()


def transport(oid: str) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP)),
        vehicle_class="agv",
        unit=f"K-{oid}",
        weight=20.0,
    )


def test_an_order_submitted_to_the_live_shell_runs_to_the_end() -> None:
    async def scenario() -> LiveFleet:
        live = LiveFleet(FleetCore(PLANT), Bridge(speed_up=200.0))
        changes = live.subscribe()
        task = asyncio.create_task(live.run())
        try:
            effects = await live.submit(SubmitOrder(spec=transport("T1")))
            assert effects  # at least the order's first transition and a route
            with pytest.raises(DuplicateOrder):
                await live.submit(SubmitOrder(spec=transport("T1")))
            with pytest.raises(UnknownOrder):
                await live.submit(CancelOrder(order="T9", reason="typo"))
            assert await live.wait_for("T1", timeout=30) is OrderState.FINISHED
        finally:
            live.stop()
            await task
        seen = []
        while not changes.empty():
            seen.append(changes.get_nowait().to_state)
        assert seen == [OrderState.ASSIGNED, OrderState.ACTIVE, OrderState.FINISHED]
        return live

    live = asyncio.run(scenario())
    order = live.orders()["T1"]
    assert (order.state, order.done, order.destinations) == (OrderState.FINISHED, 2, 2)
    vehicle = live.vehicles()[order.vehicle or ""]
    assert (vehicle.node, vehicle.load, vehicle.order) == ("H-FS1", None, None)
    assert vehicle.energy is not None and vehicle.energy < 120.0
    assert [t.to_state for t in live.transitions if t.order == "T1"] == [
        OrderState.ASSIGNED,
        OrderState.ACTIVE,
        OrderState.FINISHED,
    ]


def test_snapshots_show_vehicles_unavailable_until_they_report() -> None:
    async def scenario() -> dict[str, VehicleState]:
        live = LiveFleet(FleetCore(PLANT), Vda5050Port(plant=PLANT))
        task = asyncio.create_task(live.run())
        await asyncio.sleep(0.1)
        live.stop()
        await task
        return {v: view.state for v, view in live.vehicles().items()}

    assert asyncio.run(scenario()) == dict.fromkeys(PLANT.vehicles, VehicleState.UNAVAILABLE)
