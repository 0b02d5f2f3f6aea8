"""A WMS retrieval plan as crane jobs: the relocations, to the places the WMS chose, then the picks. Pure.

`wms.domain.retrieval.plan_retrieval_batch` decides which coils must be moved off a buried coil and where
each goes. `retrieval_jobs` turns its steps into `SubmitCraneJob` messages for the crane core, in the plan's
order: one job per step (skipped steps are left out), the step's `source` as `pick` and its `target` as
`drop` (a relocation target is the WMS's choice, never the crane's), and the step's `after` as the job's
`after`, so the crane core starts a pick only when the relocations clearing it are done. Job ids are
`<prefix>-<step id>`; the job's store is the store of the unit's place.
"""

from __future__ import annotations

from crane.core import SubmitCraneJob
from wms.domain.retrieval import RetrievalPlan, StepState
from wms.domain.yard import Yard


class ExpansionError(ValueError):
    pass


def retrieval_jobs(
    plan: RetrievalPlan,
    yard: Yard,
    *,
    prefix: str | None = None,
    deadline: float | None = None,
    priority: int = 0,
) -> list[SubmitCraneJob]:
    """One `SubmitCraneJob` per step of `plan` still to do, relocations before the picks they clear."""
    name = prefix if prefix is not None else f"retrieve-{'-'.join(plan.units)}"
    steps = [s for s in plan.steps if s.state is not StepState.SKIPPED]
    ids = {s.id: f"{name}-{s.id}" for s in steps}
    jobs: list[SubmitCraneJob] = []
    for step in steps:
        store = yard.locations[step.source].store if step.source in yard.locations else None
        if store is None:
            raise ExpansionError(
                f"step {step.id} of the retrieval of {', '.join(plan.units)} starts at '{step.source}', "
                "which is not a store place: only moves out of a store are crane jobs"
            )
        unit = yard.unit(step.unit)
        jobs.append(
            SubmitCraneJob(
                job=ids[step.id],
                store=store,
                pick=step.source,
                drop=step.target,
                weight_t=unit.weight,
                deadline=deadline,
                priority=priority,
                after=tuple(ids[a] for a in step.after if a in ids),
            )
        )
    return jobs
