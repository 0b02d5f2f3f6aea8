"""Where the plant's cranes are and where they can go: crane ids and kinds, runways, place coordinates. Pure.

Overhead cranes work in runway coordinates (`along` the bridge travel from the runway start, `across` the
trolley travel from its axis, `layout.model.RunwayFrame`); stacker cranes in (along, height) from their
aisle's I/O point (`layout.model.RackCell`). A place is a plant id:

- a saddle position or stack position of the crane's store (in one of the crane's bays),
- a rack cell of the stacker crane's aisle, or the aisle's I/O node (along 0, height 0),
- a bay handover id (its network node) or any network node (a station handover) inside the runway's reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from layout import Plant, schema
from layout.geometry import aisle_centre_across, frame_point
from layout.model import RunwayFrame, StackerCrane

CraneKind = Literal["overhead", "stacker"]
Coordinates = tuple[float, float]
EPS = 1e-6


class CraneError(Exception):
    """Base of the crane core's errors; a message that raises one changed nothing."""


class UnknownCrane(CraneError):
    def __init__(self, crane: str) -> None:
        super().__init__(f"no crane '{crane}' in the plant")
        self.crane = crane


class PlaceUnreachable(CraneError):
    def __init__(self, place: str, where: str, why: str) -> None:
        super().__init__(f"place '{place}' cannot be served by {where}: {why}")
        self.place = place


@dataclass(frozen=True, slots=True)
class OverheadCraneInfo:
    id: str
    store: str
    runway: schema.Runway
    spec: schema.OverheadCrane

    @property
    def frame(self) -> RunwayFrame:
        return RunwayFrame(self.runway)

    @property
    def group(self) -> str:
        """The key of the runway it shares with its neighbours."""
        return runway_key(self.store, self.runway.id)


def runway_key(store: str, runway: str) -> str:
    return f"{store}/{runway}"


def overhead_cranes(plant: Plant) -> dict[str, OverheadCraneInfo]:
    out: dict[str, OverheadCraneInfo] = {}
    for store, crane in plant.overhead_cranes():
        runway = next(r for r in store.runways if r.id == crane.runway)
        out[crane.id] = OverheadCraneInfo(crane.id, store.id, runway, crane)
    return out


def crane_ids(plant: Plant) -> list[str]:
    """Every crane of the plant: overhead cranes, then stacker cranes, each sorted by id."""
    return sorted(c.id for _, c in plant.overhead_cranes()) + sorted(plant.stacker_cranes)


def crane_kind(plant: Plant, crane_id: str) -> CraneKind:
    if crane_id in plant.stacker_cranes:
        return "stacker"
    if any(c.id == crane_id for _, c in plant.overhead_cranes()):
        return "overhead"
    raise UnknownCrane(crane_id)


def crane_store(plant: Plant, crane_id: str) -> str:
    if crane_id in plant.stacker_cranes:
        return plant.stacker_cranes[crane_id].store
    info = overhead_cranes(plant).get(crane_id)
    if info is None:
        raise UnknownCrane(crane_id)
    return info.store


def crane_home(plant: Plant, crane_id: str) -> Coordinates:
    """Where the crane starts: an overhead crane at its `home` on the runway axis, a stacker at its I/O point."""
    if crane_id in plant.stacker_cranes:
        return (0.0, 0.0)
    info = overhead_cranes(plant).get(crane_id)
    if info is None:
        raise UnknownCrane(crane_id)
    return (info.spec.home, 0.0)


def place_xy(plant: Plant, place: str) -> tuple[float, float] | None:
    """Plant coordinates of a place id (position, cell, bay handover or network node); None if unknown."""
    found = (
        plant.saddle_positions.get(place) or plant.stack_positions.get(place) or plant.rack_cells.get(place)
    )
    if found is not None:
        return found.x, found.y
    node = _bay_handover_nodes(plant).get(place, place)
    point = plant.node_points.get(node)
    return (float(point[0]), float(point[1])) if point is not None else None


def _bay_handover_nodes(plant: Plant) -> dict[str, str]:
    out: dict[str, str] = {}
    for store in plant.stores:
        if isinstance(store, schema.HighBayStore):
            continue
        for bay in store.bays:
            out.update((h.id, h.node) for h in bay.handovers)
    return out


def _place_bay(plant: Plant, place: str) -> tuple[str, str] | None:
    """(store, bay) of a saddle or stack position."""
    found = plant.saddle_positions.get(place) or plant.stack_positions.get(place)
    return (found.store, found.bay) if found is not None else None


