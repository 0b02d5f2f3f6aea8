"""A small synthetic run directory that follows the run-directory contract (docs/simulation-reports.md),
and a deterministic stand-in for `simulation.experiment.run_experiment`, for the report, sweep and replay
tests. The values are chosen so tests can look for them in what the report writes."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).parents[1]
TINY_LAYOUT = REPO_ROOT / "examples" / "tiny.yaml"

KPIS: dict[str, tuple[float, float, float, str]] = {
    "moves_completed": (412.0, 398.5, 425.5, "moves"),
    "throughput_per_hour": (51.5, 49.75, 53.25, "moves/h"),
    "task_lead_time_p50_s": (312.0, 290.0, 334.0, "s"),
    "task_lead_time_p95_s": (1044.0, 950.0, 1138.0, "s"),
    "vehicle_utilisation": (0.4625, 0.431, 0.494, "fraction"),
    "crane_utilisation": (0.7125, 0.688, 0.737, "fraction"),
    "relocations_per_retrieval": (0.375, 0.25, 0.5, "relocations"),
    "storage_utilisation": (0.625, 0.61, 0.64, "fraction"),
    "blocked_arrival_time_s": (0.0, 0.0, 0.0, "s"),
    "shipments_on_time_rate": (0.9375, 0.9, 0.975, "fraction"),
    "energy_per_move_kwh": (1.875, 1.8, 1.95, "kWh"),
    "vehicle_wait_s": (42.5, 38.0, 47.0, "s"),
    "crane_wait_s": (87.5, 80.0, 95.0, "s"),
}
LITTLE = {"L": 4.46875, "lambda_per_s": 0.0143, "W_s": 320.5, "lambda_W": 4.58315, "relative_error": 0.0256}
UTILISATION_BY_VEHICLE = {"AGV-01": 0.5125, "AGV-02": 0.4125, "RGV-01": 0.3}
UTILISATION_BY_CRANE = {"C1": 0.6875, "C2": 0.8875, "IC1": 0.25}
QUEUE_LEVEL = {"FS1": 3.0, "IS1": 0.5, "HB1": 0.0, "fleet": 1.0}
KINDS = ("putaway", "retrieval", "relocation", "shipment", "transfer")
TASK_HEADER = [
    "replication", "task", "kind", "coil", "source", "target", "store", "created_s", "started_s",
    "finished_s", "lead_time_s", "wait_s", "vehicle", "crane", "relocations",
]  # fmt: skip
TRACE_VEHICLES = {"AGV-01": ((60.0, 28.0), (100.0, 28.0)), "AGV-02": ((60.0, 32.0), (60.0, 50.0))}
TRACE_CRANES = {"C1": ((10.0, 42.5), (40.0, 42.5))}


@dataclass(frozen=True)
class SyntheticRun:
    directory: Path
    hours: float
    warmup_hours: float
    replications: int
    sample_s: float
    trace_end_s: float
    positions: int


def _positions(layout: Path | None) -> list[tuple[str, str, float, float]]:
    if layout is not None:
        from layout import load_plant

        plant = load_plant(layout)
        places = [(p.id, p.store, p.x, p.y) for p in plant.saddle_positions.values()]
        places += [(p.id, p.store, p.x, p.y) for p in plant.stack_positions.values()]
        places += [(c.id, c.store, c.x, c.y) for c in plant.rack_cells.values()]
        return sorted(places)
    return [(f"S-{i:02d}-{j:02d}", "S1", 10.0 + 2.5 * i, 10.0 + 3.0 * j) for i in range(8) for j in range(4)]


def write_synthetic_run(
    directory: Path,
    *,
    layout: Path | None = TINY_LAYOUT,
    layout_text: str | None = None,
    hours: float = 2.0,
    warmup_hours: float = 0.5,
    replications: int = 2,
    sample_s: float = 60.0,
    trace_end_s: float = 600.0,
    little: Mapping[str, float] = LITTLE,
) -> SyntheticRun:
    """Write kpis.json, tasks.csv, timeseries.csv, occupancy.csv and trace.jsonl into `directory`.
    `layout_text` overrides the layout path written into kpis.json (e.g. a file that does not exist)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    total_s = hours * 3600.0  # the run lasts `hours`, its first `warmup_hours` not counted
    kpis = {
        "schema": "coilyard.kpis/1",
        "layout": layout_text if layout_text is not None else str(layout or "synthetic.yaml"),
        "scenario": "synthetic",
        "seed": 11,
        "hours": hours,
        "warmup_hours": warmup_hours,
        "replications": replications,
        "kpis": {
            name: {"mean": m, "ci95_low": lo, "ci95_high": hi, "unit": unit}
            for name, (m, lo, hi, unit) in KPIS.items()
        },
        "littles_law": dict(little),
        "per_replication": [
            {name: round(m * (1 + 0.02 * (r - 0.5)), 6) for name, (m, _, _, _) in KPIS.items()}
            for r in range(replications)
        ],
        "breakdown": {
            "throughput_per_hour_by_store": {"FS1": 31.5, "IS1": 12.0, "HB1": 8.0},
            "utilisation_by_vehicle": UTILISATION_BY_VEHICLE,
            "utilisation_by_crane": UTILISATION_BY_CRANE,
            "throughput_per_hour_by_class": {"hot": 20.5, "cold": 31.0},
        },
    }
    (directory / "kpis.json").write_text(json.dumps(kpis, indent=2, sort_keys=True), encoding="utf-8")

    with (directory / "tasks.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TASK_HEADER)
        for r in range(replications):
            for i in range(120):
                created = float(i * total_s / 130)
                wait = float(rng.exponential(60.0))
                lead = float(rng.gamma(2.0, 180.0)) + wait
                kind = KINDS[i % len(KINDS)]
                finished = "" if i == 119 else f"{created + lead:.1f}"
                writer.writerow(
                    [
                        r,
                        f"T{i:04d}",
                        kind,
                        f"C{i:05d}",
                        "MILL",
                        "FS1-B1-R01-P01-G",
                        "FS1",
                        f"{created:.1f}",
                        f"{created + wait:.1f}",
                        finished,
                        "" if i == 119 else f"{lead:.1f}",
                        f"{wait:.1f}",
                        "AGV-01",
                        "C1",
                        i % 3,
                    ]
                )

    with (directory / "timeseries.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["replication", "t_s", "metric", "resource", "value"])
        for r in range(replications):
            steps = int(total_s // sample_s) + 1
            for k in range(steps):
                t = k * sample_s
                phase = math.sin(t / 1800.0 + r)
                writer.writerow([r, t, "moves_completed", "", round(t / 3600.0 * 51.5 + 2 * phase, 3)])
                writer.writerow([r, t, "vehicles_busy", "", round(1.4 + phase, 3)])
                writer.writerow([r, t, "cranes_busy", "", round(2.1 + 0.5 * phase, 3)])
                writer.writerow([r, t, "blocked_lines", "", 0])
                for store, level in QUEUE_LEVEL.items():
                    writer.writerow(
                        [r, t, "queue_length", store, round(max(level * (1 + 0.3 * phase), 0), 3)]
                    )
                for store, base in (("FS1", 0.6), ("IS1", 0.7), ("HB1", 0.4)):
                    writer.writerow([r, t, "store_occupancy", store, round(base + 0.05 * phase, 4)])

    places = _positions(layout)
    with (directory / "occupancy.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["position", "store", "x", "y", "occupied_fraction"])
        for index, (ident, store, x, y) in enumerate(places):
            writer.writerow([ident, store, x, y, round((index * 37 % 100) / 100.0, 2)])

    write_trace(directory / "trace.jsonl", places[:6], trace_end_s)
    return SyntheticRun(directory, hours, warmup_hours, replications, sample_s, trace_end_s, len(places))


def write_trace(path: Path, places: list[tuple[str, str, float, float]], end_s: float) -> None:
    """Vehicles and a crane shuttle between two points every 100 s; a coil lands on a place each 50 s."""
    records: list[dict[str, object]] = []
    for t in np.arange(0.0, end_s + 1e-9, 100.0):
        leg = int(t // 100) % 2
        for kind, movers in (("vehicle", TRACE_VEHICLES), ("crane", TRACE_CRANES)):
            for ident, (a, b) in movers.items():
                x, y = (a, b)[leg]
                state = "driving" if t < end_s else "idle"
                load = f"C{int(t):05d}" if leg else None
                records.append(
                    {"t": float(t), "kind": kind, "id": ident, "x": x, "y": y, "state": state, "load": load}
                )
    for index, (ident, _, x, y) in enumerate(places):
        records.append(
            {"t": 0.0, "kind": "stock", "id": ident, "x": x, "y": y, "state": "stored", "load": None}
        )
        records.append(
            {
                "t": 50.0 * (index + 1),
                "kind": "stock",
                "id": ident,
                "x": x,
                "y": y,
                "state": "stored",
                "load": f"K{index:03d}",
            }
        )
    records.sort(key=lambda r: (float(r["t"]), str(r["kind"]), str(r["id"])))  # type: ignore[arg-type]
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")


# ---------------------------------------------------------------------------------------------- stand-in runner


@dataclass(frozen=True)
class StandInKpi:
    mean: float
    ci95_low: float
    ci95_high: float
    unit: str


@dataclass(frozen=True)
class StandInResult:
    kpis: dict[str, StandInKpi] = field(default_factory=dict)


def stand_in_run_experiment(
    layout: Path,
    scenario: Path | None,
    *,
    hours: float | None = None,
    warmup_hours: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, float | int | str] = {},
    progress: Callable[[str, float], None] | None = None,
) -> StandInResult:
    """Deterministic, like the twin with a fixed seed: throughput saturates at 10 AGVs (58 moves/h),
    crane utilisation climbs with throughput, lead time falls; `speed` scales the throughput."""
    agvs = float(overrides.get("fleet.agv.count", 4))
    speed = float(overrides.get("fleet.agv.speed", 1.0))
    throughput = 58.0 * speed * min(agvs, 10.0) / 10.0 + 0.01 * (seed or 0)
    half = 0.5 + 1.0 / max(replications or 3, 1)
    if progress is not None:
        progress("replication 1", 1.0)
    return StandInResult(
        {
            "throughput_per_hour": StandInKpi(throughput, throughput - half, throughput + half, "moves/h"),
            "vehicle_utilisation": StandInKpi(min(throughput / (agvs * 8.0), 1.0), 0.0, 1.0, "fraction"),
            "task_lead_time_p95_s": StandInKpi(3600.0 / throughput * 10, 0.0, 2000.0, "s"),
        }
    )


class UnpicklableError(Exception):
    """Like LayoutInvalid: two arguments in __init__, so unpickling it from args alone fails."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")


def unpicklable_failing_run_experiment(
    layout: Path,
    scenario: Path | None,
    *,
    hours: float | None = None,
    warmup_hours: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, float | int | str] = {},
    progress: Callable[[str, float], None] | None = None,
) -> StandInResult:
    if overrides.get("fleet.agv.count") == 3:
        raise UnpicklableError("tiny.yaml", "fleet[0].count: 3 vehicles but only 2 parking nodes")
    return stand_in_run_experiment(layout, scenario, overrides=overrides)


def failing_run_experiment(
    layout: Path,
    scenario: Path | None,
    *,
    hours: float | None = None,
    warmup_hours: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, float | int | str] = {},
    progress: Callable[[str, float], None] | None = None,
) -> StandInResult:
    raise ValueError(f"unknown override path 'fleet.bogus' (overrides {dict(overrides)})")
