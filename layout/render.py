"""Draw a plant as a plan a logistics planner reads: stores, places, cranes, rails, network, fleet, zones.

Everything is drawn in plant metres on one equal-aspect axes. Places are drawn as collections (one artist
per layer, not per position) so a plant with tens of thousands of positions still renders in seconds.
Labels go through a small greedy placer that drops a label rather than let it overlap another one.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from shapely.geometry import Polygon

from layout import schema
from layout.build import edge_points
from layout.geometry import (
    aisle_centre_across,
    frame_point,
    frame_rectangle,
    high_bay_footprint,
    point_along,
    saddle_row_footprint,
    stack_row_footprint,
    unit_vectors,
)
from layout.model import Plant, RunwayFrame, SaddlePosition, Tier

XY = tuple[float, float]
# A label's offset from its anchor in points, optionally with its alignment (ha, va); without one the
# label extends away from the anchor in the offset's direction.
Offset = tuple[float, float] | tuple[float, float, str, str]
Box = tuple[float, float, float, float]
Floats = npt.NDArray[np.float64]

PNG_DPI = 170
MAX_PLAN_WIDTH_IN = 15.0
MAX_PLAN_HEIGHT_IN = 10.5
LEGEND_WIDTH_IN = 2.7
MAX_NODE_LABELS = 300
MAX_ROW_LABELS = 300
# Above this many polygons in one layer, vector output embeds the layer as an image to stay small.
RASTERIZE_ABOVE = 5000

# Paint order, bottom to top.
Z_FLOOR, Z_BAY, Z_STATION, Z_ROW, Z_PLACE, Z_UPPER, Z_ZONE, Z_CRANE = 1, 2, 3, 4, 5, 6, 7, 8
Z_EDGE, Z_RAIL, Z_NODE, Z_VEHICLE, Z_LABEL = 9, 10, 11, 12, 20

INK = "#222222"
STORE_FILL = {"flat": "#e6eef8", "ingot": "#f6eedf", "high_bay": "#ececec"}
STORE_LEGEND = {
    "flat": "flat coil store (bay)",
    "ingot": "ingot / slab store (bay)",
    "high_bay": "high-bay store",
}
STORE_EDGE = {"flat": "#5b7fa8", "ingot": "#a88a5b", "high_bay": "#7a7a7a"}
COIL_FILL, COIL_EDGE = "#9fb7d3", "#4a6584"
COOLING_FILL, COOLING_EDGE = "#f4a259", "#b5541e"
UPPER_FILL = "#23395d"
STACK_FILL, STACK_EDGE = "#c9a86b", "#7d6232"
CELL_FILL, CELL_EDGE = "#d4d4d4", "#8c8c8c"
AISLE_FILL = "#fff6cf"
CRANE_COLOUR = "#c0392b"
RUNWAY_COLOUR = "#7f1d1d"
EDGE_COLOUR, ONE_WAY_COLOUR = "#3d6fa6", "#7b3fa0"
RAIL_COLOUR = "#6b4f3a"
ZONE_COLOUR = "#d62728"
VEHICLE_FILL = {"agv": "#2ca02c", "rgv": "#8c564b"}
STATION_FILL: dict[str, str] = {
    "casting": "#e377c2",
    "hot_mill": "#ff9896",
    "cold_mill_entry": "#aec7e8",
    "cold_mill_exit": "#9edae5",
    "annealing_furnace": "#ffbb78",
    "slitter": "#c5b0d5",
    "packing": "#dbdb8d",
    "weighing": "#c7c7c7",
    "labelling": "#f7b6d2",
    "shipping_dock": "#98df8a",
    "buffer": "#c49c94",
}
# kind -> (marker, area in pt², face colour, label)
NODE_STYLE: dict[str, tuple[str, float, str, str]] = {
    "waypoint": ("o", 7.0, "#4d4d4d", "waypoint"),
    "handover": ("D", 26.0, "#ff7f0e", "handover point"),
    "charger": ("P", 60.0, "#17becf", "charger"),
    "parking": ("s", 34.0, "#1f77b4", "parking"),
}


# ---------------------------------------------------------------------------------------------- public


def save_plan(plant: Plant, output: Path, *, labels: bool = True) -> None:
    """Write the plan of `plant` to `output`; the format (svg, png or pdf) follows the suffix."""
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in {"svg", "png", "pdf"}:
        raise ValueError(f"cannot write a plan as '.{suffix}': use .svg, .png or .pdf")
    figure = draw_plan(plant, labels=labels)
    # In SVG and PDF the dpi only sets the resolution of layers embedded as images (see RASTERIZE_ABOVE).
    figure.savefig(output, format=suffix, dpi=PNG_DPI)


def draw_plan(plant: Plant, *, labels: bool = True) -> Figure:
    """The plan of `plant` as a figure sized to its outline; the caller decides where to write it."""
    outline = Polygon(plant.file.plant.outline)
    xmin, ymin, xmax, ymax = outline.bounds
    width, height = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    inch_per_m = min(MAX_PLAN_WIDTH_IN / width, MAX_PLAN_HEIGHT_IN / height)
    pad = 0.15 / inch_per_m
    bottom_pad = 0.5 / inch_per_m  # room for the scale bar under the outline

    figure = Figure()
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - bottom_pad, ymax + pad)
    ax.set_aspect("equal")
    canvas = Canvas(ax, LabelPlacer(ax, points_per_m=72.0 * inch_per_m, enabled=labels))

    # Paint order is set by z-order; the call order is the legend's order.
    draw_outline(canvas, plant)
    draw_stores(canvas, plant)
    draw_saddles(canvas, plant)
    draw_stacks(canvas, plant)
    draw_high_bays(canvas, plant)
    draw_overhead_cranes(canvas, plant)
    draw_network(canvas, plant)
    draw_rails(canvas, plant)
    draw_nodes(canvas, plant)
    draw_vehicles(canvas, plant)
    draw_stations(canvas, plant)
    draw_zones(canvas, plant)
    draw_scale_bar(canvas, (xmin, ymin - bottom_pad * 0.55), width)
    canvas.labels.render()

    _style_axes(ax)
    _layout_figure(figure, ax, plant, canvas.legend, inch_per_m)
    return figure


# ---------------------------------------------------------------------------------------------- canvas


@dataclass(frozen=True)
class Label:
    priority: int
    order: int
    texts: list[str]
    candidates: list[tuple[XY, Offset]]
    size: float
    boxed: bool
    outside: bool
    required: bool
    style: dict[str, Any]


@dataclass(frozen=True)
class Placement:
    text: str
    at: XY
    offset: XY
    ha: str
    va: str
    box: Box


@dataclass
class LabelPlacer:
    """Greedy label placement: labels are queued with a priority and placed best first, each with its
    first text that fits at the first candidate position whose box (estimated in points) collides with
    nothing placed before. Labels marked `outside` also stay off the footprints of stores and stations
    other than their own; a `required` label that fits nowhere goes to its first position anyway."""

    ax: Axes
    points_per_m: float
    enabled: bool
    queue: list[Label] = field(default_factory=list)
    _taken: dict[tuple[int, int], list[Box]] = field(default_factory=dict)
    _footprints: dict[tuple[int, int], list[Box]] = field(default_factory=dict)

    def add(
        self,
        priority: int,
        text: str | Sequence[str],
        at: XY,
        *,
        size: float = 6.5,
        offsets: Sequence[Offset] = ((4, 4), (4, -4), (-4, 4), (-4, -4)),
        also: Sequence[tuple[XY, Offset]] = (),
        boxed: bool = False,
        outside: bool = False,
        required: bool = False,
        **style: Any,
    ) -> None:
        """Queue `text` (or shorter alternatives after it) at `at` (data metres), tried at each of
        `offsets`, then at the `also` candidates. A `boxed` label sits on a white box, for text over
        dashed or busy lines."""
        if self.enabled:
            texts = [text] if isinstance(text, str) else list(text)
            candidates = [(at, offset) for offset in offsets] + list(also)
            self.queue.append(
                Label(priority, len(self.queue), texts, candidates, size, boxed, outside, required, style)
            )

    def block(self, points: Iterable[XY], radius_pt: float) -> None:
        """Keep labels off these spots (markers that a label would hide)."""
        if self.enabled:
            for x, y in points:
                px, py = x * self.points_per_m, y * self.points_per_m
                _put(self._taken, (px - radius_pt, py - radius_pt, px + radius_pt, py + radius_pt))

    def block_area(self, bounds: Box) -> None:
        if self.enabled:
            _put(self._taken, self._to_points(bounds))

    def footprint(self, bounds: Box) -> None:
        """A store or station footprint (data bounds) that `outside` labels of others keep off."""
        if self.enabled:
            _put(self._footprints, self._to_points(bounds))

    def render(self) -> None:
        for label in sorted(self.queue, key=lambda q: (q.priority, q.order)):
            placement = self._find(label)
            if placement is None and label.required:
                placement = self._placement(label, label.texts[0], *label.candidates[0])
            if placement is not None:
                _put(self._taken, placement.box)
                self._draw(label, placement)

    def _find(self, label: Label) -> Placement | None:
        x0, x1 = (v * self.points_per_m for v in self.ax.get_xlim())
        y0, y1 = (v * self.points_per_m for v in self.ax.get_ylim())
        for text in label.texts:
            for at, offset in label.candidates:
                placement = self._placement(label, text, at, offset)
                box = placement.box
                if box[0] < x0 or box[2] > x1 or box[1] < y0 or box[3] > y1 or _hits(self._taken, box):
                    continue
                # A footprint holding the anchor is the label's own: it may sit on it.
                anchor = (at[0] * self.points_per_m, at[1] * self.points_per_m)
                if label.outside and _hits(self._footprints, box, unless_holds=anchor):
                    continue
                return placement
        return None

    def _placement(self, label: Label, text: str, at: XY, offset: Offset) -> Placement:
        rows = text.split("\n")
        width = 0.6 * label.size * max(map(len, rows)) + (6.0 if label.boxed else 2.0)
        height = 1.22 * label.size * len(rows) + (3.0 if label.boxed else 0.0)
        dx, dy = offset[0], offset[1]
        if len(offset) == 4:
            ha, va = offset[2], offset[3]
        else:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
        left = at[0] * self.points_per_m + dx - {"left": 0.0, "right": width}.get(ha, width / 2)
        low = at[1] * self.points_per_m + dy - {"bottom": 0.0, "top": height}.get(va, height / 2)
        return Placement(text, at, (dx, dy), ha, va, (left, low, left + width, low + height))

    def _draw(self, label: Label, placement: Placement) -> None:
        backing: dict[str, Any] = (
            {
                "bbox": {
                    "boxstyle": "square,pad=0.15",
                    "facecolor": "white",
                    "edgecolor": "none",
                    "alpha": 0.85,
                }
            }
            if label.boxed
            else {"path_effects": [patheffects.withStroke(linewidth=2.0, foreground="white")]}
        )
        self.ax.annotate(
            placement.text,
            placement.at,
            xytext=placement.offset,
            textcoords="offset points",
            ha=placement.ha,
            va=placement.va,
            fontsize=label.size,
            zorder=Z_LABEL,
            annotation_clip=False,
            **backing,
            **label.style,
        )

    def _to_points(self, bounds: Box) -> Box:
        k = self.points_per_m
        return bounds[0] * k, bounds[1] * k, bounds[2] * k, bounds[3] * k


GRID_CELL_PT = 48.0


def _cells(box: Box) -> Iterable[tuple[int, int]]:
    for i in range(math.floor(box[0] / GRID_CELL_PT), math.floor(box[2] / GRID_CELL_PT) + 1):
        for j in range(math.floor(box[1] / GRID_CELL_PT), math.floor(box[3] / GRID_CELL_PT) + 1):
            yield i, j


def _put(grid: dict[tuple[int, int], list[Box]], box: Box) -> None:
    for cell in _cells(box):
        grid.setdefault(cell, []).append(box)


def _hits(grid: dict[tuple[int, int], list[Box]], box: Box, unless_holds: XY | None = None) -> bool:
    for cell in _cells(box):
        for o in grid.get(cell, ()):
            if box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]:
                if unless_holds and o[0] <= unless_holds[0] <= o[2] and o[1] <= unless_holds[1] <= o[3]:
                    continue
                return True
    return False


@dataclass
class Canvas:
    """The plan axes being drawn on, with its label placer and the legend entries of the layers drawn."""

    ax: Axes
    labels: LabelPlacer
    legend: list[Artist] = field(default_factory=list)

    @property
    def m_per_pt(self) -> float:
        return 1.0 / self.labels.points_per_m


# Label priorities, most important first.
P_STORE, P_STATION, P_ZONE, P_CRANE, P_VEHICLE, P_BAY, P_AISLE, P_NODE, P_ROW = range(9)


# ---------------------------------------------------------------------------------------------- geometry


def oriented_rectangles(
    cx: npt.ArrayLike,
    cy: npt.ArrayLike,
    heading_deg: npt.ArrayLike,
    along: npt.ArrayLike,
    across: npt.ArrayLike,
) -> Floats:
    """Corners (n, 4, 2) of rectangles centred on (cx, cy), `along` long in the heading, `across` wide."""
    x, y, theta, a, c = np.broadcast_arrays(
        np.asarray(cx, float),
        np.asarray(cy, float),
        np.radians(np.asarray(heading_deg, float)),
        np.asarray(along, float) / 2,
        np.asarray(across, float) / 2,
    )
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    da = np.array([-1.0, 1.0, 1.0, -1.0]) * a[:, None]
    dc = np.array([-1.0, -1.0, 1.0, 1.0]) * c[:, None]
    xs = x[:, None] + da * cos - dc * sin
    ys = y[:, None] + da * sin + dc * cos
    return np.stack([xs, ys], axis=-1)


def bounds_of(shape: Floats) -> Box:
    (x0, y0), (x1, y1) = shape.min(axis=0), shape.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def ring(polygon: Polygon) -> Floats:
    return np.asarray(polygon.exterior.coords, dtype=float)[:-1]


def polys(
    canvas: Canvas,
    shapes: Sequence[Floats] | Floats,
    *,
    zorder: float,
    rasterize: bool = True,
    **style: Any,
) -> PolyCollection | None:
    if len(shapes) == 0:
        return None
    # An (n, k, 2) array takes matplotlib's fast path; a list of rings is converted one by one.
    collection = PolyCollection(cast("Sequence[npt.ArrayLike]", shapes), zorder=zorder, **style)
    collection.set_rasterized(rasterize and len(shapes) > RASTERIZE_ABOVE)
    canvas.ax.add_collection(collection, autolim=False)
    return collection


def polylines(canvas: Canvas, paths: Sequence[Floats | Sequence[XY]], *, zorder: float, **style: Any) -> None:
    if paths:
        canvas.ax.add_collection(LineCollection(paths, zorder=zorder, **style), autolim=False)


def direction_at(path: Sequence[XY], distance: float) -> XY:
    """Unit direction of a polyline at `distance` from its start."""
    remaining = distance
    for a, b in itertools.pairwise(path):
        step = math.dist(a, b)
        if step > 0 and (remaining <= step or b == path[-1]):
            return (b[0] - a[0]) / step, (b[1] - a[1]) / step
        remaining -= step
    return 1.0, 0.0


def heading_of(direction: XY) -> float:
    return math.degrees(math.atan2(direction[1], direction[0]))


def legend_patch(canvas: Canvas, label: str, **style: Any) -> None:
    canvas.legend.append(Patch(label=label, **style))


def legend_line(canvas: Canvas, label: str, **style: Any) -> None:
    canvas.legend.append(Line2D([], [], label=label, **style))


# ---------------------------------------------------------------------------------------------- layers


def draw_outline(canvas: Canvas, plant: Plant) -> None:
    polys(
        canvas,
        [np.asarray(plant.file.plant.outline, float)],
        zorder=Z_FLOOR,
        facecolor="white",
        edgecolor=INK,
        linewidth=1.6,
    )
    canvas.ax.set_facecolor("#eef0f2")


def draw_stores(canvas: Canvas, plant: Plant) -> None:
    """Bay outlines filled per store kind, store and bay labels."""
    for kind in ("flat", "ingot", "high_bay"):
        stores = [s for s in plant.stores if s.kind == kind]
        if not stores:
            continue
        shapes = [ring(high_bay_footprint(s)) for s in stores if isinstance(s, schema.HighBayStore)] + [
            np.asarray(b.outline, float)
            for s in stores
            if not isinstance(s, schema.HighBayStore)
            for b in s.bays
        ]
        polys(
            canvas,
            shapes,
            zorder=Z_BAY,
            facecolor=STORE_FILL[kind],
            edgecolor=STORE_EDGE[kind],
            linewidth=1.0,
        )
        legend_patch(canvas, STORE_LEGEND[kind], facecolor=STORE_FILL[kind], edgecolor=STORE_EDGE[kind])
        for shape in shapes:
            canvas.labels.footprint(bounds_of(shape))
        for store in stores:
            _label_store(canvas, store)


def _label_store(canvas: Canvas, store: schema.FlatStore | schema.IngotStore | schema.HighBayStore) -> None:
    """Store name just outside a corner of its footprint (above first), bay ids inside their top corner."""
    title = f"{store.id} · {store.name}" if store.name else store.id
    colour = STORE_EDGE[store.kind]
    if isinstance(store, schema.HighBayStore):
        racks = "double-sided" if store.sides == 2 else "single-sided"
        plural = "s" if store.aisles > 1 else ""
        title += f"\n{store.aisles} aisle{plural}, {racks}\n{store.columns} columns × {store.levels} levels"
        bounds = high_bay_footprint(store).bounds
    else:
        bounds = Polygon([p for bay in store.bays for p in bay.outline]).bounds
    x0, y0, x1, y1 = bounds
    corners: list[tuple[XY, Offset]] = [
        ((x0, y1), (0, 3, "left", "bottom")),
        ((x1, y1), (0, 3, "right", "bottom")),
        ((x0, y0), (0, -3, "left", "top")),
        ((x1, y0), (0, -3, "right", "top")),
        ((x0, y1), (3, -3, "left", "top")),
    ]
    first, *rest = corners
    canvas.labels.add(
        P_STORE,
        title,
        first[0],
        size=8,
        offsets=(first[1],),
        also=rest,
        outside=True,
        required=True,
        boxed=True,
        color=colour,
        fontweight="bold",
    )
    if isinstance(store, schema.HighBayStore) or len(store.bays) < 2:
        return
    for bay in store.bays:
        _, _, bx1, by1 = Polygon(bay.outline).bounds
        canvas.labels.add(P_BAY, bay.id, (bx1, by1), size=7, offsets=((-3, -3), (-3, -14)), color=colour)


def draw_stations(canvas: Canvas, plant: Plant) -> None:
    """Station outlines filled per kind; a station without an outline is a star at its first handover."""
    by_kind: dict[str, list[Floats]] = defaultdict(list)
    stars: list[XY] = []
    for station in plant.stations:
        label = station.name or station.id
        if station.outline is not None:
            by_kind[station.kind].append(np.asarray(station.outline, float))
            canvas.labels.footprint(bounds_of(by_kind[station.kind][-1]))
            texts = [station.id]
            if label != station.id:
                texts = [f"{station.id}\n{label}", f"{station.id}\n{textwrap.fill(label, 12)}", station.id]
            outline = Polygon(station.outline)
            # The fullest text that fits inside the outline (falling back to shorter ones), else the id.
            chosen = [t for t in texts if _fits(canvas, outline, t, 7)] or [station.id]
            canvas.labels.add(P_STATION, chosen, **_on_area(canvas, outline, chosen[0], 7), color=INK)
        elif station.handovers[0] in plant.node_points:
            point = plant.node_points[station.handovers[0]]
            stars.append(point)
            canvas.labels.add(P_STATION, label, point, size=7, offsets=((6, 6), (-6, 6), (6, -6)), color=INK)
    for kind, shapes in sorted(by_kind.items()):
        polys(
            canvas,
            shapes,
            zorder=Z_STATION,
            facecolor=STATION_FILL[kind],
            edgecolor=INK,
            linewidth=0.8,
            alpha=0.9,
        )
        legend_patch(
            canvas, f"station: {kind.replace('_', ' ')}", facecolor=STATION_FILL[kind], edgecolor=INK
        )
    if stars:
        xs, ys = zip(*stars, strict=True)
        canvas.ax.scatter(
            xs, ys, marker="*", s=120, c="#ffd700", edgecolors=INK, linewidths=0.6, zorder=Z_NODE
        )
        legend_line(
            canvas,
            "station (no outline)",
            linestyle="",
            marker="*",
            markersize=10,
            markerfacecolor="#ffd700",
            markeredgecolor=INK,
        )


def draw_saddles(canvas: Canvas, plant: Plant) -> None:
    """Saddle rows; ground coils as plan-view rectangles (OD along the row, width across), upper coils
    as smaller dark rectangles between their two supports, cooling positions in a warm colour."""
    if not plant.saddle_positions:
        return
    rows = [
        row
        for store in plant.stores
        if isinstance(store, schema.FlatStore)
        for bay in store.bays
        for row in bay.rows
    ]
    polys(
        canvas,
        [ring(saddle_row_footprint(r)) for r in rows],
        zorder=Z_ROW,
        facecolor="#d5e1ef",
        edgecolor="none",
    )
    ground: list[SaddlePosition] = []
    cooling: list[SaddlePosition] = []
    upper: list[SaddlePosition] = []
    for p in plant.saddle_positions.values():
        (upper if p.tier is Tier.UPPER else cooling if p.cooling else ground).append(p)
    # (positions, legend, fill, edge, size relative to the largest coil of the row, z-order)
    layers = (
        (ground, "coil saddle, ground tier", COIL_FILL, COIL_EDGE, (1.0, 1.0), Z_PLACE),
        (cooling, "cooling position (ground)", COOLING_FILL, COOLING_EDGE, (1.0, 1.0), Z_PLACE),
        (upper, "coil position, upper tier", UPPER_FILL, "none", (0.5, 0.6), Z_UPPER),
    )
    for chosen, legend, fill, edge, (along_scale, across_scale), zorder in layers:
        if not chosen:
            continue
        # A saddle is drawn as the largest coil its row accepts; the rules keep that within pitch and length.
        along = [min(p.row.od_band.max, 0.9 * p.row.pitch) * along_scale for p in chosen]
        across = [min(p.row.width_band.max, p.row.saddle_length) * across_scale for p in chosen]
        shapes = oriented_rectangles(
            [p.x for p in chosen], [p.y for p in chosen], [p.row.heading_deg for p in chosen], along, across
        )
        polys(canvas, shapes, zorder=zorder, facecolor=fill, edgecolor=edge, linewidth=0.4)
        legend_patch(canvas, legend, facecolor=fill, edgecolor=edge)
    if len(rows) <= MAX_ROW_LABELS:
        for row in rows:
            span = (-row.pitch / 2, (row.positions - 0.5) * row.pitch)
            _label_row(canvas, row.id, row.origin, row.heading_deg, span)


def _label_row(canvas: Canvas, row_id: str, origin: XY, heading_deg: float, span: XY) -> None:
    """Row id on the row's axis just before its places (`span` along it), else just after them."""
    (ux, uy), _ = unit_vectors(heading_deg)
    candidates: list[tuple[XY, Offset]] = []
    for along, sign in ((span[0], -1.0), (span[1], 1.0)):
        dx, dy = 2 * sign * ux, 2 * sign * uy
        if abs(ux) >= abs(uy):
            align = ("left" if dx > 0 else "right", "center")
        else:
            align = ("center", "bottom" if dy > 0 else "top")
        candidates.append((frame_point(origin, heading_deg, along, 0.0), (dx, dy, *align)))
    (at, offset), rest = candidates[0], candidates[1:]
    canvas.labels.add(P_ROW, row_id, at, size=5.5, offsets=(offset,), also=rest, color="#555555")


