"""Crane travel times: trapezoidal drives, Chebyshev travel, overhead-crane moves. Pure functions, SI units.

A drive starts and ends at rest, accelerates and decelerates at the same rate `a` and cruises at top speed `v`.
Reaching top speed takes the distance v²/a (v²/2a to speed up, as much to brake), so a move of length d takes

- d/v + v/a        when d >= v²/a (trapezoidal profile), and
- 2·sqrt(d/a)      when d <  v²/a (triangular profile: it brakes before reaching top speed).

The two agree at d = v²/a. With `constant_speed=True`, or an acceleration of `math.inf`, a move takes d/v: the
ideal drive of the Bozer–White travel-time models, used to validate against theory.

Axes that move at once (a stacker crane's travel and hoist, an overhead crane's bridge and trolley) finish
when the slower one does: the time is the maximum over the axes (Chebyshev travel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from layout import schema

Position = tuple[float, float]


class AxisLike(Protocol):
    """Anything with a top speed (m/s) and an acceleration (m/s²): `layout.schema.Axis` or a `Drive`."""

    @property
    def speed(self) -> float: ...

    @property
    def acceleration(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Drive:
    """A drive not read from a plant file; `acceleration=math.inf` makes it constant-speed."""

    speed: float
    acceleration: float = math.inf


def travel_time(distance: float, axis: AxisLike, *, constant_speed: bool = False) -> float:
    """Seconds for one axis to move `distance` metres from rest to rest (see the module docstring)."""
    if not distance >= 0:
        raise ValueError(f"distance must be a non-negative number, got {distance}")
    if not (axis.speed > 0 and axis.acceleration > 0):
        raise ValueError(f"speed and acceleration must be positive, got {axis.speed}, {axis.acceleration}")
    v, a = axis.speed, axis.acceleration
    if constant_speed or math.isinf(a):
        return distance / v
    if distance >= v * v / a:
        return distance / v + v / a
    return 2.0 * math.sqrt(distance / a)


def chebyshev_time(
    start: Position, end: Position, first: AxisLike, second: AxisLike, *, constant_speed: bool = False
) -> float:
    """Two axes moving at once from `start` to `end`: the slower axis sets the time."""
    return max(
        travel_time(abs(end[0] - start[0]), first, constant_speed=constant_speed),
        travel_time(abs(end[1] - start[1]), second, constant_speed=constant_speed),
    )


def stacker_move_time(
    start: Position, end: Position, crane: schema.StackerCrane, *, constant_speed: bool = False
) -> float:
    """Travel of a stacker crane between two (along, height) positions; no load handling included."""
    return chebyshev_time(start, end, crane.horizontal, crane.vertical, constant_speed=constant_speed)


def overhead_move_time(
    crane: schema.OverheadCrane,
    start: Position,
    end: Position,
    *,
    lift: float | None = None,
    lower: float | None = None,
    constant_speed: bool = False,
) -> float:
    """Seconds for an overhead crane to carry one load from `start` to `end`, handling included.

    Positions are runway coordinates (along the bridge travel, across it along the trolley), as given by
    `layout.model.RunwayFrame.to_runway`. The move is, in order and without overlap:

    1. pick (`crane.pick_time`),
    2. hoist up by `lift` metres (a load is never slewed low over the floor),
    3. bridge and trolley travel together: max of the two axes,
    4. hoist down by `lower` metres,
    5. drop (`crane.drop_time`).

    `lift` and `lower` default to `crane.lift_height`, the conservative floor-to-top case. The crane is
    assumed to start above the load; an empty approach is a separate move with zero pick and drop time.
    """
    lift = crane.lift_height if lift is None else lift
    lower = crane.lift_height if lower is None else lower
    return (
        crane.pick_time
        + travel_time(lift, crane.hoist, constant_speed=constant_speed)
        + chebyshev_time(start, end, crane.bridge, crane.trolley, constant_speed=constant_speed)
        + travel_time(lower, crane.hoist, constant_speed=constant_speed)
        + crane.drop_time
    )
