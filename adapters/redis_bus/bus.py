"""`RedisEventBus`: fleet and WMS events between processes on Redis Streams, with consumer groups.

Delivery is at least once, and nothing is lost across a subscriber restart:

- `publish` appends with ``XADD ... MAXLEN ~ n`` (the stream stays bounded; trimming is approximate, so
  cheap). A publish retried after a lost reply may append twice: consumers of WMS events drop repeats by
  their ledger `seq`.
- A `StreamConsumer` reads with ``XREADGROUP``. It first re-reads its own pending entries (id ``0``:
  delivered to it before, never acknowledged, e.g. it crashed mid-batch), then new ones (``>``). It
  acknowledges an entry (``XACK``) only after the handler returned; a handler that raises leaves the entry
  pending and the exception propagates (the caller decides: `run` logs, waits and retries).
- ``XAUTOCLAIM`` (`claim_stale`) takes over entries idle for longer than `claim_idle_ms` in another
  consumer's pending list: a consumer that died for good does not strand its entries.
- An entry that cannot be decoded is copied to ``<stream>:dead`` with the error and acknowledged.

Every Redis call goes through `_call`: a connection error or timeout is retried after an exponential
backoff with full jitter (`Backoff`), forever or until `Backoff.give_up_after_s`. redis-py reconnects on
the next command by itself; its own retries are switched off so that this policy is the only one. After a
reconnect, consumers re-read their pending entries first: an ``XREADGROUP >`` whose reply was lost has
moved entries into the pending list that the consumer never saw.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.redis_bus.codec import BusEvent, CodecError, decode_entry, encode_entry
from wms.domain.events import LedgerEntry

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_T = TypeVar("_T")


class BusUnavailable(ConnectionError):
    """Redis could not be reached within the backoff's patience."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * factor**(n-1)))."""

    base_s: float = 0.05
    factor: float = 2.0
    cap_s: float = 5.0
    give_up_after_s: float | None = 60.0  # None: retry forever
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_s, self.base_s * self.factor ** max(attempt - 1, 0))
        return self.rng.uniform(0, ceiling)


@dataclass(frozen=True, slots=True)
class BusMessage:
    stream: str
    id: str
    event: BusEvent
    seq: int | None


Handler = Callable[[BusMessage], None]


