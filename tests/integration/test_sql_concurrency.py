"""Many writers, one ledger: conflicting moves by concurrent threads and processes, then every invariant.

The scenario: 2·C workers and C coils on the 16 ground saddles of FS1 (so 16 - C places are free at any
time). In each round every coil is claimed by two workers at once, under one idempotency key per (coil,
round); a claim moves the coil to the first free saddle in the worker's order, as one command (plan, start,
complete). So all workers race for the same few free saddles and, in pairs, for the same coil. Each retries
on StaleVersion, on fresh state, up to a bound. Afterwards: each coil is in exactly one place (yard and
`units` projection), no saddle holds two, each (coil, round) was moved exactly once, the ledger is gapless,
and replaying it gives the final state.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.queues import SimpleQueue
from multiprocessing.synchronize import Event as ProcessEvent

import pytest
import sqlalchemy as sa

from adapters.sql import SqlUnitOfWork, codec, create_engine_for
from adapters.sql.tables import idempotency, ledger, units
from tests.wms_factories import make_coil, place_coil, tiny_plant
from wms.domain import events as ev
from wms.domain.errors import StaleVersion
from wms.domain.yard import Yard

EngineFactory = Callable[[str], sa.Engine]  # the make_engine fixture (conftest.py)

GROUND = [f"FS1-B1-R0{row}-P0{p}-G" for row in (1, 2) for p in range(1, 9)]
ROUNDS = 4
MAX_ATTEMPTS = 200


@dataclass
class Tally:
    committed: int = 0
    recalled: int = 0
    retries: int = 0
    gave_up: int = 0


def coil_id(index: int) -> str:
    return f"K{index:02d}"


def claims(worker: int, coils: int) -> list[tuple[str, int]]:
    """(coil, round) claims of one worker: with 2·coils workers, every coil is claimed twice per round."""
    return [(coil_id((worker + 7 * r) % coils), r) for r in range(ROUNDS)]


def stock_the_yard(url: str, coils: int) -> None:
    engine = create_engine_for(url)
    try:
        with SqlUnitOfWork(engine, tiny_plant()) as uow:
            for index in range(coils):
                place_coil(uow.yard, make_coil(id=coil_id(index)), GROUND[index])
            uow.commit()
    finally:
        engine.dispose()


def move_coil(yard: Yard, worker: int, coil: str, round_: int) -> str:
    """Move `coil` to the first free ground saddle in this worker's order: one command, three events."""
    order = GROUND[worker % 5 :] + GROUND[: worker % 5]
    free = [p for p in order if not yard.locations[p].occupants and yard.locations[p].reserved_by is None]
    actor = f"worker-{worker}"
    move = yard.plan_move(
        coil, free[0], at=float(round_), actor=actor, purpose="relocation", reason=f"{coil} round {round_}"
    )
    yard.start_move(move.id, "C1" if worker % 2 else "C2", at=float(round_), actor=actor)
    yard.complete_move(move.id, at=float(round_), actor=actor)
    return move.id


def work(uow: SqlUnitOfWork, worker: int, coils: int, seed: int) -> Tally:
    """One worker's claims, each retried on StaleVersion (with jittered backoff) on the fresh state."""
    tally, rng = Tally(), random.Random(seed)
    for coil, round_ in claims(worker, coils):
        key = f"{coil}@{round_}"
        for attempt in range(MAX_ATTEMPTS):
            try:
                with uow:
                    if uow.recall(key) is not None:
                        tally.recalled += 1
                        break
                    uow.remember(key, move_coil(uow.yard, worker, coil, round_))
                    uow.commit()
                    tally.committed += 1
                    break
            except StaleVersion:
                tally.retries += 1
                time.sleep(rng.uniform(0, 0.002 * 2 ** min(attempt, 4)))
        else:
            tally.gave_up += 1
    return tally


