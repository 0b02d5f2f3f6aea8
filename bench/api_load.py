"""Load on the HTTP service: N concurrent terminal clients doing conflicting moves against PostgreSQL.

Starts `coilyard serve` (uvicorn, one process) on a scratch PostgreSQL database stocked like
bench/wms_bench.py (a coil on a third of the flat store's ground saddles of the example aluminium plant),
then runs `--clients` httpx.AsyncClient workers for `--duration` seconds. Each worker repeatedly reports a
move of a random coil to a random ground saddle (`POST /api/wms/moves/direct`, one Idempotency-Key per
request): workers conflict on coils and places, the WMS refuses what became illegal (409).

Prints requests/s, p50/p95/p99 latency, committed moves/s, and the ledger check afterwards: every
acknowledged move is in the ledger exactly once, no coil is lost or duplicated (the ledger replayed into a
Yard has every coil in exactly one place and no place holding two), and the `units` projection agrees.

Reproduce:  ./scripts/services && .venv/bin/python bench/api_load.py --clients 50 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.sql import codec, create_engine_for, migrate  # noqa: E402
from adapters.sql.tables import ledger, units  # noqa: E402
from bench.wms_bench import _scratch_database, _stock  # noqa: E402
from coilyard.api.security import Role, UserStore  # noqa: E402
from layout import Plant, load_plant  # noqa: E402
from layout.model import Tier  # noqa: E402
from wms.domain.events import LedgerEntry  # noqa: E402
from wms.domain.units import UnitStatus  # noqa: E402
from wms.domain.yard import Yard  # noqa: E402

console = Console()
LAYOUT = ROOT / "examples" / "aluminium-rolling.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    database_url: str,
    port: int,
    layout: Path,
    log: Path,
    *,
    profile: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ, COILYARD_DATABASE_URL=database_url, COILYARD_LAYOUT=str(layout), **(extra_env or {})
    )
    python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    return subprocess.Popen(
        [*python, "-m", "coilyard", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_ready(base: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base} did not become ready in {timeout_s:g} s")


def service_token(database_url: str) -> str:
    engine = create_engine_for(database_url)
    users = UserStore(engine, token_ttl_s=3600, service_token_ttl_s=3600, cache_s=60)
    if not users.has_user("bench-terminals"):
        users.add_user("bench-terminals", Role.VEHICLE)
    token = users.issue_service_token("bench-terminals", time.time()).token
    engine.dispose()
    return token


def ground_targets(database_url: str, plant: Plant) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Per coil, the ground saddles whose row admits it (width, diameter, weight), as a terminal would offer;
    the crane serving each saddle. Clients still conflict: on occupied places and on the same coils."""
    engine = create_engine_for(database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(ledger.c.seq, ledger.c.payload).order_by(ledger.c.seq)).all()
    engine.dispose()
    yard = Yard.replay(plant, [LedgerEntry(seq, codec.decode_event(payload)) for seq, payload in rows])
    ground = [p for p in plant.saddle_positions.values() if p.tier is Tier.GROUND and not p.cooling]
    fits = {
        coil.id: [
            p.id for p in ground
            if p.row.width_band.min <= coil.spec.width <= p.row.width_band.max
            and p.row.od_band.min <= coil.spec.outer_diameter <= p.row.od_band.max
            and coil.spec.weight <= p.row.max_coil_weight
        ]
        for coil in yard.coils.values()
    }  # fmt: skip
    cranes = {
        p.id: next(c.id for _, c in plant.overhead_cranes() if p.bay in c.bays)
        for p in plant.saddle_positions.values()
    }
    return fits, cranes


@dataclass
class Load:
    latencies: list[float]  # seconds per request
    outcomes: Counter[int]  # by HTTP status
    reasons: Counter[str]  # refusals by error type
    acknowledged: list[str]  # move ids the server confirmed (201)
    elapsed: float


