"""In-memory cranes behind the vehicle port, timed with `crane.motion`, and a loop that drives the crane core.

`FakeCrane` takes `SendCraneMove` commands one at a time, as a crane controller does, and finishes each
after the time `crane.motion` gives: travel (overhead: bridge and trolley at once, `chebyshev_time`;
stacker: `stacker_move_time`), then for a PICK the pick time and the hoist lifting `lift_height`, for a DROP
the hoist lowering `lift_height` and the drop time (the same split as `overhead_move_time`; a stacker
handles with `pick_deposit_time`). When a move ends it reports `CraneAt`, `OperationDone` and
`StateChanged(idle)`; it reports `StateChanged(moving)` when a move starts. Every move is logged as a
`MoveRecord` with the bridge and trolley trajectories (`crane.runway.Segment`), so tests can re-check
separation (`crane.runway.check_separation`) and safety zones from the motion alone.

A command while the crane is busy, or for another crane, raises `ContractViolation`: that is a core bug.

`CraneLoop` runs a `CraneCore` against fake cranes in event order: external messages at given times,
crane events when moves end, ticks when the core asks (`WakeAt`).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from crane.core import CraneCore, Effect, Message, Tick, WakeAt
from crane.motion import Drive, stacker_move_time, travel_time
from crane.places import Coordinates, crane_home, crane_kind, overhead_cranes
from crane.runway import RunwayLog, Segment
from fleet.domain.orders import Operation
from fleet.domain.vehicles import FleetError, VehicleState
from fleet.ports import (
    CraneAt,
    OperationDone,
    SendCraneMove,
    StateChanged,
    VehicleCommand,
    VehicleEvent,
)
from layout import Plant


class ContractViolation(FleetError):
    """The caller broke the crane side of the vehicle port contract."""


@dataclass(frozen=True, slots=True)
class MoveRecord:
    """One crane move: travel from `start` to `end` during [t0, t_travel], then handling until t1."""

    crane: str
    order: str
    operation: Operation
    t0: float
    t_travel: float
    t1: float
    start: Coordinates
    end: Coordinates
    loaded: bool  # a load on the hook while travelling
    along: Segment  # bridge (overhead) or carriage (stacker)
    across: Segment  # trolley (overhead) or lift (stacker)

    def hook(self, t: float) -> Coordinates:
        return self.along.position(t), self.across.position(t)


@dataclass
class FakeCrane:
    plant: Plant
    id: str
    now: float = 0.0
    state: VehicleState = VehicleState.IDLE
    position: Coordinates = (0.0, 0.0)
    loaded: bool = False
    moves: list[MoveRecord] = field(default_factory=list)
    commands: list[VehicleCommand] = field(default_factory=list)
    _current: tuple[SendCraneMove, float] | None = None
    _events: list[VehicleEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kind = crane_kind(self.plant, self.id)
        self.position = crane_home(self.plant, self.id)

    # ------------------------------------------------------------------------------------------ port

    def send(self, command: VehicleCommand) -> None:
        if command.vehicle != self.id:
            raise ContractViolation(f"command for '{command.vehicle}' sent to fake crane '{self.id}'")
        self.commands.append(command)
        if not isinstance(command, SendCraneMove):
            raise ContractViolation(f"fake crane '{self.id}' takes crane moves only, got {command}")
        if self._current is not None:
            raise ContractViolation(
                f"crane '{self.id}' got order '{command.order}' while still doing '{self._current[0].order}'"
            )
        if self.state in (VehicleState.ERROR, VehicleState.UNAVAILABLE):
            self._set_state(self.state, f"move for '{command.order}' refused: {self.state}")
            return
        record = self._record(command)
        self.moves.append(record)
        self._current = (command, record.t1)
        self._set_state(VehicleState.MOVING)

    def drain(self) -> list[VehicleEvent]:
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------------------------------ time

    @property
    def next_time(self) -> float | None:
        return self._current[1] if self._current is not None else None

    def advance(self, to: float) -> None:
        """Let time pass up to `to`: the current move ends if its time has come."""
        if self._current is not None and self._current[1] <= to:
            command, t1 = self._current
            self._current = None
            self.now = t1
            self.position = (command.along, command.across)
            if command.operation is Operation.PICK:
                self.loaded = True
            elif command.operation is Operation.DROP:
                self.loaded = False
            self._events.append(CraneAt(vehicle=self.id, along=command.along, at=t1))
            self._events.append(
                OperationDone(
                    vehicle=self.id,
                    node=command.place or "",
                    operation=command.operation,
                    at=t1,
                    order=command.order,
                )
            )
            self._set_state(VehicleState.IDLE)
        self.now = max(self.now, to)

    def fail(self, at: float, error: str) -> None:
        """A fault: the crane drops its current move and reports the error (its log keeps the move as sent,
        a conservative trajectory for the separation check)."""
        self.advance(at)
        self._current = None
        self._set_state(VehicleState.ERROR, error)

    def recover(self, at: float) -> None:
        self.advance(at)
        self._set_state(VehicleState.IDLE)

    # ------------------------------------------------------------------------------------------ timing

    def _axes(self) -> tuple[Drive, Drive]:
        if self.kind == "stacker":
            spec = self.plant.stacker_cranes[self.id].spec
            return Drive(spec.horizontal.speed, spec.horizontal.acceleration), Drive(
                spec.vertical.speed, spec.vertical.acceleration
            )
        crane = overhead_cranes(self.plant)[self.id].spec
        return Drive(crane.bridge.speed, crane.bridge.acceleration), Drive(
            crane.trolley.speed, crane.trolley.acceleration
        )

    def _handling(self, operation: Operation) -> tuple[float, float]:
        """(seconds before travel, seconds after travel) of an operation."""
        if operation is Operation.MOVE:
            return 0.0, 0.0
        if self.kind == "stacker":
            return 0.0, self.plant.stacker_cranes[self.id].spec.pick_deposit_time
        crane = overhead_cranes(self.plant)[self.id].spec
        hoist = travel_time(crane.lift_height, crane.hoist)
        return (
            (0.0, crane.pick_time + hoist) if operation is Operation.PICK else (0.0, hoist + crane.drop_time)
        )

    def _record(self, command: SendCraneMove) -> MoveRecord:
        start, end = self.position, (command.along, command.across)
        first, second = self._axes()
        t0 = self.now
        if self.kind == "stacker":
            spec = self.plant.stacker_cranes[self.id].spec
            travel = stacker_move_time(start, end, spec)
        else:
            travel = max(
                travel_time(abs(end[0] - start[0]), first), travel_time(abs(end[1] - start[1]), second)
            )
        _, after = self._handling(command.operation)
        t_travel = t0 + travel
        along = Segment(
            self.id,
            t0,
            t0 + travel_time(abs(end[0] - start[0]), first),
            start[0],
            end[0],
            first.speed,
            first.acceleration,
        )
        across = Segment(
            self.id,
            t0,
            t0 + travel_time(abs(end[1] - start[1]), second),
            start[1],
            end[1],
            second.speed,
            second.acceleration,
        )
        return MoveRecord(
            self.id,
            command.order,
            command.operation,
            t0,
            t_travel,
            t_travel + after,
            start,
            end,
            self.loaded,
            along,
            across,
        )

    def _set_state(self, state: VehicleState, error: str | None = None) -> None:
        self.state = state
        self._events.append(StateChanged(vehicle=self.id, state=state, at=self.now, error=error))


@dataclass
class FakeCranes:
    """Several fake cranes behind one port: commands go to the crane they name."""

    cranes: dict[str, FakeCrane]

    @classmethod
    def of(cls, plant: Plant, ids: Iterable[str]) -> FakeCranes:
        return cls({c: FakeCrane(plant, c) for c in ids})

    def send(self, command: VehicleCommand) -> None:
        try:
            crane = self.cranes[command.vehicle]
        except KeyError:
            raise ContractViolation(f"no fake crane '{command.vehicle}'") from None
        crane.send(command)

    def drain(self) -> list[VehicleEvent]:
        events = [e for c in self.cranes.values() for e in c.drain()]
        return sorted(events, key=lambda e: e.at)

    @property
    def next_time(self) -> float | None:
        times = [t for c in self.cranes.values() if (t := c.next_time) is not None]
        return min(times) if times else None

    def advance(self, to: float) -> None:
        for crane in self.cranes.values():
            crane.advance(to)

    def runway_log(self, plant: Plant, cranes: list[str]) -> RunwayLog:
        """The bridge moves of `cranes` (one runway, ordered by home) as a log for `check_separation`."""
        info = overhead_cranes(plant)
        first = info[cranes[0]]
        order = sorted(cranes, key=lambda c: info[c].spec.home)
        log = RunwayLog(
            first.frame.length,
            first.runway.min_crane_distance,
            order,
            {c: info[c].spec.home for c in order},
        )
        for c in order:
            log.segments += [m.along for m in self.cranes[c].moves if m.along.t1 > m.along.t0]
        return log


@dataclass
class CraneLoop:
    """Drives a `CraneCore` with fake cranes: feed external messages at their times, crane events as they
    happen, ticks when asked; hand `SendCraneMove` effects to the fakes."""

    core: CraneCore
    cranes: FakeCranes
    t: float = 0.0
    effects: list[Effect] = field(default_factory=list)
    _agenda: list[tuple[float, int, Message]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def on(cls, plant: Plant) -> CraneLoop:
        core = CraneCore(plant)
        return cls(core, FakeCranes.of(plant, core.cranes))

    def at(self, t: float, message: Message) -> None:
        """Schedule an external message (a job, a zone change) at time t."""
        heapq.heappush(self._agenda, (t, next(self._seq), message))

    def feed(self, message: Message) -> list[Effect]:
        effects = self.core.handle(message, self.t)
        self.effects += effects
        for effect in effects:
            if isinstance(effect, SendCraneMove):
                self.cranes.send(effect)
            elif isinstance(effect, WakeAt):
                self.at(max(effect.at, self.t), Tick())
        self._pump()
        return effects

    def _pump(self) -> None:
        while events := self.cranes.drain():
            for event in events:
                self.feed(event)

    def run(self, until: float = math.inf, max_steps: int = 100_000) -> None:
        """Process everything up to `until` (or until nothing is left to happen)."""
        for _ in range(max_steps):
            upcoming = (self.cranes.next_time, self._agenda[0][0] if self._agenda else None)
            candidates = [t for t in upcoming if t is not None]
            if not candidates or min(candidates) > until:
                return
            self.t = max(self.t, min(candidates))
            self.cranes.advance(self.t)
            self._pump()
            while self._agenda and self._agenda[0][0] <= self.t:
                _, _, message = heapq.heappop(self._agenda)
                self.feed(message)
        raise RuntimeError(f"crane loop did not settle in {max_steps} steps")