def draw_stacks(canvas: Canvas, plant: Plant) -> None:
    """Ingot / slab stack positions as their floor rectangles."""
    if not plant.stack_positions:
        return
    rows = [
        row
        for store in plant.stores
        if isinstance(store, schema.IngotStore)
        for bay in store.bays
        for row in bay.rows
    ]
    polys(
        canvas,
        [ring(stack_row_footprint(r)) for r in rows],
        zorder=Z_ROW,
        facecolor="#efe2c8",
        edgecolor="none",
    )
    chosen = list(plant.stack_positions.values())
    shapes = oriented_rectangles(
        [p.x for p in chosen],
        [p.y for p in chosen],
        [p.row.heading_deg for p in chosen],
        [p.row.stack_length for p in chosen],
        [p.row.stack_width for p in chosen],
    )
    polys(canvas, shapes, zorder=Z_PLACE, facecolor=STACK_FILL, edgecolor=STACK_EDGE, linewidth=0.5)
    legend_patch(canvas, "ingot / slab stack position", facecolor=STACK_FILL, edgecolor=STACK_EDGE)
    if len(rows) <= MAX_ROW_LABELS:
        for row in rows:
            half = row.stack_length / 2
            span = (-half, (row.positions - 1) * row.pitch + half)
            _label_row(canvas, row.id, row.origin, row.heading_deg, span)