async def run_clients(
    base: str,
    token: str,
    targets: dict[str, list[str]],
    cranes: dict[str, str],
    *,
    first: int,
    count: int,
    duration: float,
    seed: int,
    start_at: float,
) -> Load:
    """Clients `first` .. `first + count - 1` of the load, starting together at wall-clock `start_at`."""
    coils = sorted(targets)
    latencies: list[float] = []
    outcomes: Counter[int] = Counter()
    reasons: Counter[str] = Counter()
    acknowledged: list[str] = []  # move ids the server confirmed (201)
    start = asyncio.Event()

    async def worker(w: int) -> None:
        rng = random.Random(seed * 1000 + w)
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
            await start.wait()
            deadline = time.perf_counter() + duration
            n = 0
            while time.perf_counter() < deadline:
                n += 1
                coil = rng.choice(coils)
                target = rng.choice(targets[coil])
                body = {"unit": coil, "target": target, "carrier": cranes[target]}
                began = time.perf_counter()
                reply = await client.post(
                    "/api/wms/moves/direct", json=body, headers={"Idempotency-Key": f"w{w}-{n}"}
                )
                latencies.append(time.perf_counter() - began)
                outcomes[reply.status_code] += 1
                if reply.status_code == 201:
                    acknowledged.append(reply.json()["move"])
                else:
                    reasons[reply.json().get("error", "?")] += 1

    tasks = [asyncio.create_task(worker(w)) for w in range(first, first + count)]
    await asyncio.sleep(max(0.0, start_at - time.time()))  # every process's clients start together
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    return Load(latencies, outcomes, reasons, acknowledged, elapsed)


def _client_process(payload: dict[str, Any]) -> Load:
    return asyncio.run(run_clients(**payload))


def run_load(
    base: str, token: str, targets: dict[str, list[str]], cranes: dict[str, str], args: argparse.Namespace
) -> tuple[Load, float]:
    """The clients, spread over `args.processes` processes (one asyncio loop of httpx clients costs about
    as much CPU per request as the server: one process would be the bottleneck). Returns the merged
    results and the load generator's CPU seconds."""
    processes = max(1, min(args.processes, args.clients))
    shares = [
        args.clients // processes + (1 if p < args.clients % processes else 0) for p in range(processes)
    ]
    start_at = time.time() + 1.0 + 0.3 * processes
    payloads, first = [], 0
    for count in shares:
        payloads.append({
            "base": base, "token": token, "targets": targets, "cranes": cranes, "first": first, "count": count,
            "duration": args.duration, "seed": args.seed, "start_at": start_at,
        })  # fmt: skip
        first += count
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(_client_process, payloads))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    merged = Load(
        latencies=[t for p in parts for t in p.latencies],
        outcomes=sum((p.outcomes for p in parts), Counter()),
        reasons=sum((p.reasons for p in parts), Counter()),
        acknowledged=[m for p in parts for m in p.acknowledged],
        elapsed=max(p.elapsed for p in parts),
    )
    return merged, cpu


def ledger_check(
    database_url: str, plant: Plant, coils: list[str], acknowledged: list[str]
) -> dict[str, object]:
    """Replay the stored ledger; every acknowledged move done exactly once, every coil in exactly one place."""
    engine = create_engine_for(database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(ledger.c.seq, ledger.c.payload).order_by(ledger.c.seq)).all()
        projected = dict(connection.execute(sa.select(units.c.id, units.c.location)).all())
    engine.dispose()
    entries = [LedgerEntry(seq, codec.decode_event(payload)) for seq, payload in rows]
    gapless = [e.seq for e in entries] == list(range(1, len(entries) + 1))
    yard = Yard.replay(plant, entries)
    completed = Counter(e.event.move for e in entries if e.kind == "MoveCompleted")  # type: ignore[attr-defined]
    places = Counter(c.location for c in yard.coils.values() if c.status is UnitStatus.IN_STOCK)
    return {
        "ledger entries": len(entries),
        "gapless": gapless,
        "acknowledged moves missing": sum(1 for m in acknowledged if completed[m] != 1),
        "acknowledged twice": len(acknowledged) - len(set(acknowledged)),
        "coils lost or added": len(set(coils) ^ set(yard.coils)),
        "places holding two": sum(
            1 for place, n in places.items() if n > 1 and plant.saddle_positions.get(place)
        ),
        "projection disagrees": sum(1 for c in yard.coils.values() if projected.get(c.id) != c.location),
    }


def percentile(ms: list[float], q: float) -> float:
    return ms[max(0, math.ceil(q * len(ms)) - 1)] if ms else float("nan")


