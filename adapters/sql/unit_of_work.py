"""`SqlUnitOfWork`: the yard kept in SQLite or PostgreSQL as its ledger, with an in-process cache of the yard.

How it works
------------
* **The ledger is the truth.** Table ``ledger`` holds one row per entry; ``seq`` is its primary key and the
  stream's version is its length. The yard is never stored, only replayed (`Yard.replay`), and the tables
  ``units`` (where is each unit) and ``idempotency`` (results by key) are written in the same transactions.
* **Cache.** Per engine and plant the process keeps one `Yard` at the last committed version it has seen.
  ``_begin`` reads only the rows with ``seq`` above that version and applies them to the cached yard, so a
  long-running process pays for each entry once, not per command.
* **Commit.** ``_commit`` inserts the command's entries as ``seq = read_version + 1, + 2, ...`` (then the
  ``units`` rows and the remembered results) in one transaction. If the stream moved on since the read, row
  ``read_version + 1`` already exists and the insert fails on the primary key: the transaction rolls back
  and `StaleVersion` is raised. Nothing of the command was written.
* **Rollback** (always, on leaving ``with uow:``) does nothing if the cached yard holds no uncommitted
  entries: the common case (committed, read-only, or refused by the domain before it recorded anything).
  Otherwise the cached yard is rebuilt by replaying the committed prefix of its own ledger, in memory, no
  I/O (about 2 µs an entry, so 0.2 s per 100 000 entries; only commands that fail after recording, and
  stale commits, pay it).

Why this is safe
----------------
* A commit succeeds only if row ``read_version + 1`` did not exist. Rows are only ever appended, each commit
  as one contiguous block right after the version it read, so the ledger is always gapless ``1..N``; hence
  "row ``read_version + 1`` is absent" means exactly "the stream is still at ``read_version``", checked by
  the database atomically with the insert. Two writers that read the same version insert the same key: on
  PostgreSQL the second waits for the first's transaction and fails when it commits (or proceeds if it rolls
  back); SQLite has one writer at a time anyway. No isolation level above READ COMMITTED is needed: the
  unique index, not snapshot isolation, does the serialising, and the ``units`` rows are written only by the
  one transaction that holds the next ``seq``.
* Everything of a command (entries, ``units`` rows, idempotency results) commits in one transaction, so a
  result is remembered if and only if its entries exist: a client retrying with the same key after a lost
  reply, or racing a twin request, gets the stored result instead of a second application.
* A commit that remembers results but records no entries inserts the results first (taking the write lock
  on SQLite) and then checks ``max(seq) == read_version``, so its results describe the current state too.
* Readers see whole commits only, in ``seq`` order: a reader's ``SELECT ... WHERE seq > v`` returns a
  prefix, because a commit's block starts right after a version that was itself committed before.
* The cached yard is only ever changed while its lock is held, which a unit of work takes in ``__enter__``
  and gives back in ``__exit__``; units of work of one process on one engine and plant therefore take
  turns (they would only collide on ``seq`` otherwise), and across processes or engines the primary key
  arbitrates. A second ``with`` on the same engine and plant in one thread is refused (it would share the
  yard of the outer one).

Notes
-----
* `self.yard` may be a new object after a rollback that discarded entries or a stale commit; take it
  from the unit of work inside each ``with`` rather than keeping it. A rebuilt yard keeps the stock
  thresholds (configuration) but not `Yard.watch`ers: an index watching the yard must be rebuilt too.
* Results given to `remember` must be JSON data (str, numbers, bools, None, lists, dicts with string
  keys); `recall` returns them as stored JSON (tuples come back as lists).
* SQLite: use `adapters.sql.create_engine_for` (WAL, busy timeout; ``sqlite://`` is one shared in-memory
  connection). PostgreSQL: READ COMMITTED, psycopg 3.
"""

from __future__ import annotations

import json
import threading
import weakref
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from adapters.sql import codec
from adapters.sql.tables import idempotency, ledger, units
from layout import Plant
from wms.domain.errors import StaleVersion
from wms.domain.events import LedgerEntry
from wms.domain.units import Coil, UnitStatus
from wms.domain.yard import Yard
from wms.service_layer.unit_of_work import AbstractUnitOfWork

_PRESENT = (UnitStatus.IN_STOCK, UnitStatus.IN_TRANSIT)
LEDGER_LOCK_KEY = 0x636F696C  # "coil": the advisory lock writers of one database queue on
CATCH_UP_PAGE = 1000  # ledger rows read per query when a unit of work catches up


