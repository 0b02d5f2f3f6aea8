"""Safety zones: a loaded crane never passes over a zone closed to loaded cranes (shapely as the judge).

The plant is examples/tiny.yaml with its zones replaced. Flat store FS1: runway RW1 from (5, 42.5) to
(45, 42.5), span 24; rows R01 (y 36) and R02 (y 41) with ground positions at x 9 + 2.4·(k−1); the bay
handover H-FS1 at (38, 33); cranes C1 (home 3 m) and C2 (home 30 m).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from crane.core import (
    CraneCore,
    CraneJobChanged,
    JobState,
    SafetyZoneChanged,
    SetSafetyZone,
    SubmitCraneJob,
    UnknownZone,
)
from crane.fake_crane import CraneLoop, MoveRecord
from crane.places import crane_xy
from crane.runway import check_separation
from fleet.domain.orders import Operation
from layout import Plant, load_plant, parse_plant

ROOT = Path(__file__).resolve().parents[3]
TINY = (ROOT / "examples" / "tiny.yaml").read_text(encoding="utf-8")
Zone = tuple[str, tuple[float, float, float, float], bool]  # id, (x0, y0, x1, y1), active at start


def plant_with(zones: list[Zone]) -> Plant:
    head, _, _ = TINY.partition("safety_zones:")
    lines = ["safety_zones:"]
    for zid, (x0, y0, x1, y1), active in zones:
        outline = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        lines.append(
            f"  - {{id: {zid}, outline: {outline}, active: {str(active).lower()}, applies_to: [loaded_cranes]}}"
        )
    return parse_plant(head + "\n".join(lines) + "\n")


def g(k: int, row: int = 1) -> str:
    return f"FS1-B1-R{row:02d}-P{k:02d}-G"


def states(loop: CraneLoop, job: str) -> list[JobState]:
    return [e.state for e in loop.effects if isinstance(e, CraneJobChanged) and e.job == job]


def when(loop: CraneLoop, job: str, state: JobState) -> float:
    return next(
        e.at for e in loop.effects if isinstance(e, CraneJobChanged) and e.job == job and e.state is state
    )


BAND = ("ZB", (28.0, 29.0, 32.0, 56.0), True)  # across the whole span between the rows and H-FS1


def test_a_loaded_move_across_a_closed_zone_waits_until_it_opens() -> None:
    loop = CraneLoop.on(plant_with([BAND]))
    loop.at(0.0, SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1", crane="C1"))
    loop.at(0.0, SubmitCraneJob(job="K", store="FS1", pick=g(2), drop=g(5, 2), crane="C1"))
    loop.at(600.0, SetSafetyZone(zone="ZB", active=False))
    loop.run()
    assert when(loop, "K", JobState.DONE) < 600.0  # work the zone does not touch goes on
    assert when(loop, "J", JobState.STARTED) >= 600.0
    assert states(loop, "J")[-1] is JobState.DONE
    assert [e for e in loop.effects if isinstance(e, SafetyZoneChanged)] == [
        SafetyZoneChanged(zone="ZB", active=False, at=600.0)
    ]


def test_a_job_whose_drop_lies_in_a_closed_zone_fails_clearly() -> None:
    loop = CraneLoop.on(plant_with([("ZH", (36.0, 31.0, 40.0, 35.0), True)]))
    loop.at(0.0, SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1"))
    loop.run()
    failed = [e for e in loop.effects if isinstance(e, CraneJobChanged) and e.state is JobState.FAILED]
    assert [e.job for e in failed] == ["J"]
    assert failed[0].reason == "drop FS1-H1 lies in safety zone ZH, closed to loaded cranes"


def test_closing_a_zone_under_a_loaded_move_is_confirmed_only_when_the_move_has_passed() -> None:
    loop = CraneLoop.on(plant_with([("ZB", BAND[1], False)]))
    loop.at(0.0, SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1", crane="C1"))
    loop.run()
    picked = when(loop, "J", JobState.PICKED)
    loop2 = CraneLoop.on(plant_with([("ZB", BAND[1], False)]))
    loop2.at(0.0, SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1", crane="C1"))
    loop2.at(picked + 1.0, SetSafetyZone(zone="ZB", active=True))
    loop2.run()
    closed = next(e for e in loop2.effects if isinstance(e, SafetyZoneChanged))
    assert closed.active and closed.at == pytest.approx(when(loop2, "J", JobState.DONE))


def test_a_zone_closing_on_a_crane_that_holds_a_load_there_is_confirmed_once_it_has_carried_it_out() -> None:
    zones: list[Zone] = [("ZB", BAND[1], False), ("ZP", (8.0, 35.0, 10.0, 37.0), False)]  # ZP: around P01
    probe = CraneLoop.on(plant_with(zones))
    probe.at(0.0, SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1", crane="C1"))
    probe.run()
    picked = when(probe, "J", JobState.PICKED)

    loop = CraneLoop.on(plant_with(zones))
    loop.at(0.0, SubmitCraneJob(job="J", store="FS1", pick=g(1), drop="FS1-H1", crane="C1"))
    loop.at(
        picked - 1.0, SetSafetyZone(zone="ZB", active=True)
    )  # the pick is under way: it picks, then waits
    loop.at(picked + 1.0, SetSafetyZone(zone="ZP", active=True))  # closes around the waiting load
    loop.at(picked + 100.0, SetSafetyZone(zone="ZB", active=False))
    loop.run()
    changes = [(e.zone, e.active, e.at) for e in loop.effects if isinstance(e, SafetyZoneChanged)]
    done = when(loop, "J", JobState.DONE)
    assert changes == [
        ("ZB", True, picked - 1.0),
        ("ZB", False, picked + 100.0),
        ("ZP", True, pytest.approx(done)),  # not while the load hung inside it, nor while it left
    ]
    drop = next(m for m in loop.cranes.cranes["C1"].moves if m.order == "J" and m.operation is Operation.DROP)
    assert drop.t0 == pytest.approx(picked + 100.0)


def test_an_unknown_zone_is_refused() -> None:
    loop = CraneLoop.on(plant_with([BAND]))
    with pytest.raises(UnknownZone, match="Z-NONE"):
        loop.feed(SetSafetyZone(zone="Z-NONE", active=True))


# ----------------------------------------------------------------------------------------- property


def active_intervals(loop: CraneLoop, zones: list[Zone]) -> dict[str, list[tuple[float, float]]]:
    """When each zone was confirmed closed to loaded cranes, from the core's own effects."""
    out: dict[str, list[tuple[float, float]]] = {z: [] for z, _, _ in zones}
    since = {z: 0.0 for z, _, active in zones if active}
    for e in loop.effects:
        if isinstance(e, SafetyZoneChanged):
            if e.active:
                since[e.zone] = e.at
            elif e.zone in since:
                out[e.zone].append((since.pop(e.zone), e.at))
    for z, t in since.items():
        out[z].append((t, math.inf))
    return out


