"""Benchmark: one dispatch decision, 100 vehicles and 1,000 open orders on a plant of ~5,000 network nodes.

Goal (dispatcher issue): p99 of one decision at most 20 ms, cost matrix included. Each decision runs the
whole `Dispatcher.dispatch`: the travel-time matrix (one `Router.cost_matrix` per class), the cost terms, the
assignment (`linear_sum_assignment`), `book.assign` for each order, and the charging and parking phases
(a few vehicles are low on energy). Between decisions, untimed, the assignments are withdrawn and the
vehicles are put on new random nodes.

Two ways of getting the travel times are measured side by side, on the same fleet positions and closures:

* rows only: the router searches from each vehicle node at the decision (one Dijkstra per vehicle that may
  get an order), as before orders were prepared;
* order columns prepared: `Dispatcher.prepare` searched to each order's pickup (reversed graph) when the
  order arrived, as `FleetCore` does on `SubmitOrder`, and `Dispatcher.repair` searched again the columns a
  topology change made wrong when the change was handled, as `FleetCore` does on `SetClosed`; a decision
  searches only for what the router does not have. Neither is in the decision; both are timed and printed.

As in the service: the order book's transitions are taken after every decision (and after the untimed
reset), as `FleetCore.handle` does; and `gc.collect()` then `gc.freeze()` run after every start-up (plant,
router, orders prepared), as the long-running shell (`coilyard.async_shell.AsyncShell.run`) does. Garbage
collection stays on; the collections that ran inside timed decisions are counted and printed. The CPU time of
each decision (`time.process_time`) is printed too: on a shared machine the wall time includes waiting for a
core.

Cases:

* cold, after start: a new `Router` (built untimed) and the fleet scattered on new nodes. Prepared: all
  1,000 open orders are prepared at start (timed separately), as a restarted core does when it reloads them.
* cold, after a topology change: the router of the start (and the warm decision), the fleet scattered on
  new nodes and a grid node closed (cached vectors the closure makes wrong are dropped). The change is one
  `SetClosed` message, handled (router change and `Dispatcher.repair`) before the decision and timed on its
  own row.
* warm: the same vehicle nodes as the previous decision.
* steady: the router cache is kept and only 5 vehicles stand on new nodes since the previous decision.
* cost_matrix alone, cold, rows only: the router's part of a cold decision, to show where the time goes.

    python bench/dispatch_bench.py [--nodes 5000] [--vehicles 100] [--orders 1000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from bench.plant_generator import generate_plant
from fleet.dispatcher import AssignmentKind, Dispatcher
from fleet.domain.orders import Destination, Operation, OrderBook, OrderSpec, OrderState
from fleet.domain.vehicles import AtNode, Vehicle
from fleet.routing import Router
from layout import Plant, parse_plant

GOAL_MS = 20.0


def bench_plant(nodes: int, vehicles: int) -> Plant:
    """The generated plant with parking rows (10 m apart, room for every vehicle) and a row of chargers."""
    data: dict[str, Any] = generate_plant(positions=2_000, nodes=nodes)
    grid = [n for n in data["network"]["nodes"] if n["id"].startswith("N")]
    side = max(int(n["id"][1:]) for n in grid if n["at"][1] == 0.0) + 1
    parking = 0
    for n in grid:
        i = int(n["id"][1:])
        gx, gy = i % side, i // side
        n["kind"] = "waypoint"
        if gy % 4 == 0 and gx % 2 == 0 and parking < vehicles + 20:
            n["kind"] = "parking"
            parking += 1
        elif gy == side // 2 and gx % 6 == 0:
            n["kind"] = "charger"
    data["fleet"] = [{"class": "agv", "count": vehicles}]
    data["vehicle_classes"][0]["battery"] = {"capacity_kwh": 120, "moving_kw": 18, "charge_kw": 60}
    return parse_plant(json.dumps(data), "bench.json")


def make_book(plant: Plant, orders: int, rng: random.Random) -> OrderBook:
    book = OrderBook(plant)
    places = [n for n, k in plant.node_kinds.items() if k == "waypoint" and n.startswith("N")]
    book.add_all(
        [
            OrderSpec(
                id=f"O{j:04d}",
                destinations=(
                    Destination(rng.choice(places), Operation.PICK),
                    Destination(rng.choice(places), Operation.DROP),
                ),
                priority=rng.choice((0, 0, 0, 1, 2)),
                deadline=rng.uniform(100.0, 2_000.0) if rng.random() < 0.3 else None,
                weight=rng.uniform(5.0, 28.0),
                created_at=float(j),
            )
            for j in range(orders)
        ]
    )
    return book


def scatter(fleet: dict[str, Vehicle], nodes: list[str], rng: random.Random) -> None:
    for i, v in enumerate(fleet.values()):
        v.position = AtNode(rng.choice(nodes))
        v.order = None
        capacity = v.spec.battery.capacity_kwh if v.spec.battery is not None else None
        if capacity is not None:
            v.energy = capacity * (0.1 if i % 20 == 0 else 0.8)  # 5 % of the fleet low on energy


def undo(book: OrderBook, at: float) -> None:
    for o in book.orders.values():
        if o.state is OrderState.ASSIGNED:
            book.withdraw(o.id, at, "bench reset")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=5_000)
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    rng = random.Random(args.seed)

    with console.status("generating the plant"):
        plant = bench_plant(args.nodes, args.vehicles)
    book = make_book(plant, args.orders, rng)
    fleet = {
        v.id: Vehicle(id=v.id, spec=v.vehicle_class, home=v.home, position=AtNode(v.home))
        for v in plant.vehicles.values()
    }
    nodes = [n for n in plant.graph("agv") if n.startswith("N")]
    kinds = plant.node_kinds
    console.print(
        f"plant: {len(plant.node_points):,} nodes, {len(plant.edges):,} directed edges, "
        f"{sum(k == 'parking' for k in kinds.values())} parking, {sum(k == 'charger' for k in kinds.values())} "
        f"chargers; {len(fleet)} vehicles, {len(book.orders):,} open orders"
    )
    closable = [n for n in nodes if kinds.get(n) == "waypoint"]
    order_ids = [o.id for o in book.dispatchable()]
    modes = ("rows only", "order columns prepared")
    routers = {mode: Router(plant) for mode in modes}
    prepare_ms: list[float] = []
    searches: dict[tuple[str, str], list[int]] = {(c, m): [] for c in ("start", "change") for m in modes}

    change_ms: dict[str, list[float]] = {mode: [] for mode in modes}
    repaired: dict[str, list[int]] = {mode: [] for mode in modes}
    recorded = [0]  # transitions taken from the book (the shell records them)
    collections: list[tuple[int, float]] = []  # (generation, ms) of collections inside timed decisions
    timing = [False]
    gc_began = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_began[0] = time.perf_counter()
        elif timing[0]:
            collections.append((info["generation"], (time.perf_counter() - gc_began[0]) * 1e3))

    gc.callbacks.append(watch)

    def set_closed(mode: str, node: str, closed_now: bool) -> None:
        """What `FleetCore` does on `SetClosed(node=...)`: the router change, then `Dispatcher.repair`."""
        begin = time.perf_counter()
        router = routers[mode]
        (router.close_node if closed_now else router.open_node)(node)
        repaired[mode].append(Dispatcher(plant, router, book).repair())
        change_ms[mode].append((time.perf_counter() - begin) * 1e3)

    cpu_last = [0.0]  # CPU time of the last decision (ms), this process only

    def decide(mode: str, at: float, cold: str = "", node: str = "") -> tuple[float, int, int]:
        """One timed decision; `cold`: "start" (a new router, prepared in that mode, untimed) or "change"
        (close `node`; handled before the decision, timed on its own), else none."""
        if cold == "start":
            routers[mode] = Router(plant)
            if mode == modes[1]:
                begin = time.perf_counter()
                Dispatcher(plant, routers[mode], book).prepare(order_ids)
                prepare_ms.append((time.perf_counter() - begin) * 1e3)
            gc.collect()  # after start-up, as the shell does
            gc.freeze()
        elif cold == "change":
            set_closed(mode, node, True)
        dispatcher = Dispatcher(plant, routers[mode], book, takeover_started=True)  # as FleetCore runs it
        table = routers[mode]._table("agv", dispatcher.profile) if cold else None
        before = len(table.rows) + len(table.columns) if table is not None else 0
        timing[0] = True
        start, cpu_start = time.perf_counter(), time.process_time()
        out = dispatcher.dispatch(fleet, at)
        elapsed = time.perf_counter() - start
        cpu_last[0] = (time.process_time() - cpu_start) * 1e3
        timing[0] = False
        if table is not None:
            searches[cold, mode].append(len(table.rows) + len(table.columns) - before)
        recorded[0] += len(book.take_events())  # as FleetCore.handle does after every message
        undo(book, at)
        recorded[0] += len(book.take_events())
        real = sum(a.kind is AssignmentKind.ORDER for a in out)
        return elapsed * 1e3, real, len(out) - real

    start = time.perf_counter()
    Router(plant)
    startup = (time.perf_counter() - start) * 1e3
    for mode in modes:
        decide(mode, 0.0, cold="start")  # warm up imports
    prepare_ms.clear()
    for counted in searches.values():
        counted.clear()
    cases = ("cold, after start", "cold, after a topology change", "warm", "steady (5 vehicles moved)")
    times: dict[tuple[str, str], list[float]] = {(c, m): [] for c in cases for m in modes}
    cpu: dict[tuple[str, str], list[float]] = {(c, m): [] for c in cases for m in modes}

    def run(case: str, mode: str, at: float, cold: str = "", node: str = "") -> tuple[int, int]:
        ms, real, other = decide(mode, at, cold, node)
        times[case, mode].append(ms)
        cpu[case, mode].append(cpu_last[0])
        return real, other

    matrix: list[float] = []
    counts: set[tuple[int, int]] = set()
    for r in range(args.repeat):
        scatter(fleet, nodes, rng)
        fresh = Router(plant)
        sources = [v.node or "" for v in fleet.values()]
        targets = [o.spec.destinations[0].node for o in book.dispatchable()]
        start = time.perf_counter()
        fresh.cost_matrix("agv", sources, targets)
        matrix.append((time.perf_counter() - start) * 1e3)
        for mode in modes:
            counts.add(run(cases[0], mode, float(r), cold="start"))
            run(cases[2], mode, float(r) + 0.5)
        scatter(fleet, nodes, rng)
        node = rng.choice(closable)
        for mode in modes:
            run(cases[1], mode, float(r) + 0.7, cold="change", node=node)
    for r in range(args.repeat):
        for v in rng.sample(list(fleet.values()), 5):
            v.position = AtNode(rng.choice(nodes))
        for mode in modes:
            run(cases[3], mode, 1_000.0 + r)

    table = Table(title=f"one dispatch decision, {args.repeat} runs each (ms)")
    table.add_column("case")
    for mode in modes:
        for column in ("p50", "p99", "max"):
            table.add_column(f"{mode}: {column}", justify="right")

    def cells(values: list[float]) -> list[str]:
        return [f"{statistics.median(values):.2f}", f"{percentile(values, 99):.2f}", f"{max(values):.2f}"]

    for case in cases:
        table.add_row(case, *(cell for mode in modes for cell in cells(times[case, mode])))
    table.add_row(
        "handling one topology change (SetClosed: router + repair), not in a decision",
        *(cell for mode in modes for cell in cells(change_ms[mode])),
    )
    table.add_row("cost_matrix alone, cold", *cells(matrix), "", "", "")
    console.print(table)
    busy = Table(title="CPU time of the same decisions (time.process_time, this process only: ms)")
    busy.add_column("case")
    for mode in modes:
        for column in ("p50", "p99", "max"):
            busy.add_column(f"{mode}: {column}", justify="right")
    for case in cases:
        busy.add_row(case, *(cell for mode in modes for cell in cells(cpu[case, mode])))
    console.print(busy)
    for (cold, mode), values in searches.items():
        console.print(
            f"searches in a cold decision after {cold}, {mode}: median {statistics.median(values):.0f}, "
            f"max {max(values)}"
        )
    for mode in modes:
        console.print(
            f"columns searched again when a change was handled, {mode}: median "
            f"{statistics.median(repaired[mode]):.0f}, max {max(repaired[mode])} per message"
        )
    console.print(
        f"preparing {len(order_ids):,} open orders at start (untimed above): p50 "
        f"{statistics.median(prepare_ms):.1f} ms, i.e. {statistics.median(prepare_ms) / len(order_ids):.3f} ms "
        "per arriving order"
    )
    console.print(f"assignments per decision (orders, charge+park): {sorted(counts)}")
    console.print(
        f"router start-up (edge arrays and CSR layout of every class graph, untimed above): {startup:.1f} ms"
    )
    decisions = sum(len(v) for v in times.values())
    by_generation = {g: [ms for gen, ms in collections if gen == g] for g in range(3)}
    console.print(
        f"garbage collections inside the {decisions} timed decisions: "
        + ", ".join(
            f"generation {g}: {len(v)} (longest {max(v, default=0.0):.2f} ms)"
            for g, v in by_generation.items()
        )
        + f"; transitions recorded (taken from the book): {recorded[0]:,}, left in the book: {len(book.events)}"
    )
    for case in cases:
        for mode in modes:
            p99 = percentile(times[case, mode], 99)
            verdict = "[green]meets[/]" if p99 <= GOAL_MS else "[red]misses[/]"
            console.print(f"{case}, {mode}: p99 {p99:.2f} ms {verdict} the goal of {GOAL_MS:.0f} ms")


if __name__ == "__main__":
    main()
