"""VDA 5050 end to end over the real Mosquitto on 127.0.0.1:1883: FleetCore in the live shell, the master
port, and emulated vehicles (in-process threads, or `coilyard emulate` subprocesses where one must die).

Each test uses its own interfaceName, so runs (and retained connection messages) never collide.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from adapters.errors import ConnectionLost
from adapters.registry import connect_vehicle
from adapters.vda5050.emulator import Emulator
from adapters.vda5050.port import Vda5050Port
from adapters.vda5050.wire import encode, header
from coilyard.live import LiveFleet
from fleet.core import FleetCore, SubmitOrder, SubmitSequence
from fleet.domain.orders import Destination, Operation, OrderSequence, OrderSpec, OrderState
from fleet.domain.vehicles import VehicleState
from layout import Plant, load_plant

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny.yaml"
BROKER = ("127.0.0.1", 1883)
SPEED_UP = 20.0


@pytest.fixture(autouse=True)
def _broker_is_up() -> None:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as error:
        pytest.fail(
            f"Mosquitto is not reachable at 127.0.0.1:1883 ({error}); start it with ./scripts/services"
        )


@pytest.fixture
def interface() -> Iterator[str]:
    """A fresh interfaceName; the retained connection messages under it are cleared afterwards."""
    name = f"coilyard-test-{secrets.token_hex(4)}"
    yield name
    cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clean-{secrets.token_hex(4)}")
    cleaner.connect(*BROKER)
    cleaner.loop_start()
    for vehicle in ("AGV-01", "AGV-02", "RGV-01"):
        cleaner.publish(f"{name}/v2/coilyard/{vehicle}/connection", b"", qos=1, retain=True).wait_for_publish(
            5
        )
    cleaner.disconnect()
    cleaner.loop_stop()


@pytest.fixture
def tiny() -> Plant:
    return load_plant(TINY)


def transport(oid: str, pick: str, drop: str, unit: str) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination(pick, Operation.PICK), Destination(drop, Operation.DROP)),
        vehicle_class="agv",
        unit=unit,
        weight=20.0,
    )


@pytest.fixture
def emulated(tiny: Plant, interface: str) -> Iterator[Emulator]:
    emulator = Emulator(
        tiny, sorted(tiny.vehicles), interface_name=interface, speed_up=SPEED_UP, state_interval=0.5
    )
    emulator.connect()
    thread = threading.Thread(target=emulator.run, daemon=True)
    thread.start()
    yield emulator
    emulator.stop()
    thread.join(5)
    emulator.close()


async def until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def finishes(live: LiveFleet, order: str, timeout: float) -> OrderState:
    """The terminal state of `order`; on a timeout, fail with what the fleet looked like."""
    try:
        return await live.wait_for(order, timeout)
    except TimeoutError:
        adapter: Any = getattr(live.port, "adapter", live.port)
        raise AssertionError(
            f"{order} not done after {timeout} s: orders {live.orders()}, vehicles {live.vehicles()}, "
            f"transitions {live.transitions}, port stats {dict(adapter.stats)}"
        ) from None


async def live_run(live: LiveFleet, body: object) -> None:
    task = asyncio.create_task(live.run())
    try:
        await body  # type: ignore[misc]
    finally:
        live.stop()
        await task


def test_a_multi_leg_transport_to_emulated_agvs_completes(
    tiny: Plant, interface: str, emulated: Emulator
) -> None:
    """A two-leg sequence (high-bay I/O -> coil store handover -> slab store handover), an independent AGV
    transport (hot mill -> dock) and an RGV transport along the rail, on every vehicle of the tiny plant, all
    through FleetCore, the live shell, the broker and the emulators.

    The legs are laid out so that no vehicle drives against another in the plant's single corridor: the fleet
    core (its work in progress) can livelock on a head-on meeting there (see docs/adapters.md, known limits)."""

    async def scenario() -> None:
        with connect_vehicle("vda5050", plant=tiny, interface_name=interface) as port:
            live = LiveFleet(FleetCore(tiny), port)

            async def body() -> None:
                await until(
                    lambda: all(v.state is VehicleState.IDLE for v in live.vehicles().values()),
                    10,
                    "vehicles idle",
                )
                legs = (transport("L1", "IO-HB1", "H-FS1", "K1"), transport("L2", "H-FS1", "H-IS1", "K1"))
                await live.submit(
                    SubmitSequence(sequence=OrderSequence(id="S1", orders=("L1", "L2")), specs=legs)
                )
                await live.submit(SubmitOrder(spec=transport("T3", "HM-X", "DOCK1", "K3")))
                rail = OrderSpec(
                    id="R4",
                    destinations=(Destination("RS1", Operation.PICK), Destination("RS2", Operation.DROP)),
                    vehicle_class="rgv",
                    unit="K4",
                    weight=20.0,
                )
                await live.submit(SubmitOrder(spec=rail))
                for order in ("L1", "L2", "T3", "R4"):
                    assert await finishes(live, order, timeout=90) is OrderState.FINISHED, order

            await live_run(live, body())
            orders = live.orders()
            assert {o: v.state for o, v in orders.items()} == dict.fromkeys(
                ("L1", "L2", "R4", "T3"), OrderState.FINISHED
            )
            assert orders["L1"].vehicle == orders["L2"].vehicle  # a sequence stays on one vehicle
            assert {orders[o].vehicle for o in ("L1", "T3", "R4")} == {"AGV-01", "AGV-02", "RGV-01"}
            assert live.vehicles()[orders["R4"].vehicle or ""].node == "RS2"
            assert port.adapter.stats["rejected"] == 0  # type: ignore[attr-defined]

    asyncio.run(scenario())


def kill_test_layout(tmp_path: Path) -> Path:
    """The tiny plant with AGV-01 parked at W1 (made a parking node) and AGV-02 at P1: whichever of them dies
    on its first step, the other can still reach the high-bay I/O point and the hot mill (as shipped, both
    AGVs share one corridor exit), and neither has to drive off to park first."""
    data = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    for entry in data["fleet"]:
        if entry["class"] == "agv":
            entry["homes"] = ["W1", "P1"]
    for node in data["network"]["nodes"]:
        if node["id"] == "W1":
            node["kind"] = "parking"
    path = tmp_path / "tiny-kill.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def emulate_in_subprocess(
    layout: Path, vehicle: str, interface: str, speed_up: float
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "coilyard", "emulate", "vda5050", str(layout), "--vehicles", vehicle,
         "--interface-name", interface, "--speed-up", str(speed_up), "--state-interval", "0.5"],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_an_emulator_killed_mid_order_sends_its_last_will_and_the_order_is_reassigned(
    tmp_path: Path, interface: str
) -> None:
    layout = kill_test_layout(tmp_path)
    plant = load_plant(layout)
    speed_up = 6.0
    agvs = {v: emulate_in_subprocess(layout, v, interface, speed_up) for v in ("AGV-01", "AGV-02")}
    rgv = Emulator(plant, ["RGV-01"], interface_name=interface, speed_up=speed_up, state_interval=0.5)
    rgv.connect()
    thread = threading.Thread(target=rgv.run, daemon=True)
    thread.start()
    doomed: list[str] = []

    async def scenario() -> None:
        with connect_vehicle("vda5050", plant=plant, interface_name=interface) as port:
            live = LiveFleet(FleetCore(plant), port)

            async def body() -> None:
                await until(
                    lambda: all(v.state is VehicleState.IDLE for v in live.vehicles().values()),
                    20,
                    "vehicles idle",
                )
                homes = {v: live.vehicles()[v].node for v in agvs}
                await live.submit(SubmitOrder(spec=transport("T1", "IO-HB1", "HM-X", "K1")))
                await until(lambda: live.orders()["T1"].vehicle is not None, 10, "T1 assigned")
                victim = live.orders()["T1"].vehicle
                assert victim in agvs
                doomed.append(victim)
                await until(lambda: live.vehicles()[victim].node != homes[victim], 20, f"{victim} on its way")
                os.kill(
                    agvs[victim].pid, signal.SIGKILL
                )  # no clean disconnect: the broker sends the last will
                await until(
                    lambda: live.vehicles()[victim].state is VehicleState.UNAVAILABLE,
                    10,
                    f"{victim} unavailable",
                )
                assert await finishes(live, "T1", timeout=90) is OrderState.FINISHED

            await live_run(live, body())
            victim = doomed[0]
            t1 = [t for t in live.transitions if t.order == "T1"]
            back = [t for t in t1 if t.from_state is OrderState.ACTIVE and t.to_state is OrderState.CREATED]
            assert len(back) == 1, t1
            assert victim in back[0].reason
            assert live.orders()["T1"].vehicle not in (None, victim)
            assert live.vehicles()[victim].state is VehicleState.UNAVAILABLE

    try:
        asyncio.run(scenario())
    finally:
        rgv.stop()
        thread.join(5)
        rgv.close()
        for process in agvs.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(10)


class RawVehicle:
    """A hand-driven MQTT client posing as vehicle AGV-01: publishes whatever bytes the test gives it."""

    def __init__(self, interface: str) -> None:
        self.prefix = f"{interface}/v2/coilyard/AGV-01"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{secrets.token_hex(4)}")
        self.client.connect(*BROKER)
        self.client.loop_start()
        self.headers = 0

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(f"{self.prefix}/{topic}", payload, qos=1).wait_for_publish(5)

    def message(self, **fields: object) -> bytes:
        self.headers += 1
        return encode({**header(self.headers, "coilyard", "AGV-01"), **fields})

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def valid_state(node: str) -> dict[str, object]:
    return {
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": node,
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "driving": False,
        "actionStates": [],
        "batteryState": {"batteryCharge": 80.0, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }


def test_garbled_and_schema_violating_messages_are_rejected_and_the_port_keeps_serving(
    tiny: Plant, interface: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.vda5050")
    raw = RawVehicle(interface)
    port = Vda5050Port(plant=tiny, interface_name=interface, vehicles=["AGV-01"])
    port.open()
    try:
        raw.publish("connection", raw.message(connectionState="ONLINE"))
        raw.publish("state", b'{"headerId": 1, "orderId": ')  # garbled JSON
        broken = valid_state("P1")
        del broken["lastNodeId"]
        raw.publish("state", raw.message(**broken))  # required field missing
        raw.publish("state", raw.message(**{**valid_state("P1"), "driving": "yes"}))  # wrong type
        raw.publish("state", raw.message(**valid_state("P1")))  # a good one after all that
        events: list[object] = []
        deadline = time.monotonic() + 10
        while port.stats["received state"] < 1 and time.monotonic() < deadline:
            events += port.drain()
            time.sleep(0.02)
    finally:
        port.close()
        raw.close()
    assert port.stats["rejected"] == 3
    assert port.stats["received state"] == 1
    rejected = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected message")]
    assert len(rejected) == 3
    assert "not JSON" in rejected[0]
    assert "lastNodeId" in rejected[1]
    assert "driving" in rejected[2]
    idle = [e for e in events if getattr(e, "state", None) is VehicleState.IDLE]
    assert [e.vehicle for e in idle] == ["AGV-01"]  # type: ignore[attr-defined]


def test_a_broker_that_is_not_there_is_connection_lost(tiny: Plant) -> None:
    with pytest.raises(ConnectionLost, match=r"127\.0\.0\.1:9"):
        connect_vehicle("vda5050", plant=tiny, url="mqtt://127.0.0.1:9")
