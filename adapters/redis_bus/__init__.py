"""Redis Streams event bus (consumer groups, at-least-once, restart-safe) and the live vehicle state cache."""

from adapters.redis_bus.bus import Backoff, BusMessage, BusUnavailable, RedisEventBus, StreamConsumer
from adapters.redis_bus.cache import VehicleSnapshot, VehicleStateCache
from adapters.redis_bus.codec import decode_entry, encode_entry
from adapters.redis_bus.outbox import Outbox
from adapters.redis_bus.publishers import (
    STREAM_FLEET,
    STREAM_WMS,
    EventBus,
    FleetPublisher,
    InProcessEventBus,
    LedgerPublisher,
)
from adapters.redis_bus.tail import StreamTail

__all__ = [
    "STREAM_FLEET",
    "STREAM_WMS",
    "Backoff",
    "BusMessage",
    "BusUnavailable",
    "EventBus",
    "FleetPublisher",
    "InProcessEventBus",
    "LedgerPublisher",
    "Outbox",
    "RedisEventBus",
    "StreamConsumer",
    "StreamTail",
    "VehicleSnapshot",
    "VehicleStateCache",
    "decode_entry",
    "encode_entry",
]