def draw_high_bays(canvas: Canvas, plant: Plant) -> None:
    """Rack columns in plan view (one rectangle per column and side, whatever the levels), aisles with
    their stacker crane at the front, and a dotted lead from each aisle to its I/O node."""
    stores = [s for s in plant.stores if isinstance(s, schema.HighBayStore)]
    if not stores:
        return
    specs = {s.id: s for s in stores}
    columns = [c for c in plant.rack_cells.values() if c.level == 1]
    shapes = oriented_rectangles(
        [c.x for c in columns],
        [c.y for c in columns],
        [specs[c.store].heading_deg for c in columns],
        [specs[c.store].cell.width for c in columns],
        [specs[c.store].cell.depth for c in columns],
    )
    polys(canvas, shapes, zorder=Z_PLACE, facecolor=CELL_FILL, edgecolor=CELL_EDGE, linewidth=0.4)
    aisles: list[Floats] = []
    stackers: list[Floats] = []
    centrelines: list[list[XY]] = []
    leads: list[list[XY]] = []
    for store in stores:
        length = store.columns * store.cell.width
        io_nodes = {p.aisle: p.node for p in store.io_points}
        for aisle in range(1, store.aisles + 1):
            mid = aisle_centre_across(store, aisle)
            half = store.aisle_width / 2
            aisles.append(
                ring(
                    frame_rectangle(store.origin, store.heading_deg, (0.0, length), (mid - half, mid + half))
                )
            )
            stackers.append(
                ring(
                    frame_rectangle(
                        store.origin,
                        store.heading_deg,
                        (0.1 * store.cell.width, 0.9 * store.cell.width),
                        (mid - 0.7 * half, mid + 0.7 * half),
                    )
                )
            )
            front = frame_point(store.origin, store.heading_deg, 0.0, mid)
            centrelines.append([front, frame_point(store.origin, store.heading_deg, length, mid)])
            node = io_nodes.get(aisle)
            if node in plant.node_points:
                leads.append([plant.node_points[node], front])
            far = frame_point(store.origin, store.heading_deg, length - 0.5 * store.cell.width, mid)
            canvas.labels.add(
                P_AISLE, f"A{aisle:02d}", far, size=6, offsets=((-2, 0), (0, 0)), color="#7a6a1e"
            )
    polys(canvas, aisles, zorder=Z_PLACE, facecolor=AISLE_FILL, edgecolor="none")
    polylines(canvas, centrelines, zorder=Z_PLACE, colors="#b59b2c", linewidths=0.6, linestyles=(0, (4, 3)))
    polys(canvas, stackers, zorder=Z_CRANE, facecolor="#4d4d4d", edgecolor="none")
    polylines(canvas, leads, zorder=Z_EDGE, colors=INK, linewidths=0.8, linestyles=":")
    legend_patch(canvas, "rack column (all levels)", facecolor=CELL_FILL, edgecolor=CELL_EDGE)
    legend_patch(canvas, "rack aisle", facecolor=AISLE_FILL, edgecolor="#b59b2c")
    legend_patch(canvas, "stacker crane (at I/O end)", facecolor="#4d4d4d", edgecolor="none")
    if leads:
        legend_line(canvas, "aisle ↔ I/O point", color=INK, linewidth=0.8, linestyle=":")


