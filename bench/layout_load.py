"""Benchmark: parse, check and build a generated plant with 50,000 positions and 5,000 network nodes.

Goal (foundation issue): the whole load in at most 2 s. Prints the median of several runs, split into
stages, for the YAML file and for the same plant as JSON (which the loader also reads, JSON being YAML).

    python bench/layout_load.py [--positions 50000] [--nodes 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from bench.plant_generator import generate_plant, generate_plant_yaml
from layout.build import build_plant
from layout.loader import _parse_document, parse_plant
from layout.rules import PlantIndex, check
from layout.schema import PlantFile

GOAL_S = 2.0


def stages(text: str) -> dict[str, float]:
    """One load, timed stage by stage (the same steps `parse_plant` takes)."""
    times: dict[str, float] = {}

    def timed(name: str, step: Callable[[], object]) -> object:
        start = time.perf_counter()
        result = step()
        times[name] = time.perf_counter() - start
        return result

    raw = timed("parse text", lambda: _parse_document(text))
    plant_file = timed("schema", lambda: PlantFile.model_validate(raw))
    assert isinstance(plant_file, PlantFile)
    index = PlantIndex(plant_file)
    timed("routing graphs", lambda: index.network)
    problems = timed("rules", lambda: check(index))
    assert problems == [], problems
    timed("derive places", lambda: build_plant(plant_file, index.network))
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--positions", type=int, default=50_000)
    parser.add_argument("--nodes", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    console = Console()

    with console.status("generating the plant"):
        yaml_text = generate_plant_yaml(args.positions, args.nodes)
        json_text = json.dumps(generate_plant(args.positions, args.nodes))
    plant = parse_plant(yaml_text, "generated.yaml")
    console.print(
        f"plant: {len(plant.saddle_positions):,} saddle positions, {len(plant.node_points):,} nodes, "
        f"{len(plant.edges):,} directed edges, {len(plant.vehicles)} vehicles; "
        f"YAML {len(yaml_text) / 1e6:.1f} MB, JSON {len(json_text) / 1e6:.1f} MB"
    )

    results: dict[str, dict[str, float]] = {}
    for label, text in (("YAML", yaml_text), ("JSON", json_text)):
        runs = [stages(text) for _ in range(args.repeat)]
        results[label] = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
        # The public entry point, end to end, for the record.
        start = time.perf_counter()
        parse_plant(text, "generated")
        results[label]["parse_plant() once"] = time.perf_counter() - start

    table = Table(title=f"layout load, median of {args.repeat} runs (seconds)")
    table.add_column("stage")
    for label in results:
        table.add_column(label, justify="right")
    for name in results["YAML"]:
        table.add_row(name, *(f"{results[label][name]:.3f}" for label in results))
    console.print(table)
    total = results["YAML"]["total"]
    verdict = "[green]meets[/]" if total <= GOAL_S else "[red]misses[/]"
    console.print(f"YAML total {total:.2f} s {verdict} the goal of {GOAL_S:.0f} s")


if __name__ == "__main__":
    main()
