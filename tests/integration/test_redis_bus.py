"""The Redis Streams event bus and vehicle cache against the real Redis on 127.0.0.1:6379.

Every test uses its own stream, group and key names and deletes them at the end. Redis that cannot be
reached fails the test with what to do (./scripts/services); it is never skipped.
"""

from __future__ import annotations

import random
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapters.redis_bus import (
    Backoff,
    BusMessage,
    RedisEventBus,
    VehicleSnapshot,
    VehicleStateCache,
)
from adapters.redis_bus.codec import BusEvent
from fleet.domain.orders import Operation, OrderState, OrderTransition
from fleet.domain.vehicles import VehicleState
from fleet.ports import EnergyReport, OperationDone, Progress, StateChanged
from wms.domain.events import HoldReleased, LedgerEntry, MoveCompleted

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/0"


class Crash(Exception):
    """Stands for the consumer process dying in the middle of a batch."""


@pytest.fixture
def admin() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(
            f"Redis is not reachable at 127.0.0.1:6379 ({error}). Start it with ./scripts/services.",
            pytrace=False,
        )
    yield client
    client.close()


@pytest.fixture
def names(admin: redis.Redis) -> Iterator[str]:
    """A unique prefix; every key under it is deleted after the test."""
    prefix = f"coilyard-test:{secrets.token_hex(6)}"
    yield prefix
    keys = list(admin.scan_iter(match=prefix + "*"))
    if keys:
        admin.delete(*keys)


@pytest.fixture
def bus() -> Iterator[RedisEventBus]:
    bus = RedisEventBus(REDIS_URL, backoff=Backoff(base_s=0.01, cap_s=0.2, give_up_after_s=10))
    yield bus
    bus.close()


def moves(n: int) -> list[MoveCompleted]:
    return [
        MoveCompleted(
            at=float(i), actor="test", move=f"M{i:04d}", unit=f"C{i:04d}", carrier="C1", target="P1"
        )
        for i in range(n)
    ]


def test_events_survive_a_consumer_restart(bus: RedisEventBus, names: str) -> None:
    stream, group = f"{names}:wms", "views"
    events = moves(20)
    bus.ensure_group(stream, group)
    bus.publish_entries(stream, [LedgerEntry(seq=i + 1, event=e) for i, e in enumerate(events)])

    first_run: list[int] = []

    def crash_at_eighth(message: BusMessage) -> None:
        assert message.seq is not None
        if len(first_run) == 7:
            raise Crash
        first_run.append(message.seq)

    consumer = bus.consumer(stream, group, "worker-1", crash_at_eighth, count=10)
    with pytest.raises(Crash):
        consumer.poll(block_ms=100)
    assert first_run == [1, 2, 3, 4, 5, 6, 7]
    pending = bus.client.xpending(stream, group)
    assert pending["pending"] == 3  # the 8th (the crash) and the two after it in the batch

    second_run: list[int] = []
    restarted = bus.consumer(stream, group, "worker-1", lambda m: second_run.append(m.seq or 0), count=10)
    while restarted.poll(block_ms=100):
        pass
    assert second_run == list(range(8, 21))  # own pending first (8..10), then the rest; nothing twice
    assert not set(first_run) & set(second_run)
    assert bus.client.xpending(stream, group)["pending"] == 0


def test_a_dead_consumers_entries_are_claimed_by_another(bus: RedisEventBus, names: str) -> None:
    stream, group = f"{names}:fleet", "dispatch"
    for event in moves(5):
        bus.publish(stream, event)
    dead = bus.consumer(stream, group, "dead", lambda m: (_ for _ in ()).throw(Crash()), count=5)
    with pytest.raises(Crash):
        dead.poll(block_ms=100)
    seen: list[str] = []
    survivor = bus.consumer(stream, group, "alive", lambda m: seen.append(m.id), claim_idle_ms=60_000)
    assert survivor.claim_stale() == 0  # not idle long enough yet
    time.sleep(0.05)
    assert survivor.claim_stale(min_idle_ms=20) == 5
    assert len(set(seen)) == 5
    assert bus.client.xpending(stream, group)["pending"] == 0