def draw_zones(canvas: Canvas, plant: Plant) -> None:
    """Safety zones hatched red: solid edge and tint when active, dashed edge when not."""
    for active in (True, False):
        zones = [z for z in plant.safety_zones if z.active is active]
        if not zones:
            continue
        style: dict[str, Any] = (
            {"facecolor": (0.84, 0.15, 0.16, 0.18), "linestyle": "-", "linewidth": 1.4, "hatch": "////"}
            if active
            else {"facecolor": "none", "linestyle": (0, (4, 2)), "linewidth": 1.0, "hatch": "//"}
        )
        polys(
            canvas,
            [np.asarray(z.outline, float) for z in zones],
            zorder=Z_ZONE,
            edgecolor=ZONE_COLOUR,
            rasterize=False,
            **style,
        )
        legend_patch(
            canvas, f"safety zone ({'active' if active else 'inactive'})", edgecolor=ZONE_COLOUR, **style
        )
        for zone in zones:
            text = f"{zone.id} · {'ACTIVE' if active else 'inactive'}"
            canvas.labels.add(
                P_ZONE,
                text,
                **_on_area(canvas, Polygon(zone.outline), text, 6.5),
                color=ZONE_COLOUR,
                fontweight="bold",
            )


def _on_area(canvas: Canvas, area: Polygon, text: str, size: float) -> dict[str, Any]:
    """Label position for an area: in its middle when the text fits inside, else just above or below."""
    x0, y0, x1, y1 = area.bounds
    centre = area.representative_point()
    middle: tuple[XY, Offset] = ((centre.x, centre.y), (0, 0))
    above: tuple[XY, Offset] = (((x0 + x1) / 2, y1), (0, 3))
    below: tuple[XY, Offset] = (((x0 + x1) / 2, y0), (0, -3))
    first, *rest = [middle, above, below] if _fits(canvas, area, text, size) else [above, below, middle]
    return {"at": first[0], "offsets": (first[1],), "also": rest, "size": size}


