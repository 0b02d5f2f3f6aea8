"""Benchmark: the WMS under load.

1. Putaway latency. One flat store of 50,000 saddle positions (the generated plant of `plant_generator`,
   all bays merged into one store, two cooling positions per row), 60 % of the ground positions and a quarter of the upper positions
   that can carry filled with seeded random coils. Then N random coils are received at a random bay
   handover and each gets a proposal (`propose_putaway`, timed) and a reservation (`plan_putaway`, not
   timed, so the store fills as it would). Goal: p99 at most 5 ms.
2. Committed moves per second with 8 concurrent writers on PostgreSQL (queued on the advisory lock, and
   racing with optimistic retries only) and on an SQLite file, side by side; see
   `postgres_moves_per_second`. Needs PostgreSQL on 127.0.0.1:5432 (./scripts/services).

    python bench/wms_bench.py [--positions 50000] [--proposals 2000] [--ground-fill 0.6] [--seed 7]
                              [--writers 8] [--seconds 10] [--postgres URL] [--skip-putaway]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from adapters.sql import SqlUnitOfWork, create_engine_for, migrate
from bench.plant_generator import generate_plant
from layout import Plant, Tier, load_plant
from layout.build import build_plant
from layout.rules import PlantIndex, check
from layout.schema import FlatStore, PlantFile
from wms.domain.errors import NoPlaceFound, WmsError
from wms.domain.putaway import FlatIndex, plan_putaway, propose_putaway, store_index
from wms.domain.units import CoilSpec, Packaging
from wms.domain.yard import Yard
from wms.service_layer import commands as cmd
from wms.service_layer.messagebus import MessageBus

GOAL_P99_MS = 5.0
STORE = "FS"
ALLOYS = ("1050", "3003", "3104", "5005", "5052", "5182", "5754", "6016", "6061", "8011", "C110", "C122")
CUSTOMERS = tuple(f"CU{i:02d}" for i in range(40))
console = Console()


def single_store_plant(positions: int, nodes: int) -> Plant:
    """The generated plant with all its flat-store bays in one store `FS` (ids renumbered to stay unique).

    The first two ground positions of each row are cooling positions.
    """
    raw: dict[str, Any] = generate_plant(positions, nodes)
    bays: list[dict[str, Any]] = []
    runways: list[dict[str, Any]] = []
    cranes: list[dict[str, Any]] = []
    for store in raw["stores"]:
        renamed = {}
        for bay, runway, crane in zip(store["bays"], store["runways"], store["cranes"], strict=True):
            k = len(bays) + 1
            renamed[bay["id"]] = f"B{k:03d}"
            rows = [{**row, "cooling_positions": [1, 2]} for row in bay["rows"]]  # hot coils need a place
            bays.append({**bay, "id": f"B{k:03d}", "rows": rows})
            runways.append({**runway, "id": f"RW{k:03d}"})
            cranes.append({**crane, "id": f"C{k:03d}", "runway": f"RW{k:03d}", "bays": [f"B{k:03d}"]})
    raw["stores"] = [{"kind": "flat", "id": STORE, "bays": bays, "runways": runways, "cranes": cranes}]
    plant_file = PlantFile.model_validate(raw)
    index = PlantIndex(plant_file)
    problems = check(index)
    assert problems == [], problems[:5]
    return build_plant(plant_file, index.network)


def random_coil(rng: random.Random, number: int, at: float) -> CoilSpec:
    """A coil as a cold-rolling plant makes them: mostly within the generated rows' bands, some not."""
    return CoilSpec(
        id=f"K{number:07d}",
        alloy=rng.choice(ALLOYS),
        temper=rng.choice(("O", "H14", "H19", "T4")),
        width=round(rng.uniform(1.0, 2.05), 3),
        gauge=round(rng.uniform(0.5, 4.0), 2),
        outer_diameter=round(rng.uniform(1.6, 2.0), 3),
        inner_diameter=0.61,
        weight=round(rng.uniform(6.0, 26.0), 1),
        temperature=rng.choice((25.0, 25.0, 25.0, 40.0, 120.0)),
        temperature_at=at,
        packaging=Packaging.SKID if rng.random() < 0.05 else Packaging.BARE,
        customer=rng.choice(CUSTOMERS),
        due=None if rng.random() < 0.2 else at + rng.uniform(3600.0, 30 * 86400.0),
        turnover=rng.choice("ABC"),
    )


