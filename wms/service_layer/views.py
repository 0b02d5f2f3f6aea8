"""Read side: answers for people (where is it, what happened to it), from the yard and its ledger."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from wms.domain import events as ev
from wms.domain.units import Coil
from wms.domain.yard import Yard

# Fields that name the unit an event is about.
_UNIT_FIELDS = ("unit", "coil", "stack")


def where(yard: Yard, unit_id: str, now: float) -> dict[str, Any]:
    unit = yard.unit(unit_id)
    answer: dict[str, Any] = {
        "unit": unit.id,
        "kind": "coil" if isinstance(unit, Coil) else "ingot stack",
        "location": unit.location,
        "status": str(unit.status),
        "move": unit.move,
        "reserved_for": unit.reserved_for,
        "holds": [f"{h.id} {h.kind}: {h.reason}" for h in unit.holds.values()],
        "blocked_by": yard.blockers(unit),
    }
    if isinstance(unit, Coil):
        answer["temperature_c"] = round(yard.temperature(unit.id, now), 1)
        answer["weight_t"] = unit.weight
    return answer


def history(yard: Yard, unit_id: str) -> list[dict[str, Any]]:
    """Every ledger entry about a unit: who, when, what, from, to, why."""
    yard.unit(unit_id)  # unknown units are an error, not an empty history
    rows = []
    for entry in yard.ledger:
        event = entry.event
        if not _mentions(event, unit_id):
            continue
        rows.append(
            {
                "seq": entry.seq,
                "at": event.at,
                "actor": event.actor,
                "what": entry.kind,
                "from": _first(event, ("source", "carrier")),
                "to": _first(event, ("target", "location", "carrier")),
                "why": event.reason,
            }
        )
    return rows


def _mentions(event: ev.Event, unit_id: str) -> bool:
    names = {f.name for f in fields(event)}
    if any(getattr(event, name) == unit_id for name in _UNIT_FIELDS if name in names):
        return True
    if isinstance(event, ev.CoilReceived):
        return event.coil.id == unit_id
    if isinstance(event, ev.IngotStackReceived):
        return event.stack.id == unit_id
    return False


def _first(event: ev.Event, names: tuple[str, ...]) -> str:
    for name in names:
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            return value
    return ""
