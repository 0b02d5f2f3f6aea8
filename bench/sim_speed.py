"""How fast is the twin? One simulated week of the example plant, against a bare SimPy loop in the same process.

Reports simulated seconds per wall second (and per CPU second: the machine may be shared), the model's SimPy
event rate, and that rate as a ratio to a bare SimPy timeout loop run right before in the same process
(what the model costs per event on top of SimPy itself). Goal (issue "Simulation"): >= 20,000x real time,
a week in <= 30 s on one core.

    python bench/sim_speed.py                       # examples/aluminium-rolling.yaml, 168 h, 1 replication
    python bench/sim_speed.py --hours 24 --repeat 3 # quicker; best of 3
    python bench/sim_speed.py --layout examples/tiny.yaml
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]


def bare_simpy(events: int, processes: int = 20) -> float:
    """Events per wall second of `processes` SimPy processes looping on `yield env.timeout(1)`."""
    env = simpy.Environment()
    per = events // processes

    def loop(env: simpy.Environment) -> Generator[simpy.Event, object, None]:
        for _ in range(per):
            yield env.timeout(1.0)

    for _ in range(processes):
        env.process(loop(env))
    start = time.perf_counter()
    env.run()
    return per * processes / (time.perf_counter() - start)


def model_run(
    layout: Path, scenario: Path | None, hours: float, seed: int
) -> tuple[float, float, int, dict[str, float]]:
    """(wall s, cpu s, SimPy events, a few KPIs) of one replication without trace or report."""
    from simulation.experiment import prepare
    from simulation.shell import Replication, ReplicationSetup

    plant, plan = prepare(layout, scenario, {"run.trace": "false"})
    setup = ReplicationSetup(
        plant, plan, 0, np.random.SeedSequence(seed), hours, min(plan.run.warmup_hours, hours / 4)
    )
    rep = Replication(setup)
    wall, cpu = time.perf_counter(), time.process_time()
    data = rep.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    events = next(rep.env._eid)  # SimPy's event counter: events scheduled so far
    kpis = data["kpis"]
    return wall, cpu, events, {k: kpis[k] for k in ("moves_completed", "littles_law_relative_error")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layout", type=Path, default=ROOT / "examples" / "aluminium-rolling.yaml")
    parser.add_argument(
        "--scenario", type=Path, default=None, help="default: the layout's <stem>.scenario.yaml"
    )
    parser.add_argument("--hours", type=float, default=168.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    args = parser.parse_args()
    from simulation.experiment import default_scenario_path

    scenario = args.scenario or default_scenario_path(args.layout)
    bare = max(bare_simpy(2_000_000) for _ in range(3))
    runs = [model_run(args.layout, scenario, args.hours, args.seed) for _ in range(args.repeat)]
    wall, cpu, events, kpis = min(runs, key=lambda r: r[0])
    simulated = args.hours * 3600.0
    rate = events / wall
    rows = [
        ("layout", str(args.layout.relative_to(ROOT) if args.layout.is_relative_to(ROOT) else args.layout)),
        ("simulated", f"{args.hours:g} h, 1 replication, seed {args.seed}"),
        ("wall time", f"{wall:.1f} s (CPU {cpu:.1f} s)"),
        (
            "speed",
            f"{simulated / wall:,.0f}x real time (per CPU second {simulated / cpu:,.0f}x); goal 20,000x",
        ),
        ("SimPy events", f"{events:,} ({rate:,.0f}/s wall)"),
        ("bare SimPy timeouts", f"{bare:,.0f}/s"),
        ("model event rate / bare SimPy", f"{rate / bare:.4f} (1/{bare / rate:,.0f})"),
        ("moves completed", f"{kpis['moves_completed']:,.0f}"),
        ("Little's law error", f"{100 * kpis['littles_law_relative_error']:.2f} %"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(
        f"\nreproduce: python bench/sim_speed.py --hours {args.hours:g} --seed {args.seed} --repeat {args.repeat}"
    )


if __name__ == "__main__":
    main()
