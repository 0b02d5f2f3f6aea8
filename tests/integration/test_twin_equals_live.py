"""The proof that the twin runs the live code: one scenario through the SimPy shell and through `LiveYard`.

(a) The twin: `simulation.shell.Replication` on the tiny plant with an empty scenario; a SimPy process hands
    the scripted arrivals and the retrieval to its `YardControl`, each once the previous one is done.
(b) Live: `coilyard.live_yard.LiveYard` with the same `YardControl` on the asyncio loop, its WMS bus on
    PostgreSQL (127.0.0.1:5432, a fresh schema), as in live use; the AGVs and the RGV
    are VDA 5050 emulators over the real Mosquitto on 127.0.0.1:1883 (a fresh interfaceName per run); the
    cranes, which have no VDA 5050, are the twin's simulated cranes in real time (adapter kind `sim`),
    joined to the VDA 5050 port by `coilyard.live_yard.SplitPort`.

Each message waits until the yard is idle (no open task, crane job or order), so the arrival order is fixed
and timing cannot change a decision: putaway positions and the coil a retrieval takes come from the same
WMS code on the same stock. Both runs must end with every coil in the same place.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
import simpy
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

from adapters.registry import connect_vehicle
from adapters.sql import SqlUnitOfWork
from adapters.vda5050.emulator import Emulator
from coilyard.bootstrap import SystemClock
from coilyard.live_yard import LiveYard, SplitPort
from crane.places import crane_ids
from crane.yard_flow import CoilArrived, RetrievalRequested
from layout import Plant, load_plant
from simulation.scenario import scenario_from_mapping
from simulation.shell import Replication, ReplicationSetup
from wms.domain.yard import Yard
from wms.service_layer.in_memory import InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny.yaml"
BROKER = ("127.0.0.1", 1883)
SPEED_UP = 40.0
SIM_SPEED_UP = 150.0  # the simulated port alone keeps up with more
EngineFactory = Callable[[str], Engine]  # the make_engine fixture (conftest.py)
LIVE_TIMEOUT_S = 20.0  # per message, real seconds

Message = CoilArrived | RetrievalRequested


def arrival(coil: str, width: float, od: float, weight: float) -> CoilArrived:
    return CoilArrived(
        coil=coil, source="HM", station="HM", handover="HM-X", store="FS1", alloy="AA3104", temper="H19",
        width=width, gauge=2.0, outer_diameter=od, inner_diameter=0.61, weight=weight, temperature=25.0,
    )  # fmt: skip


SCENARIO: tuple[Message, ...] = (
    arrival("C-001", 1.5, 1.8, 18.0),
    arrival("C-002", 1.2, 1.75, 15.0),
    arrival("C-003", 1.9, 2.1, 25.0),
    RetrievalRequested(request="R-1", store="FS1", station="CM1", destination="RS2"),
)


Stock = dict[str, tuple[str, ...]]
Moves = list[tuple[str, str, str, str, str, str]]


def stock(yard: Yard) -> Stock:
    """Every coil's place: location -> its occupants, for the locations that hold something."""
    return {lid: tuple(loc.occupants) for lid, loc in sorted(yard.locations.items()) if loc.occupants}


def moves(yard: Yard) -> Moves:
    """The WMS moves in plan order: which coil went from where to where, why, and how it ended."""
    return [(m.id, m.unit, m.source, m.target, m.purpose, str(m.state)) for m in yard.moves.values()]


@pytest.fixture
def tiny() -> Plant:
    return load_plant(TINY)


@pytest.fixture
def interface() -> Iterator[str]:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as error:
        pytest.fail(
            f"Mosquitto is not reachable at 127.0.0.1:1883 ({error}); start it with ./scripts/services"
        )
    name = f"coilyard-twin-{secrets.token_hex(4)}"
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


