"""Property tests of the fleet core: random order streams and at most one vehicle failure, on the tiny plant
and on small generated grid plants.

Orders (3-8) run between random handover and waypoint nodes of the AGV graph (a pick and a drop, or a single
move), submitted at random ticks. At most one AGV fails at a random tick (error or unavailable) and
recovers some ticks later. The loop (as in test_core.py) steps the fake vehicles and feeds their events
back. After every handled message traffic control must be safe, and what each vehicle may drive must be
exactly what traffic control released to it. Within the tick bound every order must end (finished, failed
or cancelled).

The grid plants are 3x3 to 5x5 with 10 m spacing, every edge two-way, and 2-3 AGVs in corners. Some grids
also have parking places and a charger, and AGVs that use energy per node (so they run low and charge).
The corridor plants are one single-lane corridor of 5-8 nodes with side bays (the only places to pass), 2
AGVs in the end bays, and orders from one end to the other in both directions (head-on encounters). The
crowded corridors have 6-9 nodes, two passing bays and three AGVs (one starts in a passing bay), and orders
with picks and drops anywhere, passing bays included: deadlocks there often need several vehicles to move
(a joint plan, `TrafficControl.untangle`).

Half the runs, on every plant, have uneven timing (`Timing`): each edge takes 1-3 ticks, drawn per edge, so
vehicles meet at other places and times than at one node per tick, and MOVE and PARK operations are reported
done in the tick of arrival, as the VDA 5050 adapter does.

Liveness is checked every tick (`Liveness`): how long each vehicle has waited for an allocation without a
break (stalled: standing at the end of its released base with more route ahead), how long each wait-for
cycle persists (in all, and in ticks in which no vehicle outside it drives or works: a cycle whose only way
out is a node where another vehicle is about to load waits for it), and how many steps the other vehicles
made while one vehicle waited (starvation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.core import FleetCore, SubmitOrder, Tick
from fleet.domain.orders import Destination, Operation, OrderSpec
from fleet.fake_vehicle import FakeFleet
from layout import Plant
from layout.build import build_plant
from layout.schema import PlantFile
from tests.fleet_factories import agv_class
from tests.fleet_harness import Loop, Timing, fakes_for
from tests.wms_factories import tiny_plant

TICKS = 400
FAST_CHARGE_KW = 36_000.0  # 10 kWh per tick: a charge takes a few ticks
CYCLE_TICKS = 2  # a wait-for cycle must be resolved within this many ticks of being detected
PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NODES = sorted(
    n for n in tiny_plant().graph("agv") if tiny_plant().node_kinds.get(n) in ("handover", "waypoint")
)


@dataclass(frozen=True)
class Scenario:
    orders: list[tuple[int, OrderSpec]]  # (tick to submit at, spec)
    failure: tuple[str, int, int, bool] | None  # (vehicle, fail tick, recover tick, unavailable?)
    plant: Plant | None = None  # None: the tiny plant
    step_kwh: float = 0.0  # energy each node costs the fakes
    timing: tuple[int, int] | None = None  # (seed, most ticks per edge) for `Timing`; None: one node per tick

    @property
    def pace(self) -> int:
        """The most ticks a vehicle may take per edge."""
        return 1 if self.timing is None else self.timing[1]


def wait_bound(plant: Plant, failure: tuple[str, int, int, bool] | None = None, pace: int = 1) -> int:
    """Ticks a vehicle may wait for an allocation without a break: proportional to fleet and graph size and to
    the most ticks a vehicle takes per edge, plus the time a failed vehicle stands in the way (nobody can pass a
    dead vehicle until it recovers)."""
    outage = failure[2] - failure[1] if failure is not None else 0
    return 2 * len(plant.vehicles) * len(plant.node_points) * pace + outage


@dataclass
class Liveness:
    """Waits for allocation, wait-for cycles and starvation, recorded every tick."""

    waiting: dict[str, int] = field(default_factory=dict)  # vehicle -> ticks stalled without a break
    others_moved: dict[str, int] = field(default_factory=dict)  # vehicle -> others' steps during its wait
    cycles: dict[frozenset[str], int] = field(default_factory=dict)  # cycle -> ticks it has persisted
    stuck: dict[frozenset[str], int] = field(default_factory=dict)  # cycle -> such ticks with all else still
    longest_wait: int = 0
    longest_cycle: int = 0
    longest_stuck_cycle: int = 0
    most_overtaken: int = 0

    def record(self, loop: Loop, moved: set[str]) -> None:
        core = loop.core
        for vid in core.traffic.vehicles:
            drive = core.drive_of(vid)
            stalled = (
                drive is not None
                and not drive.stopping
                and vid not in core.out
                and core.traffic.base_of(vid) == (core.traffic.node_of(vid),)
                and len(core.traffic.claim_of(vid)) > 1
            )
            if stalled:
                self.waiting[vid] = self.waiting.get(vid, 0) + 1
                self.others_moved[vid] = self.others_moved.get(vid, 0) + len(moved - {vid})
                self.longest_wait = max(self.longest_wait, self.waiting[vid])
                self.most_overtaken = max(self.most_overtaken, self.others_moved[vid])
            else:
                self.waiting.pop(vid, None)
                self.others_moved.pop(vid, None)
        now = {frozenset(c) for c in core.traffic.deadlocks()}
        self.cycles = {c: self.cycles.get(c, 0) + 1 for c in now}
        self.longest_cycle = max([self.longest_cycle, *self.cycles.values()])
        # A cycle whose only way out is blocked by a vehicle that drives to its destination or works there (or
        # is out of service) can only be resolved once that vehicle is done: count only the ticks in which
        # every vehicle outside the cycle stands still.
        busy = {vid for vid in core.traffic.vehicles if _busy(core, vid)}
        self.stuck = {c: self.stuck.get(c, 0) + (0 if busy - c else 1) for c in now}
        self.longest_stuck_cycle = max([self.longest_stuck_cycle, *self.stuck.values()])


def _busy(core: FleetCore, vid: str) -> bool:
    """Driving its released base, working at the end of its route, or out of service (it recovers later:
    nobody can pass a dead vehicle)."""
    if vid in core.out:
        return True
    drive = core.drive_of(vid)
    return drive is not None and (drive.arrived or len(core.traffic.base_of(vid)) > 1)


def grid(size: int, vehicles: int, *, places: bool = False) -> Plant:
    """A size x size two-way grid; with `places`, two parking places on the bottom row and a charger on the
    top right corner, and AGVs with a battery (120 kWh, low below 25 %)."""
    nodes: list[dict[str, object]] = [
        {"id": f"n{i}_{j}", "at": [10.0 + 10 * i, 10.0 + 10 * j]} for i in range(size) for j in range(size)
    ]
    last = size - 1
    if places:
        kinds = {"n1_0": "parking", f"n{last}_0": "parking", f"n{last}_{last}": "charger"}
        for node in nodes:
            if node["id"] in kinds:
                node["kind"] = kinds[str(node["id"])]
    pairs = [((i, j), (i + 1, j)) for i in range(size - 1) for j in range(size)]
    pairs += [((i, j), (i, j + 1)) for i in range(size) for j in range(size - 1)]
    edges = [{"from": f"n{a[0]}_{a[1]}", "to": f"n{b[0]}_{b[1]}"} for a, b in pairs]
    corners = ["n0_0", f"n{last}_{last}", f"n0_{last}"][:vehicles]
    agv = agv_class()
    if places:
        agv["battery"] = {"capacity_kwh": 120, "moving_kw": 18, "charge_kw": 60}
    return build_plant(
        PlantFile.model_validate(
            {
                "plant": {"id": "grid", "outline": [[0, 0], [100, 0], [100, 100], [0, 100]]},
                "network": {"nodes": nodes, "edges": edges},
                "vehicle_classes": [agv],
                "fleet": [{"class": "agv", "count": vehicles, "prefix": "AGV", "homes": corners}],
            }
        )
    )


def corridor(length: int, vehicles: int, bays: list[int]) -> Plant:
    """One single-lane corridor c0..c{length-1} (10 m spacing, two-way) with a side bay b{i} off each corridor
    node in `bays` (always both ends). AGVs start in the end bays (a third one in the middle bay, if any).
    Vehicles can pass each other only by one of them waiting in a bay."""
    last = length - 1
    bays = sorted({0, last, *bays})
    nodes: list[dict[str, object]] = [{"id": f"c{i}", "at": [10.0 + 10 * i, 50.0]} for i in range(length)]
    nodes += [{"id": f"b{i}", "at": [10.0 + 10 * i, 60.0], "kind": "handover"} for i in bays]
    edges = [{"from": f"c{i}", "to": f"c{i + 1}"} for i in range(last)]
    edges += [{"from": f"c{i}", "to": f"b{i}"} for i in bays]
    homes = [f"b{i}" for i in (0, last, *bays[1:-1])][:vehicles]  # one vehicle per bay at most
    agv = agv_class()
    return build_plant(
        PlantFile.model_validate(
            {
                "plant": {"id": "corridor", "outline": [[0, 0], [100, 0], [100, 100], [0, 100]]},
                "network": {"nodes": nodes, "edges": edges},
                "vehicle_classes": [agv],
                "fleet": [{"class": "agv", "count": len(homes), "prefix": "AGV", "homes": homes}],
            }
        )
    )


@st.composite
def corridors(draw: st.DrawFn) -> Scenario:
    """Head-on streams: orders from one end of a corridor to the other, in both directions, at close times."""
    length = draw(st.integers(5, 8))
    # Two AGVs and one or two passing bays between the ends (on a plain path nobody can pass). Orders go to the
    # end bays and the corridor's nodes, not to the passing bays: `crowded_corridors` has those, and three AGVs.
    bays = draw(st.lists(st.integers(1, length - 2), min_size=1, max_size=2, unique=True))
    plant = corridor(length, 2, bays)
    passing = {f"b{i}" for i in bays}
    nodes = sorted(n for n in plant.graph("agv") if n not in passing)
    half = len(nodes) // 2
    by_x = sorted(nodes, key=lambda n: plant.node_points[n])
    west, east = by_x[:half], by_x[half:]
    orders: list[tuple[int, OrderSpec]] = []
    for i in range(draw(st.integers(2, 6))):
        at = draw(st.integers(0, 20))
        start, end = (west, east) if draw(st.booleans()) else (east, west)
        first, second = draw(st.sampled_from(start)), draw(st.sampled_from(end))
        destinations = (Destination(first, Operation.PICK), Destination(second, Operation.DROP))
        spec = OrderSpec(id=f"O{i}", destinations=destinations, vehicle_class="agv", created_at=float(at))
        orders.append((at, spec))
    return Scenario(orders, None, plant, timing=draw(timings()))


@st.composite
def crowded_corridors(draw: st.DrawFn) -> Scenario:
    """Harder corridor streams: three AGVs in a corridor of 6-9 nodes with two passing bays (plus the end bays),
    and picks and drops anywhere, passing bays included, in both directions. One AGV starts in a passing bay;
    vehicles that load in a bay block it while they load."""
    length = draw(st.integers(6, 9))
    bays = draw(st.lists(st.integers(1, length - 2), min_size=2, max_size=2, unique=True))
    plant = corridor(length, 3, bays)
    nodes = sorted(plant.graph("agv"))
    orders: list[tuple[int, OrderSpec]] = []
    for i in range(draw(st.integers(3, 7))):
        at = draw(st.integers(0, 30))
        first = draw(st.sampled_from(nodes))
        second = draw(st.sampled_from([n for n in nodes if n != first]))
        destinations = (Destination(first, Operation.PICK), Destination(second, Operation.DROP))
        spec = OrderSpec(id=f"O{i}", destinations=destinations, vehicle_class="agv", created_at=float(at))
        orders.append((at, spec))
    failure = None
    if draw(st.booleans()):  # one AGV fails (a joint plan it is part of ends early) and recovers
        fail_at = draw(st.integers(1, 60))
        failure = (
            draw(st.sampled_from(["AGV-01", "AGV-02", "AGV-03"])),
            fail_at,
            fail_at + draw(st.integers(1, 40)),
            draw(st.booleans()),
        )
    return Scenario(orders, failure, plant, timing=draw(timings()))


def timings() -> st.SearchStrategy[tuple[int, int] | None]:
    """One node per tick, or 1-2 / 1-3 ticks per edge with a drawn seed."""
    return st.one_of(st.none(), st.tuples(st.integers(0, 2**16), st.integers(2, 3)))


@st.composite
def scenarios(draw: st.DrawFn, on_grid: bool = False) -> Scenario:
    places = on_grid and draw(st.booleans())
    plant = grid(draw(st.integers(3, 5)), draw(st.integers(2, 3)), places=places) if on_grid else None
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
    step_kwh = draw(st.sampled_from([0.0, 4.0, 8.0])) if places else 0.0  # 8: ~10 nodes per charge
    return Scenario(orders, failure, plant, step_kwh, draw(timings()))


def settled(core: FleetCore) -> bool:
    """No order open, nobody driving (to park or charge included), nobody idle and low on energy."""
    low = [vid for vid, v in core.vehicles.items() if v.energy_low and core.drive_of(vid) is None]
    return not core.open_orders() and not core.drives and not low


def run(scenario: Scenario, plant: Plant | None = None, liveness: Liveness | None = None) -> Loop:
    core = FleetCore(plant if plant is not None else tiny_plant())
    fleet = FakeFleet(fakes_for(core, charge_kw=FAST_CHARGE_KW, step_kwh=scenario.step_kwh))
    loop = Loop(core, fleet, timing=None if scenario.timing is None else Timing(*scenario.timing))
    for tick in range(TICKS * scenario.pace):
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
        before = {vid: len(f.visited) for vid, f in fleet.vehicles.items()}
        loop.move()
        loop.pump()
        if liveness is not None:
            liveness.record(loop, {vid for vid, f in fleet.vehicles.items() if len(f.visited) > before[vid]})
        last = max(at for at, _ in scenario.orders)
        recovered = scenario.failure is None or tick > scenario.failure[2]
        if tick > last and recovered and settled(core):
            break
    return loop


@PROPERTY
@given(scenario=st.one_of(scenarios(), scenarios(on_grid=True), corridors(), crowded_corridors()))
def test_random_order_streams_stay_safe_and_every_order_ends(scenario: Scenario) -> None:
    liveness = Liveness()
    loop = run(scenario, scenario.plant, liveness)
    open_orders = {o: loop.core.book[o].state for o in loop.core.open_orders()}
    assert open_orders == {}, f"orders still open after {TICKS * scenario.pace} ticks: {open_orders}"
    # No vehicle waits forever: every wait for an allocation ends within the bound, every deadlock detected
    # is resolved within CYCLE_TICKS, and nobody waits while the others make more than the bound of steps.
    bound = wait_bound(loop.core.plant, scenario.failure, scenario.pace)
    assert liveness.longest_wait <= bound, f"a vehicle waited {liveness.longest_wait} ticks (bound {bound})"
    assert liveness.longest_stuck_cycle <= CYCLE_TICKS, (
        f"a deadlock persisted {liveness.longest_stuck_cycle} ticks with nothing else moving"
    )
    assert liveness.most_overtaken <= bound, (
        f"a vehicle starved while others made {liveness.most_overtaken} steps"
    )
    assert liveness.waiting == {}, f"still waiting at the end: {liveness.waiting}"
    # Every vehicle that is not working holds only the node it stands on.
    for vid in loop.core.traffic.vehicles:
        if loop.core.drive_of(vid) is None:
            assert loop.core.traffic.held_by(vid) == frozenset({loop.core.traffic.node_of(vid)})
