"""Live updates: an in-process hub that fans events out to SSE subscribers, optionally through Redis.

Every event is a small JSON object with a ``type`` (``ledger`` for a committed WMS entry, ``fleet`` for an
order or vehicle change, ``simulation`` for a run's progress). Without Redis the hub delivers what this
process publishes; with `RedisRelay` every process publishes to one Redis channel and every hub delivers
what it reads from there, so clients of any replica see every change.

Seams for the live view: `EventHub.subscribe()` yields events as dicts; `EventHub.publish(event)` may be
called from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from adapters.sql import codec
from wms.domain.events import LedgerEntry

log = logging.getLogger(__name__)
CHANNEL = "coilyard:events"
QUEUE_LIMIT = 1000  # a subscriber that falls this far behind loses the oldest events (and is told so)


def ledger_event(entry: LedgerEntry) -> dict[str, Any]:
    event = entry.event
    unit, source, target = codec.event_refs(event)
    return {
        "type": "ledger",
        "seq": entry.seq,
        "kind": type(event).__name__,
        "unit": unit,
        "source": source,
        "target": target,
        "actor": event.actor,
        "at": event.at,
    }


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.relay: RedisRelay | None = None
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, event: dict[str, Any]) -> None:
        """Publish from any thread: through Redis when relayed, else straight to this process's subscribers."""
        self.published += 1
        if self.relay is not None:
            self.relay.send(event)
        else:
            self.deliver(event)

    def publish_entries(self, entries: list[LedgerEntry]) -> None:
        for entry in entries:
            self.publish(ledger_event(entry))

    def deliver(self, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._fan_out, event)

    def _fan_out(self, event: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                    q.put_nowait({"type": "dropped", "detail": "this stream fell behind; events were lost"})
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._subscribers.add(q)
        try:
            yield q
        finally:
            self._subscribers.discard(q)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


class RedisRelay:
    """Publish to and read from one Redis pub/sub channel (redis.asyncio), feeding `hub.deliver`."""

    def __init__(self, url: str, hub: EventHub) -> None:
        import redis.asyncio as aioredis  # noqa: PLC0415  (only with events_redis)

        self.hub = hub
        self.client = aioredis.from_url(url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.client.ping()
        self._task = asyncio.create_task(self._listen())
        self.hub.relay = self

    def send(self, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        text = json.dumps(event, default=str)
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._send(text)))

    async def _send(self, text: str) -> None:
        try:
            await self.client.publish(CHANNEL, text)
        except Exception:  # Redis gone for a moment: live views miss an event, the ledger has it
            log.warning("could not publish a live event to Redis", exc_info=True)

    async def _listen(self) -> None:
        pubsub = self.client.pubsub()
        await pubsub.subscribe(CHANNEL)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    with contextlib.suppress(ValueError):
                        self.hub.deliver(json.loads(message["data"]))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        self.hub.relay = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.aclose()
