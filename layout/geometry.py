"""Plant geometry: where derived places lie, and their footprints as shapely shapes.

One right-handed frame in metres. A line of places starts at `origin` and runs along `heading_deg`
(0 = +x, counter-clockwise); "across" is the left-hand normal of that heading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from shapely.geometry import LineString, Polygon

from layout import schema

XY = tuple[float, float]


def unit_vectors(heading_deg: float) -> tuple[XY, XY]:
    """(along, across) unit vectors for a heading."""
    theta = math.radians(heading_deg)
    c, s = math.cos(theta), math.sin(theta)
    return (c, s), (-s, c)


def frame_point(origin: XY, heading_deg: float, along: float, across: float) -> XY:
    (ux, uy), (nx, ny) = unit_vectors(heading_deg)
    return origin[0] + along * ux + across * nx, origin[1] + along * uy + across * ny


def frame_rectangle(
    origin: XY, heading_deg: float, along: tuple[float, float], across: tuple[float, float]
) -> Polygon:
    corners = [
        frame_point(origin, heading_deg, a, c)
        for a, c in (
            (along[0], across[0]),
            (along[1], across[0]),
            (along[1], across[1]),
            (along[0], across[1]),
        )
    ]
    return Polygon(corners)


def row_centres(origin: XY, heading_deg: float, count: int, pitch: float) -> list[XY]:
    return [frame_point(origin, heading_deg, i * pitch, 0.0) for i in range(count)]


def saddle_row_footprint(row: schema.SaddleRow) -> Polygon:
    """Floor taken by a saddle row: `pitch` per ground position along it, the saddle length across."""
    half = row.saddle_length / 2
    return frame_rectangle(
        row.origin, row.heading_deg, (-row.pitch / 2, (row.positions - 0.5) * row.pitch), (-half, half)
    )


def saddle_footprint(row: schema.SaddleRow, index: int) -> Polygon:
    """Floor taken by ground position `index` (1-based) of a saddle row."""
    centre = (index - 1) * row.pitch
    half = row.saddle_length / 2
    return frame_rectangle(
        row.origin, row.heading_deg, (centre - row.pitch / 2, centre + row.pitch / 2), (-half, half)
    )


def stack_row_footprint(row: schema.StackRow) -> Polygon:
    """Floor taken by a stack row: each stack `stack_length` along the row, `stack_width` across it."""
    half = row.stack_width / 2
    first, last = -row.stack_length / 2, (row.positions - 1) * row.pitch + row.stack_length / 2
    return frame_rectangle(row.origin, row.heading_deg, (first, last), (-half, half))


def high_bay_block_width(store: schema.HighBayStore) -> float:
    """Across-distance taken by one aisle with its racks."""
    return store.sides * store.cell.depth + store.aisle_width


def high_bay_footprint(store: schema.HighBayStore) -> Polygon:
    length = store.columns * store.cell.width
    width = store.aisles * high_bay_block_width(store)
    return frame_rectangle(store.origin, store.heading_deg, (0.0, length), (0.0, width))


def aisle_centre_across(store: schema.HighBayStore, aisle: int) -> float:
    """Across-offset of aisle `aisle` (1-based): its right-hand rack, the aisle, then its left-hand rack."""
    return (aisle - 1) * high_bay_block_width(store) + store.cell.depth + store.aisle_width / 2


def polyline_length(points: Sequence[XY]) -> float:
    return sum(math.dist(a, b) for a, b in pairwise(points))


def point_along(path: Sequence[XY], distance: float) -> XY:
    point = LineString(path).interpolate(distance)
    return point.x, point.y
