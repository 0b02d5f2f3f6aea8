"""WMS routes: coils, locations, putaway proposals, moves, holds, counts, retrievals, shipments, history.

Thin: parse the body (bounded pydantic models), build the command with the caller as actor and the scoped
idempotency key, hand it to the writer, shape the reply. Reads run on the writer's committed yard.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coilyard.api.deps import ID_PATTERN, Act, App, Caller, Mutation, allow, note_version
from coilyard.api.errors import ERROR_RESPONSES
from coilyard.api.security import Role
from wms.domain.genealogy import ancestors, descendants
from wms.domain.units import Coil, HoldKind, Packaging, UnitStatus
from wms.domain.yard import Yard
from wms.service_layer import commands as cmd
from wms.service_layer.handlers import Result
from wms.service_layer.views import history, where

router = APIRouter(prefix="/api/wms", tags=["wms"], responses=ERROR_RESPONSES)

STOCK = (Role.OPERATOR, Role.SUPERVISOR, Role.VEHICLE, Role.INTEGRATION)
MOVERS = (Role.OPERATOR, Role.SUPERVISOR, Role.VEHICLE)
PLANNING = (Role.PLANNER, Role.SUPERVISOR, Role.INTEGRATION)
SUPERVISION = (Role.SUPERVISOR,)


def _plain_text(value: str) -> str:
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF or ord(ch) == 0x7F for ch in value):
        raise ValueError("control characters are not allowed")
    return value


Id = Annotated[str, Field(pattern=ID_PATTERN, description="An ID: letters, digits and _.:/@+- (max 100).")]
Text = Annotated[str, Field(max_length=500), AfterValidator(_plain_text)]
PathId = Annotated[str, Path(pattern=ID_PATTERN)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------- bodies


class ReceiveCoilIn(Body):
    coil: Id
    location: Id = Field(pattern=ID_PATTERN, description="Where it arrives (a handover node).")
    alloy: Id
    temper: Annotated[str, Field(pattern=ID_PATTERN)] = "O"
    width: float = Field(gt=0, le=10, description="m")
    gauge: float = Field(gt=0, le=500, description="mm")
    outer_diameter: float = Field(gt=0, le=10, description="m")
    inner_diameter: float = Field(gt=0, le=10, description="m")
    weight: float = Field(gt=0, le=200, description="t")
    temperature: float = Field(25.0, ge=-50, le=900, description="°C when received")
    packaging: Packaging = Packaging.BARE
    lot: Text = ""
    heat: Text = ""
    customer: Text = ""
    order: Text = ""
    due: float | None = Field(None, ge=0, le=1e12, description="epoch s")
    turnover: str = Field("C", pattern="^[ABC]$")
    parents: list[Id] = Field(default_factory=list, max_length=50)


class PutawayIn(Body):
    coil: Id
    store: Id


class PlanMoveIn(Body):
    unit: Id
    target: Id
    purpose: str = Field("transfer", pattern="^(putaway|retrieval|relocation|transfer)$")
    order: Id | None = None
    reason: Text = ""


class MoveNowIn(Body):
    unit: Id
    target: Id
    carrier: Id = Field(pattern=ID_PATTERN, description="The vehicle or crane that did it.")
    reason: Text = ""


class StartMoveIn(Body):
    carrier: Id


class LegIn(Body):
    location: Id


class CancelMoveIn(Body):
    reason: Text = Field(min_length=1)
    set_down_at: Id | None = None


class HoldIn(Body):
    kind: HoldKind
    reason: Text = Field(min_length=1)


class ReleaseIn(Body):
    reason: Text = ""


class TemperatureIn(Body):
    temperature: float = Field(ge=-50, le=900, description="°C measured now")


class ReserveIn(Body):
    order: Id


class CountIn(Body):
    observed: list[Id] = Field(default_factory=list, max_length=100)


class LockIn(Body):
    direction: str = Field(pattern="^(in|out|both)$")
    reason: Text = Field(min_length=1)


class UnlockIn(Body):
    direction: str = Field(pattern="^(in|out|both)$")


class RetrievalIn(Body):
    coils: list[Id] = Field(min_length=1, max_length=100)
    destination: Id
    order: Id | None = None


class ShipmentIn(Body):
    shipment: Id
    coils: list[Id] = Field(min_length=1, max_length=200)
    payload: float = Field(gt=0, le=1000, description="t per truck")
    dock: Id
    window: tuple[float, float] | None = None


class LoadingIn(Body):
    coil: Id


class ConsumeIn(Body):
    station: Id


# --------------------------------------------------------------------------------------------- replies


class Reply(BaseModel):
    version: int = Field(description="The ledger version after the commit that applied the command.")
    replayed: bool = Field(
        description="True when this is the stored reply to an earlier request with this key."
    )


class MoveOut(Reply):
    move: str
    unit: str
    source: str
    target: str
    state: str
    score: dict[str, float]


class ReceivedOut(Reply):
    coil: str
    location: str
    holds: list[str]


class HoldOut(Reply):
    unit: str
    hold: str
    kind: str


class ResultOut(Reply):
    """Commands whose reply is a small record (see the command's description)."""

    result: dict[str, Any]


class CoilSummary(BaseModel):
    coil: str
    location: str
    status: str
    alloy: str
    weight_t: float
    holds: list[str]
    reserved_for: str | None
    move: str | None


class Page(BaseModel):
    total: int
    offset: int


class CoilPage(Page):
    items: list[CoilSummary]


class WhereOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    unit: str
    kind: str
    location: str
    status: str
    move: str | None
    reserved_for: str | None
    holds: list[str]
    blocked_by: list[str]
    temperature_c: float | None = None
    weight_t: float | None = None


class HistoryRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    seq: int
    at: float
    actor: str
    what: str
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    why: str


class GenealogyOut(BaseModel):
    coil: str
    parents: list[str]
    ancestors: list[str]
    descendants: list[str]


class LocationOut(BaseModel):
    location: str
    kind: str
    store: str | None
    capacity: int | None
    occupants: list[str]
    reserved_by: str | None
    locked_in: str | None
    locked_out: str | None


class LocationPage(Page):
    items: list[LocationOut]


class MoveRecord(BaseModel):
    move: str
    unit: str
    source: str
    target: str
    purpose: str
    state: str
    carrier: str | None


class MovePage(Page):
    items: list[MoveRecord]


class DiscrepancyOut(BaseModel):
    location: str
    expected: list[str]
    observed: list[str]
    at: float
    actor: str


class LedgerRow(BaseModel):
    seq: int
    kind: str
    at: float
    actor: str


class StatsOut(BaseModel):
    version: int
    coils_in_stock: int
    coils_in_transit: int
    moves_open: int
    locations: int


# --------------------------------------------------------------------------------------------- helpers


async def _apply(act: Mutation, command: cmd.Command) -> tuple[Result, dict[str, Any]]:
    app = act.app
    try:
        outcome = await app.run(command)
    except Exception:
        app.metrics.commands.labels(type(command).__name__, "refused").inc()
        raise
    app.metrics.commands.labels(type(command).__name__, "replayed" if outcome.replayed else "applied").inc()
    app.metrics.ledger_version.set(outcome.version)
    note_version(act.request, outcome)
    return outcome.result, {"version": outcome.version, "replayed": outcome.replayed}


async def _move(act: Mutation, command: cmd.Command) -> MoveOut:
    result, meta = await _apply(act, command)
    return MoveOut(**result, **meta)


async def _record(act: Mutation, command: cmd.Command) -> ResultOut:
    result, meta = await _apply(act, command)
    return ResultOut(result=result, **meta)


def _summary(coil: Coil) -> CoilSummary:
    return CoilSummary(
        coil=coil.id, location=coil.location, status=str(coil.status), alloy=coil.spec.alloy,
        weight_t=coil.spec.weight, holds=sorted(coil.holds), reserved_for=coil.reserved_for, move=coil.move,
    )  # fmt: skip


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]