def _fits(canvas: Canvas, area: Polygon, text: str, size: float) -> bool:
    """Whether `text` at `size` fits inside the bounding box of `area`."""
    x0, y0, x1, y1 = area.bounds
    rows = text.split("\n")
    width = 0.6 * size * max(map(len, rows)) * canvas.m_per_pt
    return width < x1 - x0 and 1.22 * size * len(rows) * canvas.m_per_pt < y1 - y0


def draw_overhead_cranes(canvas: Canvas, plant: Plant) -> None:
    """Runway rails dashed at axis ± span/2; each crane's bridge as a bar across the span at its home."""
    rails: list[list[XY]] = []
    bridges: list[list[XY]] = []
    trolleys: list[XY] = []
    for store in plant.stores:
        if isinstance(store, schema.HighBayStore):
            continue
        frames = {r.id: RunwayFrame(r) for r in store.runways}
        for runway in store.runways:
            heading = heading_of(_unit(runway.start, runway.end))
            half = runway.span / 2
            length = frames[runway.id].length
            for side in (-half, half):
                rails.append(
                    [
                        frame_point(runway.start, heading, 0.0, side),
                        frame_point(runway.start, heading, length, side),
                    ]
                )
        for crane in store.cranes:
            if crane.runway not in frames:
                continue
            runway = frames[crane.runway].runway
            heading = heading_of(_unit(runway.start, runway.end))
            half = runway.span / 2
            ends = [frame_point(runway.start, heading, crane.home, side) for side in (-half, half)]
            bridges.append(ends)
            trolleys.append(frame_point(runway.start, heading, crane.home, 0.0))
            canvas.labels.add(
                P_CRANE,
                crane.id,
                ends[1],
                size=7,
                offsets=((0, 4), (4, 0), (-4, 0), (0, -4)),
                color=CRANE_COLOUR,
                fontweight="bold",
            )
    if rails:
        polylines(canvas, rails, zorder=Z_CRANE, colors=RUNWAY_COLOUR, linewidths=1.0, linestyles=(0, (6, 3)))
        legend_line(canvas, "crane runway rail", color=RUNWAY_COLOUR, linewidth=1.0, linestyle=(0, (6, 3)))
    if bridges:
        polylines(
            canvas, bridges, zorder=Z_CRANE, colors=CRANE_COLOUR, linewidths=3.5, alpha=0.85, capstyle="butt"
        )
        xs, ys = zip(*trolleys, strict=True)
        canvas.ax.scatter(
            xs, ys, marker="s", s=22, c="white", edgecolors=CRANE_COLOUR, linewidths=1.2, zorder=Z_CRANE
        )
        legend_line(
            canvas,
            "overhead crane at home (bridge, trolley)",
            color=CRANE_COLOUR,
            linewidth=3.5,
            marker="s",
            markersize=4,
            markerfacecolor="white",
            markeredgecolor=CRANE_COLOUR,
        )


