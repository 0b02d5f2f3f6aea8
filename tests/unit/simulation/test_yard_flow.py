"""The life of a coil through `crane.yard_flow.YardFlow`, driven by hand: no SimPy, no vehicles, the real WMS."""

from __future__ import annotations

from pathlib import Path

from crane.core import CraneJobChanged, JobState, SubmitCraneJob
from crane.yard_flow import (
    CoilArrived,
    IngotStackArrived,
    RequestChanged,
    RetrievalRequested,
    TaskChanged,
    YardFlow,
)
from fleet.core import SubmitOrder
from fleet.domain.orders import Operation
from fleet.ports import OperationDone
from layout import load_plant
from wms.service_layer import commands as cmd
from wms.service_layer.in_memory import InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus

ROOT = Path(__file__).resolve().parents[3]
PLANT = load_plant(ROOT / "examples" / "tiny.yaml")


class Clock:
    t = 0.0

    def now(self) -> float:
        return self.t


def _flow() -> tuple[YardFlow, InMemoryUnitOfWork, Clock]:
    uow, clock = InMemoryUnitOfWork(PLANT), Clock()
    return YardFlow(PLANT, MessageBus(uow, clock), lambda: uow.yard), uow, clock


def _arrival(coil: str) -> CoilArrived:
    return CoilArrived(
        coil=coil, source="mill", station="HM", handover="HM-X", store="FS1", alloy="AA3104", temper="H19",
        width=1.5, gauge=2.0, outer_diameter=1.8, inner_diameter=0.61, weight=18.0,
    )  # fmt: skip


def test_a_putaway_goes_by_agv_to_the_bay_handover_then_by_crane_to_its_place() -> None:
    flow, uow, clock = _flow()
    effects = flow.handle(_arrival("K1"), 10.0)
    created = next(e for e in effects if isinstance(e, TaskChanged))
    order = next(e for e in effects if isinstance(e, SubmitOrder)).spec
    assert created.state == "created" and created.kind == "putaway"
    assert [(d.node, d.operation) for d in order.destinations] == [
        ("HM-X", Operation.PICK),
        ("H-FS1", Operation.DROP),
    ]
    assert order.vehicle_class == "agv" and order.unit == "K1"
    move = uow.yard.moves[created.task]
    assert move.target == created.target and uow.yard.locations[move.target].reserved_by == move.id

    clock.t = 50.0
    picked = flow.handle(
        OperationDone(vehicle="AGV-01", node="HM-X", operation=Operation.PICK, at=50.0, order=order.id), 50.0
    )
    assert uow.yard.coils["K1"].location == "AGV-01"
    assert [e.state for e in picked if isinstance(e, TaskChanged)] == ["started"]

    clock.t = 90.0
    dropped = flow.handle(
        OperationDone(vehicle="AGV-01", node="H-FS1", operation=Operation.DROP, at=90.0, order=order.id), 90.0
    )
    job = next(e for e in dropped if isinstance(e, SubmitCraneJob))
    assert (job.pick, job.drop, job.store) == ("H-FS1", move.target, "FS1")
    assert uow.yard.coils["K1"].location == "H-FS1" and uow.yard.moves[move.id].state == "staged"

    clock.t = 120.0
    flow.handle(CraneJobChanged(job=job.job, state=JobState.PICKED, crane="C2", at=120.0), 120.0)
    assert uow.yard.coils["K1"].location == "C2"
    clock.t = 200.0
    done = flow.handle(CraneJobChanged(job=job.job, state=JobState.DONE, crane="C2", at=200.0), 200.0)
    assert [e.state for e in done if isinstance(e, TaskChanged)] == ["finished"]
    assert uow.yard.coils["K1"].location == move.target
    assert uow.yard.moves[move.id].state == "done" and not flow.tasks


