"""Experiments: replications of one plant and scenario, KPIs with 95% confidence intervals, the run directory.

`run_experiment(layout, scenario, hours=, warmup_hours=, replications=, seed=, overrides=, progress=)` runs
`replications` independent replications. Their random streams are children of one
`numpy.random.SeedSequence(seed)` (`spawn`), so replications are independent and the same seed gives the
same results. Each KPI's mean over replications gets a Student t 95% interval (with one replication the
interval is the value itself).

Overrides change the scenario or the plant by dotted path before the run (values are numbers or strings):

- `run.sample_s=300`, `vehicles.charging=none`, `cranes.constant_speed=true`, `breakdowns.vehicles.mtbf_h=20`
- list entries by id: `sources.hot-mill.interarrival_s=900` (a number replaces a distribution by a
  constant), `sources.hot-mill.interarrival_s.mean=900` (one field of it), `demand.retrievals.cold-mill.due_s=3600`,
  `demand.shipments.trucks.window_h=3`, `initial_stock.FS1=0.6`
- the plant: `fleet.<vehicle class>.count=8`, `vehicle_classes.<id>.speed_loaded=1.2`,
  `stores.<id>.cranes.<crane id>.bridge.speed=1.8` (any field of the plant file, list entries by id; fleet
  entries by class)
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as scipy_stats  # type: ignore[import-untyped, unused-ignore]

from layout import Plant, load_plant, parse_plant
from layout.loader import parse_plant_file
from simulation.rundir import round6, write_files
from simulation.scenario import ScenarioFile, default_scenario, load_scenario, scenario_from_mapping
from simulation.shell import Replication, ReplicationSetup
from simulation.stats import KPI_UNITS

Progress = Callable[[str, float], None]
SCHEMA = "coilyard.kpis/1"


class OverrideError(ValueError):
    """An override names no value of the scenario or plant, or its value does not fit."""


@dataclass(frozen=True, slots=True)
class Kpi:
    mean: float
    ci95_low: float
    ci95_high: float
    unit: str


@dataclass
class ExperimentResult:
    layout: str
    scenario: str
    seed: int
    hours: float
    warmup_hours: float
    replications: int
    kpis: dict[str, Kpi]
    littles_law: dict[str, float]
    per_replication: list[dict[str, float]]
    breakdown: dict[str, dict[str, float]]
    replication_data: list[dict[str, Any]] = field(repr=False)
    plant: Plant = field(repr=False)
    sample_s: float = 600.0


def default_scenario_path(layout: Path) -> Path | None:
    """The scenario that ships with a plant file: `<stem>.scenario.yaml` beside it, if there is one."""
    candidate = Path(layout).with_name(f"{Path(layout).stem}.scenario.yaml")
    return candidate if candidate.is_file() else None


def confidence_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and Student t 95% interval over replications (the value itself for one replication)."""
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if array.size < 2:
        return mean, mean, mean
    half = float(scipy_stats.t.ppf(0.975, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return mean, mean - half, mean + half


def run_experiment(
    layout: Path,
    scenario: Path | None,
    *,
    hours: float | None = None,
    warmup_hours: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, float | int | str] | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> ExperimentResult:
    """Run the replications (see the module docstring); arguments left None come from the scenario.

    `scenario=None` uses the layout's own scenario (`default_scenario_path`) when it has one. `jobs > 1` runs
    replications in that many worker processes (progress is then told per finished replication)."""
    scenario = scenario if scenario is not None else default_scenario_path(layout)

    plant, plan = prepare(layout, scenario, overrides or {})
    run = plan.run
    hours = run.hours if hours is None else hours
    warmup_hours = run.warmup_hours if warmup_hours is None else warmup_hours
    replications = run.replications if replications is None else replications
    seed = run.seed if seed is None else seed
    if warmup_hours >= hours:
        raise OverrideError(f"warm-up ({warmup_hours} h) must be shorter than the run ({hours} h)")
    if replications < 1:
        raise OverrideError(f"replications must be at least 1 (got {replications})")
    children = np.random.SeedSequence(seed).spawn(replications)
    names_of = [f"replication {index + 1}/{replications}" for index in range(replications)]
    data: list[dict[str, Any]] = []
    if jobs > 1 and replications > 1:
        # Each worker process rebuilds the plant and scenario from the same inputs: same results as in-process.
        work: list[Work] = [
            (layout, scenario, dict(overrides or {}), i, c, hours, warmup_hours)
            for i, c in enumerate(children)
        ]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, replications), mp_context=context) as pool:
            futures = [pool.submit(_replicate, item) for item in work]
            for name, future in zip(names_of, futures, strict=True):
                data.append(future.result())
                if progress is not None:
                    progress(name, 1.0)
    else:
        for index, child in enumerate(children):

            def tell(fraction: float, name: str = names_of[index]) -> None:
                if progress is not None:
                    progress(name, fraction)

            setup = ReplicationSetup(
                plant, plan, index, child, hours, warmup_hours, trace=index == 0 and run.trace, progress=tell
            )
            data.append(Replication(setup).run())
    names = list(KPI_UNITS)
    per_replication = [{k: d["kpis"][k] for k in names} for d in data]
    kpis: dict[str, Kpi] = {}
    for name in names:
        mean, low, high = confidence_interval([r[name] for r in per_replication])
        # Every KPI is a count, time, rate or fraction: a t interval reaching below zero (few replications,
        # wide spread) is cut at zero rather than reported as a negative time.
        kpis[name] = Kpi(mean, max(low, 0.0), high, KPI_UNITS[name])
    little = {
        k: float(np.mean([d["littles_law"][k] for d in data]))
        for k in ("L", "lambda_per_s", "W_s", "lambda_W")
    }
    little["relative_error"] = abs(little["L"] - little["lambda_W"]) / little["L"] if little["L"] > 0 else 0.0
    little["max_relative_error"] = max(d["littles_law"]["relative_error"] for d in data)
    breakdown: dict[str, dict[str, float]] = {}
    for key in data[0]["breakdown"]:
        names_in = sorted({n for d in data for n in d["breakdown"][key]})
        breakdown[key] = {
            n: float(np.mean([d["breakdown"][key].get(n, 0.0) for d in data])) for n in names_in
        }
    return ExperimentResult(
        layout=str(layout),
        scenario=str(scenario) if scenario is not None else "",
        seed=seed,
        hours=hours,
        warmup_hours=warmup_hours,
        replications=replications,
        kpis=kpis,
        littles_law=little,
        per_replication=per_replication,
        breakdown=breakdown,
        replication_data=data,
        plant=plant,
        sample_s=run.sample_s,
    )


