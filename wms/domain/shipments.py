"""Shipments: coils grouped into truckloads within the payload, loaded in a planned order, each load scanned.

Grouping is first-fit decreasing by weight (the classic bin-packing heuristic, within 11/9 of the fewest
trucks); within a truck the loading order is heaviest first, so the heavy coils ride over the axles at the
front and the retrieval sequence to the dock is known in advance. Each loading is confirmed by scanning
the coil: the scan must name the next coil of the sequence.
"""

from __future__ import annotations

from wms.domain import events as ev
from wms.domain.errors import InvalidInput, WmsError
from wms.domain.locations import LocationKind
from wms.domain.yard import Shipment, Yard


class WrongCoilScanned(WmsError):
    def __init__(self, shipment: str, expected: str, scanned: str) -> None:
        super().__init__(f"shipment {shipment} loads '{expected}' next; '{scanned}' was scanned")
        self.shipment = shipment
        self.expected = expected
        self.scanned = scanned


def group_into_trucks(weights: dict[str, float], payload: float) -> list[list[str]]:
    """First-fit decreasing: coils by weight, each into the first truck with room."""
    if payload <= 0:
        raise InvalidInput(f"payload must be positive (got {payload})")
    trucks: list[list[str]] = []
    loads: list[float] = []
    for coil, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0])):
        if weight > payload:
            raise InvalidInput(
                f"coil '{coil}' weighs {weight:g} t, more than a truck's payload of {payload:g} t"
            )
        for i, load in enumerate(loads):
            if load + weight <= payload + 1e-9:
                trucks[i].append(coil)
                loads[i] += weight
                break
        else:
            trucks.append([coil])
            loads.append(weight)
    return trucks


def plan_shipments(
    yard: Yard,
    shipment: str,
    coils: list[str],
    *,
    payload: float,
    dock: str,
    at: float,
    actor: str,
    window: tuple[float, float] | None = None,
) -> list[Shipment]:
    """Group `coils` into truckloads `shipment`-1, -2, ... and record them; nothing is recorded on error."""
    if not coils:
        raise InvalidInput("a shipment needs at least one coil")
    if len(set(coils)) != len(coils):
        raise InvalidInput("a coil is listed twice")
    if yard.location(dock).kind is not LocationKind.HANDOVER:
        raise InvalidInput(f"'{dock}' is not a dock handover")
    if window is not None and window[0] > window[1]:
        raise InvalidInput(f"time window {window} ends before it starts")
    taken = {c for s in yard.shipments.values() if not s.complete for c in s.coils}
    weights: dict[str, float] = {}
    for coil_id in coils:
        coil = yard.coil(coil_id)
        if coil_id in taken:
            raise InvalidInput(f"'{coil_id}' is already on an open shipment")
        yard.check_available(coil, coil.spec.order or None)
        weights[coil_id] = coil.weight
    planned: list[Shipment] = []
    for n, truck in enumerate(group_into_trucks(weights, payload), start=1):
        sid = f"{shipment}-{n}"
        if sid in yard.shipments:
            raise InvalidInput(f"shipment '{sid}' exists already")
        yard.record(
            ev.ShipmentPlanned(
                at=at, actor=actor, shipment=sid, truck=f"truck {n}", dock=dock, payload=payload,
                coils=tuple(truck), window=window,
            )
        )  # fmt: skip
        planned.append(yard.shipments[sid])
    return planned


def confirm_loading(yard: Yard, shipment: str, scanned: str, *, at: float, actor: str) -> Shipment:
    """A scan at the truck: the coil must be the next of the loading sequence and stand at the dock."""
    found = yard.shipments.get(shipment)
    if found is None:
        raise InvalidInput(f"unknown shipment '{shipment}'")
    expected = found.next_coil
    if expected is None:
        raise InvalidInput(f"shipment {shipment} is fully loaded")
    if scanned != expected:
        raise WrongCoilScanned(shipment, expected, scanned)
    coil = yard.coil(scanned)
    if coil.location != found.dock:
        raise InvalidInput(f"'{scanned}' is at '{coil.location}', not at dock '{found.dock}'")
    yard.ship(scanned, shipment, at=at, actor=actor)
    return found
