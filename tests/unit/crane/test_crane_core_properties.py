"""Property: through the crane core and fake cranes, random job streams on two or three cranes sharing a
runway never bring two bridges closer than the safety distance, and every job ends (none deadlocks)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crane.core import CraneJobChanged, JobState, PlaceUnreachable, SubmitCraneJob
from crane.fake_crane import CraneLoop
from crane.runway import check_separation
from layout import Plant, parse_plant

ROOT = Path(__file__).resolve().parents[3]
TINY = (ROOT / "examples" / "tiny.yaml").read_text(encoding="utf-8")
C2_LINE = "      - {<<: *crane, id: C2, home: 30}\n"


def plant(cranes: int) -> Plant:
    """examples/tiny.yaml, store FS1 (runway RW1, 40 m, 4 m apart) with C1 (3 m), C2 (30 m) and maybe C3 (16 m)."""
    assert C2_LINE in TINY
    extra = "      - {<<: *crane, id: C3, home: 16}\n" if cranes == 3 else ""
    return parse_plant(TINY.replace(C2_LINE, C2_LINE + extra))


PLANTS = {n: plant(n) for n in (2, 3)}
PLACES = [f"FS1-B1-R{r:02d}-P{k:02d}-{t}" for k in range(1, 9) for r in (1, 2) for t in "G"] + [
    "FS1-H1",
    "FS1-H2",
]


@st.composite
def streams(draw: st.DrawFn) -> tuple[int, list[tuple[float, SubmitCraneJob]]]:
    n = draw(st.sampled_from([2, 3]))
    cranes = [None, "C1", "C2"] + (["C3"] if n == 3 else [])
    jobs: list[tuple[float, SubmitCraneJob]] = []
    for i in range(draw(st.integers(3, 14))):
        pick, drop = draw(st.sampled_from(PLACES)), draw(st.sampled_from(PLACES))
        t = draw(st.sampled_from([0.0, draw(st.floats(0.0, 2000.0))]))
        after = (f"J{draw(st.integers(0, i - 1))}",) if i and draw(st.integers(0, 4)) == 0 else ()
        jobs.append(
            (
                t,
                SubmitCraneJob(
                    job=f"J{i}",
                    store="FS1",
                    pick=pick,
                    drop=drop,
                    crane=draw(st.sampled_from(cranes)),
                    after=after,
                ),
            )
        )
    return n, jobs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_random_streams_through_the_core_keep_separation_and_every_job_ends(
    stream: tuple[int, list[tuple[float, SubmitCraneJob]]],
) -> None:
    n, jobs = stream
    the_plant = PLANTS[n]
    loop = CraneLoop.on(the_plant)
    accepted: list[str] = []
    # submitted in job order (an `after` names an earlier job), each at the latest time of its prefix
    t = 0.0
    for at, drawn in jobs:
        t = max(t, at)
        loop.run(until=t)
        loop.t = t
        job = replace(drawn, after=tuple(a for a in drawn.after if a in accepted))
        try:
            loop.feed(job)
        except PlaceUnreachable as error:  # a pinned crane cannot reach both places past its neighbours
            assert "past its neighbours" in str(error), error
            continue
        accepted.append(job.job)
    loop.run()
    finals = {e.job: e.state for e in loop.effects if isinstance(e, CraneJobChanged)}
    assert {job: finals[job] for job in accepted} == dict.fromkeys(accepted, JobState.DONE)
    order = ["C1", "C3", "C2"] if n == 3 else ["C1", "C2"]
    assert check_separation(loop.cranes.runway_log(the_plant, order)) == []
    assert loop.core.runways["FS1/RW1"].separated()