class _Stream:
    """One engine's ledger as this process knows it: a yard at version `committed`, and the lock on it."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.yard = Yard(plant)
        self.committed = 0
        self.lock = threading.Lock()
        self.owner: int | None = None  # the thread inside a unit of work on this stream

    @property
    def dirty(self) -> bool:
        return len(self.yard.ledger) != self.committed

    def apply(self, entry: LedgerEntry) -> None:
        """Apply a committed entry, which must be the next one."""
        if entry.seq != self.committed + 1:
            raise RuntimeError(f"ledger has a gap: expected entry {self.committed + 1}, read {entry.seq}")
        try:
            self.yard.catch_up((entry,))
        except BaseException:
            self.rebuild()  # the entry may be half applied
            raise
        self.committed = entry.seq

    def rebuild(self) -> None:
        """Forget uncommitted entries: replay the committed prefix of the yard's own ledger (no I/O)."""
        old = self.yard
        self.yard = Yard.replay(self.plant, old.ledger[: self.committed])
        if old.stock_thresholds:  # configuration, not state: keep it
            self.yard.set_stock_thresholds(old.stock_thresholds)


_streams_lock = threading.Lock()
_streams: weakref.WeakKeyDictionary[Engine, dict[int, _Stream]] = weakref.WeakKeyDictionary()


def _stream_for(engine: Engine, plant: Plant) -> _Stream:
    with _streams_lock:
        by_plant = _streams.setdefault(engine, {})
        stream = by_plant.get(id(plant))  # the stream keeps `plant` alive, so its id is not reused
        if stream is None:
            stream = by_plant[id(plant)] = _Stream(plant)
        return stream


def forget_cached_yards(engine: Engine) -> None:
    """Drop this process's cached yards for `engine` (after restoring a backup into its database, say)."""
    with _streams_lock:
        _streams.pop(engine, None)


