"""Bozer–White expected cycle times against Monte Carlo, and the FEM 9.851 standard cycles.

The Monte-Carlo check is the one in docs/cranes.md and the research note (wms.md §3.5, ideal mode): a
continuous rack face, I/O at the lower corner, uniform random storage, constant speeds, Chebyshev travel.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from crane.analytic import (
    cycle_figures,
    cycles_per_hour,
    dual_cycle_time,
    dual_moves_per_hour,
    expected_dual_command,
    expected_single_command,
    expected_single_command_squared,
    expected_travel_between,
    fem_dual_cycle,
    fem_points,
    fem_single_cycle,
    scale_and_shape,
    single_cycle_time,
)
from crane.motion import Drive, stacker_move_time
from layout import load_plant, schema
from layout.model import StackerCrane

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = 400_000
SEED = 20_260_530

# (L m, H m, v_h m/s, v_v m/s) chosen so that b = 0.3, 0.6 and 1.0; the 0.6 rack is "tall in time".
RACKS = {
    0.3: (100.0, 30.0, 2.0, 2.0),  # t_h = 50, t_v = 15
    0.6: (90.0, 25.0, 3.0, 0.5),  # t_h = 30, t_v = 50
    1.0: (72.0, 12.0, 1.8, 0.3),  # t_h = t_v = 40
}


def chebyshev(
    dx: NDArray[np.float64], dy: NDArray[np.float64], v_h: float, v_v: float
) -> NDArray[np.float64]:
    slower: NDArray[np.float64] = np.maximum(np.abs(dx) / v_h, np.abs(dy) / v_v)
    return slower


@pytest.mark.parametrize("b", sorted(RACKS))
def test_monte_carlo_agrees_with_bozer_white_within_one_percent(b: float) -> None:
    length, height, v_h, v_v = RACKS[b]
    t_h, t_v = length / v_h, height / v_v
    assert scale_and_shape(t_h, t_v)[1] == pytest.approx(b)

    rng = np.random.default_rng(SEED)
    x1, x2 = rng.uniform(0.0, length, (2, SAMPLES))
    y1, y2 = rng.uniform(0.0, height, (2, SAMPLES))
    zero = np.zeros(SAMPLES)
    single = 2.0 * chebyshev(x1 - zero, y1 - zero, v_h, v_v)  # I/O → P → I/O
    between = chebyshev(x2 - x1, y2 - y1, v_h, v_v)
    dual = chebyshev(x1, y1, v_h, v_v) + between + chebyshev(x2, y2, v_h, v_v)  # I/O → P1 → P2 → I/O

    assert float(single.mean()) == pytest.approx(expected_single_command(t_h, t_v), rel=0.01)
    assert float(dual.mean()) == pytest.approx(expected_dual_command(t_h, t_v), rel=0.01)
    assert float(between.mean()) == pytest.approx(expected_travel_between(t_h, t_v), rel=0.01)
    assert float((single**2).mean()) == pytest.approx(expected_single_command_squared(t_h, t_v), rel=0.01)

    # The sampled legs are the motion module's constant-speed stacker travel.
    spec = schema.StackerCrane(
        horizontal=schema.Axis(speed=v_h, acceleration=1.0),
        vertical=schema.Axis(speed=v_v, acceleration=1.0),
        safe_working_load=25.0,
    )
    for i in range(50):
        leg = stacker_move_time((x1[i], y1[i]), (x2[i], y2[i]), spec, constant_speed=True)
        assert leg == pytest.approx(between[i], rel=1e-12)


def test_bozer_white_closed_forms_at_known_points() -> None:
    # Research note Appendix A, T = 60 s.
    assert expected_single_command(60, 60) == pytest.approx(80.0)
    assert expected_travel_between(60, 60) == pytest.approx(28.0)
    assert expected_dual_command(60, 60) == pytest.approx(108.0)
    assert expected_single_command_squared(60, 60) == pytest.approx(7200.0)
    assert expected_single_command(60, 45) == pytest.approx(71.25)
    assert expected_dual_command(60, 30) == pytest.approx(87.25)
    assert expected_dual_command(40, 25) == pytest.approx(60.82, abs=0.005)
    # Symmetric in the two axes; E(DC) = E(SC) + E(TB) for every shape.
    assert expected_single_command(30, 50) == expected_single_command(50, 30)
    for t_v in (6.0, 21.0, 42.0, 60.0):
        total = expected_single_command(60, t_v) + expected_travel_between(60, t_v)
        assert expected_dual_command(60, t_v) == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("t_h", [0.0, -1.0, math.nan])
def test_shape_refuses_non_positive_times(t_h: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        scale_and_shape(t_h, 10.0)


@pytest.mark.parametrize(("t_h", "t_v"), [(60.0, 60.0), (40.0, 40.0), (7.5, 7.5)])
def test_fem_equals_bozer_white_exactly_for_square_in_time_racks(t_h: float, t_v: float) -> None:
    length, height = 3.0 * t_h, 0.5 * t_v  # v_h = 3 m/s, v_v = 0.5 m/s
    axes = (length, height, Drive(3.0), Drive(0.5))
    assert fem_single_cycle(*axes) == pytest.approx(expected_single_command(t_h, t_v), rel=1e-12)
    assert fem_dual_cycle(*axes) == pytest.approx(expected_dual_command(t_h, t_v), rel=1e-12)
    assert fem_single_cycle(*axes) == pytest.approx(4.0 / 3.0 * t_h, rel=1e-12)
    assert fem_dual_cycle(*axes) == pytest.approx(9.0 / 5.0 * t_h, rel=1e-12)


@pytest.mark.parametrize(
    "row",  # t_h, t_v, FEM SC, FEM DC, B&W SC, B&W DC (s)
    [
        (60, 45, 70.0, 98.0, 71.2, 96.0),
        (60, 30, 60.0, 88.0, 65.0, 87.2),
        (60, 12, 52.0, 80.0, 60.8, 81.2),
        (40, 25, 43.3, 62.0, 45.2, 60.8),
    ],
)
def test_fem_differs_from_bozer_white_off_square_as_in_the_research_note(row: tuple[float, ...]) -> None:
    t_h, t_v, fem_sc, fem_dc, bw_sc, bw_dc = row
    axes = (float(t_h), float(t_v), Drive(1.0), Drive(1.0))
    assert fem_single_cycle(*axes) == pytest.approx(fem_sc, abs=0.05)
    assert fem_dual_cycle(*axes) == pytest.approx(fem_dc, abs=0.05)
    assert expected_single_command(t_h, t_v) == pytest.approx(bw_sc, abs=0.05)
    assert expected_dual_command(t_h, t_v) == pytest.approx(bw_dc, abs=0.05)


def test_fem_points_and_handling_times() -> None:
    p1, p2 = fem_points(100.0, 30.0)
    assert p1 == (20.0, 20.0)
    assert p2 == pytest.approx((200.0 / 3.0, 6.0))
    axes = (60.0, 60.0, Drive(1.0), Drive(1.0))
    assert fem_single_cycle(*axes, pick_deposit_time=10.0) == pytest.approx(80.0 + 20.0)
    assert fem_dual_cycle(*axes, pick_deposit_time=10.0) == pytest.approx(108.0 + 40.0)


@pytest.mark.parametrize(
    "row",  # L, H, v_h, v_v, t_pd, T, b, SC, DC, SC/h, DC/h, moves/h: the table of wms.md §3.4
    [
        (130, 42, 2.0, 0.5, 30, 84.0, 0.774, 160.8, 255.9, 22.4, 14.1, 28.1),
        (130, 42, 1.5, 0.33, 45, 127.3, 0.681, 236.9, 377.9, 15.2, 9.5, 19.1),
        (60, 20, 3.0, 1.0, 10, 20.0, 1.000, 46.7, 76.0, 77.1, 47.4, 94.7),
    ],
)
def test_worked_example_of_the_research_note(row: tuple[float, ...]) -> None:
    length, height, v_h, v_v, t_pd, scale, b, sc, dc, sc_h, dc_h, moves_h = row
    t_h, t_v = length / v_h, height / v_v
    got_scale, got_b = scale_and_shape(t_h, t_v)
    assert got_scale == pytest.approx(scale, abs=0.05)
    assert got_b == pytest.approx(b, abs=5e-4)
    single = single_cycle_time(expected_single_command(t_h, t_v), t_pd)
    dual = dual_cycle_time(expected_dual_command(t_h, t_v), t_pd)
    assert single == pytest.approx(sc, abs=0.05)
    assert dual == pytest.approx(dc, abs=0.05)
    assert cycles_per_hour(single) == pytest.approx(sc_h, abs=0.05)
    assert cycles_per_hour(dual) == pytest.approx(dc_h, abs=0.05)
    assert dual_moves_per_hour(dual) == pytest.approx(moves_h, abs=0.05)


def test_cycle_figures_of_the_example_plant_high_bay() -> None:
    plant = load_plant(ROOT / "examples" / "aluminium-rolling.yaml")
    figures = cycle_figures(plant.stacker_cranes["HB1-SC01"])
    # L = 72 m, H = 12 m, v_h = 1.8, v_v = 0.4: t_h = 40 s, t_v = 30 s; t_pd = 40 s.
    assert (figures.rack_length, figures.rack_height) == (72.0, 12.0)
    assert (figures.scale, figures.shape) == (40.0, 0.75)
    assert figures.bozer_white_single == pytest.approx(40.0 * (1 + 0.75**2 / 3) + 80.0)
    assert figures.bozer_white_dual == pytest.approx(40.0 / 30 * (40 + 15 * 0.75**2 - 0.75**3) + 160.0)
    # Constant speed: P1 = (14.4, 8) → max(8, 20) = 20 s; P2 = (48, 2.4) → max(26.67, 6) s; P1→P2 18.67 s.
    assert figures.fem_single_constant_speed == pytest.approx(20.0 + 80.0 / 3.0 + 80.0)
    assert figures.fem_dual_constant_speed == pytest.approx(20.0 + 56.0 / 3.0 + 80.0 / 3.0 + 160.0)
    # Accelerations 0.4 and 0.3 m/s²: every leg is trapezoidal and gains v/a on its slower axis,
    # 1.8/0.4 = 4.5 s along or 0.4/0.3 = 1.333 s up. P1 is vertical-bound, P2 and P1→P2 horizontal-bound.
    assert figures.fem_single == pytest.approx(20.0 + 4.0 / 3.0 + 80.0 / 3.0 + 4.5 + 80.0)
    assert figures.fem_dual == pytest.approx(20.0 + 4.0 / 3.0 + 56.0 / 3.0 + 4.5 + 80.0 / 3.0 + 4.5 + 160.0)
    assert figures.fem_dual_moves_per_hour == pytest.approx(2 * figures.fem_dual_per_hour)


def test_cycle_figures_uses_the_model_crane_geometry() -> None:
    spec = schema.StackerCrane(
        horizontal=schema.Axis(speed=3.0, acceleration=0.5),
        vertical=schema.Axis(speed=1.0, acceleration=0.5),
        pick_deposit_time=10.0,
        safe_working_load=2.0,
    )
    crane = StackerCrane("S1", "HB", 1, spec, None, rack_length=60.0, rack_height=20.0)
    figures = cycle_figures(crane)
    assert figures.bozer_white_single == pytest.approx(46.7, abs=0.05)
    assert figures.bozer_white_dual == pytest.approx(76.0)
    assert figures.fem_single_constant_speed == pytest.approx(figures.bozer_white_single)
    assert figures.fem_dual_constant_speed == pytest.approx(figures.bozer_white_dual)
    assert figures.fem_single > figures.fem_single_constant_speed
    assert figures.fem_dual > figures.fem_dual_constant_speed
