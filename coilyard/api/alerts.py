"""Alerts: configurable rules over the yard, the fleet and the live events; open -> acknowledged -> closed.

Rules (`Rule`, defaults in `DEFAULT_RULES`, or a YAML file named by ``COILYARD_ALERT_RULES``, or
``PUT /api/alerts/rules``) are evaluated by `evaluate`, a pure function of an `Observation` (store fill,
cooling holds, vehicles, units waiting at handovers, late orders) and the time. Each true condition has a
key (rule, subject); `AlertBook.apply` raises an alert for a key that has no unclosed alert, and marks an
alert *cleared* when its condition no longer holds. People then acknowledge it (operator or supervisor) and
close it (supervisor; only once acknowledged and cleared), each step stamped with who and when. Every
change is written to the ``alerts`` table and published as a live event ``{"type": "alert", ...}``.

`AlertMonitor` runs the loop: it re-evaluates after live events (debounced) and every `interval_s`.
One monitor per database: replicas behind a load balancer should run it in one of them only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import yaml
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine

from adapters.sql import terminal_tables
from coilyard.api.deps import ID_PATTERN, Caller, allow
from coilyard.api.errors import ERROR_RESPONSES
from coilyard.api.events import EventHub
from coilyard.api.security import Principal, Role
from wms.domain.errors import WmsError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/alerts", tags=["alerts"], responses=ERROR_RESPONSES)
RULES_ENV = "COILYARD_ALERT_RULES"
INTERVAL_ENV = "COILYARD_ALERT_INTERVAL_S"

# --------------------------------------------------------------------------------------------- rules


class RuleKind(StrEnum):
    STORE_FILL_ABOVE = "store_fill_above"  # threshold: fraction of a store's places occupied
    STORE_FILL_BELOW = "store_fill_below"  # threshold: fraction
    COOLING_OVERDUE = "cooling_overdue"  # threshold: hours a cooling hold may stay before it is overdue
    VEHICLE_ERROR = "vehicle_error"  # threshold unused
    LOW_BATTERY = "low_battery"  # threshold: fraction of battery capacity
    BLOCKED_ARRIVAL = "blocked_arrival"  # threshold: seconds a unit may wait at a handover with no move
    ORDER_LATE = "order_late"  # threshold: seconds of grace after the deadline


THRESHOLD_UNIT = {
    RuleKind.STORE_FILL_ABOVE: "fraction", RuleKind.STORE_FILL_BELOW: "fraction",
    RuleKind.COOLING_OVERDUE: "h", RuleKind.VEHICLE_ERROR: "-", RuleKind.LOW_BATTERY: "fraction",
    RuleKind.BLOCKED_ARRIVAL: "s", RuleKind.ORDER_LATE: "s",
}  # fmt: skip


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    kind: RuleKind
    threshold: float = Field(0.0, ge=0, le=1e9, description="Meaning per kind: see THRESHOLD_UNIT.")
    severity: Severity = Severity.WARNING
    stores: tuple[str, ...] = Field((), max_length=100, description="Fill rules: only these (empty: all).")
    enabled: bool = True

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule] = Field(max_length=200)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
        return rules


DEFAULT_RULES = RuleSet(
    rules=[
        Rule(id="store-full", kind=RuleKind.STORE_FILL_ABOVE, threshold=0.9),
        Rule(id="store-empty", kind=RuleKind.STORE_FILL_BELOW, threshold=0.05, severity=Severity.INFO,
             enabled=False),
        Rule(id="cooling-overdue", kind=RuleKind.COOLING_OVERDUE, threshold=48.0),
        Rule(id="vehicle-error", kind=RuleKind.VEHICLE_ERROR, severity=Severity.CRITICAL),
        Rule(id="low-battery", kind=RuleKind.LOW_BATTERY, threshold=0.2),
        Rule(id="blocked-arrival", kind=RuleKind.BLOCKED_ARRIVAL, threshold=900.0),
        Rule(id="order-late", kind=RuleKind.ORDER_LATE, threshold=0.0),
    ]
)  # fmt: skip


def load_rules(path: Path) -> RuleSet:
    """Rules from a YAML file ``rules: [{id, kind, threshold, severity, stores, enabled}, ...]``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"alert rules {path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ValueError(f"alert rules {path}: not YAML ({error})") from None
    try:
        return RuleSet.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ValueError(f"alert rules {path}: {problems}") from None