def load_positions(plant: Plant, move: MoveRecord, t0: float, t1: float) -> list[Polygon | Point]:
    """Shapes covering where the load is during [t0, t1] of a move, from the motion alone.

    Each axis is monotone within a move, so between two sample times the load stays in the box their hook
    positions span; with the load on the hook and the crane at rest (handling), it is at the end point."""
    out: list[Polygon | Point] = []
    lo, hi = max(t0, move.t0), min(t1, move.t1)
    if lo >= hi:  # the instant a zone closes as a move ends is not an overlap
        return out
    if move.loaded and lo < move.t_travel:
        end = min(hi, move.t_travel)
        times = [lo + (end - lo) * i / 64 for i in range(65)]
        points = [crane_xy(plant, move.crane, *move.hook(t)) for t in times]
        for (xa, ya), (xb, yb) in itertools.pairwise(points):
            out.append(box(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)))
    loaded_at_end = move.loaded or move.operation is Operation.PICK
    if loaded_at_end and hi >= move.t_travel:
        out.append(Point(crane_xy(plant, move.crane, *move.end)))
    return out


def standing_loads(plant: Plant, moves: list[MoveRecord]) -> list[tuple[float, float, Point]]:
    """(from, to, where) while a crane stands still between two moves with a load on the hook."""
    out: list[tuple[float, float, Point]] = []
    for a, b in itertools.pairwise(moves):
        holding = a.operation is Operation.PICK or (a.loaded and a.operation is not Operation.DROP)
        if holding and b.t0 > a.t1:
            out.append((a.t1, b.t0, Point(crane_xy(plant, a.crane, *a.end))))
    return out