class _Conflict(Exception):
    def __init__(self, error: IntegrityError | None, *, on_ledger: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.on_ledger = on_ledger


class SqlUnitOfWork(AbstractUnitOfWork):
    """One command against the yard stored behind `engine` (see the module docstring)."""

    def __init__(
        self, engine: Engine, plant: Plant, *, wait_s: float = 60.0, serialize_writers: bool = True
    ) -> None:
        self.engine = engine
        self.plant = plant
        self.wait_s = wait_s  # how long to wait for this process's other units of work on the same yard
        # PostgreSQL: take turns across processes with an advisory lock instead of racing and retrying.
        self.serialize_writers = serialize_writers and engine.dialect.name == "postgresql"
        self._turn: sa.Connection | None = None
        self._stream = _stream_for(engine, plant)
        self.yard = self._stream.yard
        self._read_version = self._stream.committed
        self._pending: dict[str, Any] = {}
        self._holding = False

    # ------------------------------------------------------------------------------------------ lifecycle

    def _begin(self) -> None:
        self._acquire()
        try:
            self._take_turn()
            self._pending.clear()
            stream = self._stream
            if stream.dirty:  # cannot happen through this class; cheap to guard
                stream.rebuild()
            with self.engine.connect() as connection:
                # Pages instead of a server-side cursor: catching up is usually zero or a few rows, and a
                # cursor costs extra round trips per command (bench/api_load.py); memory stays bounded.
                while True:
                    rows = connection.execute(
                        sa.select(ledger.c.seq, ledger.c.payload)
                        .where(ledger.c.seq > stream.committed)
                        .order_by(ledger.c.seq)
                        .limit(CATCH_UP_PAGE)
                    ).all()
                    for seq, payload in rows:
                        stream.apply(LedgerEntry(seq, codec.decode_event(payload)))
                    if len(rows) < CATCH_UP_PAGE:
                        break
            self.yard = stream.yard
        except BaseException:
            self._release()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            self._release()

    def rollback(self) -> None:
        self._pending.clear()
        if self._holding:
            stream = self._stream
            if stream.dirty:
                stream.rebuild()
            self.yard = stream.yard

    def _acquire(self) -> None:
        stream, me = self._stream, threading.get_ident()
        if stream.owner == me:
            raise RuntimeError(
                "this thread is already inside a unit of work on this engine and plant; "
                "a nested one would share its uncommitted yard"
            )
        if not stream.lock.acquire(timeout=self.wait_s):
            raise TimeoutError(
                f"another unit of work of this process kept the yard for over {self.wait_s:g} s"
            )
        stream.owner = me
        self._holding = True

    def _release(self) -> None:
        if self._holding:
            self._give_turn()
            self._holding = False
            self._stream.owner = None
            self._stream.lock.release()

    def _take_turn(self) -> None:
        """Wait for the ledger's advisory lock (PostgreSQL): one writer at a time across all processes.

        Without it, writers of different processes that read the same version all decide, and all but one
        lose on the primary key and redo their work; with it they queue instead. The primary key stays the
        guarantee; the lock only saves the wasted work. It is a session lock on a connection held for the
        unit of work, given back in `_release` (and by PostgreSQL itself if the process dies).
        """
        if not self.serialize_writers:
            return
        connection = self.engine.connect()
        try:
            # lock_timeout covers advisory locks: a writer that never lets go cannot hang us for ever.
            connection.execute(
                sa.text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{int(self.wait_s * 1000)}"}
            )
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": LEDGER_LOCK_KEY})
            connection.commit()
        except OperationalError as error:
            connection.close()
            raise TimeoutError(f"another writer kept the ledger for over {self.wait_s:g} s") from error
        except BaseException:
            connection.close()
            raise
        self._turn = connection

    def _give_turn(self) -> None:
        connection, self._turn = self._turn, None
        if connection is None:
            return
        try:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LEDGER_LOCK_KEY})
            connection.commit()
        finally:
            connection.close()

    # ------------------------------------------------------------------------------------------ commit

    def _commit(self, entries: list[LedgerEntry]) -> None:
        if not entries and not self._pending:
            return
        if not self._holding:
            raise RuntimeError("commit() belongs inside `with uow:`")
        expected = self.read_version
        if entries and entries[0].seq != expected + 1:
            raise RuntimeError(
                f"new entries start at {entries[0].seq}, not after the read version {expected}"
            )
        version = expected + len(entries)
        rows = [codec.ledger_row(entry) for entry in entries]  # a codec error raises before any I/O
        results = [
            {"key": key, "result": result, "ledger_seq": version}
            for key, result in sorted(self._pending.items())
        ]
        found = self._write(expected, rows, results, entries)
        if found is not None:
            raise StaleVersion(expected, found)
        self._stream.committed = version
        self._pending.clear()

    def _write(
        self,
        expected: int,
        rows: list[dict[str, Any]],
        results: list[dict[str, Any]],
        entries: list[LedgerEntry],
    ) -> int | None:
        """Write one commit; None when it committed, else the version found by a conflicting writer."""
        with self.engine.connect() as connection:
            try:
                with connection.begin():
                    if rows:
                        try:
                            connection.execute(sa.insert(ledger), rows)
                        except IntegrityError as error:
                            raise _Conflict(error, on_ledger=True) from error
                        self._project(connection, entries, expected + len(entries))
                    if results:  # sorted by key: two committers lock keys in one order, never deadlock
                        try:
                            connection.execute(sa.insert(idempotency), results)
                        except IntegrityError as error:  # the same key stored meanwhile: a retry recalls it
                            raise _Conflict(error, on_ledger=False) from error
                    if not rows and _version(connection) != expected:
                        raise _Conflict(None, on_ledger=True)
            except _Conflict as conflict:
                found = _version(connection)
                if conflict.on_ledger and conflict.error is not None and found == expected:
                    raise conflict.error from None  # not a version conflict: a real integrity problem
                return found
        return None

    def _project(self, connection: sa.Connection, entries: list[LedgerEntry], version: int) -> None:
        """Rewrite the `units` rows of the units these entries touched, as they are after them."""
        touched: dict[str, int] = {}
        for entry in entries:
            unit_id = codec.event_refs(entry.event)[0]
            if unit_id is not None:
                touched[unit_id] = entry.seq
        if not touched:
            return
        rows = []
        for unit_id, seq in touched.items():
            unit = self.yard.unit(unit_id)
            place = self.yard.locations.get(unit.location)
            rows.append(
                {
                    "id": unit.id,
                    "kind": "coil" if isinstance(unit, Coil) else "ingot_stack",
                    "location": unit.location,
                    "status": unit.status.value,
                    "exclusive": unit.status in _PRESENT and place is not None and place.capacity == 1,
                    "ledger_seq": seq,
                }
            )
        # Delete, then insert: units that swap places within one commit never meet the unique index.
        connection.execute(sa.delete(units).where(units.c.id.in_(list(touched))))
        connection.execute(sa.insert(units), rows)

    # ------------------------------------------------------------------------------------------ idempotency

    def recall(self, key: str) -> Any | None:
        if key in self._pending:
            return self._pending[key]
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(idempotency.c.result).where(idempotency.c.key == key)
            ).scalar()

    def remember(self, key: str, result: Any) -> None:
        if not self._holding:
            raise RuntimeError("remember() belongs inside `with uow:`")
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"the result remembered under {key!r} must be JSON data: {error}") from None
        self._pending[key] = result


def _version(connection: sa.Connection) -> int:
    return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(ledger.c.seq), 0))).scalar_one())
