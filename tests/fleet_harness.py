"""A small loop that drives `FleetCore` through fake vehicles, checking the safety contract at every step.

It hands SendRoute/Cancel effects to a `FakeFleet`, steps every fake one node per tick (never past what it
was released), completes operations at the end of routes (a charge when the fake is full), and feeds the
drained events back into `handle`. With a `Timing`, fakes take a random 1 to `max_edge_ticks` ticks per edge
(each vehicle its own pace, drawn per edge from a seeded generator), and report a MOVE or PARK done in the
same tick they arrive, as the VDA 5050 adapter does (Progress, Arrived and OperationDone reach the core
together, with no Tick in between). After every handled message traffic control must be safe, and after every SendRoute what the
vehicle may drive must be exactly what traffic control released to it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from fleet.core import Effect, FleetCore, Message, Tick, order_states
from fleet.domain.orders import Operation, OrderState
from fleet.domain.vehicles import VehicleState
from fleet.fake_vehicle import FakeFleet, FakeVehicle
from fleet.ports import Cancel, SendRoute
from layout import Plant

_NOTHING_TO_DO = (Operation.MOVE, Operation.PARK)


@dataclass
class Timing:
    """Uneven vehicle timing: every edge takes a random 1 to `max_edge_ticks` ticks; MOVE and PARK operations
    are done at once on arrival (in the same tick)."""

    seed: int
    max_edge_ticks: int = 3
    rng: random.Random = field(init=False)
    on_edge: dict[str, int] = field(default_factory=dict)  # vehicle -> ticks left on the edge it drives

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def ready(self, vehicle: str) -> bool:
        """One tick more on the next edge; True when the vehicle reaches its end in this tick."""
        left = self.on_edge.pop(vehicle, None)
        if left is None:
            left = self.rng.randint(1, self.max_edge_ticks)
        if left > 1:
            self.on_edge[vehicle] = left - 1
            return False
        return True


@dataclass
class Loop:
    core: FleetCore
    fleet: FakeFleet
    t: float = 0.0
    effects: list[Effect] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # every message handled, in order
    handled: int = 0
    timing: Timing | None = None  # None: one node per tick, operations done at the tick after arrival

    @classmethod
    def on(cls, plant: Plant, *, charge_kw: float | None = None, step_kwh: float = 0.0) -> Loop:
        """A core on `plant` and one fake per vehicle at its home. Fakes of a class with a battery start full
        and model it: `step_kwh` used per node, charging at `charge_kw` (default: the class's; tests pass
        more, since a tick is one second)."""
        core = FleetCore(plant)
        return cls(core, FakeFleet(fakes_for(core, charge_kw=charge_kw, step_kwh=step_kwh)))

    def feed(self, message: Message) -> list[Effect]:
        effects = self.core.handle(message, self.t)
        self.handled += 1
        self.messages.append(message)
        self.core.traffic.assert_safe()
        self.effects += effects
        for effect in effects:
            if isinstance(effect, SendRoute | Cancel):
                self.fleet.vehicles[effect.vehicle].now = self.t
                self.fleet.send(effect)
        for vehicle in {e.vehicle for e in effects if isinstance(e, SendRoute)}:
            fake = self.fleet.vehicles[vehicle]
            assert fake.route is not None
            assert fake.route.base[fake.index :] == self.core.traffic.base_of(vehicle)
        return effects

    def pump(self) -> None:
        while events := self.fleet.drain():
            for event in events:
                self.feed(event)

    def move(self) -> None:
        """Every fake moves one node if released (with a `Timing`: when it reaches the end of the edge), or
        completes the operation at the end of its route."""
        timing = self.timing
        for fake in self.fleet.vehicles.values():
            route = fake.route
            if route is None or fake.state in (VehicleState.ERROR, VehicleState.UNAVAILABLE):
                continue
            if fake.arrived and route.operation is Operation.CHARGE and fake.state is VehicleState.CHARGING:
                if fake.charge(self.t):
                    fake.complete_operation(self.t)
            elif fake.arrived:
                fake.complete_operation(self.t)
            elif fake.state is VehicleState.MOVING and fake.index + 1 < route.released:
                if timing is not None and not timing.ready(fake.id):
                    continue
                fake.step(self.t)
                if timing is not None and fake.arrived and route.operation in _NOTHING_TO_DO:
                    fake.complete_operation(self.t)

    def tick(self) -> None:
        self.t += 1.0
        self.feed(Tick())
        self.pump()
        self.move()
        self.pump()

    def run(self, ticks: int, until: str | None = None) -> None:
        for _ in range(ticks):
            self.tick()
            if until is not None and self.core.book[until].state.terminal:
                return

    def states(self, order: str) -> list[OrderState]:
        return order_states(self.effects)[order]


def fakes_for(
    core: FleetCore, *, charge_kw: float | None = None, step_kwh: float = 0.0
) -> dict[str, FakeVehicle]:
    """One fake per vehicle of the core, at its home; those with a battery start full and model it."""
    fakes: dict[str, FakeVehicle] = {}
    for vid, vehicle in core.vehicles.items():
        battery = vehicle.spec.battery
        if battery is None:
            fakes[vid] = FakeVehicle(vid, vehicle.home)
            continue
        fakes[vid] = FakeVehicle(
            vid,
            vehicle.home,
            energy=vehicle.energy,
            capacity_kwh=battery.capacity_kwh,
            charge_kw=battery.charge_kw if charge_kw is None else charge_kw,
            full_fraction=battery.full_fraction,
            step_kwh=step_kwh,
        )
    return fakes