PLACES = [g(k, r) for k in range(1, 9) for r in (1, 2)] + ["FS1-H1"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Zone], list[tuple[float, SubmitCraneJob | SetSafetyZone]]]:
    zones: list[Zone] = []
    for i in range(draw(st.integers(1, 3))):
        x0 = draw(st.floats(5.0, 42.0))
        y0 = draw(st.floats(29.0, 52.0))
        w, h = draw(st.floats(0.5, 8.0)), draw(st.floats(0.5, 26.0))
        zones.append((f"Z{i}", (x0, y0, x0 + w, y0 + h), draw(st.booleans())))
    timeline: list[tuple[float, SubmitCraneJob | SetSafetyZone]] = []
    for i in range(draw(st.integers(3, 12))):
        pick, drop = draw(st.sampled_from(PLACES)), draw(st.sampled_from(PLACES))
        crane = draw(st.sampled_from([None, "C1", "C2"]))
        t = draw(st.floats(0.0, 1500.0))
        timeline.append((t, SubmitCraneJob(job=f"J{i}", store="FS1", pick=pick, drop=drop, crane=crane)))
    for zid, _, _ in zones:
        for _ in range(draw(st.integers(0, 4))):
            timeline.append(
                (draw(st.floats(0.0, 2000.0)), SetSafetyZone(zone=zid, active=draw(st.booleans())))
            )
        timeline.append((2500.0, SetSafetyZone(zone=zid, active=False)))  # every zone opens in the end
    return zones, timeline


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_loaded_cranes_never_pass_over_a_closed_zone_and_every_job_ends(
    scenario: tuple[list[Zone], list[tuple[float, SubmitCraneJob | SetSafetyZone]]],
) -> None:
    zones, timeline = scenario
    plant = plant_with(zones)
    loop = CraneLoop.on(plant)
    submitted: list[str] = []
    for t, message in sorted(timeline, key=lambda item: item[0]):
        loop.at(t, message)
        if isinstance(message, SubmitCraneJob):
            submitted.append(message.job)
    loop.run()
    intervals = active_intervals(loop, zones)
    polygons = {zid: box(x0, y0, x1, y1) for zid, (x0, y0, x1, y1), _ in zones}
    for fake in loop.cranes.cranes.values():
        for move in fake.moves:
            for zid, spans in intervals.items():
                for t0, t1 in spans:
                    for shape in load_positions(plant, move, t0, t1):
                        assert not shape.intersects(polygons[zid]), f"load over {zid} in {t0}-{t1}: {move}"
        for s0, s1, point in standing_loads(plant, fake.moves):
            for zid, spans in intervals.items():
                for t0, t1 in spans:
                    if max(s0, t0) < min(s1, t1):
                        assert not point.intersects(polygons[zid]), f"load held in {zid} in {t0}-{t1}"
    for job in submitted:
        final = states(loop, job)[-1]
        assert final in (JobState.DONE, JobState.FAILED)
        if final is JobState.FAILED:
            reason = next(
                e.reason
                for e in loop.effects
                if isinstance(e, CraneJobChanged) and e.job == job and e.state is JobState.FAILED
            )
            assert reason is not None and "safety zone" in reason
    assert check_separation(loop.cranes.runway_log(plant, ["C1", "C2"])) == []


def test_a_stacker_crane_waits_to_carry_a_load_past_a_closed_zone_over_its_aisle() -> None:
    # HB1: origin (60, 30), heading 0, aisle axis at y 33.9; column c lies at x 60 + 2.5 (c - 0.5).
    loop = CraneLoop.on(plant_with([("ZA", (70.0, 32.0, 72.0, 36.0), True)]))
    loop.at(0.0, SubmitCraneJob(job="far", store="HB1", pick="IO-HB1", drop="HB1-A01-L-C009-L02"))
    loop.at(0.0, SubmitCraneJob(job="near", store="HB1", pick="IO-HB1", drop="HB1-A01-L-C002-L02"))
    loop.at(900.0, SetSafetyZone(zone="ZA", active=False))
    loop.run()
    assert when(loop, "near", JobState.DONE) < 900.0
    assert when(loop, "far", JobState.STARTED) >= 900.0
    assert states(loop, "far")[-1] is JobState.DONE


def test_the_example_plants_maintenance_zone_closes_for_cranes_and_a_vehicle_zone_is_not_theirs() -> None:
    core = CraneCore(load_plant(ROOT / "examples" / "aluminium-rolling.yaml"))
    assert core.handle(SetSafetyZone(zone="Z-CRANE-MAINT", active=True), 5.0) == [
        SafetyZoneChanged(zone="Z-CRANE-MAINT", active=True, at=5.0)
    ]
    assert core.handle(SetSafetyZone(zone="Z-PED-MAIN", active=True), 6.0) == []
