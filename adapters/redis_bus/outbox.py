"""`Outbox`: run publish jobs on one background thread, in order.

A blocking redis-py call (and its backoff while Redis is away) must stall neither an asyncio event loop
nor the WMS writer thread. Callers `submit` a job and return at once; the thread runs jobs in submission
order, so a stream keeps the order of its publisher. A full outbox drops the job with a warning (live
views miss an event; the ledger still has it) rather than growing without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Outbox:
    def __init__(self, name: str = "coilyard-bus-outbox", *, limit: int = 10_000) -> None:
        self.name = name
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=limit)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def submit(self, job: Job) -> None:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            log.warning("%s is full (%d jobs): a publish was dropped", self.name, self._jobs.maxsize)

    def flush(self) -> None:
        """Wait until every job submitted so far has run."""
        self._jobs.join()

    def close(self, timeout_s: float = 5.0) -> None:
        """Run what is queued, then stop the thread (waits at most `timeout_s`)."""
        thread = self._thread
        if thread is None:
            return
        self._jobs.put(None)
        thread.join(timeout_s)
        self._thread = None

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            except Exception:
                self.failed += 1
                log.exception("%s: a publish failed", self.name)
            finally:
                self._jobs.task_done()
