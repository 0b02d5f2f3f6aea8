"""An in-memory vehicle behind the vehicle port, driven by hand from tests.

`FakeVehicle` keeps every command it receives (`commands`) and moves only when a test says so: `step(at)`
advances one node along the released base (emitting `Progress`, and `Arrived` at the route's end),
`complete_operation(at)` finishes the operation there, `fail(at, error)` and `make_unavailable(at)` take it
out of service where it stands. It never enters a node beyond the released base: that is the safety
contract with traffic control, and `step` raises `BeyondReleasedBase` instead.

Energy (for a fake with a battery, `capacity_kwh`): every node entered uses `step_kwh`, and at the end of a
CHARGE route the fake is CHARGING and `charge(at)` adds `charge_kw` for the time since charging began (or
since the last `charge`), reporting each level as an `EnergyReport`. It reports nothing done by itself: the
test calls `complete_operation` when `charge` says it reached `full_fraction` of the capacity.

Commands that break the port contract (a route not starting where the vehicle stands, an update that rewrites
released nodes or takes a release back, a command for another vehicle) raise `ContractViolation`, so a
dispatcher bug fails the test at once. Faults of the vehicle itself are reported as events, as a real one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.domain.orders import Operation
from fleet.domain.vehicles import FleetError, VehicleState
from fleet.ports import (
    Arrived,
    Cancel,
    EnergyReport,
    OperationDone,
    Pause,
    Progress,
    Resume,
    SendRoute,
    StateChanged,
    VehicleCommand,
    VehicleEvent,
)


class ContractViolation(FleetError):
    """The caller broke the vehicle port contract."""


class BeyondReleasedBase(FleetError):
    def __init__(self, vehicle: str, node: str, released: tuple[str, ...]) -> None:
        super().__init__(
            f"{vehicle} may not move past '{node}': only {', '.join(released)} are released to it"
        )
        self.vehicle = vehicle
        self.node = node
        self.released = released


class CannotStep(FleetError):
    """The test asked the fake for something it cannot do in its current state."""


_WORKING_STATE = {
    Operation.PICK: VehicleState.LOADING,
    Operation.DROP: VehicleState.LOADING,
    Operation.CHARGE: VehicleState.CHARGING,
}


@dataclass
class FakeVehicle:
    id: str
    node: str
    state: VehicleState = VehicleState.IDLE
    energy: float | None = None
    capacity_kwh: float | None = None  # battery size; None: no battery model (energy is only what tests set)
    charge_kw: float = 0.0  # charging power at a charger
    full_fraction: float = 0.9  # `charge` reports full from this fraction of the capacity on
    step_kwh: float = 0.0  # energy used per node entered
    paused: bool = False
    now: float = 0.0  # time of the last thing the test made happen; stamps events caused by commands
    commands: list[VehicleCommand] = field(default_factory=list)
    route: SendRoute | None = None
    index: int = 0  # position of `node` in `route.nodes`
    visited: list[str] = field(default_factory=list)  # every node entered, in order (the start included)
    _events: list[VehicleEvent] = field(default_factory=list)
    _arrival_reported: bool = False
    _charged_until: float = 0.0  # time up to which charging has been counted

    def __post_init__(self) -> None:
        self.visited.append(self.node)

    # ------------------------------------------------------------------------------------------ port

    def send(self, command: VehicleCommand) -> None:
        if command.vehicle != self.id:
            raise ContractViolation(f"command for '{command.vehicle}' sent to fake vehicle '{self.id}'")
        self.commands.append(command)
        if isinstance(command, SendRoute):
            self._route(command)
        elif isinstance(command, Cancel):
            if self.route is not None and command.order in (None, self.route.order):
                self.route = None
                if self.state in (VehicleState.MOVING, VehicleState.LOADING, VehicleState.CHARGING):
                    self._set_state(VehicleState.IDLE, self.now)
        elif isinstance(command, Pause):
            self.paused = True
        elif isinstance(command, Resume):
            self.paused = False

    def drain(self) -> list[VehicleEvent]:
        events, self._events = self._events, []
        return events

    def _route(self, command: SendRoute) -> None:
        if self.state in (VehicleState.ERROR, VehicleState.UNAVAILABLE):
            self._set_state(self.state, self.now, f"route for order '{command.order}' refused: {self.state}")
            return
        old = self.route
        if old is not None and old.order == command.order:
            if command.nodes[: old.released] != old.base or command.released < old.released:
                raise ContractViolation(
                    f"update of order '{command.order}' for {self.id} changes released nodes "
                    f"{old.base} to {command.base} (released {old.released} -> {command.released})"
                )
            self.route = command
            self._arrive_if_at_end()
            return
        if command.nodes[0] != self.node:
            raise ContractViolation(
                f"route for order '{command.order}' starts at '{command.nodes[0]}' but {self.id} is at '{self.node}'"
            )
        self.route = command
        self.index = 0
        self._arrival_reported = False
        if len(command.nodes) > 1:
            self._set_state(VehicleState.MOVING, self.now)
        self._arrive_if_at_end()

    # ----------------------------------------------------------------------------------- test controls

    @property
    def released_base(self) -> tuple[str, ...]:
        return self.route.base if self.route is not None else (self.node,)

    @property
    def arrived(self) -> bool:
        return self.route is not None and self.index == len(self.route.nodes) - 1

    def step(self, at: float) -> str:
        """Move to the next node of the released base; returns it. Raises at the end of the base."""
        self.now = at
        route = self.route
        if route is None:
            raise CannotStep(f"{self.id} has no route to step along")
        if self.state is not VehicleState.MOVING:
            raise CannotStep(f"{self.id} cannot move while {self.state}")
        if self.paused:
            raise CannotStep(f"{self.id} is paused")
        if self.index + 1 >= route.released:
            raise BeyondReleasedBase(self.id, route.nodes[self.index + 1], route.base)
        self.index += 1
        assert self.index < route.released, "the fake entered a node that was not released"
        self.node = route.nodes[self.index]
        self.visited.append(self.node)
        self._events.append(Progress(vehicle=self.id, node=self.node, at=at, order=route.order))
        if self.energy is not None and self.step_kwh > 0.0:
            self.report_energy(max(0.0, self.energy - self.step_kwh), at)
        self._arrive_if_at_end()
        return self.node

    def complete_operation(self, at: float) -> OperationDone:
        """Finish the operation at the end of the route; the vehicle becomes idle with no route."""
        self.now = at
        route = self.route
        if route is None or not self.arrived:
            raise CannotStep(f"{self.id} has not arrived at the end of a route")
        if self.state in (VehicleState.ERROR, VehicleState.UNAVAILABLE):
            raise CannotStep(f"{self.id} cannot complete an operation while {self.state}")
        done = OperationDone(
            vehicle=self.id, node=self.node, operation=route.operation, at=at, order=route.order
        )
        self._events.append(done)
        self.route = None
        if self.state is not VehicleState.IDLE:
            self._set_state(VehicleState.IDLE, at)
        return done

    @property
    def full(self) -> bool:
        """Charged to `full_fraction` (always for a fake without a battery model)."""
        if self.capacity_kwh is None or self.energy is None:
            return True
        return self.energy >= self.full_fraction * self.capacity_kwh - 1e-9

    def charge(self, at: float) -> bool:
        """Charge at `charge_kw` from the last charge (or the arrival) until `at`; report the energy. True when
        full. Only while CHARGING at the end of a CHARGE route."""
        route = self.route
        if (
            route is None
            or route.operation is not Operation.CHARGE
            or self.state is not VehicleState.CHARGING
        ):
            raise CannotStep(f"{self.id} is not charging")
        if self.capacity_kwh is not None and self.energy is not None:
            gained = self.charge_kw * max(0.0, at - self._charged_until) / 3600.0
            self.report_energy(min(self.capacity_kwh, self.energy + gained), at)
        self._charged_until = at
        return self.full

    def fail(self, at: float, error: str) -> None:
        """A fault: the vehicle stops on its last node, drops its route and reports the error."""
        self.now = at
        self.route = None
        self._set_state(VehicleState.ERROR, at, error)

    def make_unavailable(self, at: float, reason: str | None = None) -> None:
        self.now = at
        self.route = None
        self._set_state(VehicleState.UNAVAILABLE, at, reason)

    def recover(self, at: float) -> None:
        """Back in service (error acknowledged, automatic mode again): idle where it stands."""
        self.now = at
        self._set_state(VehicleState.IDLE, at)

    def report_energy(self, energy: float, at: float) -> None:
        self.now = at
        self.energy = energy
        self._events.append(EnergyReport(vehicle=self.id, energy=energy, at=at))

    # -------------------------------------------------------------------------------------- internals

    def _arrive_if_at_end(self) -> None:
        route = self.route
        if route is None or self._arrival_reported or self.index != len(route.nodes) - 1:
            return
        self._arrival_reported = True
        self._events.append(Arrived(vehicle=self.id, node=self.node, at=self.now, order=route.order))
        self._enter_working_state(route.operation)

    def _enter_working_state(self, operation: Operation) -> None:
        working = _WORKING_STATE.get(operation, VehicleState.IDLE)
        if working is VehicleState.CHARGING:
            self._charged_until = self.now
        if working is not self.state:
            self._set_state(working, self.now)

    def _set_state(self, state: VehicleState, at: float, error: str | None = None) -> None:
        self.state = state
        self._events.append(StateChanged(vehicle=self.id, state=state, at=at, error=error))


@dataclass
class FakeFleet:
    """Several fake vehicles behind one port: commands go to the vehicle they name."""

    vehicles: dict[str, FakeVehicle]

    def send(self, command: VehicleCommand) -> None:
        try:
            vehicle = self.vehicles[command.vehicle]
        except KeyError:
            raise ContractViolation(f"no fake vehicle '{command.vehicle}'") from None
        vehicle.send(command)

    def drain(self) -> list[VehicleEvent]:
        """Events of every vehicle, by time (stable: one vehicle's events keep their order)."""
        events = [e for v in self.vehicles.values() for e in v.drain()]
        return sorted(events, key=lambda e: e.at)
