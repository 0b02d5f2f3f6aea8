"""Prometheus metrics (one registry per app) and the ASGI middleware that counts requests and audits mutations."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coilyard.api.audit import AuditLog
from coilyard.api.security import Principal

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "coilyard_http_requests", "HTTP requests by route and status.", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "coilyard_http_request_seconds", "HTTP request latency by route.", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "coilyard_wms_batch_commands", "WMS commands committed per transaction.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=self.registry,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "coilyard_wms_batch_seconds", "Time to apply and commit one WMS batch.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
            registry=self.registry,
        )  # fmt: skip
        self.commands = Counter(
            "coilyard_wms_commands", "WMS commands by type and outcome.", ["command", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.writer_seconds = Gauge(
            "coilyard_wms_writer_seconds", "Writer time by phase (begin, apply, commit, release), cumulative.",
            ["phase"], registry=self.registry,
        )  # fmt: skip
        self.ledger_version = Gauge("coilyard_wms_ledger_version", "Ledger length.", registry=self.registry)
        self.sse_clients = Gauge("coilyard_sse_clients", "Open event streams.", registry=self.registry)

    def on_batch(self, commands: int, seconds: float) -> None:
        if commands:
            self.batch_size.observe(commands)
            self.batch_seconds.observe(seconds)


class ObserveRequests:
    """Pure ASGI (no per-request task): metrics for every request, an audit row for every mutating one."""

    def __init__(self, app: ASGIApp, metrics: Metrics, audit: AuditLog) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"]
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            if method in MUTATING and route != "unmatched":
                self._audit(scope, method, status)

    def _audit(self, scope: Scope, method: str, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        who = state.get("principal")
        headers = dict(scope.get("headers", ()))
        key = headers.get(b"idempotency-key")
        self.audit.record(
            {
                "at": time.time(),
                "actor": who.name if isinstance(who, Principal) else "anonymous",
                "role": str(who.role) if isinstance(who, Principal) else "",
                "method": method,
                "path": str(scope.get("path", ""))[:500],
                "status": status,
                "idempotency_key": key.decode("latin-1")[:200] if key else None,
                "ledger_seq": state.get("ledger_seq"),
            }
        )
