"""Ledger events as JSON: an explicit, versioned format that round-trips every event exactly. No pickle.

A stored event is ``{"v": 1, "event": "<class name>", "data": {<field>: <value>, ...}}``. The event classes
that may be stored are listed by name in `EVENT_TYPES`; their fields are written under their Python names,
with these encodings (fixed for format 1):

=====================  ==========================================================================
field type             JSON
=====================  ==========================================================================
``str``, ``int``       string, integer
``float``              number (an int stays an int); ``"inf"``, ``"-inf"`` or ``"nan"`` for the
                       non-finite ones (a cooling hold that never releases has ``release_at = inf``)
``X | None``           ``null`` or X
enum (``StrEnum``)     its value (``"cooling"``)
``tuple[X, ...]``      array
``tuple[X, Y]``        array of that length
``dict[str, X]``       object
dataclass (specs)      object of its fields, recursively
=====================  ==========================================================================

Decoding is strict: an unknown format version, event name or field, or a value of the wrong type, raises
`CodecError` rather than guessing. A field missing from stored data takes the dataclass default, so adding
a field with a default to an event needs no new format version; renaming or removing one does (write a
`"v": 2` decoder and keep this one). Python floats print as their shortest exact repr, so every float comes
back bit for bit.

`ledger_row` also splits each event into the ledger's query columns (who, when, what, unit, from, to, why):

======================  ===================  ==================  ========================
event                   unit                 source              target
======================  ===================  ==================  ========================
CoilReceived            coil id              —                   location
IngotStackReceived      stack id             —                   location
MovePlanned             unit                 source              target (reserved)
MoveStarted             unit                 source              carrier
MoveLegCompleted        unit                 carrier             location (handover)
MoveCompleted           unit                 carrier             target
MoveCancelled           unit                 —                   location (where it is)
HoldPlaced / Released   unit                 —                   —
TemperatureMeasured     coil                 —                   —
StockReserved/Released  unit                 —                   —
CountRecorded           —                    —                   location counted
LocationLocked/Unlocked —                    —                   location
UnitShipped             unit                 location            — (shipment in payload)
ShipmentPlanned         — (coils in payload) —                   dock
StockLevelCrossed       —                    —                   store
CoilConsumed            coil                 location            station
IngotStackConsumed      stack id             location            station
======================  ===================  ==================  ========================
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

from wms.domain import events as ev

FORMAT_VERSION: Final = 1

#: Every event type the ledger may hold, by class name. A new event type must be added here (a test checks
#: that none in wms.domain.events is missing).
EVENT_TYPES: Final[tuple[type[ev.Event], ...]] = (
    ev.CoilReceived,
    ev.IngotStackReceived,
    ev.MovePlanned,
    ev.MoveStarted,
    ev.MoveLegCompleted,
    ev.MoveCompleted,
    ev.MoveCancelled,
    ev.HoldPlaced,
    ev.HoldReleased,
    ev.TemperatureMeasured,
    ev.StockReserved,
    ev.ReservationReleased,
    ev.CountRecorded,
    ev.LocationLocked,
    ev.LocationUnlocked,
    ev.UnitShipped,
    ev.ShipmentPlanned,
    ev.StockLevelCrossed,
    ev.CoilConsumed,
    ev.IngotStackConsumed,
)
_BY_NAME: Final[dict[str, type[ev.Event]]] = {cls.__name__: cls for cls in EVENT_TYPES}

_NON_FINITE: Final = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


class CodecError(ValueError):
    """A value that cannot be written in, or read from, the stored event format."""


# --------------------------------------------------------------------------------------------- public API


def encode_event(event: ev.Event) -> dict[str, Any]:
    """The JSON-ready form of `event` (only str, int, float, bool-free lists and dicts; no NaN or inf)."""
    cls = type(event)
    if _BY_NAME.get(cls.__name__) is not cls:
        raise CodecError(f"{cls.__name__} is not a storable event type (add it to EVENT_TYPES)")
    return {"v": FORMAT_VERSION, "event": cls.__name__, "data": dataclass_codec(cls)[0](event)}


def decode_event(payload: Mapping[str, Any]) -> ev.Event:
    """The event `encode_event` wrote."""
    if not isinstance(payload, Mapping):
        raise CodecError(f"a stored event is a JSON object, not {type(payload).__name__}")
    version = payload.get("v")
    if version != FORMAT_VERSION:
        raise CodecError(f"stored event format version {version!r} is not supported (this code reads 1)")
    name = payload.get("event")
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown event type {name!r}")
    extra = set(payload) - {"v", "event", "data"}
    if extra:
        raise CodecError(f"unknown keys {sorted(extra)} in stored {name}")
    event = dataclass_codec(cls)[1](payload.get("data"))
    assert isinstance(event, ev.Event)
    return event


def ledger_row(entry: ev.LedgerEntry) -> dict[str, Any]:
    """The `ledger` table row for `entry` (see the module docstring for the unit/source/target columns)."""
    event = entry.event
    unit, source, target = event_refs(event)
    return {
        "seq": entry.seq,
        "at": event.at,
        "actor": event.actor,
        "kind": type(event).__name__,
        "unit": unit,
        "source": source,
        "target": target,
        "reason": event.reason,
        "payload": encode_event(event),
    }


def event_refs(event: ev.Event) -> tuple[str | None, str | None, str | None]:
    """(unit, source, target) of an event, for the ledger's query columns and the `units` projection."""
    match event:
        case ev.CoilReceived(coil=spec, location=loc):
            return spec.id, None, loc
        case ev.IngotStackReceived(stack=spec, location=loc):
            return spec.id, None, loc
        case ev.MovePlanned(unit=unit, source=src, target=dst):
            return unit, src, dst
        case ev.MoveStarted(unit=unit, source=src, carrier=carrier):
            return unit, src, carrier
        case ev.MoveLegCompleted(unit=unit, carrier=carrier, location=loc):
            return unit, carrier, loc
        case ev.MoveCompleted(unit=unit, carrier=carrier, target=dst):
            return unit, carrier, dst
        case ev.MoveCancelled(unit=unit, location=loc):
            return unit, None, loc
        case (
            ev.HoldPlaced(unit=unit)
            | ev.HoldReleased(unit=unit)
            | ev.StockReserved(unit=unit)
            | ev.ReservationReleased(unit=unit)
        ):
            return unit, None, None
        case ev.TemperatureMeasured(coil=coil):
            return coil, None, None
        case (
            ev.CountRecorded(location=loc)
            | ev.LocationLocked(location=loc)
            | ev.LocationUnlocked(location=loc)
        ):
            return None, None, loc
        case ev.UnitShipped(unit=unit, location=loc):
            return unit, loc, None
        case ev.ShipmentPlanned(dock=dock):
            return None, None, dock
        case ev.StockLevelCrossed(store=store):
            return None, None, store
        case ev.CoilConsumed(coil=coil, location=loc, station=station):
            return coil, loc, station
        case ev.IngotStackConsumed(stack=stack, location=loc, station=station):
            return stack, loc, station
        case _:
            raise CodecError(f"no ledger columns for {type(event).__name__}")