def fill(yard: Yard, rng: random.Random, ground_share: float, upper_share: float) -> tuple[int, int]:
    """Receive random coils straight onto a share of the ground positions, then of the upper ones."""
    count = 0
    positions = [p for p in yard.plant.saddle_positions.values() if p.store == STORE]
    ground = [p.id for p in positions if p.tier is Tier.GROUND]
    for pid in rng.sample(ground, round(ground_share * len(ground))):
        count += _try_receive(yard, rng, count, pid)
    upper = [p for p in positions if p.tier is Tier.UPPER]
    carrying = [
        p.id for p in upper if p.supports is not None and all(yard.locations[s].occupants for s in p.supports)
    ]
    on_ground = count
    for pid in rng.sample(carrying, round(upper_share * len(carrying))):
        count += _try_receive(yard, rng, count, pid)
    return on_ground, count - on_ground


def _try_receive(yard: Yard, rng: random.Random, number: int, position: str) -> int:
    for _ in range(5):  # a few draws until one fits the place (bands, supports)
        spec = random_coil(rng, number, 0.0)
        try:
            yard.receive_coil(spec, position, at=0.0, actor="bench")
        except WmsError:  # refused (bands, supports): draw again
            continue
        return 1
    return 0


def putaway_latency(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with console.status("building the plant"):
        plant = single_store_plant(args.positions, args.nodes)
    with console.status("filling the store"):
        yard = Yard(plant)
        started = time.perf_counter()
        on_ground, on_top = fill(yard, rng, args.ground_fill, args.upper_fill)
        fill_s = time.perf_counter() - started
    started = time.perf_counter()
    index = store_index(yard, STORE)
    build_s = time.perf_counter() - started
    assert isinstance(index, FlatIndex)
    console.print(
        f"store {STORE}: {index.n:,} saddle positions in {len(index.bay_handovers)} bays; "
        f"{on_ground:,} coils on the ground, {on_top:,} on top ({fill_s:.1f} s); "
        f"index built in {build_s * 1000:.0f} ms"
    )

    handovers = sorted(
        {
            h.node
            for store in plant.file.stores
            if isinstance(store, FlatStore)
            for b in store.bays
            for h in b.handovers
        }
    )
    now = 3600.0
    placed: list[float] = []
    refused: list[float] = []
    for k in range(args.proposals):
        now += 30.0
        spec = random_coil(rng, 1_000_000 + k, now)
        yard.receive_coil(spec, rng.choice(handovers), at=now, actor="bench")
        started = time.perf_counter()
        try:
            proposal = propose_putaway(yard, spec.id, STORE, at=now)
        except NoPlaceFound:
            refused.append(time.perf_counter() - started)
            continue
        placed.append(time.perf_counter() - started)
        plan_putaway(yard, proposal, at=now, actor="bench")

    table = Table(title=f"propose_putaway on {index.n:,} positions (ms)")
    table.add_column("proposals")
    table.add_column("count", justify="right")
    for name in ("p50", "p90", "p99", "max"):
        table.add_column(name, justify="right")
    for label, seconds in (("placed (then reserved)", placed), ("refused (NoPlaceFound)", refused),
                           ("all", placed + refused)):  # fmt: skip
        if seconds:
            p50, p90, p99, top = percentiles_ms(seconds)
            table.add_row(label, f"{len(seconds):,}", *(f"{v:.2f}" for v in (p50, p90, p99, top)))
    console.print(table)
    p99 = percentiles_ms(placed + refused)[2]
    verdict = "[green]meets[/]" if p99 <= GOAL_P99_MS else "[red]misses[/]"
    console.print(f"p99 of all proposals {p99:.2f} ms {verdict} the goal of {GOAL_P99_MS:g} ms")


def percentiles_ms(seconds: list[float]) -> tuple[float, float, float, float]:
    """p50, p90, p99 (nearest rank) and max, in milliseconds."""
    ms = sorted(t * 1000 for t in seconds)
    p50, p90, p99 = (ms[max(0, math.ceil(q * len(ms)) - 1)] for q in (0.5, 0.9, 0.99))
    return p50, p90, p99, ms[-1]


def postgres_moves_per_second(args: argparse.Namespace) -> None:
    """Committed moves per second with 8 concurrent writers, each with its own engine (as 8 processes would).

    The example aluminium plant is stocked with coils; each writer repeatedly moves a random coil to a random
    free saddle of the flat store (`MoveNow`: one command, one transaction). Writers conflict: many pick the
    same places, the domain refuses what became illegal. Measured side by side: PostgreSQL with writers
    queued on the advisory lock (the default), PostgreSQL racing (optimistic retries only), and SQLite.
    """
    logging.getLogger("psycopg").setLevel(logging.ERROR)  # racing writers' aborted inserts are expected
    plant = load_plant(Path(__file__).resolve().parents[1] / "examples" / "aluminium-rolling.yaml")
    table = Table(title=f"committed moves per second, {args.writers} writers, {args.seconds:g} s each")
    for column in ("backend", "moves/s", "moves", "refused", "stale retries"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for label, url, serialize in _databases(args):
        with _scratch_database(url) as database_url:
            migrate(database_url)
            coils = _stock(database_url, plant, args.seed)
            outcome = _race(database_url, plant, coils, args, serialize=serialize)
        table.add_row(
            label,
            f"{outcome['moves'] / args.seconds:.0f}",
            str(outcome["moves"]),
            str(outcome["refused"]),
            str(outcome["retries"]),
        )
    console.print(table)


def _databases(args: argparse.Namespace) -> list[tuple[str, str, bool]]:
    scratch = Path("/tmp") / f"coilyard-bench-{os.getpid()}.db"
    return [
        ("PostgreSQL, writers queued", args.postgres, True),
        ("PostgreSQL, writers racing", args.postgres, False),
        ("SQLite file", f"sqlite:///{scratch}", False),
    ]


@contextmanager
def _scratch_database(url: str) -> Iterator[str]:
    """A fresh database for one run (PostgreSQL: created and dropped; SQLite: a new file)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        path.unlink(missing_ok=True)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"coilyard_bench_{os.getpid()}_{random.randrange(10**6)}"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _stock(url: str, plant: Plant, seed: int) -> list[str]:
    """Put a coil on a third of the flat store's ground positions (straight into place, as a stock take)."""
    rng = random.Random(seed)
    ground = [p for p in plant.saddle_positions.values() if p.tier is Tier.GROUND and not p.cooling]
    chosen = rng.sample(ground, len(ground) // 3)
    engine = create_engine_for(url)
    coils = []
    with SqlUnitOfWork(engine, plant) as uow:
        for i, position in enumerate(chosen):
            row = position.row
            spec = CoilSpec(
                id=f"B{i:05d}", alloy=rng.choice(ALLOYS), temper="H19",
                width=round(rng.uniform(row.width_band.min, row.width_band.max), 3), gauge=2.0,
                outer_diameter=round(rng.uniform(row.od_band.min, row.od_band.max), 3), inner_diameter=0.6,
                weight=round(rng.uniform(5.0, min(row.max_coil_weight, 25.0)), 1),
            )  # fmt: skip
            handover = next(
                h.node
                for s in plant.stores
                if isinstance(s, FlatStore)
                for b in s.bays
                if b.id == position.bay
                for h in b.handovers
            )
            uow.yard.receive_coil(spec, handover, at=0.0, actor="stock-take")
            move = uow.yard.plan_move(spec.id, position.id, at=0.0, actor="stock-take")
            crane = next(c.id for _, c in plant.overhead_cranes() if position.bay in c.bays)
            uow.yard.start_move(move.id, crane, at=0.0, actor="stock-take")
            uow.yard.complete_move(move.id, at=0.0, actor="stock-take")
            coils.append(spec.id)
        uow.commit()
    engine.dispose()
    return coils


def _race(
    url: str, plant: Plant, coils: list[str], args: argparse.Namespace, *, serialize: bool
) -> dict[str, int]:
    targets = [p.id for p in plant.saddle_positions.values() if p.tier is Tier.GROUND and not p.cooling]
    cranes = {
        p.id: next(c.id for _, c in plant.overhead_cranes() if p.bay in c.bays)
        for p in plant.saddle_positions.values()
    }
    counts = {"moves": 0, "refused": 0, "retries": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(args.writers)
    clock_start = time.time()

    class Clock:
        def now(self) -> float:
            return time.time() - clock_start

    def writer(w: int) -> None:
        rng = random.Random(args.seed * 100 + w)
        engine = create_engine_for(url)
        bus = MessageBus(
            SqlUnitOfWork(engine, plant, serialize_writers=serialize), Clock(), max_attempts=1000
        )
        moves = refused = 0
        barrier.wait()
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            target = rng.choice(targets)
            try:
                bus.handle(
                    cmd.MoveNow(
                        actor=f"writer-{w}", unit=rng.choice(coils), target=target, carrier=cranes[target]
                    )
                )
                moves += 1
            except WmsError:
                refused += 1
        with lock:
            counts["moves"] += moves
            counts["refused"] += refused
            counts["retries"] += bus.retries
        engine.dispose()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(args.writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--positions", type=int, default=50_000)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--proposals", type=int, default=2_000)
    parser.add_argument("--ground-fill", type=float, default=0.6)
    parser.add_argument("--upper-fill", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-putaway", action="store_true")
    args = parser.parse_args()
    if not args.skip_putaway:
        putaway_latency(args)
    postgres_moves_per_second(args)


if __name__ == "__main__":
    main()
