"""Trapezoidal and triangular drive profiles, Chebyshev travel and overhead-crane move composition."""

from __future__ import annotations

import math

import pytest

from crane.motion import Drive, chebyshev_time, overhead_move_time, stacker_move_time, travel_time
from layout import schema

# v = 2 m/s, a = 0.5 m/s²: top speed is reached after v²/a = 8 m of a move (4 m up, 4 m down).
DRIVE = schema.Axis(speed=2.0, acceleration=0.5)


@pytest.mark.parametrize(
    ("distance", "expected"),
    [
        (0.0, 0.0),
        (2.0, 4.0),  # triangular: 2·sqrt(2/0.5)
        (4.0, 2.0 * math.sqrt(8.0)),  # triangular: 5.657 s, peak speed 1.414 m/s < 2
        (8.0, 8.0),  # the boundary: both formulas give 8 s
        (20.0, 14.0),  # trapezoidal: 20/2 + 2/0.5
        (100.0, 54.0),
    ],
)
def test_travel_time_matches_hand_computed_profiles(distance: float, expected: float) -> None:
    assert travel_time(distance, DRIVE) == pytest.approx(expected, rel=1e-12)


def test_profile_is_continuous_and_increasing_across_the_boundary() -> None:
    below, at, above = (travel_time(d, DRIVE) for d in (8.0 - 1e-9, 8.0, 8.0 + 1e-9))
    assert below <= at <= above
    assert above - below == pytest.approx(0.0, abs=1e-8)


def test_constant_speed_by_flag_or_infinite_acceleration() -> None:
    assert travel_time(20.0, DRIVE, constant_speed=True) == 10.0
    assert travel_time(20.0, Drive(speed=2.0)) == 10.0
    assert travel_time(0.5, Drive(speed=2.0, acceleration=math.inf)) == 0.25


def test_acceleration_costs_exactly_v_over_a_on_long_moves() -> None:
    assert travel_time(50.0, DRIVE) - travel_time(50.0, DRIVE, constant_speed=True) == pytest.approx(4.0)


@pytest.mark.parametrize("distance", [-1.0, math.nan])
def test_travel_time_refuses_bad_distances(distance: float) -> None:
    with pytest.raises(ValueError, match="distance"):
        travel_time(distance, DRIVE)


def test_travel_time_refuses_a_stopped_drive() -> None:
    with pytest.raises(ValueError, match="positive"):
        travel_time(1.0, Drive(speed=0.0))


def test_chebyshev_time_is_the_slower_axis() -> None:
    fast, slow = Drive(speed=2.0), Drive(speed=0.5)
    assert chebyshev_time((0.0, 0.0), (30.0, 5.0), fast, slow) == 15.0  # 15 s along vs 10 s up
    assert chebyshev_time((0.0, 0.0), (10.0, 6.0), fast, slow) == 12.0  # 5 s along vs 12 s up
    assert chebyshev_time((30.0, 5.0), (0.0, 0.0), fast, slow) == 15.0  # direction does not matter


def test_stacker_move_uses_both_axes_with_their_accelerations() -> None:
    spec = schema.StackerCrane(
        horizontal=schema.Axis(speed=2.0, acceleration=0.5),
        vertical=schema.Axis(speed=0.5, acceleration=0.25),
        safe_working_load=25.0,
    )
    # along 20 m: 10 + 4 = 14 s; up 1 m: v²/a = 1 m, so the boundary case 1/0.5 + 0.5/0.25 = 4 s.
    assert stacker_move_time((0.0, 0.0), (20.0, 1.0), spec) == pytest.approx(14.0)
    # along 2 m: triangular 2·sqrt(4) = 4 s; up 6 m: 12 + 2 = 14 s.
    assert stacker_move_time((5.0, 7.0), (7.0, 1.0), spec) == pytest.approx(14.0)
    assert stacker_move_time((0.0, 0.0), (20.0, 6.0), spec, constant_speed=True) == pytest.approx(12.0)


def overhead_crane(**changes: float) -> schema.OverheadCrane:
    fields: dict[str, object] = {
        "id": "C1",
        "runway": "R1",
        "bays": ["B1"],
        "bridge": {"speed": 1.0, "acceleration": 0.25},
        "trolley": {"speed": 0.5, "acceleration": 0.25},
        "hoist": {"speed": 0.1, "acceleration": 0.1},
        "lift_height": 8.0,
        "safe_working_load": 40.0,
        "pick_time": 30.0,
        "drop_time": 20.0,
    }
    return schema.OverheadCrane.model_validate(fields | changes)


def test_overhead_move_sums_handling_and_hoisting_around_the_slower_of_bridge_and_trolley() -> None:
    crane = overhead_crane()
    # constant speed: pick 30 + lift 5/0.1 + max(30/1, 10/0.5) + lower 3/0.1 + drop 20
    expected = 30.0 + 50.0 + 30.0 + 30.0 + 20.0
    assert overhead_move_time(crane, (0.0, 0.0), (30.0, 10.0), lift=5.0, lower=3.0, constant_speed=True) == (
        pytest.approx(expected)
    )
    # with accelerations: bridge 30 + 4 = 34 s, trolley 20 + 2 = 22 s; hoist 5 m: 50 + 1 s, 3 m: 30 + 1 s.
    expected = 30.0 + 51.0 + 34.0 + 31.0 + 20.0
    assert overhead_move_time(crane, (0.0, 0.0), (30.0, 10.0), lift=5.0, lower=3.0) == pytest.approx(expected)


def test_overhead_move_lifts_the_full_height_by_default() -> None:
    crane = overhead_crane()
    # 30 + 8/0.1 + max(0, 10/0.5) + 8/0.1 + 20
    assert overhead_move_time(crane, (4.0, 0.0), (4.0, 10.0), constant_speed=True) == pytest.approx(230.0)


def test_overhead_move_in_place_is_handling_and_hoisting_only() -> None:
    crane = overhead_crane(pick_time=0.0, drop_time=0.0)
    assert overhead_move_time(crane, (3.0, 2.0), (3.0, 2.0), lift=0.0, lower=0.0) == 0.0