# --------------------------------------------------------------------------------------------- field codecs


_DATACLASS_CODECS: dict[type[Any], tuple[Encoder, Decoder]] = {}


def dataclass_codec(cls: type[Any]) -> tuple[Encoder, Decoder]:
    """Encoder and decoder for a dataclass, built once from its fields' type hints."""
    known = _DATACLASS_CODECS.get(cls)
    if known is None:
        known = _DATACLASS_CODECS[cls] = _build_dataclass_codec(cls)
    return known


def _build_dataclass_codec(cls: type[Any]) -> tuple[Encoder, Decoder]:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    codecs = {f.name: _codec(hints[f.name], f"{cls.__name__}.{f.name}") for f in fields}
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def encode(value: Any) -> Any:
        if type(value) is not cls:
            raise CodecError(f"expected {cls.__name__}, got {type(value).__name__}")
        return {name: enc(getattr(value, name)) for name, (enc, _) in codecs.items()}

    def decode(data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise CodecError(f"{cls.__name__} is stored as an object, not {type(data).__name__}")
        unknown = set(data) - set(codecs)
        if unknown:
            raise CodecError(f"unknown fields {sorted(unknown)} in stored {cls.__name__}")
        missing = required - set(data)
        if missing:
            raise CodecError(f"stored {cls.__name__} lacks {sorted(missing)}")
        return cls(**{name: codecs[name][1](value) for name, value in data.items()})

    return encode, decode


def _codec(hint: Any, where: str) -> tuple[Encoder, Decoder]:
    if hint is str:
        return _checked(str, where), _checked(str, where)
    if hint is int:
        return _checked(int, where), _checked(int, where)
    if hint is float:
        return _encode_float(where), _decode_float(where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_codec(hint, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return dataclass_codec(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        inner = _codec(next(a for a in args if a is not type(None)), where)
        return _optional(inner[0]), _optional(inner[1])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple_codec(_codec(args[0], where), where)
    if origin is tuple and args and Ellipsis not in args:
        return _fixed_tuple_codec([_codec(a, where) for a in args], where)
    if origin is dict and len(args) == 2 and args[0] is str:
        return _dict_codec(_codec(args[1], where), where)
    raise CodecError(f"{where}: no stored form for type {hint!r} (extend adapters/sql/codec.py)")


def _checked(kind: type, where: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CodecError(f"{where}: expected {kind.__name__}, got {value!r}")
        return value

    return check


def _encode_float(where: str) -> Encoder:
    def encode(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CodecError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, int) or math.isfinite(value):
            return (
                value  # an int given for a float stays an int (3, not 3.0): exact, as JSON tells them apart
            )
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")

    return encode


def _decode_float(where: str) -> Decoder:
    def decode(value: Any) -> Any:
        if isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CodecError(f"{where}: expected a number, got {value!r}")
        return value

    return decode


def _enum_codec(kind: type[enum.Enum], where: str) -> tuple[Encoder, Decoder]:
    def encode(value: Any) -> Any:
        if not isinstance(value, kind):
            raise CodecError(f"{where}: expected {kind.__name__}, got {value!r}")
        return value.value

    def decode(value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise CodecError(f"{where}: {value!r} is not a {kind.__name__}") from None

    return encode, decode


def _optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else inner(value)


def _tuple_codec(item: tuple[Encoder, Decoder], where: str) -> tuple[Encoder, Decoder]:
    enc, dec = item

    def encode(value: Any) -> Any:
        if not isinstance(value, tuple):
            raise CodecError(f"{where}: expected a tuple, got {value!r}")
        return [enc(v) for v in value]

    def decode(value: Any) -> Any:
        if not isinstance(value, list):
            raise CodecError(f"{where}: expected an array, got {value!r}")
        return tuple(dec(v) for v in value)

    return encode, decode


def _fixed_tuple_codec(items: list[tuple[Encoder, Decoder]], where: str) -> tuple[Encoder, Decoder]:
    def encode(value: Any) -> Any:
        if not isinstance(value, tuple) or len(value) != len(items):
            raise CodecError(f"{where}: expected a tuple of {len(items)}, got {value!r}")
        return [enc(v) for (enc, _), v in zip(items, value, strict=True)]

    def decode(value: Any) -> Any:
        if not isinstance(value, list) or len(value) != len(items):
            raise CodecError(f"{where}: expected an array of {len(items)}, got {value!r}")
        return tuple(dec(v) for (_, dec), v in zip(items, value, strict=True))

    return encode, decode


def _dict_codec(item: tuple[Encoder, Decoder], where: str) -> tuple[Encoder, Decoder]:
    enc, dec = item

    def encode(value: Any) -> Any:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise CodecError(f"{where}: expected a dict with string keys, got {value!r}")
        return {k: enc(v) for k, v in value.items()}

    def decode(value: Any) -> Any:
        if not isinstance(value, dict):
            raise CodecError(f"{where}: expected an object, got {value!r}")
        return {k: dec(v) for k, v in value.items()}

    return encode, decode
