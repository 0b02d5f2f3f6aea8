"""Crash test: SIGKILL a real `coilyard serve` (uvicorn, PostgreSQL) at random points under load, three times.

After the last restart: every move the server acknowledged (201) is in the ledger exactly once; requests
whose reply was lost, re-sent with the same Idempotency-Key, are applied at most once; the ledger is
gapless and, replayed into a Yard, has every coil in exactly one place and no place holding two; the
`units` projection and the restarted server's own view agree with the replay.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from adapters.sql import migrate
from bench.api_load import free_port, ground_targets, ledger_check, service_token, start_server, wait_ready
from bench.wms_bench import _stock
from layout import load_plant

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "examples" / "aluminium-rolling.yaml"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLIENTS = 10
KILLS = 3


@pytest.fixture
def fresh_database() -> Iterator[str]:
    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"coilyard_crash_{secrets.token_hex(5)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({error.orig}); run ./scripts/services")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


async def _load_until_killed(
    base: str, token: str, targets: dict[str, list[str]], cranes: dict[str, str], *, round_: int, pid: int
) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """Clients move coils until the server dies; returns acknowledged moves and requests left unanswered."""
    acknowledged: list[str] = []
    unanswered: list[tuple[str, dict[str, str]]] = []
    coils = sorted(targets)

    async def client(c: int) -> None:
        rng = random.Random(round_ * 100 + c)
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as http:
            for n in range(100_000):
                coil = rng.choice(coils)
                target = rng.choice(targets[coil])
                body = {"unit": coil, "target": target, "carrier": cranes[target]}
                key = f"r{round_}-c{c}-{n}"
                try:
                    reply = await http.post(
                        "/api/wms/moves/direct", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    unanswered.append((key, body))
                    return
                if reply.status_code == 201:
                    acknowledged.append(reply.json()["move"])
                else:
                    assert reply.status_code in (409, 422), reply.text  # refused: nothing applied

    async def killer() -> None:
        """Kill at a random point once the load is under way (some moves acknowledged)."""
        for _ in range(600):
            if len(acknowledged) >= 20:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(random.uniform(0.1, 1.5))
        os.kill(pid, signal.SIGKILL)

    await asyncio.gather(killer(), *(client(c) for c in range(CLIENTS)))
    return acknowledged, unanswered


def test_acknowledged_moves_survive_sigkill(fresh_database: str, tmp_path: Path) -> None:
    plant = load_plant(LAYOUT)
    migrate(fresh_database)
    coils = _stock(fresh_database, plant, seed=11)
    token = service_token(fresh_database)
    targets, cranes = ground_targets(fresh_database, plant)
    acknowledged: list[str] = []
    unanswered: list[tuple[str, dict[str, str]]] = []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for round_ in range(KILLS):
        server = start_server(fresh_database, port, LAYOUT, tmp_path / f"server-{round_}.log")
        try:
            wait_ready(base)
            done, lost = asyncio.run(
                _load_until_killed(base, token, targets, cranes, round_=round_, pid=server.pid)
            )
        finally:
            server.kill()
            server.wait(timeout=30)
        assert done, f"round {round_}: no move acknowledged before the kill"
        acknowledged += done
        unanswered += lost

    server = start_server(fresh_database, port, LAYOUT, tmp_path / "server-final.log")
    try:
        wait_ready(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            # Replies lost in the crash: the same key again gets the stored reply, or applies it now, once.
            for key, body in unanswered:
                reply = http.post("/api/wms/moves/direct", json=body, headers={"Idempotency-Key": key})
                assert reply.status_code in (201, 409, 422), reply.text
                if reply.status_code == 201:
                    acknowledged.append(reply.json()["move"])
                    again = http.post("/api/wms/moves/direct", json=body, headers={"Idempotency-Key": key})
                    assert again.json()["move"] == reply.json()["move"] and again.json()["replayed"] is True
            served = http.get("/api/wms/coils", params={"limit": 1000}).json()
            version = http.get("/api/wms/stats").json()["version"]
    finally:
        server.terminate()
        server.wait(timeout=30)

    check = ledger_check(fresh_database, plant, coils, acknowledged)
    assert check["gapless"] is True
    assert check["acknowledged moves missing"] == 0
    assert check["acknowledged twice"] == 0
    assert check["coils lost or added"] == 0
    assert check["places holding two"] == 0
    assert check["projection disagrees"] == 0
    assert version == check["ledger entries"]
    assert served["total"] == len(coils)
    assert len(unanswered) >= 1  # the kills really cut requests off
