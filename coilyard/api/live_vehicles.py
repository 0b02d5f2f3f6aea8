"""`GET /api/vehicles/live`: every vehicle's last reported state, from the Redis vehicle-state cache.

Only with COILYARD_EVENTS_REDIS: whichever process drives the vehicles writes `VehicleStateCache` as their
reports go onto the bus (`coilyard.api.events.BusRelay`), so any replica answers for the whole fleet.
A vehicle silent for longer than the cache's TTL is not listed. Without Redis the fleet's own view is
`GET /api/fleet/vehicles`.
"""

from __future__ import annotations

import asyncio

import redis
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from adapters.redis_bus import VehicleSnapshot
from coilyard.api.deps import App, Caller
from coilyard.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/vehicles", tags=["fleet"], responses=ERROR_RESPONSES)


class LiveVehicleOut(BaseModel):
    vehicle: str
    at: float = Field(description="When the last report was published (Unix time, s).")
    state: str | None = None
    node: str | None = None
    x: float | None = Field(None, description="The node's position on the plan (m), when it has one.")
    y: float | None = None
    along: float | None = Field(None, description="Cranes: metres along the runway.")
    load: bool | None = None
    energy_kwh: float | None = None
    error: str | None = None


@router.get("/live", summary="Every vehicle's last reported state (Redis cache; COILYARD_EVENTS_REDIS)")
async def live_vehicles(app: App, _: Caller) -> list[LiveVehicleOut]:
    relay = app.hub.relay
    if relay is None:
        raise HTTPException(
            404,
            "no live vehicle cache: the service runs without COILYARD_EVENTS_REDIS (see /api/fleet/vehicles)",
        )
    try:
        snapshots = await asyncio.to_thread(relay.cache.read_all)
    except redis.RedisError as error:
        raise HTTPException(503, f"the vehicle-state cache in Redis is not reachable: {error}") from None
    return [_row(s, app.plant.node_points.get(s.node or "")) for s in snapshots]


def _row(s: VehicleSnapshot, point: tuple[float, float] | None) -> LiveVehicleOut:
    return LiveVehicleOut(
        vehicle=s.vehicle, at=s.at, state=s.state, node=s.node, along=s.along, load=s.load,
        energy_kwh=s.energy, error=s.error, x=point[0] if point else None, y=point[1] if point else None,
    )  # fmt: skip
