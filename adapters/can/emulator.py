"""The PLC side of the coilyard gateway message set, for tests and demos: one thread, any number of gateways.

Each emulated gateway executes one job at a time: it answers a JobCommand with a JobAck (accepted, or
rejected with a reason), travels for `travel_s` (a Position between nodes halfway, then one at the target),
does the operation for `operation_s` (pick and drop toggle the load), and sends JobAck "completed". A
JobCommand with the running job's id moves its target (the released route grew). Heartbeats go out every
`heartbeat_period_s`, Status every `status_period_s` and on every change.

Test controls: `stop_heartbeat` / `resume_heartbeat`, `raise_fault` / `clear_fault`, `set_manual`,
`send_raw` (garbled or foreign frames) and `commands(vehicle)` (every JobCommand received).
Times are wall-clock seconds (`time.monotonic`): the emulator stands for real hardware.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

import can

from adapters.can import codec
from adapters.can.codec import (
    AckReason,
    AckResult,
    Fault,
    GatewayState,
    JobAck,
    JobCommand,
    JobKind,
    Severity,
)
from adapters.can.nodes import NodeMap

log = logging.getLogger(__name__)

_OPERATING_STATE = {
    JobKind.PICK: GatewayState.LOADING,
    JobKind.DROP: GatewayState.LOADING,
    JobKind.CHARGE: GatewayState.CHARGING,
}


@dataclass
class _Job:
    command: JobCommand
    phase: str  # "travel", "operate"
    phase_end: float
    halfway_sent: bool = False


@dataclass
class _Gateway:
    vehicle: str
    node_id: int
    node_index: int
    along_mm: int = 0
    state: GatewayState = GatewayState.IDLE
    load_present: bool = False
    energy_pct: int | None = None
    heartbeat_on: bool = True
    counter: int = 0
    next_heartbeat: float = 0.0
    next_status: float = 0.0
    fault: Fault | None = None
    paused: bool = False
    job: _Job | None = None
    received: list[JobCommand] = field(default_factory=list)


class GatewayEmulator:
    """Emulated PLC gateways on a python-can bus; `start()`/`stop()` or use as a context manager."""

    def __init__(
        self,
        *,
        channel: str,
        vehicles: Mapping[str, int],
        node_map: NodeMap,
        start_nodes: Mapping[str, str] | None = None,
        interface: str = "virtual",
        travel_s: float = 0.2,
        operation_s: float = 0.1,
        heartbeat_period_s: float = 0.05,
        status_period_s: float = 0.2,
        energy_pct: int | None = None,
    ) -> None:
        self.channel = channel
        self.interface = interface
        self.nodes = node_map
        self.travel_s = travel_s
        self.operation_s = operation_s
        self.heartbeat_period_s = heartbeat_period_s
        self.status_period_s = status_period_s
        starts = dict(start_nodes or {})
        self._gateways = {
            vehicle: _Gateway(
                vehicle=vehicle,
                node_id=node_id,
                node_index=node_map.index(starts[vehicle]) if vehicle in starts else codec.NO_NODE,
                energy_pct=energy_pct,
            )
            for vehicle, node_id in vehicles.items()
        }
        self._by_node = {g.node_id: g for g in self._gateways.values()}
        self._lock = threading.Lock()  # test controls run on the test's thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bus: can.BusABC | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._bus = can.Bus(interface=self.interface, channel=self.channel)
        self._thread = threading.Thread(target=self._run, name="can-gateway-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def __enter__(self) -> GatewayEmulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -------------------------------------------------------------------------------------- test controls

    def stop_heartbeat(self, vehicle: str) -> None:
        with self._lock:
            self._gateways[vehicle].heartbeat_on = False

    def resume_heartbeat(self, vehicle: str) -> None:
        with self._lock:
            self._gateways[vehicle].heartbeat_on = True

    def raise_fault(self, vehicle: str, code: int, severity: Severity = Severity.ERROR) -> None:
        """The gateway faults: an error or fatal one aborts the running job and stops the vehicle."""
        with self._lock:
            gateway = self._gateways[vehicle]
            fault = Fault(code, severity, active=True)
            self._send(gateway, fault)
            if severity >= Severity.ERROR:
                gateway.fault = fault
                if gateway.job is not None:
                    self._send(
                        gateway, JobAck(gateway.job.command.job_id, AckResult.ABORTED, AckReason.FAULT_ACTIVE)
                    )
                    gateway.job = None
                self._set_state(gateway, GatewayState.ERROR)

    def clear_fault(self, vehicle: str) -> None:
        with self._lock:
            gateway = self._gateways[vehicle]
            if gateway.fault is not None:
                self._send(gateway, Fault(gateway.fault.code, gateway.fault.severity, active=False))
                gateway.fault = None
                self._set_state(gateway, GatewayState.IDLE)

    def set_manual(self, vehicle: str, manual: bool) -> None:
        with self._lock:
            gateway = self._gateways[vehicle]
            self._set_state(gateway, GatewayState.MANUAL if manual else GatewayState.IDLE)

    def send_raw(self, can_id: int, data: bytes) -> None:
        with self._lock:
            assert self._bus is not None, "start the emulator first"
            self._bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))

    def commands(self, vehicle: str) -> list[JobCommand]:
        with self._lock:
            return list(self._gateways[vehicle].received)

    def node_of(self, vehicle: str) -> str | None:
        with self._lock:
            return self.nodes.node(self._gateways[vehicle].node_index)

    def load_present(self, vehicle: str) -> bool:
        with self._lock:
            return self._gateways[vehicle].load_present

    # ------------------------------------------------------------------------------------------- the loop

    def _run(self) -> None:
        assert self._bus is not None
        bus = self._bus
        while not self._stop.is_set():
            msg = bus.recv(timeout=0.005)
            with self._lock:
                if msg is not None:
                    self._receive(msg)
                now = time.monotonic()
                for gateway in self._gateways.values():
                    self._step(gateway, now)

    def _receive(self, msg: can.Message) -> None:
        try:
            node_id, frame = codec.decode(msg.arbitration_id, bytes(msg.data))
        except codec.FrameError as error:
            log.debug("emulator ignores a frame: %s", error)
            return
        gateway = self._by_node.get(node_id)
        if gateway is None or not isinstance(frame, JobCommand):
            return
        gateway.received.append(frame)
        self._command(gateway, frame, time.monotonic())

    def _command(self, gateway: _Gateway, command: JobCommand, now: float) -> None:
        job = gateway.job
        if command.kind is JobKind.CANCEL:
            if job is not None and command.job_id in (0, job.command.job_id):
                self._send(gateway, JobAck(job.command.job_id, AckResult.ABORTED, AckReason.CANCELLED))
                gateway.job = None
                self._set_state(gateway, GatewayState.IDLE)
            return
        if command.kind in (JobKind.PAUSE, JobKind.RESUME):
            gateway.paused = command.kind is JobKind.PAUSE
            return
        if job is not None and command.job_id == job.command.job_id:
            job.command = command  # the released route grew: go on to the new target
            if job.phase == "travel":
                job.phase_end = max(job.phase_end, now + self.travel_s / 2)
            return
        reason = self._refusal(gateway, command)
        if reason is not AckReason.NONE:
            self._send(gateway, JobAck(command.job_id, AckResult.REJECTED, reason))
            return
        self._send(gateway, JobAck(command.job_id, AckResult.ACCEPTED))
        here = command.target_node == gateway.node_index or (
            command.target_node is None and command.along_mm == gateway.along_mm
        )
        gateway.job = _Job(command, "travel", now if here else now + self.travel_s)
        if not here:
            self._set_state(gateway, GatewayState.MOVING)

    def _refusal(self, gateway: _Gateway, command: JobCommand) -> AckReason:
        if gateway.fault is not None:
            return AckReason.FAULT_ACTIVE
        if gateway.state is GatewayState.MANUAL:
            return AckReason.MANUAL_MODE
        if gateway.job is not None:
            return AckReason.BUSY
        if command.target_node is not None and self.nodes.node(command.target_node) is None:
            return AckReason.UNKNOWN_TARGET
        if command.kind is JobKind.PICK and gateway.load_present:
            return AckReason.LOAD_PRESENT
        if command.kind is JobKind.DROP and not gateway.load_present:
            return AckReason.NO_LOAD
        return AckReason.NONE

    def _step(self, gateway: _Gateway, now: float) -> None:
        job = gateway.job
        if job is not None and not gateway.paused:
            self._step_job(gateway, job, now)
        if gateway.heartbeat_on and now >= gateway.next_heartbeat:
            self._send(gateway, codec.Heartbeat(gateway.counter))
            gateway.counter = (gateway.counter + 1) % 256
            gateway.next_heartbeat = now + self.heartbeat_period_s
        if now >= gateway.next_status:
            self._send_status(gateway, now)

    def _step_job(self, gateway: _Gateway, job: _Job, now: float) -> None:
        command = job.command
        if job.phase == "travel":
            if not job.halfway_sent and now >= job.phase_end - self.travel_s / 2:
                job.halfway_sent = True
                target = gateway.along_mm if command.along_mm is None else command.along_mm
                halfway = (gateway.along_mm + target) // 2
                self._send(gateway, codec.Position(codec.NO_NODE, halfway, 1000))
            if now < job.phase_end:
                return
            if command.target_node is not None:
                gateway.node_index = command.target_node
            else:
                gateway.node_index = codec.NO_NODE
                gateway.along_mm = command.along_mm or 0
            self._send(gateway, codec.Position(gateway.node_index, gateway.along_mm, 0))
            working = _OPERATING_STATE.get(command.kind)
            if working is None:
                self._finish(gateway, job)
                return
            job.phase, job.phase_end = "operate", now + self.operation_s
            self._set_state(gateway, working)
        elif now >= job.phase_end:
            if command.kind is JobKind.PICK:
                gateway.load_present = True
            elif command.kind is JobKind.DROP:
                gateway.load_present = False
            self._finish(gateway, job)

    def _finish(self, gateway: _Gateway, job: _Job) -> None:
        gateway.job = None
        self._send(gateway, JobAck(job.command.job_id, AckResult.COMPLETED))
        self._set_state(gateway, GatewayState.IDLE)

    def _set_state(self, gateway: _Gateway, state: GatewayState) -> None:
        gateway.state = state
        self._send_status(gateway, time.monotonic())

    def _send_status(self, gateway: _Gateway, now: float) -> None:
        job_id = gateway.job.command.job_id if gateway.job is not None else 0
        self._send(gateway, codec.Status(gateway.state, gateway.load_present, gateway.energy_pct, job_id))
        gateway.next_status = now + self.status_period_s

    def _send(self, gateway: _Gateway, frame: codec.Frame) -> None:
        if self._bus is None:
            return
        can_id, data = codec.encode(frame, gateway.node_id)
        try:
            self._bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
        except can.CanError as error:
            log.warning("emulator: transmit failed: %s", error)
