"""Job sequencing for one overhead crane: exact on small queues, precedence kept, deadlines first."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence

import pytest

from crane.motion import chebyshev_time, overhead_move_time
from crane.sequencing import CraneJob, JobKind, Plan, evaluate, sequence, solve_exact
from layout import schema


def overhead_crane() -> schema.OverheadCrane:
    return schema.OverheadCrane.model_validate(
        {
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
    )


CRANE = overhead_crane()
START = (0.0, 0.0)


def brute_force(jobs: Sequence[CraneJob], at: float) -> tuple[float, float]:
    """Best (lateness, empty travel) over every precedence-respecting order, simulated independently."""
    ids = {j.id for j in jobs}
    must_precede = {(p, j.id) for j in jobs for p in j.after if p in ids}
    must_precede |= {(j.id, s) for j in jobs for s in j.unblocks if s in ids}
    best = (float("inf"), float("inf"))
    for perm in itertools.permutations(jobs):
        pos = {j.id: k for k, j in enumerate(perm)}
        if any(pos[a] > pos[b] for a, b in must_precede):
            continue
        t, here, late, empty = at, START, 0.0, 0.0
        for job in perm:
            e = chebyshev_time(here, job.pick, CRANE.bridge, CRANE.trolley)
            empty += e
            t = max(t + e, job.release) + overhead_move_time(CRANE, job.pick, job.drop)
            if job.deadline is not None:
                late += job.weight * max(0.0, t - job.deadline)
            here = job.drop
        best = min(best, (late, empty))
    return best


def random_jobs(rng: random.Random, n: int, *, deadlines: bool = True) -> list[CraneJob]:
    def point() -> tuple[float, float]:
        return (round(rng.uniform(0, 80), 1), round(rng.uniform(0, 24), 1))

    kinds: list[JobKind] = ["putaway", "retrieval", "relocation"]
    jobs: list[CraneJob] = []
    for k in range(n):
        kind = rng.choice(kinds)
        earlier = [j.id for j in jobs]
        after = tuple(rng.sample(earlier, 1)) if earlier and rng.random() < 0.2 else ()
        unblocks: tuple[str, ...] = ()
        jobs.append(
            CraneJob(
                id=f"J{k}",
                kind=kind,
                pick=point(),
                drop=point(),
                release=rng.choice([0.0, 0.0, rng.uniform(0, 600)]),
                deadline=rng.uniform(300, 1500) if deadlines and rng.random() < 0.5 else None,
                weight=rng.choice([1.0, 2.0]),
                after=after,
                unblocks=unblocks,
            )
        )
    # relocations unblock a later retrieval
    for k, job in enumerate(jobs):
        if job.kind == "relocation":
            later = [j.id for j in jobs[k + 1 :] if j.kind == "retrieval"]
            if later:
                jobs[k] = dataclasses.replace(job, unblocks=(rng.choice(later),))
    rng.shuffle(jobs)
    return jobs


def respects_precedence(plan: Plan, jobs: Sequence[CraneJob]) -> bool:
    pos = {j: k for k, j in enumerate(plan.order)}
    for job in jobs:
        if any(p in pos and pos[p] > pos[job.id] for p in job.after):
            return False
        if any(s in pos and pos[s] < pos[job.id] for s in job.unblocks):
            return False
    return True


def close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] == pytest.approx(b[0], abs=1e-6) and a[1] == pytest.approx(b[1], abs=1e-6)


# --------------------------------------------------------------------------------------- hand-computed


def three_jobs(b_deadline: float | None) -> list[CraneJob]:
    return [
        CraneJob("A", "relocation", (10.0, 0.0), (20.0, 0.0), unblocks=("C",)),
        CraneJob("B", "putaway", (30.0, 0.0), (40.0, 0.0), deadline=b_deadline),
        CraneJob("C", "retrieval", (12.0, 0.0), (5.0, 0.0)),
    ]


def test_three_jobs_by_hand_without_deadlines_take_the_least_empty_travel() -> None:
    # Bridge v=1, a=0.25: d >= 4 m takes d + 4 s. Loaded move: pick 30 + hoist 8 m (80 + 1) twice + drop 20
    # = 212 s plus travel. Orders keeping A before C: ACB empty 14+12+29 = 55, ABC 60, BAC 80.
    plan = sequence(three_jobs(None), CRANE, START, 0.0)
    assert plan.order == ("A", "C", "B")
    assert plan.empty_travel == pytest.approx(55.0)
    assert plan.lateness == 0.0
    # A: 14 + 226 = 240; C: 240 + 12 + (7 + 4 + 212) = 475; B: 475 + 29 + 226 = 730
    assert plan.finish == pytest.approx({"A": 240.0, "C": 475.0, "B": 730.0})


def test_three_jobs_by_hand_a_deadline_pulls_the_urgent_job_forward() -> None:
    # B due at 500: ACB finishes B at 730 (230 s late); ABC finishes B at 240 + 14 + 226 = 480, on time.
    plan = sequence(three_jobs(500.0), CRANE, START, 0.0)
    assert plan.order == ("A", "B", "C")
    assert plan.lateness == 0.0
    assert plan.empty_travel == pytest.approx(60.0)
    assert plan.finish == pytest.approx({"A": 240.0, "B": 480.0, "C": 735.0})
    assert evaluate([three_jobs(500.0)[i] for i in (0, 2, 1)], CRANE, START, 0.0).lateness == pytest.approx(
        230.0
    )


def test_release_time_makes_the_crane_wait_at_the_pick() -> None:
    job = CraneJob("A", "putaway", (10.0, 0.0), (20.0, 0.0), release=100.0, deadline=300.0)
    plan = sequence([job], CRANE, START, 0.0)
    assert plan.finish["A"] == pytest.approx(100.0 + 226.0)
    assert plan.lateness == pytest.approx(26.0)


# ------------------------------------------------------------------------------------- against brute force


@pytest.mark.parametrize("seed", range(36))
def test_sequencer_matches_brute_force_optimum(seed: int) -> None:
    rng = random.Random(seed)
    jobs = random_jobs(rng, rng.randint(4, 7))
    at = rng.uniform(0, 100)
    plan = sequence(jobs, CRANE, START, at)
    assert plan.exact
    assert close(plan.objective, brute_force(jobs, at))
    assert respects_precedence(plan, jobs)
    assert close(
        evaluate([{j.id: j for j in jobs}[i] for i in plan.order], CRANE, START, at).objective, plan.objective
    )


@pytest.mark.parametrize("seed", range(100, 124))
def test_without_deadlines_the_empty_travel_is_minimal(seed: int) -> None:
    rng = random.Random(seed)
    jobs = random_jobs(rng, rng.randint(4, 7), deadlines=False)
    plan = sequence(jobs, CRANE, START, 0.0)
    assert plan.lateness == 0.0
    assert plan.empty_travel == pytest.approx(brute_force(jobs, 0.0)[1], abs=1e-6)


@pytest.mark.parametrize("seed", range(200, 224))
def test_local_search_keeps_precedence_and_is_near_the_optimum(seed: int) -> None:
    rng = random.Random(seed)
    jobs = random_jobs(rng, 7)
    plan = sequence(jobs, CRANE, START, 0.0, exact_limit=0, time_budget=5.0)
    assert not plan.exact
    assert respects_precedence(plan, jobs)
    assert sorted(plan.order) == sorted(j.id for j in jobs)
    optimum = brute_force(jobs, 0.0)
    assert plan.objective >= (optimum[0] - 1e-6, optimum[1] - 1e-6) or close(plan.objective, optimum)
    assert plan.constructive_objective is not None
    assert not plan.constructive_objective < plan.objective


def test_local_search_finds_most_optima_on_small_queues() -> None:
    hits = 0
    for seed in range(300, 330):
        rng = random.Random(seed)
        jobs = random_jobs(rng, 7)
        plan = sequence(jobs, CRANE, START, 0.0, exact_limit=0, time_budget=5.0)
        hits += close(plan.objective, brute_force(jobs, 0.0))
    assert hits >= 24


def test_exact_solver_and_relocation_precedence_on_a_larger_queue() -> None:
    rng = random.Random(7)
    jobs = random_jobs(rng, 9)
    plan = solve_exact(jobs, CRANE, START, 0.0)
    assert respects_precedence(plan, jobs)
    heuristic = sequence(jobs, CRANE, START, 0.0)
    assert not heuristic.exact
    assert respects_precedence(heuristic, jobs)
    assert not heuristic.objective < (plan.objective[0] - 1e-6, plan.objective[1] - 1e-6)


def test_a_retrieval_waits_for_the_relocation_that_unblocks_it_even_when_that_costs_travel() -> None:
    jobs = [
        CraneJob("R", "retrieval", (1.0, 0.0), (0.0, 0.0), deadline=0.0, weight=10.0),
        CraneJob("M", "relocation", (70.0, 20.0), (71.0, 20.0), unblocks=("R",)),
    ]
    plan = sequence(jobs, CRANE, START, 0.0)
    assert plan.order == ("M", "R")


def test_invalid_queues_are_refused() -> None:
    a = CraneJob("A", "putaway", (0.0, 0.0), (1.0, 0.0), after=("B",))
    b = CraneJob("B", "putaway", (0.0, 0.0), (1.0, 0.0), after=("A",))
    with pytest.raises(ValueError, match="cycle"):
        sequence([a, b], CRANE, START, 0.0)
    with pytest.raises(ValueError, match="unique"):
        sequence([a, a], CRANE, START, 0.0)
    with pytest.raises(ValueError, match="precedence"):
        evaluate([a, CraneJob("B", "putaway", (0.0, 0.0), (1.0, 0.0))], CRANE, START, 0.0)
    assert sequence([], CRANE, START, 0.0).order == ()