def run_twin(plant: Plant) -> tuple[Stock, Moves, list[str]]:
    scenario = scenario_from_mapping(
        {"scenario": {"id": "twin-equals-live"}, "run": {"trace": False}}, plant=plant
    )
    rep = Replication(ReplicationSetup(plant, scenario, 0, np.random.SeedSequence(1), 6.0, 0.0))
    done: list[str] = []

    def script() -> Generator[simpy.Event, object, None]:
        for message in SCENARIO:
            rep.submit(message)
            yield rep.env.timeout(1.0)
            while not rep.control.idle():
                yield rep.env.timeout(5.0)
            done.append(message.coil if isinstance(message, CoilArrived) else message.request)

    rep.env.process(script())
    rep.run()
    assert rep.control.idle(), "the twin did not finish the scenario in 6 simulated hours"
    return stock(rep.uow.yard), moves(rep.uow.yard), done


async def run_live(plant: Plant, interface: str, engine: Engine) -> tuple[Stock, Moves, list[str]]:
    """AGVs and RGV on VDA 5050 emulators, cranes simulated in real time, the WMS on SQL."""
    emulator = Emulator(
        plant, sorted(plant.vehicles), interface_name=interface, speed_up=SPEED_UP, state_interval=0.5
    )
    emulator.connect()
    thread = threading.Thread(target=emulator.run, daemon=True)
    thread.start()
    uow = SqlUnitOfWork(engine, plant)
    try:
        with (
            connect_vehicle("vda5050", plant=plant, interface_name=interface) as agvs,
            connect_vehicle("sim", plant=plant, speed_up=SPEED_UP) as cranes,
        ):
            live = LiveYard(plant, SplitPort(agvs, cranes, crane_ids(plant)), MessageBus(uow, SystemClock()))
            done = await play(live)
    finally:
        emulator.stop()
        thread.join(5)
        emulator.close()
    with uow:
        return stock(uow.yard), moves(uow.yard), done


async def play(live: LiveYard) -> list[str]:
    """Run `live` and hand it the scenario, each message once the yard is idle again."""
    done: list[str] = []
    task = asyncio.create_task(live.run())
    try:
        for message in SCENARIO:
            await live.submit(message)
            try:
                await live.wait_idle(LIVE_TIMEOUT_S)
            except TimeoutError:
                raise AssertionError(
                    f"{message} not done after {LIVE_TIMEOUT_S} s: tasks {live.control.flow.tasks}, "
                    f"notes {live.notes[-10:]}"
                ) from None
            done.append(message.coil if isinstance(message, CoilArrived) else message.request)
    finally:
        live.stop()
        await task
    return done


@pytest.mark.parametrize("blank_database_url", ["postgresql"], indirect=True)
def test_the_twin_and_the_live_yard_end_with_the_same_stock(
    tiny: Plant, interface: str, database_url: str, make_engine: EngineFactory
) -> None:
    twin_stock, twin_moves, twin_done = run_twin(tiny)
    engine = make_engine(database_url)
    live_stock, live_moves, live_done = asyncio.run(run_live(load_plant(TINY), interface, engine))
    assert twin_done == live_done == ["C-001", "C-002", "C-003", "R-1"]
    stored = sorted(coil for occupants in twin_stock.values() for coil in occupants)
    assert stored == ["C-002", "C-003"], f"three coils stored, the first retrieved: {twin_stock}"
    assert [m[4] for m in twin_moves] == ["putaway"] * 3 + ["retrieval"], twin_moves
    assert live_moves == twin_moves
    assert live_stock == twin_stock


def test_the_live_yard_on_the_simulated_port_alone_ends_like_the_twin(tiny: Plant) -> None:
    """No broker, no database: every unit on the `sim` adapter, the WMS in memory (how a demo runs)."""
    twin_stock, twin_moves, _ = run_twin(tiny)

    async def live() -> tuple[Stock, Moves, list[str]]:
        uow = InMemoryUnitOfWork(tiny)
        with connect_vehicle("sim", plant=tiny, speed_up=SIM_SPEED_UP) as port:
            done = await play(LiveYard(tiny, port, MessageBus(uow, SystemClock())))
        return stock(uow.yard), moves(uow.yard), done

    live_stock, live_moves, live_done = asyncio.run(live())
    assert live_done == ["C-001", "C-002", "C-003", "R-1"]
    assert live_moves == twin_moves
    assert live_stock == twin_stock