# ------------------------------------------------------------------------------------ observation


@dataclass(frozen=True)
class VehicleSeen:
    id: str
    state: str
    error: str | None = None
    battery: float | None = None  # fraction of capacity, when known


@dataclass(frozen=True)
class LateOrder:
    id: str
    due: float
    what: str  # "transport order", "shipment"


@dataclass(frozen=True)
class Observation:
    """What the rules look at, gathered in one go (see `gather`)."""

    fill: dict[str, float] = field(default_factory=dict)  # store -> occupied fraction
    cooling: dict[str, float] = field(default_factory=dict)  # coil -> when its cooling hold was placed
    vehicles: tuple[VehicleSeen, ...] = ()
    waiting: dict[str, str] = field(default_factory=dict)  # unit -> handover, units with no move there
    late: tuple[LateOrder, ...] = ()


@dataclass(frozen=True)
class Condition:
    rule: str
    kind: RuleKind
    subject: str
    severity: Severity
    message: str

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.subject


def evaluate(
    rules: Iterable[Rule], seen: Observation, now: float, waiting_since: dict[str, float]
) -> list[Condition]:
    """The conditions that hold now. `waiting_since` (unit -> first seen waiting) is the caller's memory."""
    out: list[Condition] = []
    for rule in rules:
        if not rule.enabled:
            continue

        def hit(subject: str, message: str, rule: Rule = rule) -> None:
            out.append(Condition(rule.id, rule.kind, subject, rule.severity, message))

        match rule.kind:
            case RuleKind.STORE_FILL_ABOVE | RuleKind.STORE_FILL_BELOW:
                above = rule.kind is RuleKind.STORE_FILL_ABOVE
                for store, fraction in sorted(seen.fill.items()):
                    if rule.stores and store not in rule.stores:
                        continue
                    if (fraction > rule.threshold) if above else (fraction < rule.threshold):
                        word = "above" if above else "below"
                        hit(store, f"store {store} is {fraction:.0%} full, {word} {rule.threshold:.0%}")
            case RuleKind.COOLING_OVERDUE:
                for coil, placed in sorted(seen.cooling.items()):
                    hours = (now - placed) / 3600
                    if hours > rule.threshold:
                        hit(
                            coil,
                            f"coil {coil} has been on cooling hold {hours:.1f} h (limit {rule.threshold:g} h)",
                        )
            case RuleKind.VEHICLE_ERROR:
                for v in seen.vehicles:
                    if v.state == "error":
                        hit(v.id, f"vehicle {v.id} reports an error" + (f": {v.error}" if v.error else ""))
            case RuleKind.LOW_BATTERY:
                for v in seen.vehicles:
                    if v.battery is not None and v.battery < rule.threshold:
                        hit(v.id, f"vehicle {v.id} battery at {v.battery:.0%} (below {rule.threshold:.0%})")
            case RuleKind.BLOCKED_ARRIVAL:
                for unit, where in sorted(seen.waiting.items()):
                    waited = now - waiting_since.get(unit, now)
                    if waited > rule.threshold:
                        hit(unit, f"{unit} has waited {waited / 60:.0f} min at {where} with no move planned")
            case RuleKind.ORDER_LATE:
                for order in seen.late:
                    if now > order.due + rule.threshold:
                        late_min = (now - order.due) / 60
                        hit(order.id, f"{order.what} {order.id} is {late_min:.0f} min past its deadline")
    return out


# ------------------------------------------------------------------------------------------ the book


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class AlertRefused(WmsError):
    """An acknowledge or close that the alert's state does not allow (409)."""


class UnknownAlert(LookupError):
    def __init__(self, alert: int) -> None:
        super().__init__(f"unknown alert {alert}")
        self.alert = alert


@dataclass(frozen=True)
class Alert:
    id: int
    rule: str
    kind: RuleKind
    subject: str
    severity: Severity
    message: str
    state: AlertState
    raised_at: float
    cleared_at: float | None = None  # the condition stopped holding (None: still holds)
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    acknowledged_note: str = ""
    closed_at: float | None = None
    closed_by: str | None = None
    closed_note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.subject

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "rule": self.rule, "kind": str(self.kind), "subject": self.subject,
            "severity": str(self.severity), "message": self.message, "state": str(self.state),
            "raised_at": self.raised_at, "cleared_at": self.cleared_at,
            "acknowledged_at": self.acknowledged_at, "acknowledged_by": self.acknowledged_by,
            "acknowledged_note": self.acknowledged_note, "closed_at": self.closed_at,
            "closed_by": self.closed_by, "closed_note": self.closed_note,
        }  # fmt: skip


