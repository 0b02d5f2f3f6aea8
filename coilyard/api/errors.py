"""Every refusal is JSON `{"error": type, "detail": words, "field"?: where}` with a 4xx status.

Domain errors say what is wrong in words a person can act on (wms/domain/errors.py); here they only get a
status: unknown things 404, a conflict with the current state 409, input the domain rejects 422. Request
validation names the field. Only a bug reaches the catch-all (logged, 500).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from coilyard.api.security import AuthError, UnknownUser, UserConflict
from fleet.domain import orders as fleet_orders
from fleet.domain.vehicles import FleetError
from wms.domain import errors as wms

log = logging.getLogger(__name__)


class NotFound(Exception):  # a marker, not an error of its own
    """Mixed into errors of the service's own areas that name something unknown: 404."""


class UnknownVehicle(NotFound, FleetError):
    def __init__(self, vehicle: str) -> None:
        super().__init__(f"unknown vehicle '{vehicle}'")
        self.vehicle = vehicle


class ErrorBody(BaseModel):
    error: str = Field(description="What kind of refusal: the domain error's name, 'validation', 'http'...")
    detail: str = Field(description="What is wrong, in words.")
    field: str | None = Field(None, description="The request field at fault, e.g. 'body.width'.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "Not logged in, or the token expired."),
        (403, "The user's role may not do this."),
        (404, "An ID names nothing known."),
        (409, "Refused by the current state (rules, reservations, holds, locks, idempotency key reuse)."),
        (422, "The request is malformed or out of range; `field` says where."),
    )
}

_NOT_FOUND = (
    wms.UnknownCoil, wms.UnknownUnit, wms.UnknownLocation, wms.UnknownStore, wms.UnknownMove,
    fleet_orders.UnknownOrder, fleet_orders.UnknownNode, fleet_orders.UnknownVehicleClass,
    fleet_orders.UnknownDependency, NotFound,
)  # fmt: skip
_FIELDS = {
    "coil": "coil", "unit": "unit", "location": "location", "store": "store", "move": "move",
    "order": "order", "node": "node", "vehicle_class": "vehicle_class", "vehicle": "vehicle",
}  # fmt: skip


def status_of(error: Exception) -> int:
    if isinstance(error, _NOT_FOUND):
        return 404
    if isinstance(error, wms.InvalidInput | fleet_orders.InvalidOrder | fleet_orders.DependencyCycle):
        return 422
    return 409


def body(error: str, detail: str, field: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"error": error, "detail": detail}
    if field is not None:
        out["field"] = field
    return out


def domain_response(error: Exception) -> JSONResponse:
    field = next((name for attr, name in _FIELDS.items() if hasattr(error, attr)), None)
    if isinstance(error, wms.InvalidInput) and "idempotency key" in str(error):
        return JSONResponse(body("IdempotencyKeyReused", str(error), "header.idempotency-key"), 409)
    return JSONResponse(body(type(error).__name__, str(error), field), status_of(error))


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    parts = []
    for problem in problems:
        where = ".".join(str(p) for p in problem.get("loc", ()))
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    first = problems[0].get("loc", ()) if problems else ()
    field = ".".join(str(p) for p in first) or None
    return JSONResponse(
        jsonable_encoder(body("validation", "; ".join(parts) or "invalid request", field)), 422
    )


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    name = {401: "unauthorised", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return JSONResponse(
        body(name.get(exc.status_code, "http"), str(exc.detail)), exc.status_code, headers=exc.headers
    )


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    return domain_response(exc)


async def _auth(_: Request, exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, UnknownUser) else 409 if isinstance(exc, UserConflict) else 401
    return JSONResponse(body(type(exc).__name__, str(exc), "name" if status != 401 else None), status)


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", exc)
    return JSONResponse(body("unavailable", "the database is not reachable; try again"), 503)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(body("internal", "an unexpected error; it was logged"), 500)


def install(app: FastAPI) -> None:
    """The handlers are async on purpose: Starlette runs a plain `def` handler in a worker thread."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(wms.WmsError, _domain)
    app.add_exception_handler(FleetError, _domain)
    app.add_exception_handler(AuthError, _auth)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(Exception, _bug)