class RedisEventBus:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        client: redis.Redis | None = None,
        maxlen: int = 100_000,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        socket_timeout_s: float = 10.0,
        client_name: str | None = None,
    ) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be >= 1, got {maxlen}")
        self.url = url
        self.client = client or redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 0),
            client_name=client_name,  # shows in CLIENT LIST: which process holds which connection
        )
        self.maxlen = maxlen
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.reconnects = 0  # how many failed calls were retried (a figure for logs and tests)
        self._epoch = 0  # bumped after each recovered connection error; consumers compare it
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------------------------------- publish

    def publish(self, stream: str, event: BusEvent, *, seq: int | None = None) -> str:
        """Append `event` to `stream`; returns the entry id."""
        fields: dict[Any, Any] = dict(encode_entry(event, seq))
        entry_id = self._call(
            "XADD", lambda: self.client.xadd(stream, fields, maxlen=self.maxlen, approximate=True)
        )
        return str(entry_id)

    def publish_many(self, stream: str, events: Iterable[tuple[BusEvent, int | None]]) -> list[str]:
        """Append several events in one round trip (a pipeline, in order)."""
        encoded: list[dict[Any, Any]] = [dict(encode_entry(event, seq)) for event, seq in events]

        def append() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for fields in encoded:
                pipe.xadd(stream, fields, maxlen=self.maxlen, approximate=True)
            return pipe.execute()

        return [str(i) for i in self._call("XADD pipeline", append)] if encoded else []

    def publish_entries(self, stream: str, entries: Sequence[LedgerEntry]) -> list[str]:
        return self.publish_many(stream, ((entry.event, entry.seq) for entry in entries))

    # ----------------------------------------------------------------------------------------- consume

    def ensure_group(self, stream: str, group: str, start_id: str = "0") -> None:
        """Create the consumer group (and the stream) unless it exists; `start_id` "0": from the start."""

        def create() -> None:
            try:
                self.client.xgroup_create(stream, group, id=start_id, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

        self._call("XGROUP CREATE", create)

    def consumer(
        self,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        *,
        count: int = 64,
        claim_idle_ms: int = 60_000,
    ) -> StreamConsumer:
        self.ensure_group(stream, group)
        return StreamConsumer(self, stream, group, name, handler, count=count, claim_idle_ms=claim_idle_ms)

    # --------------------------------------------------------------------------------------- resilience

    @property
    def epoch(self) -> int:
        return self._epoch

    def _call(self, what: str, operation: Callable[[], _T]) -> _T:
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                result = operation()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                attempt += 1
                waited = time.monotonic() - started
                patience = self.backoff.give_up_after_s
                if patience is not None and waited >= patience:
                    raise BusUnavailable(
                        f"Redis at {self.url} unreachable: {what} failed {attempt} times over {waited:.1f} s ({error})"
                    ) from None
                delay = self.backoff.delay(attempt)
                log.warning("Redis %s failed (%s); retry %d in %.3f s", what, error, attempt, delay)
                with self._lock:
                    self.reconnects += 1
                self.sleep(delay)
                continue
            if attempt:
                with self._lock:
                    self._epoch += 1
                log.warning("Redis %s succeeded again after %d retries", what, attempt)
            return result


class StreamConsumer:
    """One named consumer of a group: `poll()` handles one batch; `run()` loops until stopped."""

    def __init__(
        self,
        bus: RedisEventBus,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        *,
        count: int = 64,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.bus = bus
        self.stream = stream
        self.group = group
        self.name = name
        self.handler = handler
        self.count = count
        self.claim_idle_ms = claim_idle_ms
        self.handled = 0
        self._backlog = True  # re-read our own pending entries first (a restart, or a lost reply)
        self._epoch = bus.epoch

    def poll(self, block_ms: int = 1000) -> int:
        """Handle one batch (own pending entries first, then new ones); returns how many were handled."""
        if self._epoch != self.bus.epoch:
            self._epoch = self.bus.epoch
            self._backlog = True
        if self._backlog:
            entries = self._read("0", block_ms=None)
            if entries:
                return self._handle(entries)
            self._backlog = False
        return self._handle(self._read(">", block_ms=block_ms))

    def claim_stale(self, min_idle_ms: int | None = None) -> int:
        """Take over and handle entries idle longer than `min_idle_ms` in other consumers' pending lists."""
        idle = self.claim_idle_ms if min_idle_ms is None else min_idle_ms
        handled = 0
        cursor = "0-0"
        while True:
            reply = self.bus._call(
                "XAUTOCLAIM",
                functools.partial(
                    self.bus.client.xautoclaim,
                    self.stream,
                    self.group,
                    self.name,
                    idle,
                    start_id=cursor,
                    count=self.count,
                ),
            )
            cursor, claimed = str(reply[0]), list(reply[1])
            deleted = list(reply[2]) if len(reply) > 2 else []
            if deleted:
                log.warning(
                    "%s: %d pending entries were trimmed before anyone handled them",
                    self.stream,
                    len(deleted),
                )
            handled += self._handle(claimed)
            if cursor == "0-0":
                return handled

    def run(self, stop: threading.Event, *, block_ms: int = 500, claim_every_s: float = 30.0) -> None:
        """Poll until `stop` is set; a failing handler is logged and its entry retried after a pause."""
        next_claim = time.monotonic()
        failures = 0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_claim:
                    self.claim_stale()
                    next_claim = time.monotonic() + claim_every_s
                self.poll(block_ms)
                failures = 0
            except BusUnavailable:
                raise
            except Exception:
                failures += 1
                log.exception(
                    "%s/%s: handler failed; the entry stays pending and is retried", self.group, self.name
                )
                self._backlog = True
                stop.wait(self.bus.backoff.delay(failures))

    # ---------------------------------------------------------------------------------------- internals

    def _read(self, start: str, block_ms: int | None) -> list[tuple[str, Mapping[str, str] | None]]:
        reply = self.bus._call(
            "XREADGROUP",
            lambda: self.bus.client.xreadgroup(
                self.group, self.name, {self.stream: start}, count=self.count, block=block_ms
            ),
        )
        if not reply:
            return []
        entries: list[tuple[str, Mapping[str, str] | None]] = []
        for _stream, items in _stream_items(reply):
            entries.extend((str(entry_id), fields) for entry_id, fields in items)
        return entries

    def _handle(self, entries: Sequence[tuple[str, Mapping[str, str] | None]]) -> int:
        handled = 0
        for entry_id, fields in entries:
            message = self._decode(entry_id, fields)
            if message is not None:
                self.handler(message)  # raises: the entry stays pending (and so do the rest of the batch)
                handled += 1
                self.handled += 1
            self.bus._call("XACK", functools.partial(self.bus.client.xack, self.stream, self.group, entry_id))
        return handled

    def _decode(self, entry_id: str, fields: Mapping[str, str] | None) -> BusMessage | None:
        if not fields:
            log.warning(
                "%s %s: entry was trimmed from the stream before it was handled", self.stream, entry_id
            )
            return None
        try:
            decoded = decode_entry(fields)
        except CodecError as error:
            log.error(
                "%s %s: undecodable entry moved to %s:dead: %s", self.stream, entry_id, self.stream, error
            )
            dead: dict[Any, Any] = {**fields, "error": str(error), "source_id": entry_id}
            self.bus._call(
                "XADD dead", lambda: self.bus.client.xadd(f"{self.stream}:dead", dead, maxlen=self.bus.maxlen)
            )
            return None
        return BusMessage(stream=self.stream, id=entry_id, event=decoded.event, seq=decoded.seq)


def _stream_items(reply: Any) -> Iterable[tuple[str, list[tuple[str, Mapping[str, str] | None]]]]:
    """XREADGROUP's reply as (stream, entries): a list of pairs (RESP2) or a dict (RESP3)."""
    if isinstance(reply, dict):
        return [(str(k), v[0] if v and isinstance(v[0], list) else v) for k, v in reply.items()]
    return [(str(stream), items) for stream, items in reply]