class AlertBook:
    """Alerts in memory (no I/O): raise, clear, acknowledge, close. Returns what changed."""

    def __init__(self, alerts: Iterable[Alert] = (), next_id: int = 1) -> None:
        self.alerts: dict[int, Alert] = {a.id: a for a in alerts}
        self.next_id = max([next_id, *(a.id + 1 for a in self.alerts.values())])

    def unclosed(self) -> dict[tuple[str, str], Alert]:
        return {a.key: a for a in self.alerts.values() if a.state is not AlertState.CLOSED}

    def apply(self, conditions: Iterable[Condition], now: float) -> list[Alert]:
        changed: list[Alert] = []
        live = self.unclosed()
        holding = {c.key: c for c in conditions}
        for key, condition in holding.items():
            existing = live.get(key)
            if existing is None:
                alert = Alert(
                    id=self.next_id, rule=condition.rule, kind=condition.kind, subject=condition.subject,
                    severity=condition.severity, message=condition.message, state=AlertState.OPEN,
                    raised_at=now,
                )  # fmt: skip
                self.next_id += 1
            elif existing.cleared_at is not None:  # it came back before anyone closed it
                alert = replace(existing, cleared_at=None, message=condition.message)
            else:
                continue  # still holding: the message keeps the words of when it was raised
            self.alerts[alert.id] = alert
            changed.append(alert)
        for key, existing in live.items():
            if key not in holding and existing.cleared_at is None:
                alert = replace(existing, cleared_at=now)
                self.alerts[alert.id] = alert
                changed.append(alert)
        return changed

    def get(self, alert_id: int) -> Alert:
        try:
            return self.alerts[alert_id]
        except KeyError:
            raise UnknownAlert(alert_id) from None

    def acknowledge(self, alert_id: int, who: str, now: float, note: str = "") -> Alert:
        alert = self.get(alert_id)
        if alert.state is AlertState.CLOSED:
            raise AlertRefused(f"alert {alert_id} is closed already")
        if alert.state is AlertState.ACKNOWLEDGED:
            return alert  # a repeated acknowledge (a retry from a terminal) changes nothing
        alert = replace(
            alert,
            state=AlertState.ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=who,
            acknowledged_note=note,
        )
        self.alerts[alert_id] = alert
        return alert

    def close(self, alert_id: int, who: str, now: float, note: str = "") -> Alert:
        alert = self.get(alert_id)
        if alert.state is AlertState.CLOSED:
            return alert
        if alert.state is AlertState.OPEN:
            raise AlertRefused(f"alert {alert_id} is not acknowledged yet: acknowledge it first")
        if alert.cleared_at is None:
            raise AlertRefused(
                f"alert {alert_id} still holds ({alert.message}): it can be closed once cleared"
            )
        alert = replace(alert, state=AlertState.CLOSED, closed_at=now, closed_by=who, closed_note=note)
        self.alerts[alert_id] = alert
        return alert

    def counts(self, start: float, bucket_s: float, buckets: int) -> dict[str, Any]:
        """Alerts raised per bucket by severity, and how many were not yet closed at each bucket's end."""
        raised = {str(s): [0] * buckets for s in Severity}
        unclosed = [0] * buckets
        for alert in self.alerts.values():
            index = math.floor((alert.raised_at - start) / bucket_s)
            if 0 <= index < buckets:
                raised[str(alert.severity)][index] += 1
            for i in range(buckets):
                end = start + (i + 1) * bucket_s
                if alert.raised_at <= end and (alert.closed_at is None or alert.closed_at > end):
                    unclosed[i] += 1
        return {"start": start, "bucket_s": bucket_s, "raised": raised, "unclosed": unclosed}


# ------------------------------------------------------------------------------------------- storage

alerts_table = terminal_tables.alerts  # created by the alembic migration v0003
KEEP_CLOSED_S = 7 * 24 * 3600.0  # closed alerts older than this stay in the table but not in memory


def _row(alert: Alert) -> dict[str, Any]:
    row = alert.public()
    row["kind"], row["severity"], row["state"] = str(alert.kind), str(alert.severity), str(alert.state)
    return row