def _unit(a: XY, b: XY) -> XY:
    length = math.dist(a, b) or 1.0
    return (b[0] - a[0]) / length, (b[1] - a[1]) / length


def draw_network(canvas: Canvas, plant: Plant) -> None:
    """Network edges as thin lines: two-way in blue, one-way in purple with an arrow mid-edge, edges
    open to some vehicle classes only dashed."""
    groups: dict[tuple[bool, bool], list[tuple[XY, ...]]] = defaultdict(list)
    for edge in plant.file.network.edges:
        if edge.source in plant.node_points and edge.target in plant.node_points:
            groups[(edge.two_way, edge.classes is not None)].append(edge_points(edge, plant.node_points))
    for (two_way, restricted), paths in sorted(groups.items(), reverse=True):
        colour = EDGE_COLOUR if two_way else ONE_WAY_COLOUR
        dash: object = (0, (3, 2)) if restricted else "solid"
        polylines(
            canvas, [list(p) for p in paths], zorder=Z_EDGE, colors=colour, linewidths=0.9, linestyles=dash
        )
        if not two_way:
            polys(
                canvas,
                [_arrowhead(p, canvas.m_per_pt) for p in paths],
                zorder=Z_EDGE,
                facecolor=colour,
                edgecolor="none",
                rasterize=False,
            )
        name = (
            ("two-way" if two_way else "one-way") + " path" + (" (some classes only)" if restricted else "")
        )
        legend_line(
            canvas,
            name,
            color=colour,
            linewidth=0.9,
            linestyle=dash,
            marker="" if two_way else ">",
            markersize=5,
        )