def test_a_retrieval_goes_by_crane_to_the_rail_stop_then_by_rgv_to_the_cold_mill() -> None:
    flow, uow, clock = _flow()
    flow.handle(_arrival("K1"), 0.0)  # a first coil, stored by hand below
    task = next(iter(flow.tasks.values()))
    for event in (
        OperationDone(
            vehicle="AGV-01", node="HM-X", operation=Operation.PICK, at=1.0, order=f"{task.move}/1"
        ),
        OperationDone(
            vehicle="AGV-01", node="H-FS1", operation=Operation.DROP, at=2.0, order=f"{task.move}/1"
        ),
        CraneJobChanged(job=f"{task.move}/2", state=JobState.PICKED, crane="C1", at=3.0),
        CraneJobChanged(job=f"{task.move}/2", state=JobState.DONE, crane="C1", at=4.0),
    ):
        flow.handle(event, event.at)
    clock.t = 100.0
    request = RetrievalRequested(request="R1", store="FS1", station="CM1", destination="RS2", deadline=4000.0)
    effects = flow.handle(request, 100.0)
    job = next(e for e in effects if isinstance(e, SubmitCraneJob))
    assert job.drop == "RS1" and uow.yard.coils["K1"].reserved_for == "R1"
    assert any(isinstance(e, RequestChanged) and e.state == "planned" for e in effects)
    flow.handle(CraneJobChanged(job=job.job, state=JobState.PICKED, crane="C1", at=110.0), 110.0)
    staged = flow.handle(CraneJobChanged(job=job.job, state=JobState.DONE, crane="C1", at=150.0), 150.0)
    order = next(e for e in staged if isinstance(e, SubmitOrder)).spec
    assert order.vehicle_class == "rgv" and [d.node for d in order.destinations] == ["RS1", "RS2"]
    flow.handle(
        OperationDone(vehicle="RGV-01", node="RS1", operation=Operation.PICK, at=160.0, order=order.id), 160.0
    )
    end = flow.handle(
        OperationDone(vehicle="RGV-01", node="RS2", operation=Operation.DROP, at=220.0, order=order.id), 220.0
    )
    assert any(isinstance(e, RequestChanged) and e.state == "done" and e.on_time for e in end)
    assert str(uow.yard.coils["K1"].status) == "consumed"


def test_a_crane_job_that_fails_before_the_lift_is_submitted_again() -> None:
    flow, uow, _clock = _flow()
    flow.handle(_arrival("K1"), 0.0)
    task = next(iter(flow.tasks.values()))
    flow.handle(
        OperationDone(
            vehicle="AGV-01", node="HM-X", operation=Operation.PICK, at=1.0, order=f"{task.move}/1"
        ),
        1.0,
    )
    staged = flow.handle(
        OperationDone(
            vehicle="AGV-01", node="H-FS1", operation=Operation.DROP, at=2.0, order=f"{task.move}/1"
        ),
        2.0,
    )
    job = next(e for e in staged if isinstance(e, SubmitCraneJob))
    again = flow.handle(
        CraneJobChanged(job=job.job, state=JobState.FAILED, crane="C1", at=3.0, reason="crane C1 error"), 3.0
    )
    retry = next(e for e in again if isinstance(e, SubmitCraneJob))
    assert retry.job == f"{job.job}r1" and (retry.pick, retry.drop) == (job.pick, job.drop)
    flow.handle(CraneJobChanged(job=retry.job, state=JobState.PICKED, crane="C2", at=9.0), 9.0)
    flow.handle(CraneJobChanged(job=retry.job, state=JobState.DONE, crane="C2", at=20.0), 20.0)
    assert uow.yard.coils["K1"].location == task.target


def _slab(stack: str, cast: str = "CP1-0001") -> IngotStackArrived:
    return IngotStackArrived(
        stack=stack, source="pit", station="HM", handover="HM-X", store="IS1", alloy="AA5182",
        unit_weight=20.0, unit_height=0.55, width=1.8, length=8.5, cast_lot=cast,
    )  # fmt: skip


def _carry(flow: YardFlow, clock: Clock, order: SubmitOrder, vehicle: str, at: float) -> list[object]:
    """The vehicle picks and drops the order's unit; returns the effects of the drop."""
    (pick, drop) = order.spec.destinations
    clock.t = at
    flow.handle(
        OperationDone(vehicle=vehicle, node=pick.node, operation=Operation.PICK, at=at, order=order.spec.id),
        at,
    )
    clock.t = at + 30.0
    return list(
        flow.handle(
            OperationDone(
                vehicle=vehicle, node=drop.node, operation=Operation.DROP, at=at + 30, order=order.spec.id
            ),
            at + 30.0,
        )
    )


