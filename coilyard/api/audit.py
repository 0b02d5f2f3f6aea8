"""The audit log of mutating requests: rows buffered in memory and written in one insert every `interval_s`.

The ledger already records the acting user of every stock change in the transaction of the change; this
log adds who asked for what over HTTP (including refusals, fleet, users and simulation runs). Writing it
in batches keeps it off the WMS commit path; rows of the last interval may be lost if the process is killed,
never ledger entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.sql.auth_tables import audit

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, engine: Engine, interval_s: float = 0.25) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    def record(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.append(row)

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            try:
                with self.engine.begin() as connection:
                    connection.execute(sa.insert(audit), rows)
            except Exception:
                log.exception("could not write %d audit rows", len(rows))
                with self._lock:
                    self._rows[:0] = rows  # keep them for the next try
                return 0
        return len(rows)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await asyncio.to_thread(self.flush)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.flush)