# --------------------------------------------------------------------------------------------- coils


@router.get("/coils", summary="List coils")
async def list_coils(
    app: App,
    _: Caller,
    location: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status: UnitStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> CoilPage:
    def query(yard: Yard) -> CoilPage:
        coils = [
            c for c in yard.coils.values()
            if (location is None or c.location == location) and (status is None or c.status == status)
        ]  # fmt: skip
        return CoilPage(
            total=len(coils), offset=offset, items=[_summary(c) for c in coils[offset : offset + limit]]
        )

    return await app.read(query)


@router.post("/coils", status_code=201, summary="Receive a coil at a handover", **allow(*STOCK))
async def receive_coil(body: ReceiveCoilIn, act: Act) -> ReceivedOut:
    fields = body.model_dump()
    fields["parents"] = tuple(fields["parents"])
    result, meta = await _apply(act, cmd.ReceiveCoil(**fields, **act.stamp))
    return ReceivedOut(**result, **meta)


@router.get("/coils/{coil}", summary="Where a coil is, its holds and blockers")
async def get_coil(coil: PathId, app: App, _: Caller) -> WhereOut:
    answer = await app.read(lambda yard: where(yard, coil, time.time()))
    return WhereOut(**answer)


@router.get(
    "/coils/{coil}/history", summary="Every ledger entry about a unit: who, when, what, from, to, why"
)
async def coil_history(coil: PathId, app: App, _: Caller) -> list[HistoryRow]:
    rows = await app.read(lambda yard: history(yard, coil))
    return [HistoryRow.model_validate(r) for r in rows]


@router.get("/coils/{coil}/genealogy", summary="Parents, ancestors and descendants of a coil")
async def coil_genealogy(coil: PathId, app: App, _: Caller) -> GenealogyOut:
    def query(yard: Yard) -> GenealogyOut:
        found = yard.coil(coil)
        return GenealogyOut(
            coil=coil, parents=list(found.spec.parents), ancestors=ancestors(yard, coil),
            descendants=descendants(yard, coil),
        )  # fmt: skip

    return await app.read(query)


@router.post(
    "/coils/{coil}/holds", status_code=201, summary="Place a hold", **allow(Role.OPERATOR, *SUPERVISION)
)
async def place_hold(coil: PathId, body: HoldIn, act: Act) -> HoldOut:
    result, meta = await _apply(act, cmd.Hold(unit=coil, kind=body.kind, reason=body.reason, **act.stamp))
    return HoldOut(**result, **meta)


@router.post("/coils/{coil}/holds/{hold}/release", summary="Release a hold", **allow(*SUPERVISION))
async def release_hold(coil: PathId, hold: PathId, body: ReleaseIn, act: Act) -> ResultOut:
    return await _record(act, cmd.Release(unit=coil, hold=hold, reason=body.reason, **act.stamp))


@router.post("/coils/{coil}/temperature", summary="Record a measured temperature", **allow(*STOCK))
async def measure(coil: PathId, body: TemperatureIn, act: Act) -> ResultOut:
    return await _record(act, cmd.MeasureTemperature(coil=coil, temperature=body.temperature, **act.stamp))


@router.post("/coils/{coil}/reservation", summary="Reserve a unit for an order", **allow(*PLANNING))
async def reserve(coil: PathId, body: ReserveIn, act: Act) -> ResultOut:
    return await _record(act, cmd.Reserve(unit=coil, order=body.order, **act.stamp))


@router.post("/coils/{coil}/reservation/release", summary="Release a unit's reservation", **allow(*PLANNING))
async def unreserve(coil: PathId, body: ReleaseIn, act: Act) -> ResultOut:
    return await _record(act, cmd.ReleaseReservation(unit=coil, reason=body.reason, **act.stamp))


@router.post("/coils/{coil}/consume", summary="A coil went into a process at a station", **allow(*STOCK))
async def consume(coil: PathId, body: ConsumeIn, act: Act) -> ResultOut:
    return await _record(act, cmd.Consume(coil=coil, station=body.station, **act.stamp))


# --------------------------------------------------------------------------------------------- locations


def _location(loc: Any) -> LocationOut:
    return LocationOut(
        location=loc.id, kind=str(loc.kind), store=loc.store, capacity=loc.capacity, occupants=list(loc.occupants),
        reserved_by=loc.reserved_by, locked_in=loc.locked_in, locked_out=loc.locked_out,
    )  # fmt: skip


@router.get("/locations", summary="List locations")
async def list_locations(
    app: App,
    _: Caller,
    store: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    occupied: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> LocationPage:
    def query(yard: Yard) -> LocationPage:
        found = [
            loc for loc in yard.locations.values()
            if (store is None or loc.store == store) and (occupied is None or bool(loc.occupants) == occupied)
        ]  # fmt: skip
        return LocationPage(
            total=len(found), offset=offset, items=[_location(x) for x in found[offset : offset + limit]]
        )

    return await app.read(query)


@router.get("/locations/{location}", summary="One location: occupants, reservation, locks")
async def get_location(location: PathId, app: App, _: Caller) -> LocationOut:
    return await app.read(lambda yard: _location(yard.location(location)))


@router.post(
    "/locations/{location}/lock",
    summary="Lock a location for putting in and/or taking out",
    **allow(*SUPERVISION),
)
async def lock(location: PathId, body: LockIn, act: Act) -> ResultOut:
    return await _record(
        act,
        cmd.Lock(location=location, direction=body.direction, reason=body.reason, **act.stamp),
    )


@router.post("/locations/{location}/unlock", summary="Lift a lock", **allow(*SUPERVISION))
async def unlock(location: PathId, body: UnlockIn, act: Act) -> ResultOut:
    return await _record(act, cmd.Unlock(location=location, direction=body.direction, **act.stamp))


@router.post(
    "/locations/{location}/counts",
    status_code=201,
    summary="Record a cycle count",
    **allow(Role.OPERATOR, *SUPERVISION),
)
async def count(location: PathId, body: CountIn, act: Act) -> ResultOut:
    return await _record(act, cmd.Count(location=location, observed=tuple(body.observed), **act.stamp))


@router.get("/counts/discrepancies", summary="Counts whose observation differed from the books")
async def discrepancies(app: App, _: Caller) -> list[DiscrepancyOut]:
    def query(yard: Yard) -> list[DiscrepancyOut]:
        return [
            DiscrepancyOut(
                location=d.location,
                expected=list(d.expected),
                observed=list(d.observed),
                at=d.at,
                actor=d.actor,
            )
            for d in yard.discrepancies
        ]

    return await app.read(query)


# --------------------------------------------------------------------------------------------- moves


@router.post(
    "/putaway",
    status_code=201,
    summary="Propose the best legal place in a store and reserve it",
    **allow(*STOCK, Role.PLANNER),
)
async def propose_putaway(body: PutawayIn, act: Act) -> MoveOut:
    return await _move(act, cmd.ProposePutaway(coil=body.coil, store=body.store, **act.stamp))


@router.get("/moves", summary="List moves")
async def list_moves(
    app: App,
    _: Caller,
    state: Annotated[str | None, Query(pattern="^(planned|active|staged|done|cancelled)$")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> MovePage:
    def query(yard: Yard) -> MovePage:
        found = [m for m in yard.moves.values() if state is None or str(m.state) == state]
        items = [
            MoveRecord(
                move=m.id,
                unit=m.unit,
                source=m.source,
                target=m.target,
                purpose=m.purpose,
                state=str(m.state),
                carrier=m.carrier,
            )
            for m in found[offset : offset + limit]
        ]
        return MovePage(total=len(found), offset=offset, items=items)

    return await app.read(query)


@router.post(
    "/moves", status_code=201, summary="Plan a move (reserves the target)", **allow(*MOVERS, Role.PLANNER)
)
async def plan_move(body: PlanMoveIn, act: Act) -> MoveOut:
    command = cmd.PlanMove(
        unit=body.unit,
        target=body.target,
        purpose=body.purpose,
        order=body.order,
        reason=body.reason,
        **act.stamp,
    )
    return await _move(act, command)


@router.post(
    "/moves/direct",
    status_code=201,
    summary="Report a move done by hand: plan, lift and set down at once",
    **allow(*MOVERS),
)
async def move_now(body: MoveNowIn, act: Act) -> MoveOut:
    command = cmd.MoveNow(
        unit=body.unit, target=body.target, carrier=body.carrier, reason=body.reason, **act.stamp
    )
    return await _move(act, command)


@router.get("/moves/{move}", summary="One move")
async def get_move(move: PathId, app: App, _: Caller) -> MoveRecord:
    def query(yard: Yard) -> MoveRecord:
        m = yard.move(move)
        return MoveRecord(
            move=m.id,
            unit=m.unit,
            source=m.source,
            target=m.target,
            purpose=m.purpose,
            state=str(m.state),
            carrier=m.carrier,
        )

    return await app.read(query)


@router.post("/moves/{move}/start", summary="A carrier lifted the unit", **allow(*MOVERS))
async def start_move(move: PathId, body: StartMoveIn, act: Act) -> MoveOut:
    return await _move(act, cmd.StartMove(move=move, carrier=body.carrier, **act.stamp))


@router.post(
    "/moves/{move}/legs", summary="The unit was set down at an intermediate handover", **allow(*MOVERS)
)
async def complete_leg(move: PathId, body: LegIn, act: Act) -> MoveOut:
    return await _move(act, cmd.CompleteLeg(move=move, location=body.location, **act.stamp))


@router.post("/moves/{move}/complete", summary="The unit was set down at its target", **allow(*MOVERS))
async def complete_move(move: PathId, act: Act) -> MoveOut:
    return await _move(act, cmd.CompleteMove(move=move, **act.stamp))


@router.post("/moves/{move}/cancel", summary="Cancel a move", **allow(*MOVERS))
async def cancel_move(move: PathId, body: CancelMoveIn, act: Act) -> MoveOut:
    command = cmd.CancelMove(move=move, reason=body.reason, set_down_at=body.set_down_at, **act.stamp)
    return await _move(act, command)


@router.post(
    "/retrievals",
    status_code=201,
    summary="Plan retrievals (with relocations) of coils to a destination",
    **allow(*PLANNING),
)
async def plan_retrieval(body: RetrievalIn, act: Act) -> ResultOut:
    command = cmd.PlanRetrieval(
        coils=tuple(body.coils), destination=body.destination, order=body.order, **act.stamp
    )
    return await _record(act, command)


# --------------------------------------------------------------------------------------------- shipments


@router.post("/shipments", status_code=201, summary="Group coils into truckloads", **allow(*PLANNING))
async def plan_shipment(body: ShipmentIn, act: Act) -> ResultOut:
    command = cmd.PlanShipment(
        shipment=body.shipment,
        coils=tuple(body.coils),
        payload=body.payload,
        dock=body.dock,
        window=body.window,
        **act.stamp,
    )
    return await _record(act, command)


@router.post(
    "/shipments/{shipment}/loadings", summary="Confirm a coil loaded (scan at the truck)", **allow(*MOVERS)
)
async def confirm_loading(shipment: PathId, body: LoadingIn, act: Act) -> ResultOut:
    return await _record(act, cmd.ConfirmLoading(shipment=shipment, coil=body.coil, **act.stamp))


# --------------------------------------------------------------------------------------------- ledger


@router.get("/ledger", summary="The ledger, in order, from `after` (for audits and followers)")
async def ledger(app: App, _: Caller, after: Offset = 0, limit: Limit = 1000) -> list[LedgerRow]:
    def query(yard: Yard) -> list[LedgerRow]:
        return [
            LedgerRow(seq=e.seq, kind=e.kind, at=e.event.at, actor=e.event.actor)
            for e in yard.ledger[after : after + limit]
        ]

    return await app.read(query)


@router.get("/stats", summary="Counts of the yard's state")
async def stats(app: App, _: Caller) -> StatsOut:
    def query(yard: Yard) -> StatsOut:
        coils = list(yard.coils.values())
        return StatsOut(
            version=len(yard.ledger),
            coils_in_stock=sum(c.status is UnitStatus.IN_STOCK for c in coils),
            coils_in_transit=sum(c.status is UnitStatus.IN_TRANSIT for c in coils),
            moves_open=sum(str(m.state) not in ("done", "cancelled") for m in yard.moves.values()),
            locations=len(yard.locations),
        )

    return await app.read(query)