def test_two_consumers_in_one_group_share_the_work_without_duplicates(names: str) -> None:
    stream, group, n = f"{names}:wms", "workers", 400
    publisher = RedisEventBus(REDIS_URL)
    publisher.ensure_group(stream, group)
    handled: dict[str, list[int]] = {"a": [], "b": []}
    lock = threading.Lock()
    stop = threading.Event()

    def worker(name: str) -> None:
        bus = RedisEventBus(REDIS_URL)

        def handle(message: BusMessage) -> None:
            with lock:
                handled[name].append(message.seq or 0)
            time.sleep(0.0005)  # some work, so that the other consumer gets a share

        consumer = bus.consumer(stream, group, name, handle, count=8)
        while not stop.is_set():
            consumer.poll(block_ms=50)
        bus.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in handled]
    for thread in threads:
        thread.start()
    for i, event in enumerate(moves(n), start=1):
        publisher.publish(stream, event, seq=i)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(handled["a"]) + len(handled["b"]) < n:
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    every = handled["a"] + handled["b"]
    assert sorted(every) == list(range(1, n + 1))  # each exactly once
    assert handled["a"] and handled["b"], (
        f"one consumer did all the work: {len(handled['a'])}/{len(handled['b'])}"
    )
    assert publisher.client.xpending(stream, group)["pending"] == 0
    publisher.close()


def test_the_stream_stays_bounded(names: str) -> None:
    stream = f"{names}:bounded"
    bus = RedisEventBus(REDIS_URL, maxlen=100)
    for event in moves(1000):
        bus.publish(stream, event)
    length = bus.client.xlen(stream)
    assert 100 <= length < 1000  # MAXLEN ~ trims whole macro nodes: about 100, never unbounded
    bus.close()


def test_fleet_and_wms_events_round_trip_through_redis(bus: RedisEventBus, names: str) -> None:
    stream = f"{names}:mixed"
    sent: list[BusEvent] = [
        Progress(vehicle="AGV-01", node="W2", at=1.25, order="O1"),
        StateChanged(
            vehicle="AGV-01", state=VehicleState.ERROR, at=2.0, error="fault 0x0301 emergency_stop (fatal)"
        ),
        OrderTransition(
            order="O1", from_state=OrderState.ACTIVE, to_state=OrderState.FAILED, at=2.0, vehicle="AGV-01"
        ),
        HoldReleased(at=3.0, actor="qa", unit="C1", hold="H1"),
    ]
    got: list[object] = []
    consumer = bus.consumer(stream, "g", "c", lambda m: got.append(m.event))
    for event in sent:
        bus.publish(stream, event)
    while consumer.poll(block_ms=100):
        pass
    assert got == sent


def test_an_undecodable_entry_goes_to_the_dead_letter_stream(bus: RedisEventBus, names: str) -> None:
    stream = f"{names}:poison"
    got: list[str] = []
    consumer = bus.consumer(stream, "g", "c", lambda m: got.append(m.id))
    bus.client.xadd(stream, {"type": "wms", "event": "{not json"})
    good = bus.publish(stream, moves(1)[0])
    while consumer.poll(block_ms=100):
        pass
    assert got == [good]
    dead: Any = bus.client.xrange(f"{stream}:dead")
    assert len(dead) == 1 and "not JSON" in dead[0][1]["error"]
    assert bus.client.xpending(stream, "g")["pending"] == 0


def _blocked_reader_id(admin: redis.Redis, name: str) -> int | None:
    for client in admin.client_list():
        if (
            client.get("name") == name
            and client.get("cmd") == "xreadgroup"
            and "b" in client.get("flags", "")
        ):
            return int(client["id"])
    return None


