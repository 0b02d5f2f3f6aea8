"""Publishers the shells plug into the cores' outputs, and an in-process bus for tests and single-process runs.

`EventBus` is what both buses offer (`RedisEventBus`, `InProcessEventBus`): `publish(stream, event, seq=)`.
`LedgerPublisher` is the WMS's `EventPublisher` port (`wms.service_layer.messagebus`): the message bus
hands it each committed batch of ledger entries. `FleetPublisher` does the same for the fleet core's vehicle
events and order transitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from adapters.redis_bus.codec import BusEvent, FleetEvent, decode_entry, encode_entry
from wms.domain.events import LedgerEntry

STREAM_WMS = "coilyard:wms"
STREAM_FLEET = "coilyard:fleet"


class EventBus(Protocol):
    def publish(self, stream: str, event: BusEvent, *, seq: int | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class Delivered:
    stream: str
    id: str
    event: BusEvent
    seq: int | None


@dataclass
class InProcessEventBus:
    """Streams as lists in memory; subscribers are called synchronously, in publish order.

    Every event goes through the wire codec and back, so a test using this bus also proves that what it
    publishes would survive Redis.
    """

    streams: dict[str, list[Delivered]] = field(default_factory=lambda: defaultdict(list))
    subscribers: dict[str, list[Callable[[Delivered], None]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def publish(self, stream: str, event: BusEvent, *, seq: int | None = None) -> str:
        decoded = decode_entry(encode_entry(event, seq))
        entries = self.streams[stream]
        delivered = Delivered(stream, f"{len(entries) + 1}-0", decoded.event, decoded.seq)
        entries.append(delivered)
        for subscriber in self.subscribers[stream]:
            subscriber(delivered)
        return delivered.id

    def subscribe(self, stream: str, handler: Callable[[Delivered], None]) -> None:
        self.subscribers[stream].append(handler)

    def events(self, stream: str) -> list[BusEvent]:
        return [d.event for d in self.streams[stream]]


@dataclass
class LedgerPublisher:
    """The WMS `EventPublisher`: each committed batch of ledger entries onto `stream`, with their seq."""

    bus: EventBus
    stream: str = STREAM_WMS

    def publish(self, entries: list[LedgerEntry]) -> None:
        many = getattr(self.bus, "publish_many", None)  # RedisEventBus: the batch in one round trip
        if many is not None:
            many(self.stream, [(entry.event, entry.seq) for entry in entries])
            return
        for entry in entries:
            self.bus.publish(self.stream, entry.event, seq=entry.seq)

    __call__ = publish  # MessageBus takes `publish=` as a callable


@dataclass
class FleetPublisher:
    """Vehicle events and order transitions from the fleet shell onto `stream`."""

    bus: EventBus
    stream: str = STREAM_FLEET

    def publish(self, events: Iterable[FleetEvent]) -> None:
        many = getattr(self.bus, "publish_many", None)  # RedisEventBus: the batch in one round trip
        if many is not None:
            many(self.stream, [(event, None) for event in events])
            return
        for event in events:
            self.bus.publish(self.stream, event)
