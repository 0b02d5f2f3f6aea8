"""The coilyard gateway message set (`coilyard_gateway.dbc`) as typed frames, encoded and decoded by cantools.

The DBC file is the contract with the PLC programmers; this module only gives its messages Python types.
A frame's CAN id is its message's base id plus the gateway's node id (1..127, see the DBC comments), so
`decode` splits the id into (node, base) and looks the base up in the database.

Enums here mirror the DBC value tables (a unit test keeps them equal). Decoding is strict: a frame with an
unknown id, a wrong length or a value outside its table raises `FrameError`, which the port logs and drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import Any, Final, TypeVar

import cantools
from cantools.database.can import Database, Message

_E = TypeVar("_E", bound=IntEnum)

DBC_PATH: Final = Path(__file__).with_name("coilyard_gateway.dbc")
NODE_ID_BITS: Final = 7
MAX_NODE_ID: Final = (1 << NODE_ID_BITS) - 1  # 127
NO_NODE: Final = 0  # node_index of a vehicle between nodes; job_id of "no job"
NO_BATTERY: Final = 255  # energy_pct of a vehicle on a busbar


class FrameError(ValueError):
    """A CAN frame that is not a valid message of the gateway set (unknown id, wrong length, bad value)."""


class JobKind(IntEnum):
    MOVE = 0
    PICK = 1
    DROP = 2
    PARK = 3
    CHARGE = 4
    CANCEL = 8
    PAUSE = 9
    RESUME = 10


class AckResult(IntEnum):
    ACCEPTED = 0
    REJECTED = 1
    COMPLETED = 2
    ABORTED = 3


class AckReason(IntEnum):
    NONE = 0
    BUSY = 1
    UNKNOWN_TARGET = 2
    OUT_OF_RANGE = 3
    FAULT_ACTIVE = 4
    MANUAL_MODE = 5
    INVALID_KIND = 6
    LOAD_PRESENT = 7
    NO_LOAD = 8
    UNKNOWN_JOB = 9
    CANCELLED = 10


class GatewayState(IntEnum):
    IDLE = 0
    MOVING = 1
    LOADING = 2
    CHARGING = 3
    ERROR = 4
    MANUAL = 5


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2
    FATAL = 3


# ------------------------------------------------------------------------------------------------ frames


@dataclass(frozen=True, slots=True)
class JobCommand:
    """Go to a route node (`target_node`) or a runway position (`along_mm`, `across_mm`) and do `kind`."""

    job_id: int
    kind: JobKind
    target_node: int | None = None
    along_mm: int | None = None
    across_mm: int | None = None

    def __post_init__(self) -> None:
        on_runway = self.along_mm is not None or self.across_mm is not None
        if on_runway and (self.target_node is not None or self.along_mm is None or self.across_mm is None):
            raise FrameError(
                f"job {self.job_id}: give either target_node or both along_mm and across_mm, "
                f"not target_node={self.target_node}, along_mm={self.along_mm}, across_mm={self.across_mm}"
            )


@dataclass(frozen=True, slots=True)
class JobAck:
    job_id: int
    result: AckResult
    reason: AckReason = AckReason.NONE


@dataclass(frozen=True, slots=True)
class Position:
    node_index: int  # NO_NODE between nodes
    along_mm: int
    speed_mm_s: int


@dataclass(frozen=True, slots=True)
class Status:
    state: GatewayState
    load_present: bool
    energy_pct: int | None  # None: no battery
    job_id: int  # NO_NODE (0): no job


@dataclass(frozen=True, slots=True)
class Heartbeat:
    counter: int


@dataclass(frozen=True, slots=True)
class Fault:
    code: int
    severity: Severity
    active: bool

    @property
    def name(self) -> str:
        return fault_name(self.code)

    def describe(self) -> str:
        """The text a person reads in the vehicle's error: 'fault 0x0301 emergency_stop (fatal)'."""
        return f"fault 0x{self.code:04X} {self.name} ({self.severity.name.lower()})"


Frame = JobCommand | JobAck | Position | Status | Heartbeat | Fault

_MESSAGE_NAME: Final[dict[type[Any], str]] = {
    JobCommand: "JobCommand",
    JobAck: "JobAck",
    Position: "Position",
    Status: "Status",
    Heartbeat: "Heartbeat",
    Fault: "Fault",
}


@cache
def database() -> Database:
    db = cantools.database.load_file(str(DBC_PATH), strict=True)
    assert isinstance(db, Database)
    return db


def message(name: str) -> Message:
    return database().get_message_by_name(name)


def fault_name(code: int) -> str:
    choices = message("Fault").get_signal_by_name("code").choices
    named = choices.get(code) if choices is not None else None
    return str(named) if named is not None else "unknown"


def frame_id(frame: Frame, node: int) -> int:
    """The CAN id of `frame` sent by or to gateway `node`."""
    _check_node(node)
    return int(message(_MESSAGE_NAME[type(frame)]).frame_id) + node