def test_consumer_reconnects_after_client_kill(admin: redis.Redis, names: str) -> None:
    stream = f"{names}:killed"
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    name = f"test-{secrets.token_hex(4)}"
    backoff = Backoff(base_s=0.01, cap_s=0.1, rng=random.Random(1))
    bus = RedisEventBus(REDIS_URL, backoff=backoff, sleep=sleep, client_name=name)
    got: list[str] = []
    consumer = bus.consumer(stream, "g", "c", lambda m: got.append(m.id))
    bus.publish(stream, moves(1)[0])
    assert consumer.poll(block_ms=100) == 1

    # An idle connection killed: redis-py notices on checkout and reconnects before sending anything.
    admin.client_kill_filter(_id=str(bus.client.client_id()))
    assert bus.client.xlen(stream) == 1

    # A connection killed while XREADGROUP blocks on it: the call fails, backs off, reconnects, reads on.
    reader = threading.Thread(target=lambda: [consumer.poll(block_ms=3000) for _ in range(3) if len(got) < 2])
    reader.start()
    deadline = time.monotonic() + 5
    blocked = None
    while blocked is None and time.monotonic() < deadline:
        blocked = _blocked_reader_id(admin, name)
        time.sleep(0.02)
    assert blocked is not None, "the consumer never blocked in XREADGROUP"
    assert admin.client_kill_filter(_id=str(blocked)) == 1
    time.sleep(0.2)
    second = bus.publish(stream, moves(2)[1])
    reader.join(timeout=10)
    assert got[-1] == second and len(got) == 2
    assert bus.reconnects >= 1 and sleeps and all(0 <= s <= 0.1 for s in sleeps)
    bus.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed, so no second server can be started and stopped")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    for _ in range(100):
        try:
            probe.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    probe.close()
    return process


def test_publish_waits_with_backoff_through_a_server_restart(tmp_path: Path) -> None:
    port = _free_port()
    server = _start_redis(port, tmp_path)
    bus = RedisEventBus(
        f"redis://127.0.0.1:{port}/0", backoff=Backoff(base_s=0.02, cap_s=0.2, give_up_after_s=15)
    )
    try:
        bus.publish("s", moves(1)[0])
        server.terminate()
        server.wait(timeout=10)
        outcome: dict[str, str] = {}
        publisher = threading.Thread(target=lambda: outcome.update(id=bus.publish("s", moves(2)[1])))
        publisher.start()
        time.sleep(0.5)
        assert publisher.is_alive(), "publish should wait for the server, not fail at once"
        server = _start_redis(port, tmp_path)  # an empty server: no persistence in this test
        publisher.join(timeout=10)
        assert "id" in outcome and bus.reconnects >= 2
        assert bus.client.xlen("s") == 1
    finally:
        bus.close()
        server.terminate()
        server.wait(timeout=10)


def test_publish_gives_up_with_a_clear_error_when_redis_stays_away() -> None:
    from adapters.redis_bus import BusUnavailable

    bus = RedisEventBus(
        f"redis://127.0.0.1:{_free_port()}/0", backoff=Backoff(base_s=0.01, cap_s=0.05, give_up_after_s=0.3)
    )
    with pytest.raises(BusUnavailable, match=r"unreachable: XADD failed \d+ times"):
        bus.publish("s", moves(1)[0])
    assert bus.reconnects >= 2


def test_vehicle_state_cache_read_write_and_expiry(admin: redis.Redis, names: str) -> None:
    cache = VehicleStateCache(admin, prefix=f"{names}:vehicle:", ttl_s=0.3)
    cache.write(
        VehicleSnapshot(vehicle="RGV-01", at=1.0, state="moving", node="RS1", load=False, energy=None)
    )
    cache.apply(Progress(vehicle="RGV-01", node="RS2", at=2.0, order="O1"))
    cache.apply(OperationDone(vehicle="RGV-01", node="RS2", operation=Operation.PICK, at=3.0, order="O1"))
    cache.apply(StateChanged(vehicle="RGV-01", state=VehicleState.IDLE, at=3.5))
    cache.apply(EnergyReport(vehicle="AGV-01", energy=42.5, at=4.0))
    assert cache.read("RGV-01") == VehicleSnapshot(
        vehicle="RGV-01", at=3.5, state="idle", node="RS2", load=True
    )
    assert [s.vehicle for s in cache.read_all()] == ["AGV-01", "RGV-01"]
    assert cache.read("AGV-01") == VehicleSnapshot(vehicle="AGV-01", at=4.0, energy=42.5)
    ttl = cache.ttl_s("RGV-01")
    assert ttl is not None and 0 < ttl <= 0.3
    time.sleep(0.45)
    assert cache.read("RGV-01") is None and cache.read_all() == []
    assert cache.ttl_s("RGV-01") is None
