"""The crane core through fake cranes: runway yields, precedence, stacker dual commands, errors, failures."""

from __future__ import annotations

import math

import pytest

from crane.core import (
    CancelCraneJob,
    CraneCore,
    CraneJobChanged,
    DuplicateJob,
    JobAlreadyStarted,
    JobState,
    PlaceUnreachable,
    SubmitCraneJob,
    Tick,
    UnknownStore,
    crane_coordinates,
    crane_ids,
    crane_kind,
)
from crane.fake_crane import ContractViolation, CraneLoop
from crane.runway import check_separation
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import SendCraneMove, StateChanged, VehiclePort
from tests.wms_factories import tiny_plant

IO = "IO-HB1"


def g(k: int, row: int = 1) -> str:
    return f"FS1-B1-R{row:02d}-P{k:02d}-G"


def cell(column: int, level: int, side: str = "L") -> str:
    return f"HB1-A01-{side}-C{column:03d}-L{level:02d}"


def states(loop: CraneLoop, job: str) -> list[JobState]:
    return [e.state for e in loop.effects if isinstance(e, CraneJobChanged) and e.job == job]


def when(loop: CraneLoop, job: str, state: JobState) -> float:
    return next(
        e.at for e in loop.effects if isinstance(e, CraneJobChanged) and e.job == job and e.state is state
    )


def test_crane_ids_kinds_and_coordinates_of_the_tiny_plant() -> None:
    plant = tiny_plant()
    assert crane_ids(plant) == ["C1", "C2", "IC1", "HB1-SC01"]
    assert [crane_kind(plant, c) for c in crane_ids(plant)] == ["overhead"] * 3 + ["stacker"]
    # runway RW1 of FS1 runs from (5, 42.5) east; R01 P01 lies at (9, 36); H-FS1 at (38, 33)
    assert crane_coordinates(plant, "C1", g(1)) == pytest.approx((4.0, -6.5))
    assert crane_coordinates(plant, "C1", "FS1-H1") == pytest.approx((33.0, -9.5))
    assert crane_coordinates(plant, "HB1-SC01", IO) == (0.0, 0.0)
    assert crane_coordinates(plant, "HB1-SC01", cell(3, 2)) == pytest.approx((6.25, 2.5))
    with pytest.raises(PlaceUnreachable, match="rack cell"):
        crane_coordinates(plant, "C1", cell(3, 2))


def test_three_jobs_on_two_cranes_with_a_yield_all_end_and_keep_apart() -> None:
    plant = tiny_plant()
    loop = CraneLoop.on(plant)
    # C2 (home 30 m) must reach P01 at 4 m: C1 (home 3 m) yields to 0 m first.
    loop.at(0.0, SubmitCraneJob(job="J1", store="FS1", pick=g(1), drop="FS1-H1", crane="C2"))
    loop.at(0.0, SubmitCraneJob(job="J2", store="FS1", pick=g(8, 2), drop=g(3)))
    loop.at(30.0, SubmitCraneJob(job="J3", store="FS1", pick="FS1-H1", drop=g(6, 2)))
    loop.run()
    for job in ("J1", "J2", "J3"):
        assert states(loop, job)[-1] is JobState.DONE, states(loop, job)
        assert states(loop, job) == [JobState.QUEUED, JobState.STARTED, JobState.PICKED, JobState.DONE]
    yields = [e for e in loop.effects if isinstance(e, SendCraneMove) and e.operation is Operation.MOVE]
    assert yields and yields[0].vehicle == "C1" and yields[0].along == pytest.approx(0.0)
    log = loop.cranes.runway_log(plant, ["C1", "C2"])
    assert check_separation(log) == []
    assert loop.core.runways["FS1/RW1"].separated()


def test_a_job_starts_only_after_the_jobs_it_waits_for_are_done() -> None:
    loop = CraneLoop.on(tiny_plant())
    loop.at(0.0, SubmitCraneJob(job="A", store="FS1", pick=g(2), drop=g(5, 2), crane="C1"))
    loop.at(0.0, SubmitCraneJob(job="B", store="FS1", pick="FS1-H1", drop=g(2), crane="C2", after=("A",)))
    loop.run()
    assert when(loop, "B", JobState.STARTED) >= when(loop, "A", JobState.DONE)


def test_higher_priority_goes_first_and_its_relocation_inherits_it() -> None:
    loop = CraneLoop.on(tiny_plant())
    loop.at(0.0, SubmitCraneJob(job="busy", store="FS1", pick=g(1), drop=g(2), crane="C1"))
    loop.at(1.0, SubmitCraneJob(job="low", store="FS1", pick=g(3), drop=g(4), crane="C1"))
    loop.at(1.0, SubmitCraneJob(job="reloc", store="FS1", pick=g(7), drop=g(8), crane="C1"))
    loop.at(
        1.0,
        SubmitCraneJob(
            job="high", store="FS1", pick=g(6), drop=g(5), crane="C1", priority=5, after=("reloc",)
        ),
    )
    loop.run()
    order = sorted(("low", "reloc", "high"), key=lambda j: when(loop, j, JobState.STARTED))
    assert order == ["reloc", "high", "low"]


