"""One stacker crane per aisle: pairing storage and retrieval requests into single and dual commands. Pure.

A storage request is a coil waiting at the I/O point to go to a cell; a retrieval request is a coil in a cell
to go to the I/O point. Positions are the crane's (along, height) coordinates from the I/O point, as in
`layout.model.RackCell`. Queues are sequences ordered oldest first.

- Single command: I/O → cell → I/O with one pick and one deposit: travel + 2·t_pd.
- Dual command: I/O → storage cell → retrieval cell → I/O with two picks and two deposits: travel + 4·t_pd.
  Travel of each leg is `crane.motion.stacker_move_time` (Chebyshev, trapezoidal unless `constant_speed`).

Pairing rule, applied whenever a storage and a retrieval are both waiting (otherwise a single command serves
the oldest waiting request, storages before retrievals when only one kind waits):

- ``"fifo"`` (default): the oldest storage with the oldest retrieval.
- ``"nearest"``: the oldest retrieval with the storage, among the `window` oldest storages, whose cell
  minimises the travel-between time storage cell → retrieval cell; ties go to the older storage. The
  bounded look-ahead keeps a storage from being passed over indefinitely by more than `window - 1` others
  per cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from crane.motion import Position, stacker_move_time
from layout import schema

PairingRule = Literal["fifo", "nearest"]
CycleKind = Literal["single", "dual"]
DEFAULT_WINDOW = 8


@dataclass(frozen=True, slots=True)
class Request:
    """A storage or retrieval request: `position` is its cell's (along, height)."""

    id: str
    position: Position


@dataclass(frozen=True, slots=True)
class Cycle:
    """One crane cycle; `time` in seconds, load handling included."""

    kind: CycleKind
    storage: str | None
    retrieval: str | None
    time: float


@dataclass(frozen=True, slots=True)
class QueueResult:
    cycles: tuple[Cycle, ...]
    total_time: float


def single_command_time(
    cell: Position, spec: schema.StackerCrane, io: Position = (0.0, 0.0), *, constant_speed: bool = False
) -> float:
    """I/O → cell → I/O plus 2·t_pd."""
    travel = stacker_move_time(io, cell, spec, constant_speed=constant_speed) + stacker_move_time(
        cell, io, spec, constant_speed=constant_speed
    )
    return travel + 2.0 * spec.pick_deposit_time


def dual_command_time(
    storage: Position,
    retrieval: Position,
    spec: schema.StackerCrane,
    io: Position = (0.0, 0.0),
    *,
    constant_speed: bool = False,
) -> float:
    """I/O → storage cell → retrieval cell → I/O plus 4·t_pd."""
    travel = (
        stacker_move_time(io, storage, spec, constant_speed=constant_speed)
        + stacker_move_time(storage, retrieval, spec, constant_speed=constant_speed)
        + stacker_move_time(retrieval, io, spec, constant_speed=constant_speed)
    )
    return travel + 4.0 * spec.pick_deposit_time


def _pick_storage(
    storages: Sequence[Request],
    retrieval: Request,
    spec: schema.StackerCrane,
    *,
    rule: PairingRule,
    window: int,
    constant_speed: bool,
) -> int:
    """Index in `storages` of the storage to pair with `retrieval`."""
    if rule == "fifo":
        return 0
    if rule == "nearest":
        candidates = range(min(window, len(storages)))
        return min(
            candidates,
            key=lambda i: (
                stacker_move_time(
                    storages[i].position, retrieval.position, spec, constant_speed=constant_speed
                ),
                i,
            ),
        )
    raise ValueError(f"unknown pairing rule {rule!r}")


def _select(
    storages: Sequence[Request],
    retrievals: Sequence[Request],
    spec: schema.StackerCrane,
    *,
    io: Position,
    rule: PairingRule,
    window: int,
    constant_speed: bool,
) -> tuple[Cycle, int | None, int | None]:
    """The next cycle and the indices of the storage and retrieval it consumes."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if storages and retrievals:
        retrieval = retrievals[0]
        i = _pick_storage(storages, retrieval, spec, rule=rule, window=window, constant_speed=constant_speed)
        storage = storages[i]
        time = dual_command_time(
            storage.position, retrieval.position, spec, io, constant_speed=constant_speed
        )
        return Cycle("dual", storage.id, retrieval.id, time), i, 0
    if storages:
        time = single_command_time(storages[0].position, spec, io, constant_speed=constant_speed)
        return Cycle("single", storages[0].id, None, time), 0, None
    if retrievals:
        time = single_command_time(retrievals[0].position, spec, io, constant_speed=constant_speed)
        return Cycle("single", None, retrievals[0].id, time), None, 0
    raise ValueError("no request is waiting")


def next_cycle(
    storages: Sequence[Request],
    retrievals: Sequence[Request],
    spec: schema.StackerCrane,
    io: Position = (0.0, 0.0),
    rule: PairingRule = "fifo",
    *,
    window: int = DEFAULT_WINDOW,
    constant_speed: bool = False,
) -> Cycle:
    """The crane's next cycle for queues ordered oldest first (see the module docstring for the rule)."""
    return _select(
        storages, retrievals, spec, io=io, rule=rule, window=window, constant_speed=constant_speed
    )[0]


def serve_queue(
    storages: Sequence[Request],
    retrievals: Sequence[Request],
    spec: schema.StackerCrane,
    io: Position = (0.0, 0.0),
    rule: PairingRule = "fifo",
    *,
    window: int = DEFAULT_WINDOW,
    constant_speed: bool = False,
) -> QueueResult:
    """Serve both queues to empty, cycle by cycle, with no new arrivals; the inputs are not modified."""
    waiting_s, waiting_r = list(storages), list(retrievals)
    cycles: list[Cycle] = []
    while waiting_s or waiting_r:
        cycle, i, j = _select(
            waiting_s, waiting_r, spec, io=io, rule=rule, window=window, constant_speed=constant_speed
        )
        if i is not None:
            del waiting_s[i]
        if j is not None:
            del waiting_r[j]
        cycles.append(cycle)
    return QueueResult(tuple(cycles), sum(c.time for c in cycles))
