"""Hand-made cases for several overhead cranes on one runway (crane.runway)."""

from __future__ import annotations

import math

import pytest

from crane.motion import Drive, travel_time
from crane.runway import Job, RunwayLog, RunwayModel, Segment, check_separation

# examples/tiny.yaml, store FS1: runway RW1 40 m, min distance 4 m, C1 home 3 m, C2 home 30 m.
V, A = 1.5, 0.2
DRIVE = Drive(V, A)


def tiny() -> RunwayModel:
    return RunwayModel(40.0, 4.0, [("C1", 3.0, V, A), ("C2", 30.0, V, A)])


def test_single_uncontested_move_matches_travel_time() -> None:
    model = RunwayModel(40.0, 4.0, [("C1", 3.0, V, A), ("C2", 30.0, V, A)], pick_time=30.0, drop_time=20.0)
    model.submit(Job("J1", pick=10.0, drop=18.0))
    log = model.run()
    rec = log.jobs["J1"]
    assert rec.crane == "C1"
    assert rec.started == 0.0 and rec.moving == 0.0
    assert rec.end == pytest.approx(
        travel_time(7.0, DRIVE) + 30.0 + travel_time(8.0, DRIVE) + 20.0, rel=1e-12
    )
    assert log.position("C1", rec.end) == 18.0
    assert log.position("C2", rec.end) == 30.0
    assert check_separation(log) == []


def test_right_crane_job_on_the_left_side_makes_the_left_crane_yield() -> None:
    model = tiny()
    model.submit(Job("J1", pick=6.0, drop=35.0, crane="C2"))
    log = model.run()
    rec = log.jobs["J1"]
    # C1 must end at or left of 6 - 4 = 2 m before C2 moves.
    yield_time = travel_time(1.0, DRIVE)
    assert rec.moving == pytest.approx(yield_time)
    assert log.position("C1", rec.moving) == pytest.approx(2.0)
    assert rec.end == pytest.approx(yield_time + travel_time(24.0, DRIVE) + travel_time(29.0, DRIVE))
    assert check_separation(log) == []


def test_busy_neighbour_makes_the_job_wait() -> None:
    model = tiny()
    model.submit(Job("A", pick=3.0, drop=15.0, crane="C1"))
    model.submit(Job("B", pick=12.0, drop=38.0, crane="C2"))
    log = model.run()
    a, b = log.jobs["A"], log.jobs["B"]
    assert b.started >= a.end
    assert check_separation(log) == []


def test_job_spanning_both_halves() -> None:
    model = tiny()
    assert model.submit(Job("J1", pick=5.0, drop=36.0)) == "C1"
    log = model.run()
    assert log.position("C2", log.jobs["J1"].end) >= 40.0 - 1e-9
    assert check_separation(log) == []


def test_jobs_at_the_runway_ends() -> None:
    model = tiny()
    model.submit(Job("L", pick=0.0, drop=0.0))
    model.submit(Job("R", pick=40.0, drop=40.0))
    model.submit(Job("LR", pick=0.0, drop=36.0))
    model.submit(Job("RL", pick=40.0, drop=4.0))
    log = model.run()
    assert all(not math.isnan(r.end) for r in log.jobs.values())
    assert log.jobs["L"].crane == "C1" and log.jobs["R"].crane == "C2"
    assert check_separation(log) == []


def test_unreachable_jobs_are_refused() -> None:
    model = tiny()
    with pytest.raises(ValueError, match="cannot reach"):
        model.submit(Job("X", pick=1.0, drop=20.0, crane="C2"))
    with pytest.raises(ValueError, match="no crane"):
        RunwayModel(40.0, 4.0, [("a", 0, 1, 1), ("b", 10, 1, 1), ("c", 20, 1, 1)]).submit(Job("X", 1.0, 39.0))


def test_many_jobs_all_end_without_violation() -> None:
    model = RunwayModel(
        60.0, 3.0, [("C1", 5.0, 1.0, 0.2), ("C2", 25.0, 2.0, 0.3), ("C3", 50.0, 1.5, math.inf)]
    )
    picks = [1.0, 58.0, 30.0, 10.0, 45.0, 20.0, 56.0, 7.0, 33.0, 40.0]
    for i, p in enumerate(picks):
        model.submit(Job(f"J{i}", pick=p, drop=picks[(i + 3) % len(picks)] if i % 2 else 30.0, crane=None))
    log = model.run()
    assert all(not math.isnan(r.end) for r in log.jobs.values())
    assert check_separation(log) == []


def test_checker_finds_a_crossing_and_a_close_pass() -> None:
    log = RunwayLog(40.0, 4.0, ["C1", "C2"], {"C1": 3.0, "C2": 30.0})
    log.segments.append(Segment("C1", 0.0, 30.0, 3.0, 35.0, V, math.inf))
    found = check_separation(log)
    assert found and found[0].left == "C1" and found[0].gap < 4.0
    log2 = RunwayLog(40.0, 4.0, ["C1", "C2"], {"C1": 3.0, "C2": 30.0})
    log2.segments.append(Segment("C1", 0.0, 20.0, 3.0, 26.5, V, A))
    assert check_separation(log2)
    log3 = RunwayLog(40.0, 4.0, ["C1", "C2"], {"C1": 3.0, "C2": 30.0})
    log3.segments.append(Segment("C1", 0.0, 20.0, 3.0, 26.0, V, A))
    assert check_separation(log3) == []


def test_run_until_stops_early() -> None:
    model = tiny()
    model.submit(Job("A", pick=3.0, drop=15.0))
    model.submit(Job("B", pick=20.0, drop=10.0, release=1000.0))
    log = model.run(until=100.0)
    assert not math.isnan(log.jobs["A"].end) and math.isnan(log.jobs["B"].started)
    log = model.run()
    assert not math.isnan(log.jobs["B"].end)