def load_book(engine: Engine, now: float) -> AlertBook:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(alerts_table).where(
                sa.or_(alerts_table.c.state != "closed", alerts_table.c.closed_at > now - KEEP_CLOSED_S)
            )
        ).all()
        top = connection.execute(sa.select(sa.func.max(alerts_table.c.id))).scalar()
    alerts = [
        Alert(
            id=r.id, rule=r.rule, kind=RuleKind(r.kind), subject=r.subject, severity=Severity(r.severity),
            message=r.message, state=AlertState(r.state), raised_at=r.raised_at, cleared_at=r.cleared_at,
            acknowledged_at=r.acknowledged_at, acknowledged_by=r.acknowledged_by,
            acknowledged_note=r.acknowledged_note, closed_at=r.closed_at, closed_by=r.closed_by,
            closed_note=r.closed_note,
        )
        for r in rows
    ]  # fmt: skip
    return AlertBook(alerts, next_id=(top or 0) + 1)


def save(engine: Engine, alerts: list[Alert]) -> None:
    if not alerts:
        return
    with engine.begin() as connection:
        for alert in alerts:
            row = _row(alert)
            done = connection.execute(
                sa.update(alerts_table).where(alerts_table.c.id == alert.id).values(**row)
            )
            if done.rowcount == 0:
                connection.execute(sa.insert(alerts_table).values(**row))


# ------------------------------------------------------------------------------------------- monitor

Gather = Callable[[], Awaitable[Observation]]


class AlertMonitor:
    """Keeps the book, evaluates the rules, stores and publishes changes; one per app."""

    def __init__(self, engine: Engine, hub: EventHub, rules: RuleSet, *, interval_s: float = 5.0) -> None:
        self.engine = engine
        self.hub = hub
        self.rules = rules
        self.interval_s = interval_s
        self.book = AlertBook()
        self.waiting_since: dict[str, float] = {}
        self.gather: Gather | None = None
        self.evaluations = 0
        self._lock = threading.Lock()  # the book is touched from the loop and from worker threads (saves)
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._eval_lock = asyncio.Lock()

    @classmethod
    def from_environment(cls, engine: Engine, hub: EventHub) -> AlertMonitor:
        """Rules from ``COILYARD_ALERT_RULES`` (else the defaults); a mistake ends start-up with one line."""
        path = os.environ.get(RULES_ENV)
        try:
            rules = load_rules(Path(path)) if path else DEFAULT_RULES
        except ValueError as error:
            raise SystemExit(f"coilyard: {RULES_ENV}: {error}") from None
        text = os.environ.get(INTERVAL_ENV, "5")
        try:
            interval = float(text)
        except ValueError:
            interval = math.nan
        if not 0.1 <= interval <= 3600:
            raise SystemExit(
                f"coilyard: {INTERVAL_ENV} must be a number of seconds in 0.1..3600 (got {text!r})"
            )
        return cls(engine, hub, rules, interval_s=interval)

    async def start(self, gather: Gather) -> None:
        self.gather = gather
        self.book = await asyncio.to_thread(load_book, self.engine, time.time())
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        """Something changed: evaluate soon (the loop debounces)."""
        self._poke.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._poke.wait()
            self._poke.clear()
            try:
                await self.evaluate_now()
            except Exception:  # a failing rule must not stop the monitor; it is retried next round
                log.exception("alert evaluation failed")
            await asyncio.sleep(0.5)  # at most two evaluations a second however busy the events are

    async def evaluate_now(self) -> list[Alert]:
        if self.gather is None:
            return []
        async with self._eval_lock:
            seen = await self.gather()
            now = time.time()
            self.waiting_since = {u: self.waiting_since.get(u, now) for u in seen.waiting}
            conditions = evaluate(self.rules.rules, seen, now, self.waiting_since)
            with self._lock:
                changed = self.book.apply(conditions, now)
            self.evaluations += 1
        await self._commit(changed)
        return changed

    async def _commit(self, changed: list[Alert]) -> None:
        if not changed:
            return
        await asyncio.to_thread(save, self.engine, changed)
        for alert in changed:
            self.hub.publish({"type": "alert", "alert": alert.public()})

    async def acknowledge(self, alert_id: int, who: Principal, note: str) -> Alert:
        with self._lock:
            before = self.book.get(alert_id)
            alert = self.book.acknowledge(alert_id, who.name, time.time(), note)
        await self._commit([alert] if alert != before else [])
        return alert

    async def close(self, alert_id: int, who: Principal, note: str) -> Alert:
        with self._lock:
            before = self.book.get(alert_id)
            alert = self.book.close(alert_id, who.name, time.time(), note)
        await self._commit([alert] if alert != before else [])
        return alert

    async def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        await self.evaluate_now()

    def select(self, state: str | None, limit: int) -> list[Alert]:
        with self._lock:
            alerts = sorted(self.book.alerts.values(), key=lambda a: -a.id)
        if state == "active":
            alerts = [a for a in alerts if a.state is not AlertState.CLOSED]
        elif state is not None:
            alerts = [a for a in alerts if a.state == state]
        return alerts[:limit]


