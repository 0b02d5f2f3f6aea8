"""Write a run directory (the contract in docs/simulation.md): kpis.json and the CSV and JSONL files.

Each file is written to a temporary name and renamed into place, so a failed run leaves no half-written
file. Numbers are rounded to 6 significant digits and nothing depends on the wall clock, so the same seed
gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulation.experiment import ExperimentResult

TASK_COLUMNS = (
    "replication", "task", "kind", "coil", "source", "target", "store", "created_s", "started_s",
    "finished_s", "lead_time_s", "wait_s", "vehicle", "crane", "relocations",
)  # fmt: skip


def round6(value: float) -> float:
    """6 significant digits; non-finite values (never expected) become 0 so the JSON stays valid."""
    if not math.isfinite(value):
        return 0.0
    return float(f"{value:.6g}")


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round6(value))
    return str(value)


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def write_files(result: ExperimentResult, out_dir: Path, kpis_json: str) -> None:
    tasks = io.StringIO()
    writer = csv.writer(tasks, lineterminator="\n")
    writer.writerow(TASK_COLUMNS)
    for rep, data in enumerate(result.replication_data):
        for row in sorted(data["tasks"], key=lambda r: (r["created_s"], r["task"])):
            writer.writerow([rep, *(_num(row[c]) for c in TASK_COLUMNS[1:])])
    series = io.StringIO()
    writer = csv.writer(series, lineterminator="\n")
    writer.writerow(("replication", "t_s", "metric", "resource", "value"))
    for rep, data in enumerate(result.replication_data):
        for t, metric, resource, value in data["timeseries"]:
            writer.writerow([rep, _num(float(t)), metric, resource, _num(float(value))])
    occupancy = io.StringIO()
    writer = csv.writer(occupancy, lineterminator="\n")
    writer.writerow(("position", "store", "x", "y", "occupied_fraction"))
    plant = result.plant
    fractions = result.replication_data[0]["occupancy"]
    places: list[tuple[str, str, float, float]] = [
        (p.id, p.store, p.x, p.y) for p in plant.saddle_positions.values()
    ]
    places += [(c.id, c.store, c.x, c.y) for c in plant.rack_cells.values()]
    places += [(s.id, s.store, s.x, s.y) for s in plant.stack_positions.values()]
    for place, store, x, y in sorted(places):
        writer.writerow(
            [place, store, _num(float(x)), _num(float(y)), _num(float(fractions.get(place, 0.0)))]
        )
    trace_lines = []
    for line in result.replication_data[0]["trace"]:
        rounded = {
            k: (float(_num(float(v))) if isinstance(v, float | int) and k in ("t", "x", "y") else v)
            for k, v in line.items()
        }
        trace_lines.append(json.dumps(rounded, sort_keys=True))
    _atomic_write(out_dir / "tasks.csv", tasks.getvalue())
    _atomic_write(out_dir / "timeseries.csv", series.getvalue())
    _atomic_write(out_dir / "occupancy.csv", occupancy.getvalue())
    _atomic_write(out_dir / "trace.jsonl", "".join(f"{line}\n" for line in trace_lines))
    _atomic_write(out_dir / "kpis.json", kpis_json)
