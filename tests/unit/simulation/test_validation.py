"""The twin against theory: Bozer-White for a stacker crane, Erlang C for a vehicle fleet.

Both run the real cores (crane core, fleet core) behind the SimPy shell with simulated equipment.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from crane.analytic import expected_single_command
from simulation.validation import (
    erlang_c_wait,
    fleet_queue,
    stacker_aisle_plant,
    stacker_single_commands,
    star_plant,
)


def test_stacker_single_commands_reproduce_bozer_white_within_2_percent() -> None:
    plant = stacker_aisle_plant()
    crane = next(iter(plant.stacker_cranes.values()))
    spec = crane.spec
    theory = expected_single_command(
        crane.rack_length / spec.horizontal.speed, crane.rack_height / spec.vertical.speed
    )
    result = stacker_single_commands(plant, jobs=1200, seed=11, constant_speed=True)
    assert result.cycles == 1199
    assert abs(result.mean_cycle_s - theory) / theory < 0.02, (result.mean_cycle_s, theory)


def test_with_accelerations_on_cycles_are_longer_than_bozer_white() -> None:
    plant = stacker_aisle_plant(columns=20, levels=8)
    crane = next(iter(plant.stacker_cranes.values()))
    theory = expected_single_command(
        crane.rack_length / crane.spec.horizontal.speed, crane.rack_height / crane.spec.vertical.speed
    )
    result = stacker_single_commands(plant, jobs=200, seed=3, constant_speed=False)
    assert result.mean_cycle_s > theory * 1.02


def test_erlang_c_mean_wait_lies_in_the_95_percent_interval() -> None:
    servers, mean_service = 3, 600.0
    service_rate = 1.0 / mean_service
    arrival_rate = 0.7 * servers * service_rate
    plant = star_plant(servers, mean_handling_s=mean_service)
    waits = [
        fleet_queue(plant, arrival_rate, hours=30, warmup_hours=3, seed=seed).mean_wait_s for seed in range(8)
    ]
    mean = float(np.mean(waits))
    half = float(stats.t.ppf(0.975, len(waits) - 1) * np.std(waits, ddof=1) / math.sqrt(len(waits)))
    theory = erlang_c_wait(servers, arrival_rate, service_rate)
    assert mean - half <= theory <= mean + half, (mean, half, theory)
    assert half < 0.5 * theory  # the interval is tight enough to mean something


def test_erlang_c_formula_against_known_values() -> None:
    # M/M/1: Wq = rho / (mu - lambda); M/M/2 with a = 1: P_wait = 1/3, Wq = 1/3 / (2 - 1).
    assert math.isclose(erlang_c_wait(1, 0.5, 1.0), 1.0)
    assert math.isclose(erlang_c_wait(2, 1.0, 1.0), 1.0 / 3.0)
    assert erlang_c_wait(2, 2.0, 1.0) == math.inf