def _arrowhead(path: Sequence[XY], m_per_pt: float) -> Floats:
    """A triangle at the middle of `path`, pointing along it, 7 pt long."""
    half = sum(math.dist(a, b) for a, b in itertools.pairwise(path)) / 2
    tip_x, tip_y = point_along(path, half)
    ux, uy = direction_at(path, half)
    length, width = 7 * m_per_pt, 2.6 * m_per_pt
    tip_x, tip_y = tip_x + ux * length / 2, tip_y + uy * length / 2
    bx, by = tip_x - ux * length, tip_y - uy * length
    return np.array([(tip_x, tip_y), (bx - uy * width, by + ux * width), (bx + uy * width, by - ux * width)])


def draw_rails(canvas: Canvas, plant: Plant) -> None:
    """RGV rails as thick lines, each stop as a tick across the rail."""
    rails = plant.file.network.rails
    if not rails:
        return
    polylines(
        canvas,
        [list(r.path) for r in rails],
        zorder=Z_RAIL,
        colors=RAIL_COLOUR,
        linewidths=4.0,
        alpha=0.75,
        capstyle="butt",
        joinstyle="round",
    )
    ticks: list[list[XY]] = []
    half = 7 * canvas.m_per_pt
    for rail in rails:
        for stop in rail.stops:
            x, y = point_along(rail.path, stop.at)
            ux, uy = direction_at(rail.path, stop.at)
            ticks.append([(x - uy * half, y + ux * half), (x + uy * half, y - ux * half)])
        end = rail.path[-1]
        canvas.labels.add(
            P_BAY,
            rail.id,
            end,
            size=6.5,
            offsets=((4, 4), (4, -4), (-4, 4), (-4, -4)),
            color=RAIL_COLOUR,
            fontweight="bold",
        )
    polylines(canvas, ticks, zorder=Z_RAIL, colors=INK, linewidths=1.6)
    legend_line(canvas, "RGV rail with stops", color=RAIL_COLOUR, linewidth=4.0, alpha=0.75)


def draw_nodes(canvas: Canvas, plant: Plant) -> None:
    """Nodes by kind; their ids when there are few enough to read."""
    by_kind: dict[str, list[XY]] = defaultdict(list)
    for node, point in plant.node_points.items():
        by_kind[plant.node_kinds[node]].append(point)
    for kind, (marker, size, colour, label) in NODE_STYLE.items():
        points = by_kind.get(kind)
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        canvas.ax.scatter(
            xs,
            ys,
            marker=marker,
            s=size,
            c=colour,
            edgecolors="white" if kind != "waypoint" else "none",
            linewidths=0.6,
            zorder=Z_NODE,
        )
        legend_line(
            canvas,
            label,
            linestyle="",
            marker=marker,
            markersize=math.sqrt(size),
            markerfacecolor=colour,
            markeredgecolor="white",
        )
    if len(plant.node_points) <= MAX_NODE_LABELS:
        canvas.labels.block(plant.node_points.values(), radius_pt=3.0)
        for node, point in plant.node_points.items():
            canvas.labels.add(P_NODE, node, point, size=5.5, color="#333333")


def draw_vehicles(canvas: Canvas, plant: Plant) -> None:
    """Vehicles as footprint rectangles at their home node, turned along the rail or the first edge there;
    vehicles sharing a home are drawn once with all their ids."""
    at_home: dict[str, list[str]] = defaultdict(list)
    for vehicle in plant.vehicles.values():
        if vehicle.home in plant.node_points:
            at_home[vehicle.home].append(vehicle.id)
    if not at_home:
        return
    headings = _home_headings(plant)
    shapes: dict[str, list[Floats]] = defaultdict(list)
    for home, ids in at_home.items():
        vclass = plant.vehicles[ids[0]].vehicle_class
        x, y = plant.node_points[home]
        shapes[vclass.kind].append(
            oriented_rectangles(
                [x], [y], [headings.get(home, 0.0)], [vclass.footprint.length], [vclass.footprint.width]
            )[0]
        )
        text = ", ".join(ids) if len(ids) <= 3 else f"{ids[0]} … {ids[-1]} ({len(ids)})"
        # Clear of the footprint whichever way it is turned.
        reach = math.hypot(vclass.footprint.length, vclass.footprint.width) / 2 / canvas.m_per_pt + 2
        offsets = ((0, reach), (0, -reach), (reach, 0), (-reach, 0))
        canvas.labels.add(
            P_VEHICLE,
            text,
            (x, y),
            size=6.5,
            offsets=offsets,
            color=VEHICLE_FILL[vclass.kind],
            fontweight="bold",
        )
    for kind, rectangles in sorted(shapes.items()):
        polys(
            canvas,
            rectangles,
            zorder=Z_VEHICLE,
            facecolor=VEHICLE_FILL[kind],
            edgecolor=INK,
            linewidth=0.7,
            alpha=0.8,
        )
        legend_patch(
            canvas, f"{kind.upper()} at home", facecolor=VEHICLE_FILL[kind], edgecolor=INK, alpha=0.8
        )


