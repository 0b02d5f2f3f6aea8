"""`StreamTail`: follow streams from their current end with plain ``XREAD`` (no consumer group).

For live fan-out, where every process wants every new entry and none of them owes an acknowledgement:
nothing is kept in Redis per reader (no group to create or clean up after a crash), and one ``XREAD``
covers several streams. The tail remembers the last id it saw per stream, so a Redis blip costs a pause,
not a gap: the next read resumes after that id while the entries are still in the (bounded) stream.
Delivery is what the stream holds from the moment `start_at_end` ran; an undecodable entry is logged and
skipped (the dead-letter stream is for the consumer groups that own the work).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from typing import Any

from adapters.redis_bus.bus import BusMessage, BusUnavailable, Handler, RedisEventBus, _stream_items
from adapters.redis_bus.codec import CodecError, decode_entry

log = logging.getLogger(__name__)


class StreamTail:
    def __init__(
        self, bus: RedisEventBus, streams: Sequence[str], handler: Handler, *, count: int = 256
    ) -> None:
        if not streams:
            raise ValueError("StreamTail needs at least one stream")
        self.bus = bus
        self.streams = tuple(streams)
        self.handler = handler
        self.count = count
        self.last: dict[str, str] = {}
        self.handled = 0

    def start_at_end(self) -> None:
        """Remember each stream's newest id now: later reads deliver only what is appended after it."""
        for stream in self.streams:
            newest = self.bus._call(
                "XREVRANGE", functools.partial(self.bus.client.xrevrange, stream, count=1)
            )
            self.last[stream] = str(newest[0][0]) if newest else "0-0"

    def poll(self, block_ms: int = 500) -> int:
        """Read and hand over one batch (waiting up to `block_ms` for one); returns how many were handled."""
        if not self.last:
            self.start_at_end()
        after: dict[Any, Any] = dict(self.last)
        reply = self.bus._call(
            "XREAD", lambda: self.bus.client.xread(after, count=self.count, block=block_ms)
        )
        handled = 0
        for stream, items in _stream_items(reply or []):
            for entry_id, fields in items:
                self.last[stream] = str(entry_id)
                try:
                    decoded = decode_entry(fields or {})
                except CodecError as error:
                    log.warning("%s %s: skipped an undecodable entry: %s", stream, entry_id, error)
                    continue
                try:
                    self.handler(BusMessage(stream, str(entry_id), decoded.event, decoded.seq))
                except Exception:  # one bad event must not stop the feed
                    log.exception("%s %s: the live handler failed; entry skipped", stream, entry_id)
                    continue
                handled += 1
        self.handled += handled
        return handled

    def run(self, stop: threading.Event, *, block_ms: int = 500, pause_s: float = 1.0) -> None:
        """Poll until `stop` is set; a failed read (Redis away beyond the bus's patience...) is logged, then
        retried after `pause_s` from the last id seen."""
        while not stop.is_set():
            try:
                self.poll(block_ms)
            except BusUnavailable as error:
                log.error("live event feed paused: %s", error)
                stop.wait(pause_s)
            except Exception:  # e.g. a key of the wrong type: say so, keep trying rather than die silently
                log.exception("live event feed: reading %s failed", ", ".join(self.streams))
                stop.wait(pause_s)
