"""Edge drive times agree with the crane package's trapezoidal profile and are monotone in distance."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from crane.motion import Drive, travel_time
from simulation.kinematics import edge_time

speeds = st.floats(0.2, 3.0)
rates = st.floats(0.05, 2.0)
lengths = st.floats(0.0, 500.0)


@given(lengths, speeds, rates)
def test_rest_to_rest_with_equal_rates_is_the_crane_profile(s: float, v: float, a: float) -> None:
    assert math.isclose(
        edge_time(s, v, a, a, from_rest=True, to_rest=True),
        travel_time(s, Drive(v, a)),
        rel_tol=1e-9,
        abs_tol=1e-9,
    )


@given(st.tuples(lengths, lengths, speeds, rates, rates, st.booleans(), st.booleans()))
def test_longer_edges_take_longer_and_stops_cost_time(
    case: tuple[float, float, float, float, float, bool, bool],
) -> None:
    s1, s2, v, a, d, start, stop = case
    short, long = sorted((s1, s2))
    assert (
        edge_time(short, v, a, d, from_rest=start, to_rest=stop)
        <= edge_time(long, v, a, d, from_rest=start, to_rest=stop) + 1e-9
    )
    assert (
        edge_time(long, v, a, d, from_rest=False, to_rest=False)
        <= edge_time(long, v, a, d, from_rest=start, to_rest=stop) + 1e-9
    )


def test_a_long_edge_costs_half_a_ramp_per_stop() -> None:
    assert math.isclose(edge_time(100.0, 1.0, 0.5, 0.25, from_rest=True, to_rest=True), 100.0 + 1.0 + 2.0)
    assert math.isclose(edge_time(100.0, 1.0, 0.5, 0.25, from_rest=False, to_rest=False), 100.0)
