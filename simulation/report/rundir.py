"""Read a run directory (kpis.json and the CSV files the twin writes) into checked, typed values.

The files are an edge of the system, so kpis.json goes through pydantic and each CSV through a small
reader that names the file, the line and the column of anything it cannot read.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Floats = npt.NDArray[np.float64]
KPIS_SCHEMA = "coilyard.kpis/1"


class RunDirInvalid(Exception):
    """A run directory that cannot be read; the message names the file and what is wrong in it."""


# ---------------------------------------------------------------------------------------------- kpis.json


class KpiValue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    mean: float
    ci95_low: float
    ci95_high: float
    unit: str

    @property
    def half_width(self) -> float:
        return max(self.ci95_high - self.mean, self.mean - self.ci95_low, 0.0)


class LittlesLaw(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    L: float
    lambda_per_s: float
    W_s: float
    lambda_w: float = Field(alias="lambda_W")
    relative_error: float


class Breakdown(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    throughput_per_hour_by_store: dict[str, float] = Field(default_factory=dict)
    utilisation_by_vehicle: dict[str, float] = Field(default_factory=dict)
    utilisation_by_crane: dict[str, float] = Field(default_factory=dict)
    throughput_per_hour_by_class: dict[str, float] = Field(default_factory=dict)
    utilisation_by_charger: dict[str, float] = Field(default_factory=dict)
    charging_s_by_vehicle: dict[str, float] = Field(default_factory=dict)


class KpisFile(BaseModel):
    """kpis.json as the run-directory contract defines it (schema coilyard.kpis/1); extra keys pass."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    schema_id: str = Field(alias="schema")
    layout: str
    scenario: str | None = None
    seed: int
    hours: float
    warmup_hours: float
    replications: int
    kpis: dict[str, KpiValue]
    littles_law: LittlesLaw
    per_replication: list[dict[str, float | None]] = Field(default_factory=list)
    breakdown: Breakdown = Field(default_factory=Breakdown)


def read_kpis(path: Path) -> KpisFile:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirInvalid(f"{path}: missing (every run directory has a kpis.json)") from None
    except json.JSONDecodeError as exc:
        raise RunDirInvalid(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    try:
        kpis = KpisFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise RunDirInvalid(f"{path}: {problems}") from None
    if kpis.schema_id != KPIS_SCHEMA:
        raise RunDirInvalid(f"{path}: schema: expected '{KPIS_SCHEMA}', found '{kpis.schema_id}'")
    return kpis


# ---------------------------------------------------------------------------------------------- CSV files


def _rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with their line numbers, after checking the header has `required`."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise RunDirInvalid(f"{path}: header lacks column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def _number(path: Path, line: int, row: dict[str, str], column: str) -> float:
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise RunDirInvalid(f"{path}: line {line}: column {column}: not a number: '{text}'") from None
    if not math.isfinite(value):
        raise RunDirInvalid(f"{path}: line {line}: column {column}: not a finite number: '{text}'")
    return value


def _optional_number(path: Path, line: int, row: dict[str, str], column: str) -> float | None:
    return None if not (row.get(column) or "").strip() else _number(path, line, row, column)


@dataclass(frozen=True)
class Task:
    replication: int
    task: str
    kind: str
    store: str
    created_s: float
    finished_s: float | None
    lead_time_s: float | None
    wait_s: float | None
    vehicle: str
    crane: str


TASK_COLUMNS = (
    "replication",
    "task",
    "kind",
    "coil",
    "source",
    "target",
    "store",
    "created_s",
    "started_s",
    "finished_s",
    "lead_time_s",
    "wait_s",
    "vehicle",
    "crane",
    "relocations",
)


def read_tasks(path: Path) -> list[Task]:
    tasks: list[Task] = []
    for line, row in _rows(path, TASK_COLUMNS):
        tasks.append(
            Task(
                replication=int(_number(path, line, row, "replication")),
                task=row["task"],
                kind=row["kind"],
                store=row["store"],
                created_s=_number(path, line, row, "created_s"),
                finished_s=_optional_number(path, line, row, "finished_s"),
                lead_time_s=_optional_number(path, line, row, "lead_time_s"),
                wait_s=_optional_number(path, line, row, "wait_s"),
                vehicle=row["vehicle"],
                crane=row["crane"],
            )
        )
    return tasks


@dataclass(frozen=True)
class Series:
    """One metric of one resource over time, per replication."""

    by_replication: dict[int, tuple[Floats, Floats]]

    def mean(self) -> tuple[Floats, Floats, Floats, Floats]:
        """(t, mean, low, high) over replications on the first replication's sampling times."""
        first = min(self.by_replication)
        t = self.by_replication[first][0]
        stacked = np.vstack([np.interp(t, ts, vs) for ts, vs in self.by_replication.values()])
        return t, stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)

    def time_average(self) -> float:
        """Time-weighted average over all replications (step function held until the next sample)."""
        averages = []
        for t, v in self.by_replication.values():
            if len(t) > 1 and t[-1] > t[0]:
                averages.append(float(np.sum(v[:-1] * np.diff(t)) / (t[-1] - t[0])))
            elif len(v):
                averages.append(float(v.mean()))
        return float(np.mean(averages)) if averages else 0.0

    def peak(self) -> float:
        return max((float(v.max()) for _, v in self.by_replication.values() if len(v)), default=0.0)