CONFIGS = {
    # name: (environment of the server, what it is)
    "batched": ({}, "writer batches every waiting command into one transaction (the default)"),
    "per-command": (
        {"COILYARD_WRITE_BATCH": "1", "COILYARD_WRITE_LOCK": "true"},
        "the same writer with one command per transaction (COILYARD_WRITE_BATCH=1, advisory lock on)",
    ),
}


def run_config(name: str, args: argparse.Namespace, plant: Plant) -> dict[str, str]:
    env, _ = CONFIGS[name]
    with _scratch_database(args.postgres) as database_url:
        migrate(database_url)
        coils = _stock(database_url, plant, args.seed)
        token = service_token(database_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path("/tmp") / f"coilyard-api-load-{os.getpid()}-{name}.log"
        server = start_server(database_url, port, args.layout, log, profile=args.profile, extra_env=env)
        try:
            wait_ready(base)
            run, client_cpu = run_load(base, token, *ground_targets(database_url, plant), args)
            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            server_cpu = _cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        check = ledger_check(database_url, plant, coils, run.acknowledged)
    outcomes, reasons, elapsed = run.outcomes, run.reasons, run.elapsed
    ms = sorted(t * 1000 for t in run.latencies)
    batches = _metric(metrics, "coilyard_wms_batch_commands_count")
    batched = _metric(metrics, "coilyard_wms_batch_commands_sum")
    batch_s = _metric(metrics, "coilyard_wms_batch_seconds_sum")
    phases = ("begin", "apply", "commit")
    spent = [_metric(metrics, f'coilyard_wms_writer_seconds{{phase="{p}"}}') for p in phases]
    ok = (
        check["gapless"] is True and check["acknowledged moves missing"] == 0 and check["acknowledged twice"] == 0
        and check["coils lost or added"] == 0 and check["places holding two"] == 0
        and check["projection disagrees"] == 0
    )  # fmt: skip
    row = {
        "requests/s": f"{sum(outcomes.values()) / elapsed:.0f}",
        "committed moves/s (201)": f"{outcomes[201] / elapsed:.0f}",
        "refused (409)": str(outcomes[409]),
        "refusals by error": ", ".join(f"{k} {v}" for k, v in reasons.most_common(3)),
        "other statuses": str({s: n for s, n in outcomes.items() if s not in (201, 409)}),
        "latency p50 / p95 / p99 ms": " / ".join(f"{percentile(ms, q):.0f}" for q in (0.5, 0.95, 0.99)),
        "commands per transaction": f"{batched / batches:.1f}" if batches else "-",
        "writer busy": f"{batch_s / elapsed:.0%}",
        "writer ms/transaction " + "/".join(phases): " / ".join(f"{1000 * v / max(batches, 1):.1f}" for v in spent),
        "CPU s server / load generator": f"{server_cpu:.1f} / {client_cpu:.1f}",
        # CPU the server spent per request (startup included): on a machine shared with other work this,
        # not the wall clock, says what one core would sustain.
        "server CPU ms per request": f"{1000 * server_cpu / max(sum(outcomes.values()), 1):.2f}",
        **{f"ledger: {k}": str(v) for k, v in check.items()},
        "ledger check": "passed" if ok else "FAILED",
    }  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per configuration")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--layout", type=Path, default=LAYOUT)
    parser.add_argument(
        "--configs", default="batched,per-command", help=f"comma-separated, of: {', '.join(CONFIGS)}"
    )
    parser.add_argument("--profile", type=Path, help="run the server under cProfile, writing stats here")
    args = parser.parse_args()
    plant = load_plant(args.layout)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {', '.join(unknown)}: use {', '.join(CONFIGS)}")
    results = {name: run_config(name, args, plant) for name in names}
    table = Table(
        title=f"coilyard serve on PostgreSQL: {args.clients} clients, {args.duration:g} s per configuration"
    )
    table.add_column("figure")
    for name in names:
        table.add_column(name, justify="right")
    for figure in results[names[0]]:
        table.add_row(figure, *(results[n][figure] for n in names))
    console.print(table)
    for name in names:
        console.print(f"{name}: {CONFIGS[name][1]}")
    console.print(
        f"reproduce: .venv/bin/python bench/api_load.py --clients {args.clients} --duration {args.duration:g}"
    )
    if any(r["ledger check"] != "passed" for r in results.values()):
        raise SystemExit(1)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


if __name__ == "__main__":
    main()