def _home_headings(plant: Plant) -> dict[str, float]:
    """Heading of the rail at each stop, else of the first network edge leaving each node."""
    headings: dict[str, float] = {}
    for rail in plant.file.network.rails:
        for stop in rail.stops:
            headings[stop.id] = heading_of(direction_at(rail.path, stop.at))
    for edge in plant.edges:
        if edge.rail is None and edge.source not in headings:
            headings[edge.source] = heading_of(_unit(edge.points[0], edge.points[1]))
    return headings


def draw_scale_bar(canvas: Canvas, at: XY, plant_width: float) -> None:
    """A black-and-white bar about a sixth of the plant wide, in a round number of metres."""
    target = plant_width / 6
    magnitude = 10 ** math.floor(math.log10(target))
    length = max(m * magnitude for m in (1, 2, 5) if m * magnitude <= target)
    x, y = at
    height = 3.5 * canvas.m_per_pt
    pt = canvas.m_per_pt
    canvas.labels.block_area((x - 6 * pt, y, x + length + 14 * pt, y + 14 * pt))
    for i in range(4):
        canvas.ax.add_patch(
            Rectangle(
                (x + i * length / 4, y),
                length / 4,
                height,
                facecolor=INK if i % 2 == 0 else "white",
                edgecolor=INK,
                linewidth=0.7,
                zorder=Z_LABEL,
            )
        )
    for value in (0.0, length / 2, length):
        text = f"{value:g} m" if value == length else f"{value:g}"
        canvas.ax.annotate(
            text,
            (x + value, y + height),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            color=INK,
            zorder=Z_LABEL,
        )


# ---------------------------------------------------------------------------------------------- figure


def _style_axes(ax: Axes) -> None:
    ax.tick_params(labelsize=7, length=3, color="#888888", labelcolor="#555555")
    ax.set_xlabel("x [m]", fontsize=7, color="#555555")
    ax.set_ylabel("y [m]", fontsize=7, color="#555555")
    for spine in ax.spines.values():
        spine.set_color("#aaaaaa")


def _layout_figure(figure: Figure, ax: Axes, plant: Plant, handles: list[Artist], inch_per_m: float) -> None:
    """Size the figure around the plan axes (kept at its true scale) with the title above and the
    legend beside the plan, or under it when the plan is too flat for a legend column."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    plan_w, plan_h = (x1 - x0) * inch_per_m, (y1 - y0) * inch_per_m
    left, bottom, gap = 0.7, 0.55, 0.25
    legend_rows_h = 0.19 * len(handles) + 0.45
    beside = legend_rows_h <= plan_h + 1.0 or plan_w < 2 * plan_h
    width = left + plan_w + (gap + LEGEND_WIDTH_IN if beside else 0.3)
    facts = _wrap(_facts(plant), chars=max(40, int((width - 1.0) / 0.075)))  # ~0.075 in a character at 8 pt
    top = 0.6 + 0.15 * len(facts)
    style: dict[str, Any] = {"fontsize": 7, "frameon": True, "numpoints": 1, "handlelength": 2.4}
    if beside:
        legend_h = legend_rows_h
        height = bottom + max(plan_h, legend_h) + top
        figure.set_size_inches(width, height)
        ax_bottom = bottom + max(0.0, (legend_h - plan_h) / 2)
        ax.set_position((left / width, ax_bottom / height, plan_w / width, plan_h / height))
        anchor = ((left + plan_w + gap) / width, 1 - top / height)
        figure.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=anchor,
            title="Legend",
            title_fontsize=8,
            borderaxespad=0.0,
            **style,
        )
    else:
        columns = max(2, int((plan_w + left) // 2.8))
        legend_h = 0.19 * math.ceil(len(handles) / columns) + 0.45
        height = legend_h + bottom + plan_h + top
        figure.set_size_inches(width, height)
        ax.set_position((left / width, (legend_h + bottom) / height, plan_w / width, plan_h / height))
        figure.legend(
            handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.1 / height), ncol=columns, **style
        )
    title = f"{plant.name}  ({plant.id})"
    figure.text(left / width, 1 - 0.12 / height, title, fontsize=13, fontweight="bold", va="top", color=INK)
    figure.text(left / width, 1 - 0.42 / height, "\n".join(facts), fontsize=8, va="top", color="#444444")


def _facts(plant: Plant) -> list[str]:
    """Key counts for the title line."""
    ground = sum(1 for p in plant.saddle_positions.values() if p.tier is Tier.GROUND)
    upper = len(plant.saddle_positions) - ground
    aisles = sum(s.aisles for s in plant.stores if isinstance(s, schema.HighBayStore))
    cranes = sum(1 for _ in plant.overhead_cranes())
    links = len(plant.file.network.edges) + sum(len(r.stops) - 1 for r in plant.file.network.rails)
    facts = [
        f"{_count(len(plant.saddle_positions), 'saddle position')} ({ground:,} ground, {upper:,} upper)",
        _count(len(plant.stack_positions), "stack position"),
        f"{_count(len(plant.rack_cells), 'rack cell')} in {_count(aisles, 'aisle')}",
        _count(cranes, "overhead crane"),
        _count(len(plant.stations), "station"),
        f"{_count(len(plant.node_points), 'node')}, {_count(links, 'link')}",
        _count(len(plant.vehicles), "vehicle"),
    ]
    return [f for f in facts if not f.startswith("0 ")]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _wrap(parts: list[str], chars: int) -> list[str]:
    """Join `parts` with ' · ' into lines of at most about `chars` characters."""
    rows: list[str] = []
    for part in parts:
        if rows and len(rows[-1]) + 3 + len(part) <= chars:
            rows[-1] += f" · {part}"
        else:
            rows.append(part)
    return rows
