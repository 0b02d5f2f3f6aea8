"""Operations: liveness, readiness (database reachable, schema current, writer running), Prometheus, SSE."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from adapters.sql import current_revision, head_revision
from coilyard.api.deps import App, Caller

router = APIRouter(tags=["ops"])
HEARTBEAT_S = 15.0


class Health(BaseModel):
    status: str
    uptime_s: float


class Readiness(BaseModel):
    ready: bool
    database: str
    schema_revision: str | None
    schema_head: str | None
    ledger_version: int


@router.get("/health", summary="Liveness: the process answers")
async def health(app: App) -> Health:
    return Health(status="ok", uptime_s=round(time.time() - app.started_at, 3))


@router.get(
    "/ready",
    summary="Readiness: database reachable and migrated",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
)
async def ready(app: App) -> JSONResponse:
    def check() -> tuple[str, str | None]:
        try:
            with app.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return "ok", current_revision(app.engine)
        except Exception as error:  # any failure means "not ready", said plainly
            return f"unreachable: {type(error).__name__}", None

    database, revision = await asyncio.to_thread(check)
    head = head_revision()
    answer = Readiness(
        ready=database == "ok" and revision == head, database=database, schema_revision=revision,
        schema_head=head, ledger_version=app.writer.stats.version,
    )  # fmt: skip
    return JSONResponse(answer.model_dump(), status_code=200 if answer.ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})  # fmt: skip
async def metrics(app: App) -> Response:
    for phase, seconds in app.writer.stats.seconds.items():
        app.metrics.writer_seconds.labels(phase).set(seconds)
    return Response(generate_latest(app.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/events",
    summary="Live updates as Server-Sent Events (ledger entries, fleet changes, simulation runs)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "one `data:` JSON object per event"}
    },
)
async def events(
    request: Request,
    app: App,
    _: Caller,
    max_events: Annotated[int | None, Query(ge=1, le=1_000_000, description="Close after this many.")] = None,
    types: Annotated[
        str | None, Query(pattern=r"^[a-z]+(,[a-z]+)*$", description="e.g. ledger,fleet")
    ] = None,
) -> StreamingResponse:
    wanted = set(types.split(",")) if types else None

    async def stream() -> AsyncIterator[str]:
        sent = 0
        async with app.hub.subscription() as queue:
            app.metrics.sse_clients.inc()
            try:
                yield ": connected\n\n"
                while max_events is None or sent < max_events:
                    try:
                        event = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": heartbeat\n\n"
                        continue
                    if wanted is not None and event.get("type") not in wanted:
                        continue
                    sent += 1
                    yield f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, default=str)}\n\n"
            finally:
                app.metrics.sse_clients.dec()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