def run_threads(
    url: str, workers: int, coils: int, make_engine: EngineFactory, *, shared: bool, serialize: bool = True
) -> Tally:
    shared_engine = make_engine(url)
    engines = [shared_engine if shared else make_engine(url) for _ in range(workers)]
    barrier, tallies = threading.Barrier(workers), [Tally() for _ in range(workers)]

    def thread(w: int) -> None:
        uow = SqlUnitOfWork(engines[w], tiny_plant(), serialize_writers=serialize)
        barrier.wait()
        tallies[w] = work(uow, w, coils, seed=w)

    threads = [threading.Thread(target=thread, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total(tallies)


def process_worker(
    url: str, worker: int, coils: int, start: ProcessEvent, out: SimpleQueue[dict[str, int]]
) -> None:
    engine = create_engine_for(url)
    try:
        uow = SqlUnitOfWork(engine, tiny_plant())
        with uow:  # connect and read before the start signal, as a running service would have
            pass
        start.wait()
        out.put(asdict(work(uow, worker, coils, seed=worker)))
    finally:
        engine.dispose()


def run_processes(url: str, workers: int, coils: int) -> Tally:
    context = multiprocessing.get_context("fork")  # the plant and imports are inherited: fast start
    start, out = context.Event(), context.SimpleQueue()
    processes = [
        context.Process(target=process_worker, args=(url, w, coils, start, out)) for w in range(workers)
    ]
    for p in processes:
        p.start()
    start.set()
    tallies = [Tally(**out.get()) for _ in processes]
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    return total(tallies)


def total(tallies: list[Tally]) -> Tally:
    return Tally(
        *(sum(getattr(t, f) for t in tallies) for f in ("committed", "recalled", "retries", "gave_up"))
    )


def check_invariants(url: str, make_engine: EngineFactory, workers: int, coils: int, tally: Tally) -> int:
    """Every invariant of the scenario; returns the ledger length."""
    assert tally.gave_up == 0
    assert tally.committed == coils * ROUNDS  # each (coil, round) applied once ...
    assert tally.recalled == workers * ROUNDS - coils * ROUNDS  # ... and its twin claim got the stored result

    engine = make_engine(url)
    with SqlUnitOfWork(engine, tiny_plant()) as uow:  # a fresh process's view
        yard = uow.yard
        final = yard.snapshot()
    with engine.connect() as connection:
        rows = connection.execute(sa.select(ledger.c.seq, ledger.c.payload).order_by(ledger.c.seq)).all()
        projected = dict(connection.execute(sa.select(units.c.id, units.c.location)).all())
        results = dict(connection.execute(sa.select(idempotency.c.key, idempotency.c.ledger_seq)).all())

    # The ledger is gapless 1..N and replaying it gives the final state.
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    entries = [ev.LedgerEntry(seq, codec.decode_event(payload)) for seq, payload in rows]
    assert Yard.replay(tiny_plant(), entries).snapshot() == final

    # Every coil is in exactly one place, in the yard and in the projection; no place holds two.
    ids = {coil_id(i) for i in range(coils)}
    occupants = Counter(unit for place in yard.locations.values() for unit in place.occupants)
    assert occupants == Counter(ids)
    assert {c: yard.coil(c).location for c in ids} == projected
    assert all(len(place.occupants) <= 1 for place in yard.locations.values() if place.capacity == 1)
    assert set(projected.values()) <= set(GROUND) and len(set(projected.values())) == coils
    assert not any(m.state != "done" for m in yard.moves.values())

    # Each (coil, round) moved exactly once: one MovePlanned/MoveCompleted pair, by one winner.
    planned = {
        e.event.move: e.event.reason
        for e in entries
        if isinstance(e.event, ev.MovePlanned) and e.event.purpose == "relocation"
    }
    completed = Counter(
        planned[e.event.move]
        for e in entries
        if isinstance(e.event, ev.MoveCompleted) and e.event.move in planned
    )
    assert completed == Counter({f"{coil_id(i)} round {r}": 1 for i in range(coils) for r in range(ROUNDS)})
    assert len(planned) == coils * ROUNDS
    # ... and the remembered result of each claim points at the commit that made that move.
    assert set(results) == {f"{coil_id(i)}@{r}" for i in range(coils) for r in range(ROUNDS)}
    for key, seq in results.items():
        coil, round_ = key.split("@")
        event = entries[seq - 1].event
        assert isinstance(event, ev.MoveCompleted) and planned[event.move] == f"{coil} round {round_}"
    return len(rows)


def report(label: str, tally: Tally, seconds: float, entries: int) -> None:
    attempts = tally.committed + tally.recalled + tally.retries
    print(
        f"\n{label}: {tally.committed} commits ({tally.committed / seconds:.0f}/s), {tally.recalled} recalled, "
        f"{tally.retries} StaleVersion retries ({tally.retries / attempts:.0%} of {attempts} attempts), "
        f"{entries} ledger entries, {seconds:.2f} s"
    )


@pytest.mark.parametrize(
    ("workers", "shared", "serialize"),
    [(24, False, False), (24, False, True), (20, True, True)],
    ids=["24-threads-own-engines-racing", "24-threads-own-engines-queued", "20-threads-one-engine"],
)
def test_concurrent_threads_with_conflicting_moves(
    database_url: str, make_engine: EngineFactory, workers: int, shared: bool, serialize: bool
) -> None:
    coils = workers // 2
    stock_the_yard(database_url, coils)
    started = time.perf_counter()
    tally = run_threads(database_url, workers, coils, make_engine, shared=shared, serialize=serialize)
    seconds = time.perf_counter() - started
    entries = check_invariants(database_url, make_engine, workers, coils, tally)
    if shared:  # one engine, one cached yard: the process's units of work take turns, nobody goes stale
        assert tally.retries == 0
    if serialize and sa.make_url(database_url).get_backend_name() == "postgresql":
        assert tally.retries == 0  # writers queue on the advisory lock instead of racing
    report(
        f"{workers} threads ({'one engine' if shared else 'own engines'}, {'queued' if serialize else 'racing'}, "
        f"{sa.make_url(database_url).get_backend_name()})",
        tally,
        seconds,
        entries,
    )


@pytest.mark.parametrize("blank_database_url", ["postgresql"], indirect=True)
def test_concurrent_processes_with_conflicting_moves(database_url: str, make_engine: EngineFactory) -> None:
    workers, coils = 20, 10
    stock_the_yard(database_url, coils)
    started = time.perf_counter()
    tally = run_processes(database_url, workers, coils)
    seconds = time.perf_counter() - started
    entries = check_invariants(database_url, make_engine, workers, coils, tally)
    report(f"{workers} processes (postgresql)", tally, seconds, entries)
