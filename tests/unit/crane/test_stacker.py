"""Stacker-crane command pairing: hand-computed cycle times, pairing rules, queue service, Bozer–White E(DC)."""

from __future__ import annotations

import math
import random

import pytest

from crane.analytic import expected_dual_command
from crane.motion import stacker_move_time
from crane.stacker import Cycle, Request, dual_command_time, next_cycle, serve_queue, single_command_time
from layout import schema
from tests.wms_factories import tiny_plant

CRANE = "HB1-SC01"


def _spec() -> schema.StackerCrane:
    return tiny_plant().stacker_cranes[CRANE].spec


def _cell(cell_id: str) -> Request:
    cell = tiny_plant().rack_cells[cell_id]
    return Request(cell_id, (cell.along, cell.height))


def _random_requests(rng: random.Random, prefix: str, n: int, length: float, height: float) -> list[Request]:
    return [Request(f"{prefix}{k}", (rng.uniform(0, length), rng.uniform(0, height))) for k in range(n)]


def test_dual_command_time_is_three_legs_plus_four_pick_deposits_by_hand() -> None:
    # tiny plant HB1-SC01: horizontal v=2.0 a=0.4 (v²/a = 10 m), vertical v=0.4 a=0.3 (v²/a = 0.533 m), t_pd=40
    storage, retrieval = _cell("HB1-A01-L-C003-L02"), _cell("HB1-A01-R-C008-L04")
    assert storage.position == (6.25, 2.5)
    assert retrieval.position == (18.75, 7.5)
    leg1 = max(2.0 * math.sqrt(6.25 / 0.4), 2.5 / 0.4 + 0.4 / 0.3)  # triangular travel vs trapezoidal hoist
    leg2 = max(12.5 / 2.0 + 2.0 / 0.4, 5.0 / 0.4 + 0.4 / 0.3)
    leg3 = max(18.75 / 2.0 + 2.0 / 0.4, 7.5 / 0.4 + 0.4 / 0.3)
    expected = leg1 + leg2 + leg3 + 4 * 40.0
    cycle = next_cycle([storage], [retrieval], _spec())
    assert (cycle.kind, cycle.storage, cycle.retrieval) == ("dual", storage.id, retrieval.id)
    assert cycle.time == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(7.905694 + 13.833333 + 20.083333 + 160.0, abs=1e-5)


def test_single_commands_when_only_one_kind_waits() -> None:
    spec = _spec()
    s, r = _cell("HB1-A01-L-C010-L04"), _cell("HB1-A01-R-C001-L01")
    only_s = next_cycle([s], [], spec)
    only_r = next_cycle([], [r], spec)
    assert (only_s.kind, only_s.storage, only_s.retrieval) == ("single", s.id, None)
    assert (only_r.kind, only_r.storage, only_r.retrieval) == ("single", None, r.id)
    assert only_s.time == pytest.approx(single_command_time(s.position, spec))
    assert only_r.time == pytest.approx(single_command_time(r.position, spec))
    # C010-L04 = (23.75, 7.5): travel 23.75/2 + 5 = 16.875 vs hoist 7.5/0.4 + 4/3 = 20.083, twice, + 2 t_pd
    assert only_s.time == pytest.approx(2 * (7.5 / 0.4 + 0.4 / 0.3) + 2 * 40.0)
    with pytest.raises(ValueError, match="no request"):
        next_cycle([], [], spec)


def test_fifo_pairs_oldest_storage_with_oldest_retrieval() -> None:
    spec = _spec()
    storages = [_cell("HB1-A01-L-C010-L04"), _cell("HB1-A01-L-C002-L01"), _cell("HB1-A01-L-C005-L02")]
    retrievals = [_cell("HB1-A01-R-C002-L01"), _cell("HB1-A01-R-C009-L03")]
    result = serve_queue(storages, retrievals, spec)
    pairs = [(c.kind, c.storage, c.retrieval) for c in result.cycles]
    assert pairs == [
        ("dual", "HB1-A01-L-C010-L04", "HB1-A01-R-C002-L01"),
        ("dual", "HB1-A01-L-C002-L01", "HB1-A01-R-C009-L03"),
        ("single", "HB1-A01-L-C005-L02", None),
    ]
    # "nearest" instead pairs the first retrieval with the storage right across the aisle
    nearest = next_cycle(storages, retrievals, spec, rule="nearest")
    assert (nearest.storage, nearest.retrieval) == ("HB1-A01-L-C002-L01", "HB1-A01-R-C002-L01")
    with pytest.raises(ValueError, match="pairing rule"):
        next_cycle(storages, retrievals, spec, rule="random")  # type: ignore[arg-type]


