"""Live updates: an in-process hub that fans events out to SSE subscribers, optionally fed by the Redis bus.

Every event is a small JSON object with a ``type`` (``ledger`` for a committed WMS entry, ``fleet`` for an
order change, ``vehicle``/``crane`` for what vehicles report, ``simulation`` for a run's progress...).

Without Redis the hub delivers what this process publishes. With `BusRelay` (COILYARD_EVENTS_REDIS) the
typed events go onto the event bus of `adapters.redis_bus` (docs/event-bus.md, "The API on the bus"):
committed ledger entries through `LedgerPublisher` to the WMS stream, order changes and vehicle reports
through `FleetPublisher` to the fleet stream (vehicle reports also update `VehicleStateCache`). A reader
thread in every process follows both streams with plain XREAD and hands what it reads to its hub, so
clients of any replica see every change. Events that are not domain events (simulation runs, alerts,
reports posted to the terminal routes) stay with the process that made them.

Seams for the live view: `EventHub.subscription()` yields a queue of events as dicts; `EventHub.publish(event)`
may be called from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis

from adapters.redis_bus import (
    BusMessage,
    BusUnavailable,
    FleetPublisher,
    LedgerPublisher,
    Outbox,
    RedisEventBus,
    StreamTail,
    VehicleStateCache,
)
from adapters.redis_bus.codec import FleetEvent
from adapters.sql import codec
from coilyard.bootstrap import live_event
from fleet.domain.orders import OrderTransition
from layout import Plant
from wms.domain.events import Event as WmsEvent
from wms.domain.events import LedgerEntry

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000  # a subscriber that falls this far behind loses the oldest events (and is told so)
SEEN_SEQS = 4096  # ledger seqs remembered to drop an entry the bus delivered twice
CACHE_TTL_S = 120.0  # a vehicle silent this long drops out of /api/vehicles/live


def ledger_event(entry: LedgerEntry) -> dict[str, Any]:
    return wms_event(entry.event, entry.seq)


def wms_event(event: WmsEvent, seq: int | None) -> dict[str, Any]:
    unit, source, target = codec.event_refs(event)
    return {
        "type": "ledger",
        "seq": seq,
        "kind": type(event).__name__,
        "unit": unit,
        "source": source,
        "target": target,
        "actor": event.actor,
        "at": event.at,
    }


def order_event(transition: OrderTransition) -> dict[str, Any]:
    t = transition
    return {"type": "fleet", "order": t.order, "state": str(t.to_state), "vehicle": t.vehicle, "at": t.at}


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.relay: BusRelay | None = None  # set while the bus relay runs
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, event: dict[str, Any]) -> None:
        """Publish from any thread to this process's subscribers (events that are not domain events)."""
        self.published += 1
        self.deliver(event)

    def publish_entries(self, entries: list[LedgerEntry]) -> None:
        """Committed ledger entries (the WMS writer's `on_commit`, on its thread): onto the bus when relayed."""
        relay = self.relay
        if relay is not None:
            self.published += len(entries)
            relay.send_entries(entries)
            return
        for entry in entries:
            self.publish(ledger_event(entry))

    def publish_fleet(self, events: Sequence[FleetEvent]) -> bool:
        """Order transitions and vehicle events onto the bus; False (nothing done) when there is no bus, and
        the caller publishes its own rendering of them instead."""
        relay = self.relay
        if relay is None:
            return False
        self.published += len(events)
        relay.send_fleet(events)
        return True

    def deliver(self, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: nobody is listening
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


class BusRelay:
    """The hub on the Redis Streams bus: publishes go through an `Outbox` thread, a `StreamTail` thread
    reads both streams and hands each entry, rendered as a live event, to the hub's loop.

    Nothing here touches Redis before `start`, so `namespace` (stream and cache key prefix, default
    ``coilyard``: streams ``coilyard:wms`` and ``coilyard:fleet``) may be changed until then.
    """

    def __init__(
        self, url: str, plant: Plant, *, namespace: str = "coilyard", cache_ttl_s: float = CACHE_TTL_S
    ) -> None:
        self.url = url
        self.plant = plant
        self.namespace = namespace
        self.cache_ttl_s = cache_ttl_s
        self.bus = RedisEventBus(url, client_name=f"coilyard-api-{os.getpid()}")
        self.outbox = Outbox("coilyard-bus-publisher")
        self.hub: EventHub | None = None
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._seen: collections.deque[int] = collections.deque(maxlen=SEEN_SEQS)
        self._seen_set: set[int] = set()
        self._publishers()

    def _publishers(self) -> None:
        self._ledger = LedgerPublisher(self.bus, self.wms_stream)
        self._fleet = FleetPublisher(self.bus, self.fleet_stream)
        self._cache = self.cache

    @property
    def wms_stream(self) -> str:
        return f"{self.namespace}:wms"

    @property
    def fleet_stream(self) -> str:
        return f"{self.namespace}:fleet"

    @property
    def cache(self) -> VehicleStateCache:
        return VehicleStateCache(self.bus.client, prefix=f"{self.namespace}:vehicle:", ttl_s=self.cache_ttl_s)

    # ----------------------------------------------------------------------------------------- lifecycle

    async def start(self, hub: EventHub) -> None:
        """Check Redis, take the streams' current ends, start the threads, then route the hub through us."""
        tail = StreamTail(self.bus, (self.wms_stream, self.fleet_stream), self._on_message)
        await asyncio.to_thread(self._connect, tail)
        self.hub = hub
        self._stop.clear()
        self.outbox.start()
        self._reader = threading.Thread(
            target=tail.run, args=(self._stop,), name="coilyard-bus-reader", daemon=True
        )
        self._reader.start()
        hub.relay = self

    def _connect(self, tail: StreamTail) -> None:
        try:
            self.bus.client.ping()  # fail the start plainly when Redis is not there at all
        except redis.RedisError as error:
            raise BusUnavailable(
                f"COILYARD_EVENTS_REDIS is set but Redis at {self.url} does not answer: {error}"
            ) from None
        tail.start_at_end()
        self._publishers()  # on the namespace as it is now

    async def stop(self) -> None:
        if self.hub is not None and self.hub.relay is self:
            self.hub.relay = None
        self._stop.set()
        await asyncio.to_thread(self.outbox.close)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5.0)
        self.bus.close()

    # ------------------------------------------------------------------------------------------- publish

    def send_entries(self, entries: Sequence[LedgerEntry]) -> None:
        batch = list(entries)
        if batch:
            self.outbox.submit(lambda: self._ledger.publish(batch))

    def send_fleet(self, events: Sequence[FleetEvent]) -> None:
        batch = list(events)
        if batch:
            self.outbox.submit(lambda: self._publish_fleet(batch))

    def _publish_fleet(self, events: list[FleetEvent]) -> None:
        self._fleet.publish(events)
        now = time.time()  # the cache, as the views, on the wall clock (a port may report on its own clock)
        for event in events:  # the process that sees the reports keeps the cache; every process reads it
            if not isinstance(event, OrderTransition):
                self._cache.apply(dataclasses.replace(event, at=now))

    # ---------------------------------------------------------------------------------------------- read

    def _on_message(self, message: BusMessage) -> None:
        """On the reader thread: render the entry as a live event and hand it to the hub's loop."""
        shown = self.render(message)
        if shown is not None and self.hub is not None:
            self.hub.deliver(shown)

    def render(self, message: BusMessage) -> dict[str, Any] | None:
        event = message.event
        if isinstance(event, WmsEvent):
            if message.seq is not None:
                if message.seq in self._seen_set:
                    return None  # a publish retried after a lost reply appended it twice
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(message.seq)
                self._seen_set.add(message.seq)
            return wms_event(event, message.seq)
        if isinstance(event, OrderTransition):
            return order_event(event)
        shown = live_event(event, self.plant)
        return None if shown is None else {**shown, "at": time.time()}  # as `LiveEventsPort` stamps it
