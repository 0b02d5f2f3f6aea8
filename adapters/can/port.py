"""`CanGatewayPort`: the vehicle port over a CAN bus to RGV and crane PLC gateways (python-can + cantools).

Each vehicle is one gateway with a CAN node id (`vehicles={"RGV-01": 1, "C1": 2}`); the frames are those
of `coilyard_gateway.dbc` (see docs/can-gateway.md). How port commands become jobs:

- `SendRoute`: one job per route, to the last *released* node (the gateway never learns the horizon, so it
  cannot pass the base). The route's operation is only asked for when the whole route is released; before
  that the job is a MOVE to the base's end, and a later `SendRoute` for the same order re-sends the same job
  id with the new base end. `Position` frames naming a route node give `Progress` for every route node up
  to it (a rail gateway reports the nodes it stops at, not every one it passes) and `Arrived` at the end;
  the `JobAck` "completed" of the final job gives `OperationDone`.
- `SendCraneMove`: one job to a runway position (mm); `OperationDone(node=place)` on completion; Position
  frames give `CraneAt`.
- `Cancel`, `Pause`, `Resume`: a JobCommand of that kind for the running job.

Threads: python-can's `Notifier` thread only puts raw frames (stamped with the injected clock) on a
queue; `drain()`, called by the shell, decodes them with cantools and updates the state, so nothing else
is shared between threads. `send()` hands one frame to the bus and returns; a transmit failure comes back
as a `StateChanged(UNAVAILABLE)` from the next `drain()`.

The heartbeat watchdog runs in `drain()`: no `Heartbeat` from a gateway for more than `heartbeat_timeout_s`
on the clock -> `StateChanged(UNAVAILABLE)` (the fleet core then hands its order to another vehicle, so the
port forgets the job and cancels it on the gateway when the heartbeat returns); the next heartbeat brings
back the state the gateway reports.
A `Fault` of severity error or fatal -> `StateChanged(ERROR, "fault 0x0301 emergency_stop (fatal)")` until
it is cleared. A rejected job -> `StateChanged(ERROR, reason)` (the port contract for a refused route).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import can

from adapters.can import codec
from adapters.can.codec import AckResult, FrameError, GatewayState, JobCommand, JobKind, Severity
from adapters.can.nodes import NodeMap, NodeTableError
from adapters.errors import AdapterConfigError, ConnectionLost
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import (
    Arrived,
    Cancel,
    CraneAt,
    EnergyReport,
    OperationDone,
    Pause,
    Progress,
    Resume,
    SendCraneMove,
    SendRoute,
    StateChanged,
    VehicleCommand,
    VehicleEvent,
)
from layout import Plant

log = logging.getLogger(__name__)

KIND = "can"
MAX_JOB_ID = 0xFFFF

_JOB_KIND = {
    Operation.MOVE: JobKind.MOVE,
    Operation.PICK: JobKind.PICK,
    Operation.DROP: JobKind.DROP,
    Operation.PARK: JobKind.PARK,
    Operation.CHARGE: JobKind.CHARGE,
}
_VEHICLE_STATE = {
    GatewayState.IDLE: VehicleState.IDLE,
    GatewayState.MOVING: VehicleState.MOVING,
    GatewayState.LOADING: VehicleState.LOADING,
    GatewayState.CHARGING: VehicleState.CHARGING,
    GatewayState.ERROR: VehicleState.ERROR,
    GatewayState.MANUAL: VehicleState.UNAVAILABLE,
}


class UnknownVehicle(AdapterConfigError):
    def __init__(self, vehicle: str, known: Mapping[str, int]) -> None:
        super().__init__(
            KIND, f"no CAN gateway configured for vehicle '{vehicle}' (known: {', '.join(sorted(known))})"
        )


@dataclass(frozen=True, slots=True)
class Telemetry:
    """What a gateway last reported, for the live views (`adapters.redis_bus.VehicleStateCache`)."""

    vehicle: str
    state: VehicleState | None
    node: str | None
    along: float | None  # metres along the rail or runway
    speed: float  # m/s
    load_present: bool
    energy_pct: int | None
    last_heartbeat: float | None
    error: str | None


@dataclass
class _Job:
    job_id: int
    order: str
    operation: Operation
    route: SendRoute | None = None  # None for a crane move
    place: str | None = None
    index: int = 0  # position in route.nodes the vehicle last reported
    arrived: bool = False

    @property
    def final(self) -> bool:
        return self.route is None or self.route.released == len(self.route.nodes)


@dataclass
class _Link:
    vehicle: str
    node_id: int
    last_heartbeat: float
    heartbeat_lost: bool = False
    heartbeat_seen: bool = False
    plc_state: GatewayState | None = None
    fault: str | None = None
    reported: tuple[VehicleState, str | None] | None = None
    job: _Job | None = None
    node: str | None = None
    along_mm: int | None = None
    speed_mm_s: int = 0
    load_present: bool = False
    energy_pct: int | None = None
    crane: bool = False
    counter: int | None = None
    orphaned_job: int | None = None  # the job running when the heartbeat was lost: cancelled on return


class _Enqueue(can.Listener):
    """Runs on the Notifier's thread: stamp the frame and queue it; decoding happens in `drain()`."""

    def __init__(
        self, inbox: queue.SimpleQueue[tuple[float, can.Message]], clock: Callable[[], float]
    ) -> None:
        self.inbox = inbox
        self.clock = clock

    def on_message_received(self, msg: can.Message) -> None:
        self.inbox.put((self.clock(), msg))

    def on_error(self, exc: Exception) -> None:
        log.error("CAN receive failed: %s", exc)