# -------------------------------------------------------------------------------------------- routes


class AlertOut(BaseModel):
    id: int
    rule: str
    kind: str
    subject: str
    severity: str
    message: str
    state: str
    raised_at: float
    cleared_at: float | None
    acknowledged_at: float | None
    acknowledged_by: str | None
    acknowledged_note: str
    closed_at: float | None
    closed_by: str | None
    closed_note: str


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=500, pattern=r"^[^\x00-\x1f]*$")


class CountsOut(BaseModel):
    start: float = Field(description="epoch s of the first bucket")
    bucket_s: float
    raised: dict[str, list[int]] = Field(description="alerts raised per bucket, by severity")
    unclosed: list[int] = Field(description="alerts raised and not yet closed at each bucket's end")


def monitor_of(request: Request) -> AlertMonitor:
    found: AlertMonitor = request.app.state.alerts
    return found


@contextlib.contextmanager
def _known() -> Iterator[None]:
    try:
        yield
    except UnknownAlert as error:
        raise HTTPException(404, str(error)) from None


AlertId = Annotated[int, PathParam(ge=1, le=2**31)]


@router.get("", summary="Alerts, newest first (state: active = not closed)")
async def list_alerts(
    request: Request,
    _: Caller,
    state: Annotated[str | None, Query(pattern="^(active|open|acknowledged|closed)$")] = "active",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    return [AlertOut(**a.public()) for a in monitor_of(request).select(state, limit)]


@router.get("/counts", summary="Alert counts over time, for the chart")
async def alert_counts(
    request: Request,
    _: Caller,
    hours: Annotated[float, Query(gt=0, le=24 * 90)] = 24.0,
    buckets: Annotated[int, Query(ge=1, le=500)] = 24,
) -> CountsOut:
    now = time.time()
    bucket_s = hours * 3600 / buckets
    monitor = monitor_of(request)
    with monitor._lock:
        counts = monitor.book.counts(now - hours * 3600, bucket_s, buckets)
    return CountsOut(**counts)


@router.get("/rules", summary="The alert rules in force")
async def get_rules(request: Request, _: Caller) -> RuleSet:
    return monitor_of(request).rules


@router.put("/rules", summary="Replace the alert rules (until restart)", **allow(Role.SUPERVISOR))
async def put_rules(body: RuleSet, request: Request, _: Caller) -> RuleSet:
    monitor = monitor_of(request)
    await monitor.set_rules(body)
    return monitor.rules


@router.get("/{alert}", summary="One alert")
async def get_alert(alert: AlertId, request: Request, _: Caller) -> AlertOut:
    monitor = monitor_of(request)
    with _known(), monitor._lock:
        found = monitor.book.get(alert)
    return AlertOut(**found.public())


@router.post(
    "/{alert}/acknowledge", summary="Acknowledge an alert (a person saw it)",
    **allow(Role.OPERATOR, Role.SUPERVISOR),
)  # fmt: skip
async def acknowledge(alert: AlertId, body: NoteIn, request: Request, who: Caller) -> AlertOut:
    with _known():
        done = await monitor_of(request).acknowledge(alert, who, body.note)
    return AlertOut(**done.public())


@router.post(
    "/{alert}/close", summary="Close an acknowledged alert whose condition has cleared",
    **allow(Role.SUPERVISOR),
)  # fmt: skip
async def close(alert: AlertId, body: NoteIn, request: Request, who: Caller) -> AlertOut:
    with _known():
        done = await monitor_of(request).close(alert, who, body.note)
    return AlertOut(**done.public())
