"""The WMS writer: one thread that applies commands in batches, one transaction (one fsync) per batch.

Why: a command costs microseconds of domain work but a commit costs a database round trip and an fsync, and
writers of one ledger take turns anyway (docs/wms.md). So the service does not run a unit of work per HTTP
request; requests queue here, and the writer takes every command waiting (up to `batch`), applies them one
after another to the yard in one `SqlUnitOfWork`, and commits them together. Each command is still decided
on the state that includes every command before it, so the history is exactly as serial as before, and
every acknowledged command is committed (a reply is sent only after its batch committed).

Per command the rules of the message bus hold (wms/service_layer/messagebus.py):
* a command the domain refuses changes nothing; the others of its batch go on. If it had already recorded
  entries (a multi-step handler failing half way), the batch's yard is rebuilt from the committed ledger
  and the batch is applied again without it;
* an idempotency key already stored returns the stored result (same fingerprint) or is refused (another
  command); keys are looked up for the whole batch in one query and stored in the batch's transaction;
* `StaleVersion` (another process committed first) re-applies the whole batch on the fresh state.

Reads (`read`) run in the writer too, on the committed state at the start of a batch: the cached yard is
never shared across threads, and a reader sees every command acknowledged before it asked.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.sql import SqlUnitOfWork
from adapters.sql.tables import idempotency
from layout import Plant
from wms.domain.errors import InvalidInput, StaleVersion
from wms.domain.events import LedgerEntry
from wms.domain.yard import Yard
from wms.service_layer import commands as cmd
from wms.service_layer.handlers import HANDLERS, Result
from wms.service_layer.messagebus import fingerprint  # the bus's rule, so keys mix safely

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_STALE_ATTEMPTS = 50
BURST_S = 0.2  # longest a burst of batches goes without catching up with other processes' commits


@dataclass(frozen=True)
class Outcome:
    result: Result
    version: int  # the ledger version after the batch that committed it
    replayed: bool  # True when an idempotency key returned a stored result


@dataclass
class _Write:
    command: cmd.Command
    future: Future[Outcome] = field(default_factory=Future)


@dataclass
class _Read:
    query: Callable[[Yard], Any]
    future: Future[Any] = field(default_factory=Future)


@dataclass
class WriterStats:
    batches: int = 0
    commands: int = 0
    refused: int = 0
    stale_retries: int = 0
    last_batch: int = 0
    version: int = 0
    seconds: dict[str, float] = field(
        default_factory=lambda: {"begin": 0.0, "apply": 0.0, "commit": 0.0}
    )  # where the writer's time goes: catching up (once per burst), the domain, the commits


class _Stop:
    pass


class CommandWriter:
    def __init__(
        self,
        engine: Engine,
        plant: Plant,
        *,
        batch: int = 128,
        take_turns: bool = False,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[list[LedgerEntry]], None] | None = None,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.engine = engine
        self.plant = plant
        self.batch = batch
        self.take_turns = take_turns
        self.clock = clock
        self.on_commit = on_commit
        self.on_batch = on_batch  # (commands, seconds): for metrics
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[_Write | _Read | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ interface

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wms-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_Stop())
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, command: cmd.Command) -> Future[Outcome]:
        if type(command) not in HANDLERS:
            raise InvalidInput(f"no handler for {type(command).__name__}")
        item = _Write(command)
        self._queue.put(item)
        return item.future

    def read(self, query: Callable[[Yard], T]) -> Future[T]:
        item = _Read(query)
        self._queue.put(item)
        return item.future

    # ------------------------------------------------------------------------------------------ the thread

    def _take(self, *, block: bool) -> tuple[list[_Write | _Read], bool]:
        """Up to `batch` waiting items (waiting for the first if `block`), and whether a stop was asked."""
        items: list[_Write | _Read | _Stop] = []
        if block:
            items.append(self._queue.get())
        while len(items) < self.batch:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        work = [i for i in items if not isinstance(i, _Stop)]
        return work, len(work) != len(items)

    def _run(self) -> None:
        """Bursts: catch up once (`with uow`), then commit batch after batch while commands keep coming.

        Within a burst the cached yard is the committed state (this process is the ledger's writer), so a
        batch costs its commit only. A burst ends when the queue runs dry, after `BURST_S` (so reads see
        other processes' commits that soon), or when another process committed first (`StaleVersion`):
        then the batch is applied again after catching up.
        """
        uow = SqlUnitOfWork(self.engine, self.plant, serialize_writers=self.take_turns)
        pending: list[_Write | _Read] = []
        stop = False
        stale = 0
        while pending or not stop:
            if not pending:
                pending, stop = self._take(block=True)
                if not pending:
                    continue
            work: list[_Write | _Read] = []
            try:
                t0 = time.perf_counter()
                with uow:
                    self.stats.seconds["begin"] += time.perf_counter() - t0
                    deadline = time.monotonic() + BURST_S
                    while pending:
                        work, pending = pending, []
                        started = time.perf_counter()
                        if not self._batch(uow, work):
                            stale += 1
                            if stale >= MAX_STALE_ATTEMPTS:
                                raise StaleVersion(uow.read_version, -1)
                            self.stats.stale_retries += 1
                            pending = work  # again, after catching up
                            break
                        stale = 0
                        if self.on_batch is not None:
                            writes = sum(isinstance(i, _Write) for i in work)
                            self.on_batch(writes, time.perf_counter() - started)
                        work = []
                        if stop or time.monotonic() >= deadline:
                            break
                        pending, stopping = self._take(block=False)
                        stop = stop or stopping
            except BaseException as error:  # the database is gone, say: every waiter of the batch learns it
                log.exception("WMS writer batch failed")
                stale = 0
                for item in work or pending:
                    if not item.future.done():
                        item.future.set_exception(error)
                if not work:
                    pending = []

    def _batch(self, uow: SqlUnitOfWork, work: list[_Write | _Read]) -> bool:
        """Answer the reads, apply and commit the writes; False (nothing resolved) if another writer won."""
        spent = self.stats.seconds
        t1 = time.perf_counter()
        for read in work:
            if isinstance(read, _Read) and not read.future.done():
                try:
                    read.future.set_result(read.query(uow.yard))
                except Exception as error:
                    read.future.set_exception(error)
        writes = [w for w in work if isinstance(w, _Write) and not w.future.done()]
        if not writes:
            return True
        outcomes, failures = self._apply(uow, writes)
        entries = list(uow.new_entries())
        t2 = time.perf_counter()
        spent["apply"] += t2 - t1
        try:
            uow.commit()
        except StaleVersion:
            return False
        version = uow.read_version
        spent["commit"] += time.perf_counter() - t2
        self.stats.batches += 1
        self.stats.commands += len(outcomes)
        self.stats.refused += len(failures)
        self.stats.last_batch = len(writes)
        self.stats.version = version
        for index, (result, replayed) in outcomes.items():
            writes[index].future.set_result(Outcome(result, version, replayed))
        for index, refusal in failures.items():
            writes[index].future.set_exception(refusal)
        if entries and self.on_commit is not None:
            try:
                self.on_commit(entries)
            except Exception:
                log.exception("publishing committed entries failed")
        return True

    def _apply(
        self, uow: SqlUnitOfWork, writes: list[_Write]
    ) -> tuple[dict[int, tuple[Result, bool]], dict[int, Exception]]:
        stored = self._stored_results(writes)
        failures: dict[int, Exception] = {}
        while True:
            outcomes: dict[int, tuple[Result, bool]] = {}
            remembered: dict[str, Any] = {}
            restart = False
            for index, write in enumerate(writes):
                if index in failures:
                    continue
                mark = len(uow.yard.ledger)
                try:
                    outcomes[index] = self._apply_one(uow, write.command, stored, remembered)
                except Exception as error:
                    failures[index] = error
                    if len(uow.yard.ledger) != mark:  # it recorded before failing: redo without it
                        uow.rollback()
                        restart = True
                        break
            if not restart:
                return outcomes, failures

    def _apply_one(
        self, uow: SqlUnitOfWork, command: cmd.Command, stored: dict[str, Any], remembered: dict[str, Any]
    ) -> tuple[Result, bool]:
        key = command.idempotency_key
        mark = fingerprint(command)
        if key is not None:
            earlier = remembered.get(key, stored.get(key))
            if earlier is not None:
                if earlier.get("fingerprint") != mark:
                    raise InvalidInput(f"idempotency key '{key}' was already used for a different command")
                result: Result = earlier["result"]
                return result, True
        result = HANDLERS[type(command)](command, uow.yard, self.clock())
        if key is not None:
            record = {"fingerprint": mark, "result": result}
            uow.remember(key, record)
            remembered[key] = record
        return result, False

    def _stored_results(self, writes: list[_Write]) -> dict[str, Any]:
        keys = sorted({w.command.idempotency_key for w in writes if w.command.idempotency_key})
        if not keys:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(idempotency.c.key, idempotency.c.result).where(idempotency.c.key.in_(keys))
            ).all()
        return {row.key: row.result for row in rows}