class CanGatewayPort:
    """The vehicle port over CAN gateways; build with keyword config, then `open()` (or use `with`)."""

    def __init__(
        self,
        *,
        channel: str,
        vehicles: Mapping[str, int],
        interface: str = "virtual",
        bitrate: int | None = None,
        node_map: Mapping[str, int] | NodeMap | None = None,
        plant: Plant | None = None,
        heartbeat_timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        bus_options: Mapping[str, Any] | None = None,
    ) -> None:
        if heartbeat_timeout_s <= 0:
            raise AdapterConfigError(KIND, f"heartbeat_timeout_s must be > 0, got {heartbeat_timeout_s}")
        self.channel = channel
        self.interface = interface
        self.bitrate = bitrate
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.clock = clock
        self.bus_options = dict(bus_options or {})
        self.nodes = _node_map(node_map, plant)
        self.battery_kwh = _battery_capacities(plant)
        cranes = _crane_ids(plant)
        start = clock()
        self._links: dict[str, _Link] = {}
        self._by_node: dict[int, _Link] = {}
        for vehicle, node_id in vehicles.items():
            if (
                isinstance(node_id, bool)
                or not isinstance(node_id, int)
                or not 1 <= node_id <= codec.MAX_NODE_ID
            ):
                raise AdapterConfigError(
                    KIND, f"vehicle '{vehicle}': CAN node id must be 1..{codec.MAX_NODE_ID}, got {node_id!r}"
                )
            if node_id in self._by_node:
                raise AdapterConfigError(
                    KIND,
                    f"CAN node id {node_id} is given to both '{self._by_node[node_id].vehicle}' and '{vehicle}'",
                )
            link = _Link(vehicle=vehicle, node_id=node_id, last_heartbeat=start, crane=vehicle in cranes)
            self._links[vehicle] = link
            self._by_node[node_id] = link
        if not self._links:
            raise AdapterConfigError(KIND, "no vehicles configured (vehicles={'RGV-01': 1, ...})")
        self._inbox: queue.SimpleQueue[tuple[float, can.Message]] = queue.SimpleQueue()
        self._events: list[VehicleEvent] = []
        self._next_job = 0
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        if self._bus is not None:
            return
        options: dict[str, Any] = dict(self.bus_options)
        if self.bitrate is not None:
            options["bitrate"] = self.bitrate
        try:
            self._bus = can.Bus(interface=self.interface, channel=self.channel, **options)
        except can.CanInterfaceNotImplementedError as error:
            raise AdapterConfigError(
                KIND, f"CAN interface '{self.interface}' is not available: {error}"
            ) from None
        except (can.CanError, OSError, ValueError, ImportError) as error:
            raise ConnectionLost(f"CAN {self.interface} channel '{self.channel}'", str(error)) from None
        self._notifier = can.Notifier(self._bus, [_Enqueue(self._inbox, self.clock)])
        opened = self.clock()
        for link in self._links.values():  # the watchdog's grace starts when we start listening
            link.last_heartbeat = opened

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def __enter__(self) -> CanGatewayPort:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ port

    def send(self, command: VehicleCommand) -> None:
        link = self._links.get(command.vehicle)
        if link is None:
            raise UnknownVehicle(command.vehicle, {v: lk.node_id for v, lk in self._links.items()})
        at = self.clock()
        if isinstance(command, SendRoute):
            self._send_route(link, command, at)
        elif isinstance(command, SendCraneMove):
            self._send_crane_move(link, command, at)
        elif isinstance(command, Cancel):
            job = link.job
            if command.order is not None and (job is None or job.order != command.order):
                log.info("%s: cancel of order '%s' ignored, it is not running", link.vehicle, command.order)
                return
            self._transmit(link, JobCommand(job.job_id if job else 0, JobKind.CANCEL, target_node=0), at)
        elif isinstance(command, Pause | Resume):
            kind = JobKind.PAUSE if isinstance(command, Pause) else JobKind.RESUME
            self._transmit(link, JobCommand(link.job.job_id if link.job else 0, kind, target_node=0), at)

    def drain(self) -> list[VehicleEvent]:
        while True:
            try:
                at, msg = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._receive(at, msg)
        self._watch_heartbeats(self.clock())
        events, self._events = self._events, []
        return events

    def telemetry(self, vehicle: str) -> Telemetry:
        link = self._links.get(vehicle)
        if link is None:
            raise UnknownVehicle(vehicle, {v: lk.node_id for v, lk in self._links.items()})
        return Telemetry(
            vehicle=vehicle,
            state=link.reported[0] if link.reported else None,
            node=link.node,
            along=None if link.along_mm is None else link.along_mm / 1000,
            speed=link.speed_mm_s / 1000,
            load_present=link.load_present,
            energy_pct=link.energy_pct,
            last_heartbeat=link.last_heartbeat if link.heartbeat_seen else None,
            error=link.reported[1] if link.reported else None,
        )

    # ------------------------------------------------------------------------------------------- commands

    def _send_route(self, link: _Link, command: SendRoute, at: float) -> None:
        job = link.job
        if job is not None and job.route is not None and job.order == command.order:
            old = job.route
            job.route = command
            if command.released != old.released or command.operation != old.operation:
                self._transmit_route_job(link, job, at)  # the same job id: the gateway moves its target
            return
        if link.heartbeat_lost:
            self._emit_state(
                link,
                at,
                forced=(
                    VehicleState.UNAVAILABLE,
                    f"route for order '{command.order}' refused: no heartbeat from CAN node {link.node_id}",
                ),
            )
            return
        job = _Job(job_id=self._new_job_id(), order=command.order, operation=command.operation, route=command)
        link.job = job
        if len(command.nodes) == 1:
            job.arrived = True
            self._events.append(
                Arrived(vehicle=link.vehicle, node=command.nodes[0], at=at, order=command.order)
            )
        self._transmit_route_job(link, job, at)

    def _transmit_route_job(self, link: _Link, job: _Job, at: float) -> None:
        route = job.route
        assert route is not None
        try:
            target = self.nodes.index(route.nodes[route.released - 1])
        except NodeTableError as error:
            link.job = None
            self._emit_state(link, at, forced=(VehicleState.ERROR, f"order '{job.order}' not sent: {error}"))
            return
        kind = _JOB_KIND[route.operation] if job.final else JobKind.MOVE
        self._transmit(link, JobCommand(job.job_id, kind, target_node=target), at)

    def _send_crane_move(self, link: _Link, command: SendCraneMove, at: float) -> None:
        link.crane = True
        if link.heartbeat_lost:
            self._emit_state(
                link,
                at,
                forced=(
                    VehicleState.UNAVAILABLE,
                    f"crane move for order '{command.order}' refused: no heartbeat from CAN node {link.node_id}",
                ),
            )
            return
        job = _Job(
            job_id=self._new_job_id(), order=command.order, operation=command.operation, place=command.place
        )
        along, across = round(command.along * 1000), round(command.across * 1000)
        try:
            frame = JobCommand(job.job_id, _JOB_KIND[command.operation], along_mm=along, across_mm=across)
            codec.encode(frame, link.node_id)
        except FrameError as error:
            self._emit_state(
                link,
                at,
                forced=(VehicleState.ERROR, f"crane move for order '{command.order}' not sent: {error}"),
            )
            return
        link.job = job
        self._transmit(link, frame, at)

    def _new_job_id(self) -> int:
        self._next_job = self._next_job % MAX_JOB_ID + 1  # 1..65535, 0 means "no job"
        return self._next_job

    def _transmit(self, link: _Link, frame: codec.Frame, at: float) -> None:
        try:
            can_id, data = codec.encode(frame, link.node_id)
        except FrameError as error:
            self._emit_state(link, at, forced=(VehicleState.ERROR, str(error)))
            return
        if self._bus is None:
            raise ConnectionLost(f"CAN channel '{self.channel}'", "the port is not open (call open() first)")
        try:
            self._bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False), timeout=0)
        except can.CanError as error:
            log.warning("%s: CAN transmit of %s failed: %s", link.vehicle, type(frame).__name__, error)
            self._emit_state(
                link,
                at,
                forced=(VehicleState.UNAVAILABLE, f"CAN transmit to node {link.node_id} failed: {error}"),
            )

    # ------------------------------------------------------------------------------------------- receiving

    def _receive(self, at: float, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame or msg.is_extended_id:
            log.info("CAN frame ignored (error, remote or extended id): %s", msg)
            return
        try:
            node_id, frame = codec.decode(msg.arbitration_id, bytes(msg.data))
        except FrameError as error:
            log.warning("CAN frame ignored: %s (data %s)", error, bytes(msg.data).hex())
            return
        link = self._by_node.get(node_id)
        if link is None:
            log.info("CAN frame from node %d ignored: no vehicle configured for it", node_id)
            return
        match frame:
            case codec.Heartbeat():
                self._heartbeat(link, frame, at)
            case codec.Status():
                self._status(link, frame, at)
            case codec.Position():
                self._position(link, frame, at)
            case codec.JobAck():
                self._ack(link, frame, at)
            case codec.Fault():
                self._fault(link, frame, at)
            case JobCommand():
                log.warning(
                    "%s: a JobCommand came from the bus (another master on node %d?)", link.vehicle, node_id
                )
                return
        self._sync_state(link, at)

    def _heartbeat(self, link: _Link, frame: codec.Heartbeat, at: float) -> None:
        if link.counter is not None and frame.counter != (link.counter + 1) % 256:
            log.info("%s: heartbeat counter jumped from %d to %d", link.vehicle, link.counter, frame.counter)
        link.counter = frame.counter
        link.last_heartbeat = at
        link.heartbeat_seen = True
        if link.heartbeat_lost:
            link.heartbeat_lost = False
            log.warning("%s: heartbeat is back from CAN node %d", link.vehicle, link.node_id)
            if link.orphaned_job is not None:
                # Its order was handed on while it was silent: it must not carry on with it.
                self._transmit(link, JobCommand(link.orphaned_job, JobKind.CANCEL, target_node=0), at)
                link.orphaned_job = None

    def _status(self, link: _Link, frame: codec.Status, at: float) -> None:
        link.plc_state = frame.state
        link.load_present = frame.load_present
        if frame.energy_pct != link.energy_pct:
            link.energy_pct = frame.energy_pct
            capacity = self.battery_kwh.get(link.vehicle)
            if frame.energy_pct is not None and capacity is not None:
                energy = capacity * frame.energy_pct / 100
                self._events.append(EnergyReport(vehicle=link.vehicle, energy=energy, at=at))

    def _position(self, link: _Link, frame: codec.Position, at: float) -> None:
        if link.crane and frame.along_mm != link.along_mm:
            self._events.append(CraneAt(vehicle=link.vehicle, along=frame.along_mm / 1000, at=at))
        link.along_mm = frame.along_mm
        link.speed_mm_s = frame.speed_mm_s
        node = self.nodes.node(frame.node_index)
        if frame.node_index != codec.NO_NODE and node is None:
            log.warning(
                "%s: position at node index %d, which the node table does not have",
                link.vehicle,
                frame.node_index,
            )
        if node is None or node == link.node:
            return
        link.node = node
        job = link.job
        route = job.route if job is not None else None
        if job is None or route is None:
            self._events.append(Progress(vehicle=link.vehicle, node=node, at=at))
            return
        if node not in route.nodes[job.index + 1 : route.released]:
            log.warning(
                "%s: reports node '%s', not ahead on its released route for '%s'",
                link.vehicle,
                node,
                job.order,
            )
            return
        reached = route.nodes.index(node, job.index + 1, route.released)
        self._advance(link, job, route, reached, at)

    def _advance(self, link: _Link, job: _Job, route: SendRoute, reached: int, at: float) -> None:
        """Progress for every route node up to `reached` (the gateway may report only where it stops)."""
        for i in range(job.index + 1, reached + 1):
            self._events.append(Progress(vehicle=link.vehicle, node=route.nodes[i], at=at, order=job.order))
        job.index = max(job.index, reached)
        if job.index == len(route.nodes) - 1 and not job.arrived:
            job.arrived = True
            self._events.append(Arrived(vehicle=link.vehicle, node=route.nodes[-1], at=at, order=job.order))

    def _ack(self, link: _Link, frame: codec.JobAck, at: float) -> None:
        job = link.job
        if job is None or job.job_id != frame.job_id:
            log.info(
                "%s: %s for job %d ignored (not the running job)",
                link.vehicle,
                frame.result.name,
                frame.job_id,
            )
            return
        reason = frame.reason.name.lower()
        if frame.result is AckResult.ACCEPTED:
            log.debug("%s: job %d (order '%s') accepted", link.vehicle, job.job_id, job.order)
        elif frame.result is AckResult.REJECTED:
            link.job = None
            self._emit_state(
                link,
                at,
                forced=(
                    VehicleState.ERROR,
                    f"order '{job.order}' rejected by the gateway of {link.vehicle}: {reason}",
                ),
            )
        elif frame.result is AckResult.ABORTED:
            link.job = None
            log.info("%s: job for order '%s' aborted (%s)", link.vehicle, job.order, reason)
        elif frame.result is AckResult.COMPLETED:
            self._completed(link, job, at)

    def _completed(self, link: _Link, job: _Job, at: float) -> None:
        route = job.route
        if route is None:
            link.job = None
            self._events.append(
                OperationDone(
                    vehicle=link.vehicle,
                    node=job.place or "",
                    operation=job.operation,
                    at=at,
                    order=job.order,
                )
            )
            return
        self._advance(link, job, route, route.released - 1, at)
        if not job.final:
            return  # stopped at the end of the released base; waits for more of the route
        link.job = None
        link.node = route.nodes[-1]
        self._events.append(
            OperationDone(
                vehicle=link.vehicle, node=route.nodes[-1], operation=route.operation, at=at, order=job.order
            )
        )

    def _fault(self, link: _Link, frame: codec.Fault, at: float) -> None:
        text = frame.describe()
        if frame.severity < Severity.ERROR:
            log.warning("%s: %s %s", link.vehicle, text, "raised" if frame.active else "cleared")
            return
        if frame.active:
            log.error("%s: %s", link.vehicle, text)
            link.fault = text
        elif link.fault is not None and link.fault.startswith(f"fault 0x{frame.code:04X} "):
            log.warning("%s: %s cleared", link.vehicle, text)
            link.fault = None

    # ------------------------------------------------------------------------------------------- state

    def _watch_heartbeats(self, now: float) -> None:
        for link in self._links.values():
            silent = now - link.last_heartbeat
            if not link.heartbeat_lost and silent > self.heartbeat_timeout_s:
                link.heartbeat_lost = True
                if link.job is not None:  # the core gives the order to another vehicle; stop this one later
                    link.orphaned_job = link.job.job_id
                    link.job = None
                log.error("%s: no heartbeat from CAN node %d for %.2f s", link.vehicle, link.node_id, silent)
                self._sync_state(link, now)

    def _effective_state(self, link: _Link) -> tuple[VehicleState, str | None] | None:
        if link.heartbeat_lost:
            return (
                VehicleState.UNAVAILABLE,
                f"no heartbeat from CAN node {link.node_id} for more than {self.heartbeat_timeout_s:g} s",
            )
        if link.fault is not None:
            return VehicleState.ERROR, link.fault
        if link.plc_state is None:
            return None
        state = _VEHICLE_STATE[link.plc_state]
        if link.plc_state is GatewayState.MANUAL:
            return state, "gateway in manual mode"
        if link.plc_state is GatewayState.ERROR:
            return state, "gateway reports an error"
        return state, None

    def _sync_state(self, link: _Link, at: float) -> None:
        self._emit_state(link, at, forced=None)

    def _emit_state(self, link: _Link, at: float, forced: tuple[VehicleState, str | None] | None) -> None:
        """Report the vehicle's state when it differs from the last report (`forced`: report this one)."""
        state = forced if forced is not None else self._effective_state(link)
        if state is None or (forced is None and state == link.reported):
            return
        link.reported = state
        self._events.append(StateChanged(vehicle=link.vehicle, state=state[0], at=at, error=state[1]))


# ------------------------------------------------------------------------------------------ configuration


def _node_map(node_map: Mapping[str, int] | NodeMap | None, plant: Plant | None) -> NodeMap:
    try:
        if isinstance(node_map, NodeMap):
            return node_map
        if node_map is not None:
            return NodeMap.from_mapping(node_map)
    except NodeTableError as error:
        raise AdapterConfigError(KIND, str(error)) from None
    if plant is None:
        raise AdapterConfigError(KIND, "give the plant (plant=...) or an explicit node table (node_map=...)")
    return NodeMap.from_plant(plant)


def _battery_capacities(plant: Plant | None) -> dict[str, float]:
    if plant is None:
        return {}
    return {
        vid: vehicle.vehicle_class.battery.capacity_kwh
        for vid, vehicle in plant.vehicles.items()
        if vehicle.vehicle_class.battery is not None
    }


def _crane_ids(plant: Plant | None) -> set[str]:
    if plant is None:
        return set()
    overhead = {crane.id for store in plant.file.stores for crane in getattr(store, "cranes", ())}
    return overhead | set(plant.stacker_cranes)
