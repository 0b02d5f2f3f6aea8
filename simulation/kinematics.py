"""Drive times of a vehicle on one edge: trapezoidal speed profiles that start or end at rest. Pure.

A vehicle cruises at `v`, accelerates at `a` and brakes at `d`. On an edge of length `s` it may start from
rest (it stood at the edge's first node) and/or stop at its end (the end of its released base, or of its
route). Between two edges it keeps its speed (speed changes between edges of different limits are not
modelled). With both ends at rest and `s` too short to reach `v`, the profile is triangular with peak
speed sqrt(2·s·a·d/(a+d)).
"""

from __future__ import annotations

import math


def edge_time(s: float, v: float, a: float, d: float, *, from_rest: bool, to_rest: bool) -> float:
    """Seconds to drive `s` metres at top speed `v` (m/s), accelerating at `a` and braking at `d` (m/s²)."""
    if s <= 0.0:
        return 0.0
    if math.isinf(a) and math.isinf(d):
        return s / v
    ramp_up = v * v / (2.0 * a) if from_rest else 0.0
    ramp_down = v * v / (2.0 * d) if to_rest else 0.0
    if s >= ramp_up + ramp_down:
        return s / v + (v / (2.0 * a) if from_rest else 0.0) + (v / (2.0 * d) if to_rest else 0.0)
    if from_rest and to_rest:
        peak = math.sqrt(2.0 * s * a * d / (a + d))
        return peak / a + peak / d
    # One ramp only and too short to finish it: a uniformly accelerated (or braked) move.
    rate = a if from_rest else d
    return math.sqrt(2.0 * s / rate)
