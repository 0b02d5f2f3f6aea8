"""Layout routes: the plant model (the layout file as JSON), its figures, and the rendered plan (SVG)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from coilyard.api.deps import Caller
from coilyard.api.errors import ERROR_RESPONSES
from layout import Plant
from layout.stats import plant_stats

router = APIRouter(prefix="/api/layout", tags=["layout"], responses=ERROR_RESPONSES)


class StoreFigures(BaseModel):
    id: str
    kind: str
    places: int
    ground: int
    upper: int
    capacity_coils: int
    capacity_tonnes: float
    cranes: int


class LayoutSummary(BaseModel):
    plant: str
    name: str
    stores: list[StoreFigures]
    stations: int
    nodes: int
    edges: int
    rail_stops: int
    vehicles: dict[str, int]


def _plant(request: Request) -> Plant:
    plant: Plant = request.app.state.services.plant
    return plant


@router.get("", summary="The plant's figures: stores, capacity, network, fleet")
async def summary(request: Request, _: Caller) -> LayoutSummary:
    plant = _plant(request)
    stats = plant_stats(plant)
    return LayoutSummary(
        plant=plant.id, name=plant.name, stores=[StoreFigures(**asdict(s)) for s in stats.stores],
        stations=stats.stations, nodes=stats.nodes, edges=stats.edges, rail_stops=stats.rail_stops,
        vehicles=dict(stats.vehicles),
    )  # fmt: skip


@router.get("/model", summary="The plant model: the layout file as JSON (see `coilyard layout schema`)")
async def model(request: Request, _: Caller) -> dict[str, Any]:
    dumped: dict[str, Any] = _plant(request).file.model_dump(mode="json", by_alias=True)
    return dumped


def _render_svg(plant: Plant) -> bytes:
    import matplotlib.pyplot as plt  # noqa: PLC0415  (matplotlib is slow to import; only the plan needs it)

    from layout.render import draw_plan  # noqa: PLC0415

    figure = draw_plan(plant, labels=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return buffer.getvalue()


@router.get(
    "/plan.svg",
    summary="The rendered plant plan",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "SVG drawing"}},
)
async def plan(request: Request, _: Caller) -> Response:
    state = request.app.state
    cached: bytes | None = getattr(state, "plan_svg", None)
    if cached is None:
        cached = await asyncio.to_thread(_render_svg, _plant(request))
        state.plan_svg = cached
    return Response(cached, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
