"""What a stream entry holds: WMS ledger events, fleet vehicle events and order transitions, as typed JSON.

WMS events use the ledger's own codec (`adapters.sql.codec`, format 1), so an event on the bus and in the
ledger are the same JSON. Fleet events (`fleet.ports` events, `OrderTransition`) use the same envelope and
the same field encodings, built by the same dataclass codec: ``{"v": 1, "event": "<class>", "data": {...}}``.

A stream entry has three fields: ``type`` ("wms" or "fleet"), ``event`` (the JSON text) and, for a ledger
entry, ``seq`` (its ledger sequence number: consumers use it to drop a redelivered entry). Decoding is
strict; anything it cannot read raises `CodecError` naming what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from adapters.sql.codec import CodecError, dataclass_codec, decode_event, encode_event
from fleet.domain.orders import OrderTransition
from fleet.ports import Arrived, CraneAt, EnergyReport, OperationDone, Progress, StateChanged, VehicleEvent
from wms.domain.events import Event as WmsEvent

FORMAT_VERSION: Final = 1

FleetEvent = VehicleEvent | OrderTransition
BusEvent = WmsEvent | FleetEvent

#: Every fleet event type the bus carries, by class name.
FLEET_EVENT_TYPES: Final[tuple[type[Any], ...]] = (
    Progress,
    Arrived,
    OperationDone,
    StateChanged,
    EnergyReport,
    CraneAt,
    OrderTransition,
)
_FLEET_BY_NAME: Final[dict[str, type[Any]]] = {cls.__name__: cls for cls in FLEET_EVENT_TYPES}

__all__ = [
    "BusEvent",
    "CodecError",
    "FleetEvent",
    "decode_entry",
    "decode_fleet_event",
    "encode_entry",
    "encode_fleet_event",
]


@dataclass(frozen=True, slots=True)
class DecodedEntry:
    event: BusEvent
    seq: int | None  # the ledger sequence number of a WMS event, when it came from the ledger


def encode_fleet_event(event: FleetEvent) -> dict[str, Any]:
    cls = type(event)
    if _FLEET_BY_NAME.get(cls.__name__) is not cls:
        raise CodecError(f"{cls.__name__} is not a fleet event the bus carries (add it to FLEET_EVENT_TYPES)")
    return {"v": FORMAT_VERSION, "event": cls.__name__, "data": dataclass_codec(cls)[0](event)}


def decode_fleet_event(payload: Mapping[str, Any]) -> FleetEvent:
    if not isinstance(payload, Mapping):
        raise CodecError(f"a fleet event is a JSON object, not {type(payload).__name__}")
    if payload.get("v") != FORMAT_VERSION:
        raise CodecError(
            f"fleet event format version {payload.get('v')!r} is not supported (this code reads 1)"
        )
    name = payload.get("event")
    cls = _FLEET_BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown fleet event type {name!r}")
    extra = set(payload) - {"v", "event", "data"}
    if extra:
        raise CodecError(f"unknown keys {sorted(extra)} in fleet event {name}")
    event = dataclass_codec(cls)[1](payload.get("data"))
    assert isinstance(event, FLEET_EVENT_TYPES)
    return event  # type: ignore[no-any-return]


def encode_entry(event: BusEvent, seq: int | None = None) -> dict[str, str]:
    """The fields of the stream entry carrying `event` (and its ledger `seq`, for a WMS event)."""
    if isinstance(event, WmsEvent):
        fields = {"type": "wms", "event": _dumps(encode_event(event))}
        if seq is not None:
            fields["seq"] = str(seq)
        return fields
    if seq is not None:
        raise CodecError(f"seq is for ledger events, not {type(event).__name__}")
    return {"type": "fleet", "event": _dumps(encode_fleet_event(event))}


def decode_entry(fields: Mapping[str, str]) -> DecodedEntry:
    kind = fields.get("type")
    text = fields.get("event")
    if text is None:
        raise CodecError(f"stream entry has no 'event' field (fields: {sorted(fields)})")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise CodecError(f"stream entry 'event' is not JSON: {error}") from None
    if kind == "wms":
        seq_text = fields.get("seq")
        try:
            seq = None if seq_text is None else int(seq_text)
        except ValueError:
            raise CodecError(f"stream entry 'seq' is not an integer: {seq_text!r}") from None
        return DecodedEntry(decode_event(payload), seq)
    if kind == "fleet":
        return DecodedEntry(decode_fleet_event(payload), None)
    raise CodecError(f"stream entry type {kind!r} is not 'wms' or 'fleet'")


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)
