"""Property tests of the fleet core: random order streams and at most one vehicle failure, on the tiny plant
and on small generated grid plants.

Orders (3-8) run between random handover and waypoint nodes of the AGV graph (a pick and a drop, or a single
move), submitted at random ticks. At most one AGV fails at a random tick (error or unavailable) and
recovers some ticks later. The loop (as in test_core.py) steps the fake vehicles and feeds their events
back. After every handled message traffic control must be safe, and what each vehicle may drive must be
exactly what traffic control released to it. Within the tick bound every order must end (finished, failed
or cancelled).

The grid plants are 3x3 to 5x5 with 10 m spacing, every edge two-way, and 2-3 AGVs parked in corners.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.core import FleetCore, SubmitOrder, Tick
from fleet.domain.orders import Destination, Operation, OrderSpec
from fleet.fake_vehicle import FakeFleet, FakeVehicle
from layout import Plant
from layout.build import build_plant
from layout.schema import PlantFile
from tests.fleet_harness import Loop
from tests.wms_factories import tiny_plant

TICKS = 400
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NODES = sorted(
    n for n in tiny_plant().graph("agv") if tiny_plant().node_kinds.get(n) in ("handover", "waypoint")
)


@dataclass(frozen=True)
class Scenario:
    orders: list[tuple[int, OrderSpec]]  # (tick to submit at, spec)
    failure: tuple[str, int, int, bool] | None  # (vehicle, fail tick, recover tick, unavailable?)
    plant: Plant | None = None  # None: the tiny plant


def grid(size: int, vehicles: int) -> Plant:
    nodes = [
        {"id": f"n{i}_{j}", "at": [10.0 + 10 * i, 10.0 + 10 * j]} for i in range(size) for j in range(size)
    ]
    pairs = [((i, j), (i + 1, j)) for i in range(size - 1) for j in range(size)]
    pairs += [((i, j), (i, j + 1)) for i in range(size) for j in range(size - 1)]
    edges = [{"from": f"n{a[0]}_{a[1]}", "to": f"n{b[0]}_{b[1]}"} for a, b in pairs]
    last = size - 1
    corners = ["n0_0", f"n{last}_{last}", f"n0_{last}"][:vehicles]
    return build_plant(
        PlantFile.model_validate(
            {
                "plant": {"id": "grid", "outline": [[0, 0], [100, 0], [100, 100], [0, 100]]},
                "network": {"nodes": nodes, "edges": edges},
                "vehicle_classes": [
                    {
                        "id": "agv",
                        "kind": "agv",
                        "speed_empty": 1.5,
                        "speed_loaded": 1.0,
                        "acceleration": 0.3,
                        "capacity": 30,
                        "footprint": {"length": 6, "width": 2.8},
                    }
                ],
                "fleet": [{"class": "agv", "count": vehicles, "prefix": "AGV", "homes": corners}],
            }
        )
    )


@st.composite
def scenarios(draw: st.DrawFn, on_grid: bool = False) -> Scenario:
    plant = grid(draw(st.integers(3, 5)), draw(st.integers(2, 3))) if on_grid else None
    nodes = sorted(plant.graph("agv")) if plant is not None else NODES
    count = draw(st.integers(3, 8))
    orders: list[tuple[int, OrderSpec]] = []
    for i in range(count):
        at = draw(st.integers(0, 40))
        first = draw(st.sampled_from(nodes))
        destinations: tuple[Destination, ...]
        if draw(st.booleans()):
            second = draw(st.sampled_from([n for n in nodes if n != first]))
            destinations = (Destination(first, Operation.PICK), Destination(second, Operation.DROP))
        else:
            destinations = (Destination(first),)
        spec = OrderSpec(id=f"O{i}", destinations=destinations, vehicle_class="agv", created_at=float(at))
        orders.append((at, spec))
    failure = None
    if draw(st.booleans()):
        vehicle = draw(st.sampled_from(["AGV-01", "AGV-02"]))
        fail_at = draw(st.integers(1, 60))
        failure = (vehicle, fail_at, fail_at + draw(st.integers(1, 40)), draw(st.booleans()))
    return Scenario(orders, failure, plant)


def run(scenario: Scenario, plant: Plant | None = None) -> Loop:
    core = FleetCore(plant if plant is not None else tiny_plant())
    fleet = FakeFleet({vid: FakeVehicle(vid, v.home) for vid, v in core.vehicles.items()})
    loop = Loop(core, fleet)
    for tick in range(TICKS):
        loop.t = float(tick)
        for at, spec in scenario.orders:
            if at == tick:
                loop.feed(SubmitOrder(spec=spec))
        if scenario.failure is not None:
            vehicle, fail_at, recover_at, unavailable = scenario.failure
            fake = fleet.vehicles[vehicle]
            if tick == fail_at:
                if unavailable:
                    fake.make_unavailable(loop.t, "manual mode")
                else:
                    fake.fail(loop.t, "scanner fault")
            elif tick == recover_at:
                fake.recover(loop.t)
        loop.pump()
        loop.feed(Tick())
        loop.pump()
        loop.move()
        loop.pump()
        last = max(at for at, _ in scenario.orders)
        recovered = scenario.failure is None or tick > scenario.failure[2]
        if tick > last and recovered and not core.open_orders():
            break
    return loop


@PROPERTY
@given(scenario=st.one_of(scenarios(), scenarios(on_grid=True)))
def test_random_order_streams_stay_safe_and_every_order_ends(scenario: Scenario) -> None:
    loop = run(scenario, scenario.plant)
    open_orders = {o: loop.core.book[o].state for o in loop.core.open_orders()}
    assert open_orders == {}, f"orders still open after {TICKS} ticks: {open_orders}"
    # Every vehicle that is not working holds only the node it stands on.
    for vid in loop.core.traffic.vehicles:
        if loop.core.drive_of(vid) is None:
            assert loop.core.traffic.held_by(vid) == frozenset({loop.core.traffic.node_of(vid)})