# ---------------------------------------------------------------------------------------------- overrides


def prepare(
    layout: Path, scenario: Path | None, overrides: Mapping[str, float | int | str]
) -> tuple[Plant, ScenarioFile]:
    """Load the plant and scenario and apply the overrides (plant paths rebuild and re-check the plant).

    The scenario's own `plant_overrides` apply first, then the plant paths among `overrides`."""
    plant_overrides = {k: v for k, v in overrides.items() if k.split(".")[0] in _PLANT_ROOTS}
    scenario_overrides = {k: v for k, v in overrides.items() if k not in plant_overrides}
    if scenario is not None:
        declared = load_scenario(scenario).plant_overrides
        plant_overrides = {**declared, **plant_overrides}
    if plant_overrides:
        text = Path(layout).read_text(encoding="utf-8")
        raw = parse_plant_file(text, source=str(layout)).model_dump(by_alias=True, exclude_unset=True)
        for path, value in plant_overrides.items():
            _set(raw, path, value, fleet=True)
        plant = parse_plant(json.dumps(raw), source=f"{layout} (with overrides)")  # JSON parses fast
    else:
        plant = load_plant(layout)
    plan = load_scenario(scenario, plant) if scenario is not None else default_scenario(plant)
    if scenario_overrides:
        raw_scenario = plan.model_dump(exclude_unset=True)
        for path, value in scenario_overrides.items():
            _set(raw_scenario, path, value, fleet=False)
        plan = scenario_from_mapping(raw_scenario, source=f"{scenario} (with overrides)", plant=plant)
    return plant, plan


Work = tuple[Path, Path | None, dict[str, float | int | str], int, np.random.SeedSequence, float, float]


def _replicate(work: Work) -> dict[str, Any]:
    """One replication in a worker process (see `run_experiment(jobs=...)`)."""
    layout, scenario, overrides, index, seed, hours, warmup_hours = work
    plant, plan = prepare(layout, scenario, overrides)
    setup = ReplicationSetup(
        plant, plan, index, seed, hours, warmup_hours, trace=index == 0 and plan.run.trace
    )
    return Replication(setup).run()


_PLANT_ROOTS = {"fleet", "vehicle_classes", "stores", "stations", "network", "safety_zones", "plant"}


def _set(raw: dict[str, Any], path: str, value: float | int | str, *, fleet: bool) -> None:
    parts = path.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        node = _child(node, part, path, parts[: i + 1])
    last = parts[-1]
    if fleet and len(parts) == 3 and parts[0] == "fleet" and last == "count" and _value(value) == 0:
        raw["fleet"] = [e for e in raw.get("fleet", []) if e is not node]  # no vehicles of that class
        return
    if isinstance(node, list):
        raise OverrideError(f"override '{path}': '{last}' must name an entry of the list before it")
    if not isinstance(node, dict):
        raise OverrideError(f"override '{path}': '{'.'.join(parts[:-1])}' is not a mapping")
    node[last] = _value(value)


def _child(node: Any, part: str, path: str, done: list[str]) -> Any:
    if isinstance(node, dict):
        if part not in node:
            node[part] = {}
        return node[part]
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and part in (
                item.get("id"),
                item.get("class"),
                item.get("vehicle_class"),
            ):
                return item
        raise OverrideError(f"override '{path}': no entry '{part}' in {'.'.join(done[:-1])}")
    raise OverrideError(f"override '{path}': '{'.'.join(done[:-1])}' has no field '{part}'")


def _value(value: float | int | str) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`["a.b=1", ...]` -> {"a.b": "1"}; raises OverrideError on an item without '='."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OverrideError(f"override '{item}' is not PATH=VALUE")
        out[key.strip()] = value.strip()
    return out


def kpis_document(result: ExperimentResult) -> dict[str, Any]:
    """kpis.json as a dict: keys sorted, floats to 6 significant digits (see the run-directory contract)."""
    document: dict[str, Any] = _rounded(
        {
            "schema": SCHEMA,
            "layout": result.layout,
            "scenario": result.scenario,
            "seed": result.seed,
            "hours": result.hours,
            "warmup_hours": result.warmup_hours,
            "replications": result.replications,
            "sample_s": result.sample_s,
            "kpis": {
                k: {"mean": v.mean, "ci95_low": v.ci95_low, "ci95_high": v.ci95_high, "unit": v.unit}
                for k, v in result.kpis.items()
            },
            "littles_law": result.littles_law,
            "per_replication": result.per_replication,
            "breakdown": result.breakdown,
        }
    )
    return document


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round6(value)
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def write_run_dir(result: ExperimentResult, out_dir: Path) -> None:
    """Write kpis.json, tasks.csv, timeseries.csv, occupancy.csv and (replication 0) trace.jsonl."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = kpis_document(result)
    write_files(result, out_dir, json.dumps(document, sort_keys=True, indent=2) + "\n")
