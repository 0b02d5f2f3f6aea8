"""Expected stacker-crane cycle times: Bozer & White (1984) and the FEM 9.851 standard cycles.

Conventions (see docs/cranes.md):

- The rack face is L metres long and H metres high with the I/O point at its lower front corner (0, 0).
- t_h = L/v_h and t_v = H/v_v are the times to the far end of each axis at top speed;
  T = max(t_h, t_v) is the scaling factor and b = min(t_h, t_v)/T the shape factor (0 < b <= 1).
- Bozer–White figures are travel only with constant speeds (Chebyshev travel, uniform random storage on a
  continuous face): E(SC) = T(1 + b²/3), E(TB) = (T/30)(10 + 5b² − b³), E(DC) = E(SC) + E(TB).
- Load handling: `pick_deposit_time` (t_pd) is the time of ONE pick or ONE deposit at the fork. A single
  command has two (pick at one end, deposit at the other): SC = travel + 2·t_pd. A dual command has four:
  DC = travel + 4·t_pd.
- FEM 9.851 case 1: P1 = (L/5, 2H/3), P2 = (2L/3, H/5); SC is the mean of the round trips I/O → P1 → I/O and
  I/O → P2 → I/O, DC is I/O → P1 → P2 → I/O, travel from `crane.motion` (with accelerations unless
  `constant_speed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from crane.motion import AxisLike, Position, chebyshev_time
from layout.model import StackerCrane

SECONDS_PER_HOUR = 3600.0


def scale_and_shape(t_h: float, t_v: float) -> tuple[float, float]:
    """(T, b) from the end-of-axis times t_h = L/v_h and t_v = H/v_v."""
    if not (t_h > 0 and t_v > 0):
        raise ValueError(f"end-of-axis times must be positive, got {t_h}, {t_v}")
    scale = max(t_h, t_v)
    return scale, min(t_h, t_v) / scale


def expected_single_command(t_h: float, t_v: float) -> float:
    """Bozer–White E(SC) = T(1 + b²/3): travel of I/O → uniform random point → I/O."""
    scale, b = scale_and_shape(t_h, t_v)
    return scale * (1.0 + b**2 / 3.0)


def expected_travel_between(t_h: float, t_v: float) -> float:
    """Bozer–White E(TB) = (T/30)(10 + 5b² − b³): travel between two independent uniform random points."""
    scale, b = scale_and_shape(t_h, t_v)
    return scale / 30.0 * (10.0 + 5.0 * b**2 - b**3)


def expected_dual_command(t_h: float, t_v: float) -> float:
    """Bozer–White E(DC) = (T/30)(40 + 15b² − b³): I/O → random P1 → random P2 → I/O."""
    scale, b = scale_and_shape(t_h, t_v)
    return scale / 30.0 * (40.0 + 15.0 * b**2 - b**3)


def expected_single_command_squared(t_h: float, t_v: float) -> float:
    """E(SC²) = 4T²(1/3 + b³/6), travel only; the second moment for M/G/1 queueing checks."""
    scale, b = scale_and_shape(t_h, t_v)
    return 4.0 * scale**2 * (1.0 / 3.0 + b**3 / 6.0)


def single_cycle_time(travel: float, pick_deposit_time: float) -> float:
    """A single command: travel plus one pick and one deposit."""
    return travel + 2.0 * pick_deposit_time


def dual_cycle_time(travel: float, pick_deposit_time: float) -> float:
    """A dual command: travel plus two picks and two deposits."""
    return travel + 4.0 * pick_deposit_time


def cycles_per_hour(cycle_time: float) -> float:
    """Cycles per hour of a crane that is always busy."""
    return SECONDS_PER_HOUR / cycle_time


def dual_moves_per_hour(dual_cycle: float) -> float:
    """Loads moved per hour on dual commands: each cycle stores one load and retrieves another."""
    return 2.0 * SECONDS_PER_HOUR / dual_cycle


def fem_points(length: float, height: float) -> tuple[Position, Position]:
    """FEM 9.851 case-1 reference points P1 = (L/5, 2H/3) and P2 = (2L/3, H/5), as (along, height)."""
    return (length / 5.0, 2.0 * height / 3.0), (2.0 * length / 3.0, height / 5.0)


def fem_single_cycle(
    length: float,
    height: float,
    horizontal: AxisLike,
    vertical: AxisLike,
    *,
    pick_deposit_time: float = 0.0,
    constant_speed: bool = False,
) -> float:
    """FEM 9.851 single cycle: mean of the round trips I/O → P1 → I/O and I/O → P2 → I/O, plus 2·t_pd."""
    io: Position = (0.0, 0.0)

    def leg(a: Position, b: Position) -> float:
        return chebyshev_time(a, b, horizontal, vertical, constant_speed=constant_speed)

    p1, p2 = fem_points(length, height)
    travel = (leg(io, p1) + leg(p1, io) + leg(io, p2) + leg(p2, io)) / 2.0
    return single_cycle_time(travel, pick_deposit_time)


def fem_dual_cycle(
    length: float,
    height: float,
    horizontal: AxisLike,
    vertical: AxisLike,
    *,
    pick_deposit_time: float = 0.0,
    constant_speed: bool = False,
) -> float:
    """FEM 9.851 double cycle: I/O → P1 → P2 → I/O, plus 4·t_pd."""
    io: Position = (0.0, 0.0)

    def leg(a: Position, b: Position) -> float:
        return chebyshev_time(a, b, horizontal, vertical, constant_speed=constant_speed)

    p1, p2 = fem_points(length, height)
    return dual_cycle_time(leg(io, p1) + leg(p1, p2) + leg(p2, io), pick_deposit_time)


@dataclass(frozen=True, slots=True)
class CycleFigures:
    """Cycle times (s) of one stacker crane, load handling included; see the module docstring."""

    crane: str
    rack_length: float
    rack_height: float
    scale: float  # T
    shape: float  # b
    pick_deposit_time: float
    bozer_white_single: float
    bozer_white_dual: float
    fem_single_constant_speed: float
    fem_dual_constant_speed: float
    fem_single: float  # with the spec's accelerations
    fem_dual: float

    @property
    def fem_single_per_hour(self) -> float:
        return cycles_per_hour(self.fem_single)

    @property
    def fem_dual_per_hour(self) -> float:
        return cycles_per_hour(self.fem_dual)

    @property
    def fem_dual_moves_per_hour(self) -> float:
        return dual_moves_per_hour(self.fem_dual)


def cycle_figures(crane: StackerCrane) -> CycleFigures:
    """Bozer–White and FEM 9.851 cycle times for a stacker crane of the plant model."""
    spec, length, height = crane.spec, crane.rack_length, crane.rack_height
    t_h, t_v = length / spec.horizontal.speed, height / spec.vertical.speed
    scale, shape = scale_and_shape(t_h, t_v)
    t_pd = spec.pick_deposit_time

    axes = (length, height, spec.horizontal, spec.vertical)
    return CycleFigures(
        crane=crane.id,
        rack_length=length,
        rack_height=height,
        scale=scale,
        shape=shape,
        pick_deposit_time=t_pd,
        bozer_white_single=single_cycle_time(expected_single_command(t_h, t_v), t_pd),
        bozer_white_dual=dual_cycle_time(expected_dual_command(t_h, t_v), t_pd),
        fem_single_constant_speed=fem_single_cycle(*axes, pick_deposit_time=t_pd, constant_speed=True),
        fem_dual_constant_speed=fem_dual_cycle(*axes, pick_deposit_time=t_pd, constant_speed=True),
        fem_single=fem_single_cycle(*axes, pick_deposit_time=t_pd),
        fem_dual=fem_dual_cycle(*axes, pick_deposit_time=t_pd),
    )