def encode(frame: Frame, node: int) -> tuple[int, bytes]:
    """(CAN id, data) of `frame` for gateway `node`; FrameError when a value does not fit its signal."""
    name = _MESSAGE_NAME[type(frame)]
    try:
        data = message(name).encode(_signals(frame), strict=True)
    except (cantools.database.EncodeError, ValueError, KeyError) as error:
        raise FrameError(f"{name} for node {node} cannot be encoded: {error}") from None
    return frame_id(frame, node), bytes(data)


def decode(can_id: int, data: bytes) -> tuple[int, Frame]:
    """(node, frame) of a received CAN frame; FrameError when it is not one of the gateway set."""
    base, node = can_id & ~MAX_NODE_ID, can_id & MAX_NODE_ID
    try:
        msg = database().get_message_by_frame_id(base)
    except KeyError:
        raise FrameError(f"CAN id 0x{can_id:03X} is not a coilyard gateway message") from None
    if node == 0:
        raise FrameError(f"CAN id 0x{can_id:03X} ({msg.name}) names node 0, which no gateway has")
    try:
        raw = msg.decode(data, decode_choices=False, scaling=False, allow_excess=False)
    except (cantools.database.DecodeError, ValueError, KeyError) as error:
        raise FrameError(f"{msg.name} from node {node} (id 0x{can_id:03X}) is garbled: {error}") from None
    assert isinstance(raw, dict)
    values: dict[str, int] = {}
    for key, value in raw.items():
        if not isinstance(value, int | float):  # with decode_choices=False every signal is a number
            raise FrameError(f"{msg.name} from node {node}: signal {key} decoded to {value!r}")
        values[key] = int(value)
    try:
        return node, _frame(msg.name, values)
    except ValueError as error:
        raise FrameError(f"{msg.name} from node {node} (id 0x{can_id:03X}): {error}") from None


# ----------------------------------------------------------------------------------------------- internals


def _check_node(node: int) -> None:
    if not 1 <= node <= MAX_NODE_ID:
        raise FrameError(f"CAN node id must be 1..{MAX_NODE_ID}, got {node}")


def _signals(frame: Frame) -> dict[str, int]:
    match frame:
        case JobCommand(target_node=None, along_mm=int(along), across_mm=int(across)):
            return {
                "job_id": frame.job_id,
                "kind": frame.kind,
                "target_mode": 1,
                "along_mm": along,
                "across_mm": across,
            }
        case JobCommand():
            target = NO_NODE if frame.target_node is None else frame.target_node
            return {"job_id": frame.job_id, "kind": frame.kind, "target_mode": 0, "target_node": target}
        case JobAck():
            return {"job_id": frame.job_id, "result": frame.result, "reason": frame.reason}
        case Position():
            return {
                "node_index": frame.node_index,
                "along_mm": frame.along_mm,
                "speed_mm_s": frame.speed_mm_s,
            }
        case Status():
            energy = NO_BATTERY if frame.energy_pct is None else frame.energy_pct
            return {
                "state": frame.state,
                "load_present": int(frame.load_present),
                "energy_pct": energy,
                "job_id": frame.job_id,
            }
        case Heartbeat():
            return {"counter": frame.counter}
        case Fault():
            return {"code": frame.code, "severity": frame.severity, "active": int(frame.active)}
    raise FrameError(f"not a gateway frame: {frame!r}")


def _frame(name: str, v: dict[str, int]) -> Frame:
    """The typed frame of decoded signal values; ValueError names the signal that is out of its table."""
    if name == "JobCommand":
        kind = _enum(JobKind, v, "kind")
        if v["target_mode"] == 1:
            return JobCommand(v["job_id"], kind, along_mm=v["along_mm"], across_mm=v["across_mm"])
        if v["target_mode"] != 0:
            raise ValueError(f"target_mode {v['target_mode']} is not 0 (node) or 1 (runway)")
        return JobCommand(v["job_id"], kind, target_node=v["target_node"])
    if name == "JobAck":
        return JobAck(v["job_id"], _enum(AckResult, v, "result"), _enum(AckReason, v, "reason"))
    if name == "Position":
        return Position(v["node_index"], v["along_mm"], v["speed_mm_s"])
    if name == "Status":
        energy = v["energy_pct"]
        if energy != NO_BATTERY and energy > 100:
            raise ValueError(f"energy_pct {energy} is above 100 (and not {NO_BATTERY} for no battery)")
        return Status(
            _enum(GatewayState, v, "state"),
            bool(v["load_present"]),
            None if energy == NO_BATTERY else energy,
            v["job_id"],
        )
    if name == "Heartbeat":
        return Heartbeat(v["counter"])
    if name == "Fault":
        return Fault(v["code"], _enum(Severity, v, "severity"), bool(v["active"]))
    raise ValueError(f"message {name} has no frame type")


def _enum(kind: type[_E], values: dict[str, int], signal: str) -> _E:
    try:
        return kind(values[signal])
    except ValueError:
        raise ValueError(f"{signal} {values[signal]} is not a {kind.__name__}") from None
