"""Liveness of the fleet core on fixed samples of the property test's own streams (docs/fleet.md, "Liveness").

Runs `count` derandomized hypothesis examples of one strategy of tests/unit/fleet/test_core_properties.py
through the same loop and checks as the test, and prints how many runs broke a check and the worst figures:

    python bench/fleet_liveness.py crowded             # 3 AGVs, two passing bays, picks and drops in bays
    python bench/fleet_liveness.py corridor tiny grid  # the other samples
    python bench/fleet_liveness.py crowded --count 200

The sample depends only on the strategy and `count` (the seed is fixed), so the same command on an older
commit measures the same scenarios.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.fleet import test_core_properties as t  # noqa: E402

STRATEGIES: dict[str, Any] = {
    "tiny": t.scenarios(),
    "grid": t.scenarios(on_grid=True),
    "corridor": t.corridors(),
    "crowded": getattr(t, "crowded_corridors", st.nothing)(),
}


def measure(name: str, count: int) -> tuple[Counter[str], Counter[str]]:
    runs: Counter[str] = Counter()
    worst: Counter[str] = Counter()

    @seed(20261130)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(scenario=STRATEGIES[name])
    def one(scenario: t.Scenario) -> None:
        live = t.Liveness()
        loop = t.run(scenario, scenario.plant, live)
        bound = t.wait_bound(loop.core.plant, scenario.failure, scenario.pace)
        stuck = getattr(live, "longest_stuck_cycle", live.longest_cycle)
        broken = {
            "orders left open": bool(loop.core.open_orders()),
            "wait over the bound": live.longest_wait > bound,
            "cycle over 2 ticks": stuck > t.CYCLE_TICKS,
            "starved": live.most_overtaken > bound,
            "still waiting at the end": bool(live.waiting),
        }
        runs["runs"] += 1
        runs["runs that broke a check"] += any(broken.values())
        runs.update(k for k, v in broken.items() if v)
        plans = getattr(loop.core, "joint_plans", 0)
        runs["joint plans"] += plans
        runs["runs with a joint plan"] += plans > 0
        for key, value in (
            ("longest wait", live.longest_wait),
            ("largest share of its bound (%)", round(100 * live.longest_wait / bound)),
            ("longest wait-for cycle", live.longest_cycle),
            ("longest cycle with all else still", stuck),
            ("most steps of others during one wait", live.most_overtaken),
            ("last tick", int(loop.t)),
        ):
            worst[key] = max(worst[key], value)

    one()
    return runs, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="+", choices=sorted(STRATEGIES))
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    for name in args.samples:
        started = time.perf_counter()
        runs, worst = measure(name, args.count)
        print(f"{name}: {dict(runs)}")
        print(f"  worst: {dict(worst)}  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