def crane_coordinates(plant: Plant, crane_id: str, place: str) -> Coordinates:
    """The crane's coordinates of `place` (see the module docstring); raises PlaceUnreachable."""
    stacker = plant.stacker_cranes.get(crane_id)
    if stacker is not None:
        return _stacker_coordinates(stacker, place, plant)
    info = overhead_cranes(plant).get(crane_id)
    if info is None:
        raise UnknownCrane(crane_id)
    where = f"crane {crane_id} of store {info.store}"
    if place in plant.rack_cells:
        raise PlaceUnreachable(place, where, "a rack cell is served by its aisle's stacker crane")
    bay = _place_bay(plant, place)
    if bay is not None and (bay[0] != info.store or bay[1] not in info.spec.bays):
        raise PlaceUnreachable(
            place, where, f"it lies in store {bay[0]} bay {bay[1]}, not a bay of the crane"
        )
    xy = place_xy(plant, place)
    if xy is None:
        raise PlaceUnreachable(place, where, "no such place in the plant")
    frame = info.frame
    along, across = frame.to_runway(*xy)
    if not (-EPS <= along <= frame.length + EPS and abs(across) <= info.runway.span / 2 + EPS):
        raise PlaceUnreachable(
            place, where, f"it lies outside the runway's reach (along {along:.2f} m, across {across:.2f} m)"
        )
    return (min(max(along, 0.0), frame.length), across)


def _stacker_coordinates(stacker: StackerCrane, place: str, plant: Plant) -> Coordinates:
    where = f"stacker crane {stacker.id}"
    cell = plant.rack_cells.get(place)
    if cell is not None:
        if cell.store != stacker.store or cell.aisle != stacker.aisle:
            raise PlaceUnreachable(place, where, f"the cell is in store {cell.store} aisle {cell.aisle}")
        return (cell.along, cell.height)
    if stacker.io_node is not None and place == stacker.io_node:
        return (0.0, 0.0)
    raise PlaceUnreachable(place, where, "only the aisle's rack cells and its I/O node are served")


def is_store_place(plant: Plant, place: str) -> bool:
    return place in plant.saddle_positions or place in plant.stack_positions or place in plant.rack_cells


def crane_xy(plant: Plant, crane_id: str, along: float, across: float) -> tuple[float, float]:
    """Plant coordinates of a crane's hook (overhead) or carriage on the aisle axis (stacker), for views."""
    stacker = plant.stacker_cranes.get(crane_id)
    if stacker is not None:
        return _aisle_point(plant, stacker, along)
    info = overhead_cranes(plant).get(crane_id)
    if info is None:
        raise UnknownCrane(crane_id)
    (x0, y0), (x1, y1) = info.runway.start, info.runway.end
    length = info.frame.length
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    return x0 + along * ux - across * uy, y0 + along * uy + across * ux


def _aisle_point(plant: Plant, stacker: StackerCrane, along: float) -> tuple[float, float]:
    store = next(s for s in plant.stores if s.id == stacker.store)
    assert isinstance(store, schema.HighBayStore)
    return frame_point(store.origin, store.heading_deg, along, aisle_centre_across(store, stacker.aisle))


def loaded_sweep(plant: Plant, crane_id: str, start: Coordinates, end: Coordinates) -> BaseGeometry:
    """Floor area a load can pass over between two crane coordinates.

    Overhead: bridge and trolley each move monotonically (rest to rest, at once), so the hook stays in the
    rectangle spanned by the two points in runway coordinates. Stacker: the carriage runs along the aisle
    axis between the two alongs; the load stays over the aisle and the two end cells.
    """
    stacker = plant.stacker_cranes.get(crane_id)
    if stacker is not None:
        a0, a1 = sorted((start[0], end[0]))
        p0, p1 = _aisle_point(plant, stacker, a0), _aisle_point(plant, stacker, a1)
        return (LineString([p0, p1]) if math.dist(p0, p1) > 0 else Point(p0)).buffer(1e-3)
    a0, a1 = sorted((start[0], end[0]))
    c0, c1 = sorted((start[1], end[1]))
    corners = [crane_xy(plant, crane_id, a, c) for a, c in ((a0, c0), (a1, c0), (a1, c1), (a0, c1))]
    polygon = Polygon(corners)
    if polygon.area <= 0:
        return polygon.buffer(1e-3)  # a line or a point: keep a shape that can intersect
    return polygon