def test_a_storage_and_a_retrieval_waiting_together_make_one_dual_command() -> None:
    loop = CraneLoop.on(tiny_plant())
    loop.at(0.0, SubmitCraneJob(job="S1", store="HB1", pick=IO, drop=cell(5, 3)))
    loop.at(1.0, SubmitCraneJob(job="S2", store="HB1", pick=IO, drop=cell(9, 2)))
    loop.at(1.0, SubmitCraneJob(job="R1", store="HB1", pick=cell(2, 4, "R"), drop=IO))
    loop.run()
    assert (
        when(loop, "S2", JobState.STARTED)
        == when(loop, "R1", JobState.STARTED)
        >= when(loop, "S1", JobState.DONE)
    )
    legs = [
        (e.order, e.operation)
        for e in loop.effects
        if isinstance(e, SendCraneMove) and e.order in ("S2", "R1")
    ]
    assert legs == [
        ("S2", Operation.PICK),
        ("S2", Operation.DROP),
        ("R1", Operation.PICK),
        ("R1", Operation.DROP),
    ]
    assert states(loop, "R1")[-1] is JobState.DONE


def test_bad_jobs_are_refused_with_the_reason() -> None:
    core = CraneCore(tiny_plant())
    with pytest.raises(UnknownStore, match="NOPE"):
        core.handle(SubmitCraneJob(job="x", store="NOPE", pick=g(1), drop=g(2)), 0.0)
    with pytest.raises(PlaceUnreachable, match="HB1-A01"):
        core.handle(SubmitCraneJob(job="x", store="FS1", pick=cell(1, 1), drop=g(2)), 0.0)
    with pytest.raises(PlaceUnreachable, match="safe working load"):
        core.handle(SubmitCraneJob(job="x", store="FS1", pick=g(1), drop=g(2), weight_t=36.0), 0.0)
    with pytest.raises(PlaceUnreachable, match="store IS1 bay B1"):
        core.handle(SubmitCraneJob(job="x", store="FS1", pick="IS1-B1-R01-S01", drop=g(2)), 0.0)
    core.handle(SubmitCraneJob(job="ok", store="FS1", pick=g(1), drop=g(2)), 0.0)
    with pytest.raises(DuplicateJob):
        core.handle(SubmitCraneJob(job="ok", store="FS1", pick=g(1), drop=g(2)), 0.0)
    assert core.open_jobs() == ["ok"]


def test_a_crane_fault_fails_its_job_and_it_blocks_its_span_until_back() -> None:
    plant = tiny_plant()
    loop = CraneLoop.on(plant)
    loop.at(0.0, SubmitCraneJob(job="A", store="FS1", pick=g(4), drop=g(8), crane="C1"))
    loop.run(until=10.0)
    loop.cranes.cranes["C1"].fail(10.0, "hoist overload")
    loop.feed(Tick())
    assert states(loop, "A")[-1] is JobState.FAILED
    failed = next(e for e in loop.effects if isinstance(e, CraneJobChanged) and e.state is JobState.FAILED)
    assert "hoist overload" in (failed.reason or "")
    # C2 now cannot take a job next to C1's reserved span; it waits until C1 is back.
    loop.feed(SubmitCraneJob(job="B", store="FS1", pick=g(3, 2), drop="FS1-H1", crane="C2"))
    loop.run(until=400.0)
    assert states(loop, "B") == [JobState.QUEUED]
    loop.cranes.cranes["C1"].recover(400.0)
    loop.feed(StateChanged(vehicle="C1", state=VehicleState.IDLE, at=400.0))
    loop.run()
    assert states(loop, "B")[-1] is JobState.DONE


def test_the_fake_crane_refuses_a_second_move_while_busy() -> None:
    loop = CraneLoop.on(tiny_plant())
    loop.feed(SubmitCraneJob(job="A", store="FS1", pick=g(4), drop=g(8), crane="C1"))
    with pytest.raises(ContractViolation, match="still doing"):
        loop.cranes.send(SendCraneMove(vehicle="C1", order="x", along=1.0, across=0.0))
    assert math.isfinite(loop.cranes.next_time or math.inf)


def test_fake_cranes_are_vehicles_behind_the_port() -> None:
    loop = CraneLoop.on(tiny_plant())
    assert isinstance(loop.cranes, VehiclePort)
    assert all(isinstance(c, VehiclePort) for c in loop.cranes.cranes.values())


def test_the_same_messages_give_the_same_decisions() -> None:
    """No wall clock in the decisions: a long queue (local search, not the exact solver) twice alike."""

    def run() -> list[object]:
        loop = CraneLoop.on(tiny_plant())
        places = [g(k, r) for k in range(1, 9) for r in (1, 2)]
        for i in range(14):
            pick, drop = places[(5 * i) % len(places)], places[(5 * i + 7) % len(places)]
            loop.at(0.0, SubmitCraneJob(job=f"J{i}", store="FS1", pick=pick, drop=drop, deadline=300.0 * i))
        loop.run()
        return list(loop.effects)

    first = run()
    assert sum(1 for e in first if isinstance(e, CraneJobChanged) and e.state is JobState.DONE) == 14
    assert run() == first


def test_a_started_job_can_be_cancelled_until_its_crane_is_sent_to_the_pick() -> None:
    core = CraneCore(tiny_plant())
    effects = core.handle(SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1", crane="C2"), 0.0)
    sent = [e for e in effects if isinstance(e, SendCraneMove)]
    assert [(e.vehicle, e.operation) for e in sent] == [("C1", Operation.MOVE)]  # C1 yields first
    assert core.job_state("J") is JobState.STARTED
    effects = core.handle(CancelCraneJob(job="J", reason="plan changed"), 1.0)
    assert [(e.job, e.state, e.reason) for e in effects if isinstance(e, CraneJobChanged)] == [
        ("J", JobState.FAILED, "plan changed")
    ]
    assert not [e for e in effects if isinstance(e, SendCraneMove)]
    core.handle(SubmitCraneJob(job="K", store="FS1", pick="FS1-H1", drop=g(8, 2), crane="C2"), 2.0)
    assert core.job_state("K") is JobState.STARTED
    with pytest.raises(JobAlreadyStarted):
        core.handle(CancelCraneJob(job="K"), 3.0)
