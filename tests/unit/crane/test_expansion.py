"""A buried coil's retrieval plan becomes crane jobs: relocations to the WMS's targets, then the pick."""

from __future__ import annotations

import pytest

from crane.core import CancelCraneJob, CraneJobChanged, JobAlreadyStarted, JobState, SubmitCraneJob
from crane.expansion import retrieval_jobs
from crane.fake_crane import CraneLoop
from fleet.domain.orders import Operation
from fleet.ports import SendCraneMove
from tests.wms_factories import fresh_yard, make_coil, place_coil
from wms.domain.retrieval import RELOCATION, RETRIEVAL, plan_retrieval
from wms.domain.yard import Yard

DEST = "H-FS1"


def g(k: int) -> str:
    return f"FS1-B1-R01-P{k:02d}-G"


def u(k: int) -> str:
    return f"FS1-B1-R01-P{k:02d}-U"


def buried_yard() -> Yard:
    """Coil A on ground P02 under two uppers (P01-U on P01/P02, P02-U on P02/P03)."""
    yard = fresh_yard()
    for name, place in (("G1", g(1)), ("A", g(2)), ("G3", g(3)), ("U1", u(1)), ("U2", u(2))):
        place_coil(yard, make_coil(id=name), place)
    return yard


def test_a_buried_coil_expands_into_two_relocations_then_the_pick() -> None:
    yard = buried_yard()
    plan = plan_retrieval(yard, "A", DEST, at=10.0, actor="test")
    jobs = retrieval_jobs(plan, yard, prefix="R", deadline=900.0, priority=2)

    relocations = [s for s in plan.steps if s.purpose == RELOCATION]
    pick = next(s for s in plan.steps if s.purpose == RETRIEVAL)
    assert len(relocations) == 2
    assert [j.job for j in jobs] == [f"R-{s.id}" for s in plan.steps]
    by_id = {j.job: j for j in jobs}
    for step in relocations:
        job = by_id[f"R-{step.id}"]
        assert (job.pick, job.drop) == (step.source, step.target)  # the WMS's target, unchanged
        assert job.store == "FS1" and job.weight_t == 20.0 and job.priority == 2 and job.deadline == 900.0
    final = by_id[f"R-{pick.id}"]
    assert (final.pick, final.drop) == (g(2), DEST)
    assert set(final.after) == {f"R-{s.id}" for s in relocations}


def test_the_crane_core_does_the_relocations_before_the_pick() -> None:
    yard = buried_yard()
    plan = plan_retrieval(yard, "A", DEST, at=0.0, actor="test")
    jobs = retrieval_jobs(plan, yard, prefix="R")
    loop = CraneLoop.on(yard.plant)
    for job in jobs:
        loop.at(0.0, job)
    loop.run()
    changes = [e for e in loop.effects if isinstance(e, CraneJobChanged)]
    done = {e.job: e.at for e in changes if e.state is JobState.DONE}
    started = {e.job: e.at for e in changes if e.state is JobState.STARTED}
    assert set(done) == {j.job for j in jobs}
    final = jobs[-1]
    assert all(done[a] <= started[final.job] for a in final.after)
    drops = {
        e.order: e.place
        for e in loop.effects
        if isinstance(e, SendCraneMove) and e.operation is Operation.DROP
    }
    assert drops == {j.job: j.drop for j in jobs}


def test_cancelling_a_waiting_pick_fails_the_jobs_that_wait_for_it() -> None:
    yard = buried_yard()
    plan = plan_retrieval(yard, "A", DEST, at=0.0, actor="test")
    jobs = retrieval_jobs(plan, yard, prefix="R")
    core = CraneLoop.on(yard.plant).core
    for job in jobs:
        core.handle(job, 0.0)
    core.handle(SubmitCraneJob(job="back", store="FS1", pick=DEST, drop=g(8), after=(jobs[-1].job,)), 0.0)
    assert core.job_state(jobs[-1].job) is JobState.QUEUED  # it waits for the relocations
    effects = core.handle(CancelCraneJob(job=jobs[-1].job, reason="order withdrawn"), 1.0)
    failed = {
        e.job: e.reason for e in effects if isinstance(e, CraneJobChanged) and e.state is JobState.FAILED
    }
    assert failed == {jobs[-1].job: "order withdrawn", "back": f"job {jobs[-1].job} it waits for failed"}
    with pytest.raises(JobAlreadyStarted):
        core.handle(CancelCraneJob(job=jobs[0].job), 2.0)
