"""Benchmark: one-shot MAPF on the Moving AI warehouse maps, our solver against pip-installable peers.

For each case (map, scenario files, agent counts) and each solver, the first N agents of each scenario are
planned in a fresh subprocess with a timeout, so a peer that hangs cannot stall the run. Every plan is
checked by `fleet.mapf.validate.check_plan` (independent of our solver: start/goal, 4-neighbour moves or
waits, obstacles, vertex and swap conflicts) and its sum of costs recomputed there. A run counts as a
success when the plan is valid and the solve took at most the time limit. SoC/LB divides the sum of costs
by the sum of single-agent BFS distances (computed here with scipy, not by the solver).

Cost convention: an agent's cost is the time of its last arrival at its goal after which it never leaves.

    python bench/mapf_bench.py                          # both default cases, all solvers, 2 s limit
    python bench/mapf_bench.py --case warehouse-10-20-10-2-1:1-5:50,100,200,400,800 \\
        --case warehouse-20-40-10-2-1:1:50,100,200,400,800,1000 --time-limit 2 \\
        --solvers coilyard,w9-hca,pymapf-lacam,pymapf-pibt --markdown out/mapf.md --json out/mapf.json

With --cpu-budget the limit counts CPU seconds of the solving process instead of wall time: our solver
reads time.process_time as its clock, and every solver's success is judged on its CPU time. That is the
nearest stand-in for a quiet machine while others load this one; the peers still stop on their own wall
clocks, so compare them on the plain runs.

Solvers: coilyard (fleet.mapf), w9-hca / w9-whca (w9-pathfinding, C++), pymapf-lacam, pymapf-pibt,
pymapf-pp, pymapf-lns (pymapf, pure Python). A solver that fails every scenario at some N is not run at
larger N of that case (its remaining rows say "skipped").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fleet.mapf.grid import MapfInputError
from fleet.mapf.movingai import parse_map, parse_scenario
from fleet.mapf.validate import check_plan

ROOT = Path(__file__).resolve().parents[1]

SOLVERS = ("coilyard", "w9-hca", "w9-whca", "pymapf-lacam", "pymapf-pibt", "pymapf-pp", "pymapf-lns")
DEFAULT_SOLVERS = "coilyard,w9-hca,pymapf-lacam,pymapf-pibt"
DEFAULT_CASES = (
    "warehouse-10-20-10-2-1:1-5:50,100,200,400,800",
    "warehouse-20-40-10-2-1:1:50,100,200,400,800,1000",
)
STARTUP_GRACE_S = 10.0  # interpreter start and imports in the worker, on top of the time limit
CPU_BUDGET_GRACE = 4.0  # with --cpu-budget, wall time may be this many times the limit on a loaded machine


@dataclass(frozen=True)
class Case:
    map_name: str
    scenarios: tuple[int, ...]
    agents: tuple[int, ...]


@dataclass
class Run:
    solver: str
    map_name: str
    scenario: int
    agents: int
    status: str  # ok | invalid | no-solution | timeout | too-slow | error | skipped
    wall_s: float | None = None
    cpu_s: float | None = None  # CPU time of the solving process: less sensitive to a shared machine
    sum_of_costs: int | None = None
    lower_bound: int | None = None
    makespan: int | None = None
    detail: str = ""
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # solver-specific: coilyard's first plan (time, SoC/LB)


def parse_case(text: str) -> Case:
    try:
        name, scens, counts = text.split(":")
        if "-" in scens:
            first, last = (int(part) for part in scens.split("-"))
            scenarios = tuple(range(first, last + 1))
        else:
            scenarios = tuple(int(part) for part in scens.split(","))
        agents = tuple(int(part) for part in counts.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"case {text!r}: expected MAP:SCENARIOS:AGENTS, e.g. warehouse-10-20-10-2-1:1-5:50,100"
        ) from None
    return Case(name, scenarios, agents)


# ---------------------------------------------------------------------------------------------- worker


def _solve_coilyard(
    blocked: npt.NDArray[np.bool_], starts: list[Any], goals: list[Any], limit: float, cpu_clock: bool
) -> Any:
    from fleet.mapf.solver import solve

    clock = time.process_time if cpu_clock else time.perf_counter
    solution = solve(blocked, starts, goals, clock=clock, time_limit=limit)
    if solution is None:
        return None, {}
    first = {"method": solution.method, "first_s": solution.initial_seconds}
    first["first_ratio"] = (
        solution.initial_sum_of_costs / solution.lower_bound if solution.lower_bound else 1.0
    )
    return solution.paths, first


def _solve_w9(blocked: npt.NDArray[np.bool_], starts: list[Any], goals: list[Any], windowed: bool) -> Any:
    from w9_pathfinding.envs import Grid  # type: ignore[import-untyped]
    from w9_pathfinding.mapf import HCAStar, WHCAStar  # type: ignore[import-untyped]

    grid = Grid(np.where(blocked, -1, 1).tolist(), edge_collision=True)  # edge_collision forbids swaps
    planner = (WHCAStar if windowed else HCAStar)(grid)
    # w9 nodes are (x, y) = (column, row).
    xy_starts = [(col, row) for row, col in starts]
    xy_goals = [(col, row) for row, col in goals]
    longest = int(blocked.size)  # generous path-length cap: the search space is bounded by the timeout
    paths = planner.mapf(xy_starts, xy_goals, max_length=min(longest, 4000))
    return [[(row, col) for col, row in path] for path in paths] if paths else None


def _solve_pymapf(
    blocked: npt.NDArray[np.bool_], starts: list[Any], goals: list[Any], algorithm: str, limit: float
) -> Any:
    import pymapf  # type: ignore[import-untyped]

    grid = pymapf.GridMap(blocked.astype(int).tolist())
    agents = [
        pymapf.Agent(str(i), tuple(s), tuple(g)) for i, (s, g) in enumerate(zip(starts, goals, strict=True))
    ]
    problem = pymapf.MAPFProblem(grid, agents)
    options: dict[str, Any] = {"time_limit": limit}
    solution = pymapf.solve(problem, algorithm, **options)
    if solution is None or not solution.paths:
        return None
    return [[tuple(cell) for cell in solution.paths[str(i)]] for i in range(len(starts))]


def worker(request_text: str) -> None:
    """Run one solver on one instance and print {"paths": ..., "wall_s": ...} as JSON."""
    request = json.loads(request_text)
    blocked = np.array(request["blocked"], dtype=bool)
    starts = [tuple(cell) for cell in request["starts"]]
    goals = [tuple(cell) for cell in request["goals"]]
    solver, limit = request["solver"], float(request["time_limit"])
    began, began_cpu = time.perf_counter(), time.process_time()
    extra: dict[str, Any] = {}
    if solver == "coilyard":
        paths, extra = _solve_coilyard(blocked, starts, goals, limit, bool(request.get("cpu_clock")))
    elif solver in ("w9-hca", "w9-whca"):
        paths = _solve_w9(blocked, starts, goals, windowed=solver == "w9-whca")
    elif solver.startswith("pymapf-"):
        algorithm = {
            "pymapf-lacam": "lacam",
            "pymapf-pibt": "pibt",
            "pymapf-pp": "prioritized",
            "pymapf-lns": "lns",
        }
        paths = _solve_pymapf(blocked, starts, goals, algorithm[solver], limit)
    else:
        raise SystemExit(f"unknown solver {solver!r}")
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    plain = None if paths is None else [[[int(r), int(c)] for r, c in path] for path in paths]
    print(json.dumps({"paths": plain, "wall_s": wall, "cpu_s": cpu, "extra": extra}))


# ---------------------------------------------------------------------------------------------- parent


def lower_bound(blocked: npt.NDArray[np.bool_], starts: Sequence[Any], goals: Sequence[Any]) -> int:
    """Sum of 4-connected BFS distances, computed here (not by any solver)."""
    from scipy import sparse  # type: ignore[import-untyped, unused-ignore]
    from scipy.sparse import csgraph  # type: ignore[import-untyped, unused-ignore]

    height, width = blocked.shape
    index = np.arange(height * width).reshape(height, width)
    free = ~blocked
    pairs = []
    right = free[:, :-1] & free[:, 1:]
    down = free[:-1, :] & free[1:, :]
    pairs.append((index[:, :-1][right], index[:, 1:][right]))
    pairs.append((index[:-1, :][down], index[1:, :][down]))
    rows = np.concatenate([a for a, _ in pairs] + [b for _, b in pairs])
    cols = np.concatenate([b for _, b in pairs] + [a for a, _ in pairs])
    matrix = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(height * width, height * width))
    total = 0
    goal_ids = [int(index[g]) for g in goals]
    start_ids = [int(index[s]) for s in starts]
    for first in range(0, len(goal_ids), 64):
        batch = goal_ids[first : first + 64]
        dist = csgraph.shortest_path(matrix, method="D", unweighted=True, indices=batch)
        total += int(sum(dist[k, start_ids[first + k]] for k in range(len(batch))))
    return total


def run_one(
    *,
    solver: str,
    blocked: npt.NDArray[np.bool_],
    starts: list[Any],
    goals: list[Any],
    limit: float,
    run: Run,
    cpu_budget: bool = False,
) -> Run:
    request = json.dumps(
        {
            "solver": solver,
            "blocked": blocked.astype(int).tolist(),
            "starts": starts,
            "goals": goals,
            "time_limit": limit,
            "cpu_clock": cpu_budget,
        }
    )
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            input=request,
            capture_output=True,
            text=True,
            timeout=limit * (CPU_BUDGET_GRACE if cpu_budget else 1.0) + STARTUP_GRACE_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        run.status = "timeout"
        return run
    if done.returncode != 0:
        run.status = "error"
        run.detail = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1][:200]
        return run
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    run.wall_s, run.cpu_s, run.extra = answer["wall_s"], answer.get("cpu_s"), answer.get("extra", {})
    if answer["paths"] is None:
        run.status = "no-solution"
        return run
    check = check_plan(blocked, starts, goals, [[tuple(c) for c in p] for p in answer["paths"]])
    if not check.valid:
        run.status = "invalid"
        run.detail = check.problems[0]
        return run
    run.sum_of_costs, run.makespan = check.sum_of_costs, check.makespan
    used = run.cpu_s if cpu_budget and run.cpu_s is not None else run.wall_s
    run.status = "ok" if used <= limit else "too-slow"
    return run


@dataclass
class Row:
    solver: str
    map_name: str
    agents: int
    runs: int
    solved: int
    skipped: bool
    ratio_mean: float | None
    ratio_max: float | None
    wall_mean: float | None
    wall_max: float | None
    cpu_mean: float | None


def summarise(runs: Sequence[Run]) -> list[Row]:
    keys: dict[tuple[str, int, str], list[Run]] = {}
    for run in runs:
        keys.setdefault((run.map_name, run.agents, run.solver), []).append(run)
    rows = []
    for (map_name, agents, solver), group in keys.items():
        good = [r for r in group if r.status == "ok"]
        ratios = [r.sum_of_costs / r.lower_bound for r in good if r.sum_of_costs and r.lower_bound]
        walls = [r.wall_s for r in good if r.wall_s is not None]
        cpus = [r.cpu_s for r in good if r.cpu_s is not None]
        rows.append(
            Row(
                solver=solver,
                map_name=map_name,
                agents=agents,
                runs=len(group),
                solved=len(good),
                skipped=all(r.status == "skipped" for r in group),
                ratio_mean=statistics.fmean(ratios) if ratios else None,
                ratio_max=max(ratios) if ratios else None,
                wall_mean=statistics.fmean(walls) if walls else None,
                wall_max=max(walls) if walls else None,
                cpu_mean=statistics.fmean(cpus) if cpus else None,
            )
        )
    return rows


def _f(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(rows: Sequence[Row], limit: float) -> str:
    lines = [
        "| map | N | solver | success | SoC/LB mean | SoC/LB max | wall s mean | wall s max | CPU s mean |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        success = (
            "skipped" if row.skipped else f"{100 * row.solved / row.runs:.0f} % ({row.solved}/{row.runs})"
        )
        lines.append(
            f"| {row.map_name} | {row.agents} | {row.solver} | {success} | {_f(row.ratio_mean, 3)} | "
            f"{_f(row.ratio_max, 3)} | {_f(row.wall_mean, 2)} | {_f(row.wall_max, 2)} | {_f(row.cpu_mean, 2)} |"
        )
    lines.append("")
    lines.append(
        f"Time limit {limit:g} s per instance; success = valid plan within the limit. SoC/LB, wall and CPU "
        "time are over the solved runs; CPU = process time of the solving subprocess."
    )
    return "\n".join(lines) + "\n"


def stage_times(maps: Path, case: Case, repair_limit: float = 5.0) -> None:
    """CPU seconds of each stage of our solver, run one after another (the `--stages` mode)."""
    from fleet.mapf import solver as stages
    from fleet.mapf.lns import PathSet

    blocked = parse_map((maps / f"{case.map_name}.map").read_text(encoding="utf-8"))
    for count in case.agents:
        for scen in case.scenarios:
            text = (maps / f"{case.map_name}-random-{scen}.scen").read_text(encoding="utf-8")
            agents = parse_scenario(text)[:count]
            began = time.process_time()
            problem = stages._instance(blocked, [a.start for a in agents], [a.goal for a in agents])
            bfs = time.process_time()
            longest = max(row[start] for start, row in zip(problem.starts, problem.distance, strict=True))
            paths = PathSet(
                problem.graph.neighbours,
                starts=problem.starts,
                goals=problem.goals,
                distance=problem.distance,
                horizon=stages.HORIZON_FACTOR * longest + count // 4 + 16,
            )
            order = sorted(range(count), key=lambda agent: paths.distance[agent][paths.starts[agent]])
            stages._prioritised(paths, order, time.perf_counter, float("inf"))
            planned = time.process_time()
            missing = sum(path is None for path in paths.paths)
            give_up = planned + repair_limit
            repaired = stages._repair(paths, lambda: time.process_time() > give_up)  # noqa: B023 - called here only
            fixed = time.process_time()
            stages._lacam(problem, lambda: False, 0)
            done = time.process_time()
            ratio = sum(paths.cost(a) for a in range(count)) / problem.lower_bound if repaired else None
            print(
                f"{case.map_name} random-{scen} N={count}: CPU s BFS {bfs - began:.2f}, prioritised "
                f"{planned - bfs:.2f} ({missing} without a path), repair {fixed - planned:.2f}"
                + ("" if repaired else f" (not done in {repair_limit:g} s)")
                + f", SoC/LB {_f(ratio, 3)}; LaCAM alone {done - fixed:.2f}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--maps", type=Path, default=ROOT.parent / "shared" / "mapf-bench", help="folder of .map/.scen"
    )
    parser.add_argument("--case", type=parse_case, action="append", help="MAP:SCENARIOS:AGENTS (repeatable)")
    parser.add_argument("--solvers", default=DEFAULT_SOLVERS, help=f"comma list of {', '.join(SOLVERS)}")
    parser.add_argument("--time-limit", type=float, default=2.0, help="seconds per instance (default 2)")
    parser.add_argument("--markdown", type=Path, help="write the summary table as markdown here")
    parser.add_argument("--json", type=Path, help="write every run and the summary as JSON here")
    parser.add_argument(
        "--stages", action="store_true", help="instead: CPU time of each stage of our solver, per instance"
    )
    parser.add_argument(
        "--cpu-budget",
        action="store_true",
        help="the limit is CPU seconds of the solving process (a stand-in for a quiet machine when others "
        "load it): our solver reads time.process_time, and success is judged on CPU time",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(sys.stdin.read())
        return 0
    console = Console(width=150)
    solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
    unknown = [name for name in solvers if name not in SOLVERS]
    if unknown:
        console.print(f"[red]unknown solver(s) {', '.join(unknown)}; choose from {', '.join(SOLVERS)}")
        return 2
    cases = args.case or [parse_case(text) for text in DEFAULT_CASES]
    if args.stages:
        for case in cases:
            stage_times(args.maps, case)
        return 0
    instances = []
    for case in cases:
        map_path = args.maps / f"{case.map_name}.map"
        try:
            blocked = parse_map(map_path.read_text(encoding="utf-8"), map_path.name)
            scens = {
                s: parse_scenario(
                    (args.maps / f"{case.map_name}-random-{s}.scen").read_text(encoding="utf-8")
                )
                for s in case.scenarios
            }
        except (OSError, MapfInputError) as error:
            console.print(f"[red]cannot read case {case.map_name}: {error}")
            return 2
        instances.append((case, blocked, scens))
    total = sum(len(c.scenarios) * len(c.agents) * len(solvers) for c, _, _ in instances)
    runs: list[Run] = []
    with Progress(console=console) as progress:
        task = progress.add_task("MAPF runs", total=total)
        for case, blocked, scens in instances:
            for solver in solvers:
                given_up = False
                for count in case.agents:
                    level: list[Run] = []
                    for scen in case.scenarios:
                        agents = scens[scen][:count]
                        run = Run(solver, case.map_name, scen, count, "skipped")
                        if given_up or len(agents) < count:
                            run.detail = (
                                "failed every scenario at a smaller N" if given_up else "too few agents"
                            )
                        else:
                            starts = [list(a.start) for a in agents]
                            goals = [list(a.goal) for a in agents]
                            run.lower_bound = lower_bound(
                                blocked, [a.start for a in agents], [a.goal for a in agents]
                            )
                            run = run_one(
                                solver=solver,
                                blocked=blocked,
                                starts=starts,
                                goals=goals,
                                limit=args.time_limit,
                                run=run,
                                cpu_budget=args.cpu_budget,
                            )
                        level.append(run)
                        progress.advance(task)
                        progress.console.log(
                            f"{solver} {case.map_name} random-{scen} N={count}: {run.status}"
                            + (f" {run.wall_s:.2f} s" if run.wall_s is not None else "")
                            + (
                                f" SoC/LB {run.sum_of_costs / run.lower_bound:.3f}"
                                if run.sum_of_costs and run.lower_bound
                                else ""
                            )
                            + (f" ({run.detail})" if run.detail and run.status not in ("skipped",) else "")
                            + (
                                f" [{run.extra['method']}, first plan {run.extra['first_s']:.2f} s"
                                f" SoC/LB {run.extra['first_ratio']:.3f}]"
                                if run.extra
                                else ""
                            )
                        )
                    runs.extend(level)
                    if not given_up and all(r.status != "ok" for r in level):
                        given_up = True
    rows = summarise(runs)
    rows.sort(
        key=lambda r: ([c.map_name for c in cases].index(r.map_name), r.agents, solvers.index(r.solver))
    )
    table = Table(title=f"MAPF, {args.time_limit:g} s limit per instance (SoC/LB and wall over solved runs)")
    for column in (
        "map",
        "N",
        "solver",
        "success",
        "SoC/LB mean",
        "SoC/LB max",
        "wall s mean",
        "wall s max",
        "CPU s",
    ):
        table.add_column(column, justify="left" if column in ("map", "solver") else "right")
    for row in rows:
        success = (
            "skipped" if row.skipped else f"{100 * row.solved / row.runs:.0f} % ({row.solved}/{row.runs})"
        )
        table.add_row(
            row.map_name,
            str(row.agents),
            row.solver,
            success,
            _f(row.ratio_mean, 3),
            _f(row.ratio_max, 3),
            _f(row.wall_mean, 2),
            _f(row.wall_max, 2),
            _f(row.cpu_mean, 2),
        )
    console.print(table)
    console.print(
        "Reproduce: .venv/bin/python bench/mapf_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
    )
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(rows, args.time_limit), encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "time_limit_s": args.time_limit,
            "runs": [asdict(r) for r in runs],
            "summary": [asdict(r) for r in rows],
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
