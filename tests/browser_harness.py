"""The app under uvicorn in a thread and headless Chromium, for the browser tests (tests/e2e/test_handheld.py,
test_live_view.py). Chromium is Debian's at /usr/bin/chromium (scripts/services installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright

from coilyard.api import create_app
from coilyard.api.fleet import LiveFleetControl
from coilyard.api.security import Role
from coilyard.live import LiveFleet
from coilyard.settings import Settings

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
TINY = Path(__file__).resolve().parents[1] / "examples" / "tiny.yaml"
PASSWORD = "correct horse battery"
COIL = {
    "alloy": "5182",
    "width": 1.5,
    "gauge": 2.0,
    "outer_diameter": 1.8,
    "inner_diameter": 0.6,
    "weight": 10.0,
}


@dataclass
class LiveApp:
    app: FastAPI
    url: str
    tokens: dict[Role, str]
    loop: asyncio.AbstractEventLoop | None = None

    def on_loop(self, call: Callable[[], T]) -> T:
        """Run `call` on the server's event loop (where the fleet shell runs) and return its result."""
        assert self.loop is not None, "the app runs no fleet shell"

        async def run() -> T:
            return call()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)

    def headers(self, role: Role = Role.OPERATOR, key: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens[role]}",
            "Idempotency-Key": key or f"k{time.time_ns()}",
        }

    def get(self, path: str, role: Role = Role.OPERATOR) -> Any:
        reply = httpx.get(self.url + path, headers=self.headers(role), timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def post(self, path: str, body: object, role: Role = Role.OPERATOR) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers=self.headers(role), timeout=10)

    def receive(self, coil: str, location: str = "H-FS1") -> None:
        reply = self.post("/api/wms/coils", {"coil": coil, "location": location, **COIL})
        assert reply.status_code == 201, reply.text

    def history(self, coil: str) -> list[str]:
        return [row["what"] for row in self.get(f"/api/wms/coils/{coil}/history")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_app(tmp_path: Path, fleet: LiveFleet | None = None) -> Iterator[LiveApp]:
    """The app under uvicorn on a free port in a thread, with an operator, a supervisor and a vehicle account.

    With `fleet`, the routes drive that asyncio fleet shell (`LiveFleetControl`), run on the server's loop for
    the life of the app; `LiveApp.on_loop` runs a function there (to step fake vehicles race-free).
    """
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}", layout=TINY, runs_dir=tmp_path / "runs"
    )
    control = LiveFleetControl(fleet) if fleet is not None else None
    app = create_app(settings, fleet_control=control)
    loops: list[asyncio.AbstractEventLoop] = []
    if fleet is not None and control is not None:
        control.hub = app.state.services.hub
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def with_fleet(application: FastAPI) -> AsyncIterator[Any]:
            async with inner(application) as state:
                loops.append(asyncio.get_running_loop())
                task = asyncio.create_task(fleet.run())
                try:
                    yield state
                finally:
                    fleet.stop()
                    await task

        app.router.lifespan_context = with_fleet
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped while starting"
        time.sleep(0.05)
    users = app.state.services.users
    url = f"http://127.0.0.1:{port}"
    tokens: dict[Role, str] = {}
    for role in (Role.OPERATOR, Role.SUPERVISOR):
        users.add_user(role.value, role, PASSWORD)
        reply = httpx.post(f"{url}/api/auth/token", json={"username": role.value, "password": PASSWORD})
        tokens[role] = reply.json()["access_token"]
    users.add_user("agv-gateway", Role.VEHICLE)
    tokens[Role.VEHICLE] = users.issue_service_token("agv-gateway", time.time()).token
    try:
        yield LiveApp(app, url, tokens, loops[0] if loops else None)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, or a skip naming what is missing."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (scripts/services installs it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
