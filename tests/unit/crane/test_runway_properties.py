"""Property tests: random runways and job streams never break separation, and every job ends in time."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crane.motion import Drive, travel_time
from crane.runway import Job, RunwayModel, check_separation


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[RunwayModel, list[Job], float]:
    n = draw(st.sampled_from([2, 3]))
    length = draw(st.floats(40.0, 150.0))
    d = draw(st.floats(2.0, 5.0))
    # Homes that respect the distance: n points in [0, L - (n-1)d], sorted, then spread by k·d.
    raw = sorted(draw(st.lists(st.floats(0.0, length - (n - 1) * d), min_size=n, max_size=n)))
    homes = [x + k * d for k, x in enumerate(raw)]
    constant = draw(st.booleans())
    cranes = []
    for k in range(n):
        v = draw(st.floats(1.0, 2.0))
        a = math.inf if constant else draw(st.floats(0.1, 0.3))
        cranes.append((f"C{k}", homes[k], v, a))
    handling = draw(st.sampled_from([0.0, 10.0]))
    model = RunwayModel(length, d, cranes, pick_time=handling, drop_time=handling)
    jobs = []
    count = draw(st.integers(5, 25))
    for i in range(count):
        k = draw(st.integers(0, n - 1))
        lo, hi = model.reach(k)
        if draw(st.booleans()):  # random crane: positions it can reach
            pick, drop = draw(st.floats(lo, hi)), draw(st.floats(lo, hi))
            crane: str | None = f"C{k}"
        else:  # default assignment: anywhere on the runway the model accepts
            pick, drop = draw(st.floats(0.0, length)), draw(st.floats(0.0, length))
            crane = None
        release = draw(st.sampled_from([0.0, 0.0, draw(st.floats(0.0, 500.0))]))
        jobs.append(Job(f"J{i}", pick, drop, crane, release))
    # Generous bound: each job at most its empty and loaded legs plus one yield per other crane,
    # each at most the whole runway at the slowest drive; jobs never all wait at once.
    slowest = max(travel_time(length, Drive(v, a)) for _, _, v, a in cranes)
    per_job = (2 + n) * slowest + 2 * handling
    return model, jobs, per_job


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_streams_keep_separation_and_all_jobs_end(
    scenario: tuple[RunwayModel, list[Job], float],
) -> None:
    model, jobs, per_job = scenario
    accepted = []
    for job in jobs:
        try:
            model.submit(job)
        except ValueError:
            # Only default-assigned jobs no crane can reach are refused.
            assert job.crane is None
            continue
        accepted.append(job)
    log = model.run()
    assert check_separation(log) == []
    last_release = max((j.release for j in accepted), default=0.0)
    for job in accepted:
        rec = log.jobs[job.id]
        assert rec.submitted <= rec.started <= rec.moving <= rec.end
        assert rec.end <= last_release + len(accepted) * per_job + 1e-6
    for s in log.segments:
        assert min(s.x0, s.x1) >= -1e-9 and max(s.x0, s.x1) <= model.length + 1e-9
