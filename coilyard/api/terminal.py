"""What the handheld terminals and the live yard view need from the service, and their static pages.

- ``/terminal`` (handheld) and ``/live`` (supervisor) redirect to the static pages in ``coilyard/web/``
  (plain HTML, CSS and ES modules, no build step), mounted at ``/ui``.
- ``GET /api/terminal/plan``: the plant drawn as plain geometry (outline, bays, positions, network, runways)
  for the live view's SVG. ``GET /api/terminal/yard``: a snapshot of what moves on it: vehicles and cranes
  with coordinates, occupied and reserved positions, store fill, open orders, active alerts.
- ``GET /api/terminal/scan/{code}``: what a scanned code names: a coil, an RFID tag bound to a coil, or a
  location. The handheld resolves every coil scan through it, so a tag works wherever a coil ID does.
- ``POST /api/terminal/vehicles/{id}/report`` and ``/cranes/{id}/report``: position reports (from an adapter,
  a simulator or a test), published as live events ``{"type": "vehicle" | "crane", ...}``.

`YardTracker` keeps the latest reported position and state of every vehicle and crane from the live events;
`install(app)` wires all of it (routers, pages, tables, the tracker and the alert monitor) into the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from coilyard.api import alerts, labels
from coilyard.api.deps import ID_PATTERN, App, Caller, Services, allow
from coilyard.api.errors import ERROR_RESPONSES, UnknownVehicle
from coilyard.api.security import Role
from layout import Plant
from layout import schema as plant_schema
from layout.geometry import aisle_centre_across, frame_point, high_bay_footprint, unit_vectors
from wms.domain.errors import InvalidInput
from wms.domain.locations import LocationKind
from wms.domain.units import HoldKind
from wms.domain.yard import Yard

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(prefix="/api/terminal", tags=["terminal"], responses=ERROR_RESPONSES)
pages = APIRouter(include_in_schema=False)
PathId = Annotated[str, PathParam(pattern=ID_PATTERN)]
REPORTERS = (Role.VEHICLE, Role.INTEGRATION, Role.SUPERVISOR)
XY = tuple[float, float]

# ------------------------------------------------------------------------------------------ the plan


def _ring(points: Any) -> list[list[float]]:
    return [[round(float(x), 3), round(float(y), 3)] for x, y in points]


def plan_of(plant: Plant) -> dict[str, Any]:
    """The plant as geometry in metres, everything the live view draws once."""
    areas: list[dict[str, Any]] = []
    for store in plant.stores:
        if isinstance(store, plant_schema.HighBayStore):
            outline = list(high_bay_footprint(store).exterior.coords)[:-1]
            areas.append({"id": store.id, "kind": "high_bay", "store": store.id, "outline": _ring(outline)})
        else:
            for bay in store.bays:
                areas.append(
                    {
                        "id": f"{store.id}-{bay.id}",
                        "kind": store.kind,
                        "store": store.id,
                        "outline": _ring(bay.outline),
                    }
                )
    for station in plant.stations:
        if station.outline is not None:
            areas.append({"id": station.id, "kind": "station", "store": None, "outline": _ring(station.outline),
                          "label": station.name or station.id})  # fmt: skip
    positions: list[dict[str, Any]] = []
    for saddle in plant.saddle_positions.values():
        radius = saddle.row.pitch * (0.42 if saddle.tier == "G" else 0.3)
        positions.append({"ids": [saddle.id], "store": saddle.store, "kind": "saddle", "x": saddle.x,
                          "y": saddle.y, "r": radius, "upper": saddle.tier == "U"})  # fmt: skip
    for s in plant.stack_positions.values():
        positions.append({"ids": [s.id], "store": s.store, "kind": "stack", "x": s.x, "y": s.y,
                          "r": min(s.row.stack_length, s.row.stack_width) / 2})  # fmt: skip
    columns: dict[tuple[str, int, str, int], list[Any]] = {}
    for c in plant.rack_cells.values():
        columns.setdefault((c.store, c.aisle, c.side, c.column), []).append(c)
    for cells in columns.values():
        first = cells[0]
        store = next(s for s in plant.stores if s.id == first.store)
        assert isinstance(store, plant_schema.HighBayStore)
        positions.append({"ids": [c.id for c in sorted(cells, key=lambda c: c.level)], "store": first.store,
                          "kind": "cell", "x": first.x, "y": first.y, "r": store.cell.width * 0.42})  # fmt: skip
    for p in positions:
        p["x"], p["y"], p["r"] = round(p["x"], 3), round(p["y"], 3), round(p["r"], 3)
    seen: set[frozenset[str]] = set()
    edges: list[dict[str, Any]] = []
    for e in plant.edges:
        pair = frozenset((e.source, e.target))
        if pair in seen:
            continue
        seen.add(pair)
        edges.append({"points": _ring(e.points), "rail": e.rail is not None})
    runways = []
    for store, crane in plant.overhead_cranes():
        runway = next(r for r in store.runways if r.id == crane.runway)
        runways.append({"id": f"{store.id}-{runway.id}", "store": store.id, "start": list(runway.start),
                        "end": list(runway.end), "span": runway.span})  # fmt: skip
    unique_runways = list({r["id"]: r for r in runways}.values())
    xs = [x for x, _ in plant.file.plant.outline]
    ys = [y for _, y in plant.file.plant.outline]
    return {
        "id": plant.id, "name": plant.name, "outline": _ring(plant.file.plant.outline),
        "bounds": [min(xs), min(ys), max(xs), max(ys)], "areas": areas, "positions": positions,
        "edges": edges, "runways": unique_runways,
        "nodes": [{"id": n, "x": x, "y": y, "kind": str(plant.node_kinds.get(n, "waypoint"))}
                  for n, (x, y) in sorted(plant.node_points.items())],
        "stores": [{"id": s.id, "name": s.name or s.id, "kind": s.kind} for s in plant.stores],
        "vehicles": [{"id": v.id, "class": v.vehicle_class.id, "kind": v.vehicle_class.kind,
                      "length": v.vehicle_class.footprint.length, "width": v.vehicle_class.footprint.width}
                     for v in plant.vehicles.values()],
        "cranes": [{"id": c.id, "store": c.store, "kind": c.kind} for c in crane_tracks(plant).values()],
    }  # fmt: skip


# ------------------------------------------------------------------------------------------ tracking


@dataclass(frozen=True)
class CraneTrack:
    """Where a crane travels: a straight line from `start` along `direction` (a unit vector), `length` long."""

    id: str
    store: str
    kind: str  # overhead | stacker
    home: float  # m along
    start: XY
    direction: XY
    length: float
    span: float  # m across: the bridge (overhead) or the aisle with its racks (stacker)

    def point(self, along: float) -> XY:
        d = min(max(along, 0.0), self.length)
        return self.start[0] + self.direction[0] * d, self.start[1] + self.direction[1] * d

    @property
    def angle(self) -> float:
        return math.degrees(math.atan2(self.direction[1], self.direction[0]))


def crane_tracks(plant: Plant) -> dict[str, CraneTrack]:
    """Every crane with its travel line, to turn a reported `along` into plant coordinates."""
    out: dict[str, CraneTrack] = {}
    for store, crane in plant.overhead_cranes():
        runway = next(r for r in store.runways if r.id == crane.runway)
        (x0, y0), (x1, y1) = runway.start, runway.end
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        direction = ((x1 - x0) / length, (y1 - y0) / length)
        out[crane.id] = CraneTrack(
            crane.id, store.id, "overhead", crane.home, (x0, y0), direction, length, runway.span
        )
    for stacker in plant.stacker_cranes.values():
        hb = next(s for s in plant.stores if s.id == stacker.store)
        assert isinstance(hb, plant_schema.HighBayStore)
        start = frame_point(hb.origin, hb.heading_deg, 0.0, aisle_centre_across(hb, stacker.aisle))
        direction, _ = unit_vectors(hb.heading_deg)
        span = hb.sides * hb.cell.depth + hb.aisle_width
        out[stacker.id] = CraneTrack(
            stacker.id, stacker.store, "stacker", 0.0, start, direction, stacker.rack_length, span
        )
    return out


@dataclass
class YardTracker:
    """Latest reported state of vehicles and cranes, from live events (``vehicle``, ``crane``)."""

    plant: Plant
    vehicles: dict[str, dict[str, Any]] = field(default_factory=dict)
    cranes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: int = 0

    def apply(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind == "vehicle" and str(event.get("vehicle")) in self.plant.vehicles:
            target = self.vehicles.setdefault(str(event["vehicle"]), {})
        elif kind == "crane" and str(event.get("crane")) in self._cranes:
            target = self.cranes.setdefault(str(event["crane"]), {})
        else:
            return False
        for name in ("x", "y", "node", "state", "energy_kwh", "load", "error", "along", "at", "heading"):
            if name in event:
                target[name] = event[name]
        if "node" in event and "x" not in event:  # a node report replaces an older coordinate report
            target.pop("x", None)
            target.pop("y", None)
        self.reports += 1
        return True

    @cached_property
    def _cranes(self) -> dict[str, CraneTrack]:
        return crane_tracks(self.plant)

    def point_of(self, position: str | None) -> XY | None:
        """A node's point, or the middle of an edge written ``a->b`` (how the fleet reports a vehicle between nodes)."""
        if not position:
            return None
        if "->" in position:
            a, b = position.split("->", 1)
            pa, pb = self.plant.node_points.get(a), self.plant.node_points.get(b)
            if pa and pb:
                return (pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2
            return pa or pb
        return self.plant.node_points.get(position)

    def vehicle_rows(
        self, fleet_rows: list[dict[str, Any]], carriers: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        """The fleet's view of each vehicle, overlaid with what was reported since (reports win)."""
        by_id = {str(r.get("vehicle")): r for r in fleet_rows}
        rows = []
        for vid, vehicle in sorted(self.plant.vehicles.items()):
            base = by_id.get(vid, {})
            seen = self.vehicles.get(vid, {})
            node = seen.get("node") or base.get("position") or vehicle.home
            point: XY | None = (float(seen["x"]), float(seen["y"])) if "x" in seen and "y" in seen else None
            point = point or self.point_of(str(node)) or self.point_of(vehicle.home) or (0.0, 0.0)
            energy = seen.get("energy_kwh", base.get("energy_kwh"))
            battery = vehicle.vehicle_class.battery
            rows.append({
                "id": vid, "class": vehicle.vehicle_class.id, "kind": vehicle.vehicle_class.kind,
                "state": str(seen.get("state") or base.get("state") or "unknown"), "node": node,
                "x": round(point[0], 3), "y": round(point[1], 3), "heading": seen.get("heading"),
                "order": base.get("order"), "load": seen.get("load") or base.get("load") or next(iter(carriers.get(vid, [])), None),
                "energy_kwh": energy, "error": seen.get("error"), "paused": bool(base.get("paused", False)),
                "battery": round(float(energy) / battery.capacity_kwh, 4) if battery and energy is not None else None,
            })  # fmt: skip
        return rows

    def crane_rows(self, carriers: dict[str, list[str]]) -> list[dict[str, Any]]:
        rows = []
        for cid, crane in sorted(self._cranes.items()):
            seen = self.cranes.get(cid, {})
            along = float(seen.get("along", crane.home))
            x, y = crane.point(along)
            rows.append({
                "id": cid, "store": crane.store, "kind": crane.kind, "along": along, "x": round(x, 3),
                "y": round(y, 3), "span": crane.span, "angle": crane.angle,
                "state": str(seen.get("state", "idle")), "load": seen.get("load") or next(iter(carriers.get(cid, [])), None),
            })  # fmt: skip
        return rows


# ------------------------------------------------------------------------------------------ snapshot

OPEN_ORDER_STATES = frozenset({"finished", "failed", "cancelled", "done"})


@dataclass(frozen=True)
class StockView:
    occupied: dict[str, list[str]]
    reserved: dict[str, str]
    fill: dict[str, dict[str, float]]
    carriers: dict[str, list[str]]
    moves: list[dict[str, Any]]
    cooling: dict[str, float]
    waiting: dict[str, str]
    late_shipments: list[tuple[str, float]]


def stock_view(yard: Yard) -> StockView:
    """One read of the yard for the snapshot and the alert rules (runs on the WMS writer thread)."""
    occupied: dict[str, list[str]] = {}
    reserved: dict[str, str] = {}
    carriers: dict[str, list[str]] = {}
    places: dict[str, list[int]] = {}
    waiting: dict[str, str] = {}
    for loc in yard.locations.values():
        if loc.kind is LocationKind.CARRIER:
            if loc.occupants:
                carriers[loc.id] = list(loc.occupants)
            continue
        if loc.kind is LocationKind.HANDOVER:
            for unit in loc.occupants:
                found = yard.coils.get(unit) or yard.stacks.get(unit)
                if found is not None and found.move is None:
                    waiting[unit] = loc.id
            continue
        if loc.occupants:
            occupied[loc.id] = list(loc.occupants)
        if loc.reserved_by:
            reserved[loc.id] = loc.reserved_by
        if loc.store is not None:
            counts = places.setdefault(loc.store, [0, 0])
            counts[0] += 1
            counts[1] += bool(loc.occupants)
    fill = {
        s: {"places": n, "occupied": used, "fill": round(used / n, 4) if n else 0.0}
        for s, (n, used) in places.items()
    }
    moves = [
        {"move": m.id, "unit": m.unit, "source": m.source, "target": m.target, "purpose": m.purpose,
         "state": str(m.state), "carrier": m.carrier}
        for m in yard.moves.values() if str(m.state) not in ("done", "cancelled")
    ]  # fmt: skip
    cooling = {
        c.id: min(h.placed_at for h in c.holds.values() if h.kind is HoldKind.COOLING)
        for c in yard.coils.values()
        if any(h.kind is HoldKind.COOLING for h in c.holds.values())
    }
    late = [(s.id, s.window[1]) for s in yard.shipments.values() if s.window is not None and not s.complete]
    return StockView(occupied, reserved, fill, carriers, moves, cooling, waiting, late)


def _fleet_orders(app: Services) -> list[dict[str, Any]]:
    try:
        return [o for o in app.fleet.orders() if str(o.get("state")) not in OPEN_ORDER_STATES]
    except Exception:  # a fleet shell that is not up yet has no orders to show
        return []


def _order_deadlines(app: Services) -> dict[str, float]:
    """Deadlines of open transport orders: from the order rows, or from an in-process core's book."""
    out: dict[str, float] = {}
    core = getattr(app.fleet, "core", None)
    for row in _fleet_orders(app):
        due = row.get("deadline")
        if due is None and core is not None:
            with contextlib.suppress(Exception):
                due = core.book[row["order"]].spec.deadline
        if due is not None:
            out[str(row["order"])] = float(due)
    return out


def tracker_of(request: Request) -> YardTracker:
    found: YardTracker = request.app.state.tracker
    return found


# ------------------------------------------------------------------------------------------ routes


@router.get("/plan", summary="The plant as geometry (metres) for the live view")
async def plan(request: Request, _: Caller) -> dict[str, Any]:
    state = request.app.state
    cached: dict[str, Any] | None = getattr(state, "terminal_plan", None)
    if cached is None:
        cached = plan_of(state.services.plant)
        state.terminal_plan = cached
    return cached


@router.get("/yard", summary="What is where now: vehicles, cranes, occupancy, fill, open orders, alerts")
async def yard_snapshot(request: Request, app: App, _: Caller) -> dict[str, Any]:
    stock = await app.read(stock_view)
    tracker = tracker_of(request)
    try:
        fleet_rows = app.fleet.vehicles()
    except Exception:
        fleet_rows = []
    monitor: alerts.AlertMonitor = request.app.state.alerts
    return {
        "at": time.time(),
        "vehicles": tracker.vehicle_rows(fleet_rows, stock.carriers),
        "cranes": tracker.crane_rows(stock.carriers),
        "occupied": stock.occupied,
        "reserved": stock.reserved,
        "stores": stock.fill,
        "orders": _fleet_orders(app),
        "moves": stock.moves,
        "alerts": [a.public() for a in monitor.select("active", 200)],
    }


class ScanOut(BaseModel):
    code: str
    kind: str = Field(description="coil, tag (an RFID tag bound to a coil), location, or unknown")
    coil: str | None = None
    location: str | None = None
    detail: str


@router.get("/scan/{code}", summary="What a scanned code names: a coil, an RFID tag of a coil, or a location")
async def scan(code: PathId, app: App, _: Caller) -> ScanOut:
    def query(yard: Yard) -> tuple[str | None, str | None]:
        coil = yard.coils.get(code)
        if coil is not None:
            return coil.id, coil.location
        return None, code if code in yard.locations else None

    coil, location = await app.read(query)
    if coil is not None:
        return ScanOut(
            code=code, kind="coil", coil=coil, location=location, detail=f"coil {coil} at {location}"
        )
    if location is not None:
        return ScanOut(code=code, kind="location", location=location, detail=f"location {location}")
    bound = await asyncio.to_thread(labels.lookup_tag, app.engine, code)
    if bound is not None:
        where = await app.read(
            lambda yard: yard.coils[bound.coil].location if bound.coil in yard.coils else None
        )
        return ScanOut(code=code, kind="tag", coil=bound.coil, location=where,
                       detail=f"RFID tag {code} of coil {bound.coil}")  # fmt: skip
    return ScanOut(code=code, kind="unknown", detail=f"'{code}' is no known coil, RFID tag or location")


class VehicleReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: str | None = Field(None, pattern=ID_PATTERN)
    x: float | None = Field(None, ge=-1e5, le=1e5)
    y: float | None = Field(None, ge=-1e5, le=1e5)
    heading: float | None = Field(None, ge=-360, le=360, description="degrees")
    state: str | None = Field(None, pattern="^(idle|moving|loading|charging|error|unavailable)$")
    energy_kwh: float | None = Field(None, ge=0, le=1e5)
    load: str | None = Field(None, pattern=ID_PATTERN)
    error: str | None = Field(None, max_length=500, pattern=r"^[^\x00-\x1f]*$")


class CraneReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    along: float | None = Field(None, ge=0, le=1e4, description="m along the runway or aisle")
    state: str | None = Field(None, pattern="^(idle|moving|loading|error|unavailable)$")
    load: str | None = Field(None, pattern=ID_PATTERN)


class ReportOut(BaseModel):
    published: bool


@router.post(
    "/vehicles/{vehicle}/report", summary="Report a vehicle's position or state (published live)",
    **allow(*REPORTERS),
)  # fmt: skip
async def report_vehicle(vehicle: PathId, body: VehicleReportIn, app: App, _: Caller) -> ReportOut:
    if vehicle not in app.plant.vehicles:
        raise UnknownVehicle(vehicle)
    if (body.x is None) != (body.y is None):
        raise InvalidInput("x and y come together: report both or neither")
    fields = body.model_dump(exclude_none=True)
    app.hub.publish({"type": "vehicle", "vehicle": vehicle, **fields, "at": time.time()})
    return ReportOut(published=True)


@router.post(
    "/cranes/{crane}/report", summary="Report a crane's position or state (published live)",
    **allow(*REPORTERS),
)  # fmt: skip
async def report_crane(crane: PathId, body: CraneReportIn, app: App, _: Caller) -> ReportOut:
    if crane not in crane_tracks(app.plant):
        raise UnknownVehicle(crane)
    fields = body.model_dump(exclude_none=True)
    app.hub.publish({"type": "crane", "crane": crane, **fields, "at": time.time()})
    return ReportOut(published=True)


@pages.get("/terminal")
async def handheld_page() -> RedirectResponse:
    return RedirectResponse("/ui/handheld.html")


@pages.get("/live")
async def live_page() -> RedirectResponse:
    return RedirectResponse("/ui/live.html")


# ------------------------------------------------------------------------------------------ wiring


async def gather(app: Services, tracker: YardTracker) -> alerts.Observation:
    """What the alert rules look at, now."""
    stock = await app.read(stock_view)
    try:
        fleet_rows = app.fleet.vehicles()
    except Exception:
        fleet_rows = []
    vehicles = tuple(
        alerts.VehicleSeen(v["id"], v["state"], v.get("error"), v.get("battery"))
        for v in tracker.vehicle_rows(fleet_rows, stock.carriers)
    )
    late = [alerts.LateOrder(order, due, "transport order") for order, due in _order_deadlines(app).items()]
    late += [alerts.LateOrder(s, due, "shipment") for s, due in stock.late_shipments]
    return alerts.Observation(
        fill={s: f["fill"] for s, f in stock.fill.items()}, cooling=stock.cooling, vehicles=vehicles,
        waiting=stock.waiting, late=tuple(late),
    )  # fmt: skip


async def _follow(app: Services, tracker: YardTracker, poke: Callable[[], None]) -> None:
    """Feed live events to the tracker; anything but an alert's own event makes the rules look again."""
    async with app.hub.subscription() as queue:
        while True:
            event = await queue.get()
            tracker.apply(event)
            if event.get("type") != "alert":
                poke()


FLEET_POLL_S = 0.5
WATCHED = ("position", "state", "load", "energy_kwh")


async def _watch_fleet(app: Services, tracker: YardTracker) -> None:
    """Publish a ``vehicle`` event whenever the fleet shell's view of a vehicle changes (node, state, load,
    energy), so the live view follows vehicles driven by the fleet core without a separate position feed."""
    last: dict[str, tuple[Any, ...]] = {}
    first = True
    while True:
        try:
            rows = app.fleet.vehicles()
        except Exception:  # a fleet shell that is not up yet: look again next round
            rows = []
        for row in rows:
            vid = str(row.get("vehicle"))
            seen = tuple(row.get(k) for k in WATCHED)
            if last.get(vid) == seen:
                continue
            last[vid] = seen
            if first:
                continue  # the starting state is in every snapshot already
            event: dict[str, Any] = {"type": "vehicle", "vehicle": vid, "source": "fleet", "at": time.time()}
            event["load"] = row.get("load")  # None too: an unloaded vehicle must stop showing its old load
            event.update({k: row[k] for k in ("state", "energy_kwh") if row.get(k) is not None})
            position = row.get("position")
            point = tracker.point_of(str(position)) if position else None
            if point is not None:
                event.update(node=position, x=round(point[0], 3), y=round(point[1], 3))
            app.hub.publish(event)
        first = False
        await asyncio.sleep(FLEET_POLL_S)


def install(app: FastAPI) -> None:
    """Routers, pages, tables, tracker and alert monitor (one line in the app factory)."""
    services: Services = app.state.services
    tracker = YardTracker(services.plant)
    monitor = alerts.AlertMonitor.from_environment(services.engine, services.hub)
    app.state.tracker = tracker
    app.state.alerts = monitor
    for area in (router, alerts.router, labels.router, pages):
        app.include_router(area)
    app.mount("/ui", StaticFiles(directory=WEB_DIR, html=True), name="ui")
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            follower = asyncio.create_task(_follow(services, tracker, monitor.poke))
            watcher = asyncio.create_task(_watch_fleet(services, tracker))
            await monitor.start(lambda: gather(services, tracker))
            monitor.poke()
            try:
                yield state
            finally:
                await monitor.stop()
                for task in (follower, watcher):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