def test_nearest_window_bounds_the_look_ahead() -> None:
    spec = _spec()
    storages = [_cell("HB1-A01-L-C010-L04"), _cell("HB1-A01-L-C009-L02"), _cell("HB1-A01-L-C001-L01")]
    retrievals = [_cell("HB1-A01-R-C001-L01")]
    assert next_cycle(storages, retrievals, spec, rule="nearest", window=1).storage == "HB1-A01-L-C010-L04"
    assert next_cycle(storages, retrievals, spec, rule="nearest", window=2).storage == "HB1-A01-L-C009-L02"
    assert next_cycle(storages, retrievals, spec, rule="nearest", window=3).storage == "HB1-A01-L-C001-L01"
    with pytest.raises(ValueError, match="window"):
        next_cycle(storages, retrievals, spec, rule="nearest", window=0)


@pytest.mark.parametrize("seed", range(20))
def test_nearest_travel_between_never_worse_than_fifo(seed: int) -> None:
    spec = _spec()
    rng = random.Random(seed)
    storages = _random_requests(rng, "S", rng.randint(1, 15), 25.0, 10.0)
    retrievals = _random_requests(rng, "R", rng.randint(1, 15), 25.0, 10.0)
    positions = {q.id: q.position for q in storages + retrievals}

    def between(cycle: Cycle) -> float:
        assert cycle.storage is not None
        assert cycle.retrieval is not None
        return stacker_move_time(positions[cycle.storage], positions[cycle.retrieval], spec)

    fifo = next_cycle(storages, retrievals, spec, rule="fifo")
    nearest = next_cycle(storages, retrievals, spec, rule="nearest")
    assert fifo.retrieval == nearest.retrieval == retrievals[0].id
    assert between(nearest) <= between(fifo)


def test_serve_queue_equal_numbers_uses_only_duals_and_beats_singles() -> None:
    spec = _spec()
    rng = random.Random(7)
    storages = _random_requests(rng, "S", 12, 25.0, 10.0)
    retrievals = _random_requests(rng, "R", 12, 25.0, 10.0)
    for rule in ("fifo", "nearest"):
        result = serve_queue(storages, retrievals, spec, rule=rule)
        assert len(result.cycles) == 12
        assert all(c.kind == "dual" for c in result.cycles)
        assert {c.storage for c in result.cycles} == {s.id for s in storages}
        assert {c.retrieval for c in result.cycles} == {r.id for r in retrievals}
        assert result.total_time == pytest.approx(sum(c.time for c in result.cycles))
        singles = sum(single_command_time(q.position, spec) for q in storages + retrievals)
        assert result.total_time < singles
    assert len(storages) == 12  # inputs untouched


def test_monte_carlo_dual_commands_match_bozer_white() -> None:
    spec = schema.StackerCrane(
        horizontal=schema.Axis(speed=2.5, acceleration=0.5),
        vertical=schema.Axis(speed=0.5, acceleration=0.5),
        pick_deposit_time=0.0,
        safe_working_load=30.0,
    )
    length, height = 50.0, 6.0  # t_h = 20 s, t_v = 12 s: b = 0.6
    rng = random.Random(20_260_530)
    n = 40_000
    total = 0.0
    for _ in range(n):
        p1 = (rng.uniform(0, length), rng.uniform(0, height))
        p2 = (rng.uniform(0, length), rng.uniform(0, height))
        total += dual_command_time(p1, p2, spec, constant_speed=True)
    expected = expected_dual_command(length / 2.5, height / 0.5)
    assert total / n == pytest.approx(expected, rel=0.01)