@dataclass(frozen=True)
class TimeSeries:
    series: dict[tuple[str, str], Series] = field(default_factory=dict)

    def resources(self, metric: str) -> list[str]:
        return sorted(resource for m, resource in self.series if m == metric)

    def get(self, metric: str, resource: str = "") -> Series | None:
        return self.series.get((metric, resource))

    def first(self, metric: str) -> Series | None:
        """The series of `metric` for its only (or first) resource."""
        resources = self.resources(metric)
        return self.series[(metric, resources[0])] if resources else None


def read_timeseries(path: Path) -> TimeSeries:
    points: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for line, row in _rows(path, ("replication", "t_s", "metric", "resource", "value")):
        replication = int(_number(path, line, row, "replication"))
        points[(row["metric"], row["resource"])][replication].append(
            (_number(path, line, row, "t_s"), _number(path, line, row, "value"))
        )
    series: dict[tuple[str, str], Series] = {}
    for key, by_rep in points.items():
        arrays: dict[int, tuple[Floats, Floats]] = {}
        for replication, samples in by_rep.items():
            samples.sort()
            arrays[replication] = (
                np.array([s[0] for s in samples], dtype=float),
                np.array([s[1] for s in samples], dtype=float),
            )
        series[key] = Series(arrays)
    return TimeSeries(series)


@dataclass(frozen=True)
class Occupancy:
    position: str
    store: str
    x: float
    y: float
    occupied_fraction: float


def read_occupancy(path: Path) -> list[Occupancy]:
    rows: list[Occupancy] = []
    for line, row in _rows(path, ("position", "store", "x", "y", "occupied_fraction")):
        rows.append(
            Occupancy(
                position=row["position"],
                store=row["store"],
                x=_number(path, line, row, "x"),
                y=_number(path, line, row, "y"),
                occupied_fraction=_number(path, line, row, "occupied_fraction"),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Run:
    """Everything a report needs from one run directory. Files other than kpis.json may be absent
    (the report then says what it could not draw)."""

    directory: Path
    kpis: KpisFile
    tasks: list[Task] | None
    timeseries: TimeSeries | None
    occupancy: list[Occupancy] | None

    @property
    def warmup_s(self) -> float:
        return self.kpis.warmup_hours * 3600.0


def read_run(directory: Path) -> Run:
    if not directory.is_dir():
        raise RunDirInvalid(f"{directory}: not a directory (give the --out directory of `coilyard simulate`)")

    tasks_path, series_path, occupancy_path = (
        directory / "tasks.csv",
        directory / "timeseries.csv",
        directory / "occupancy.csv",
    )
    return Run(
        directory=directory,
        kpis=read_kpis(directory / "kpis.json"),
        tasks=read_tasks(tasks_path) if tasks_path.is_file() else None,
        timeseries=read_timeseries(series_path) if series_path.is_file() else None,
        occupancy=read_occupancy(occupancy_path) if occupancy_path.is_file() else None,
    )


def resolve_layout(run: Run) -> Path | None:
    """The layout file named in kpis.json: as written, or relative to the run directory."""
    named = Path(run.kpis.layout)
    for candidate in (named, run.directory / named, run.directory.parent / named):
        if candidate.is_file():
            return candidate
    return None
