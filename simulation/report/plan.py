"""The plant plan as a background for simulation results (occupancy heat map, replay frames).

The plan layers come from layout/render.py so the twin's pictures look like `coilyard layout render`;
only the figure around them differs (no legend, room for a colour bar and a title).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from shapely.geometry import Polygon

from layout import LayoutInvalid, Plant, load_plant
from layout import render as plan_render

TITLE_IN = 0.55
MARGIN_IN = 0.45
BOTTOM_IN = 0.5


@dataclass(frozen=True)
class PlanFigure:
    figure: Figure
    ax: Axes
    points_per_m: float


def try_load_plant(path: Path | None) -> Plant | None:
    """The plant at `path`, or None when there is no such file or it does not load (the caller then
    draws without a plan)."""
    if path is None:
        return None
    try:
        return load_plant(path)
    except (LayoutInvalid, OSError):
        return None


def plan_figure(
    plant: Plant | None,
    bounds: tuple[float, float, float, float],
    *,
    max_width_in: float = 10.0,
    max_height_in: float = 6.5,
    right_in: float = 1.3,
    labels: bool = True,
) -> PlanFigure:
    """A figure holding one equal-aspect plan axes covering `bounds` (x0, y0, x1, y1 in metres; the
    plant outline is used when a plant is given), with `right_in` inches free for a colour bar."""
    if plant is not None:
        bounds = Polygon(plant.file.plant.outline).bounds
    xmin, ymin, xmax, ymax = bounds
    width, height = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    inch_per_m = min(max_width_in / width, max_height_in / height)
    pad = 0.15 / inch_per_m
    bottom_pad = (0.5 if plant is not None else 0.15) / inch_per_m
    xlim = (xmin - pad, xmax + pad)
    ylim = (ymin - bottom_pad, ymax + pad)
    plan_w = (xlim[1] - xlim[0]) * inch_per_m
    plan_h = (ylim[1] - ylim[0]) * inch_per_m
    fig_w = MARGIN_IN + plan_w + right_in
    fig_h = BOTTOM_IN + plan_h + TITLE_IN

    figure = Figure(figsize=(fig_w, fig_h))
    FigureCanvasAgg(figure)
    ax = figure.add_axes((MARGIN_IN / fig_w, BOTTOM_IN / fig_h, plan_w / fig_w, plan_h / fig_h))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7, length=3, color="#888888", labelcolor="#555555")
    ax.set_xlabel("x [m]", fontsize=7, color="#555555")
    ax.set_ylabel("y [m]", fontsize=7, color="#555555")
    for spine in ax.spines.values():
        spine.set_color("#aaaaaa")
    points_per_m = 72.0 * inch_per_m
    if plant is not None:
        draw_plant_layers(
            ax, plant, points_per_m, labels=labels, scale_bar_at=(xmin, ymin - bottom_pad * 0.55)
        )
    return PlanFigure(figure, ax, points_per_m)


def draw_plant_layers(
    ax: Axes, plant: Plant, points_per_m: float, *, labels: bool, scale_bar_at: tuple[float, float] | None
) -> None:
    """Stores, places, cranes, network, rails, nodes, stations and zones; vehicles are left out
    because the results put them where they are, not at home."""
    canvas = plan_render.Canvas(ax, plan_render.LabelPlacer(ax, points_per_m=points_per_m, enabled=labels))
    plan_render.draw_outline(canvas, plant)
    plan_render.draw_stores(canvas, plant)
    plan_render.draw_saddles(canvas, plant)
    plan_render.draw_stacks(canvas, plant)
    plan_render.draw_high_bays(canvas, plant)
    plan_render.draw_overhead_cranes(canvas, plant)
    plan_render.draw_network(canvas, plant)
    plan_render.draw_rails(canvas, plant)
    plan_render.draw_nodes(canvas, plant)
    plan_render.draw_stations(canvas, plant)
    plan_render.draw_zones(canvas, plant)
    if scale_bar_at is not None:
        outline = Polygon(plant.file.plant.outline)
        plan_render.draw_scale_bar(canvas, scale_bar_at, outline.bounds[2] - outline.bounds[0])
    canvas.labels.render()
