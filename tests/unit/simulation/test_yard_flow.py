"""The life of a coil through `crane.yard_flow.YardFlow`, driven by hand: no SimPy, no vehicles, the real WMS."""

from __future__ import annotations

from pathlib import Path

from crane.core import CraneJobChanged, JobState, SubmitCraneJob
from crane.yard_flow import CoilArrived, RequestChanged, RetrievalRequested, TaskChanged, YardFlow
from fleet.core import SubmitOrder
from fleet.domain.orders import Operation
from fleet.ports import OperationDone
from layout import load_plant
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