def _crane(flow: YardFlow, clock: Clock, job: SubmitCraneJob, at: float) -> list[object]:
    clock.t = at
    flow.handle(CraneJobChanged(job=job.job, state=JobState.PICKED, crane="IC1", at=at), at)
    clock.t = at + 60.0
    return list(
        flow.handle(CraneJobChanged(job=job.job, state=JobState.DONE, crane="IC1", at=at + 60), at + 60)
    )


def test_a_casting_drop_is_carried_to_the_slab_store_and_piled_then_pulled_to_a_station() -> None:
    flow, uow, clock = _flow()
    effects = [e for k in range(3) for e in flow.handle(_slab(f"D1-{k}"), 0.0)]  # one instant
    orders = [e for e in effects if isinstance(e, SubmitOrder)]
    assert [[d.node for d in o.spec.destinations] for o in orders] == [["HM-X", "H-IS1"]] * 3
    targets = {e.target for e in effects if isinstance(e, TaskChanged)}
    assert len(targets) == 1  # one cast, one pile (3 x 0.55 m)
    (pile,) = targets
    t = 100.0
    for order in reversed(orders):  # carried and piled in any order
        job = next(e for e in _carry(flow, clock, order, "AGV-01", t) if isinstance(e, SubmitCraneJob))
        assert (job.pick, job.drop, job.store) == ("H-IS1", pile, "IS1")
        done = _crane(flow, clock, job, t + 60)
        assert [e.state for e in done if isinstance(e, TaskChanged)] == ["finished"]
        t += 200.0
    assert uow.yard.locations[pile].occupants == ["D1-2", "D1-1", "D1-0"] and not flow.tasks

    request = RetrievalRequested(request="R1", store="IS1", station="SD1", destination="DOCK1")
    planned = flow.handle(request, t)
    job = next(e for e in planned if isinstance(e, SubmitCraneJob))
    assert (job.pick, job.drop) == (pile, "H-IS1") and job.after == ()  # the top slab: nothing to relocate
    assert uow.yard.unit("D1-0").reserved_for == "R1"
    order = next(e for e in _crane(flow, clock, job, t + 10) if isinstance(e, SubmitOrder))
    assert [d.node for d in order.spec.destinations] == ["H-IS1", "DOCK1"]
    finished = _carry(flow, clock, order, "AGV-02", t + 200)
    assert [e.state for e in finished if isinstance(e, RequestChanged)] == ["done"]
    assert uow.yard.unit("D1-0").status == "consumed"


def test_a_slab_under_a_newer_cast_is_dug_out_before_it_is_pulled() -> None:
    flow, uow, clock = _flow()
    pile = "IS1-B1-R01-S03"
    for stack, cast, at in (("OLD", "L1", 0.0), ("NEW", "L2", 50.0)):
        clock.t = at
        uow_result = MessageBus(uow, clock).handle(
            cmd.ReceiveIngotStack(
                actor="test", stack=stack, location=pile, alloy="AA5182", count=1, unit_weight=20.0,
                unit_height=0.55, cast_lot=cast, width=1.8, length=8.5,
            )
        )  # fmt: skip
        assert uow_result["location"] == pile
    effects = flow.handle(
        RetrievalRequested(request="R1", store="IS1", station="SD1", destination="DOCK1"), 100.0
    )
    jobs = [e for e in effects if isinstance(e, SubmitCraneJob)]
    assert [(j.pick, j.drop != pile) for j in jobs] == [(pile, True)]  # first the relocation of NEW
    relocation = next(e for e in effects if isinstance(e, TaskChanged) and e.kind == "relocation")
    assert relocation.coil == "NEW"
    clock.t = 110.0
    lifted = flow.handle(
        CraneJobChanged(job=jobs[0].job, state=JobState.PICKED, crane="IC1", at=110.0), 110.0
    )
    # lifting NEW unblocks OLD: its retrieval is planned now (the plan's own order, see crane/yard_flow.py)
    retrieval = next(e for e in lifted if isinstance(e, SubmitCraneJob))
    assert (retrieval.pick, retrieval.drop) == (pile, "H-IS1")
    assert uow.yard.unit("NEW").location == "IC1" and uow.yard.unit("OLD").move is not None
