"""Simulation runs over HTTP: start `coilyard simulate` in a child process, follow it, fetch its report.

A run is a directory under `runs_dir` (the run-directory contract of the simulation helper: kpis.json,
report.html, ...). The child process keeps the SimPy work off the service's event loop and CPU budget
accounting; its exit code and the end of its error output tell what went wrong.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from coilyard.api.deps import Caller, allow
from coilyard.api.errors import ERROR_RESPONSES, NotFound
from coilyard.api.events import EventHub
from coilyard.api.security import Role
from wms.domain.errors import WmsError

router = APIRouter(prefix="/api/simulations", tags=["simulation"], responses=ERROR_RESPONSES)
RunId = Annotated[str, PathParam(pattern=r"^[a-f0-9]{12}$")]


class UnknownRun(NotFound, WmsError):
    """Reuses the domain error mapping (a WmsError, so a JSON 4xx); NotFound makes it a 404."""

    def __init__(self, run: str) -> None:
        super().__init__(f"unknown simulation run '{run}'")
        self.run = run


class RunNotFinished(WmsError):
    def __init__(self, run: str, state: str) -> None:
        super().__init__(f"simulation run '{run}' is {state}: its report is not there yet")
        self.run = run


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hours: float = Field(8.0, gt=0, le=24 * 30)
    warmup_hours: float = Field(1.0, ge=0, le=24 * 7)
    replications: int = Field(1, ge=1, le=50)
    seed: int = Field(1, ge=0, le=2**31 - 1)


class RunOut(BaseModel):
    run: str
    state: str = Field(description="running, done or failed")
    started_at: float
    finished_at: float | None
    request: RunIn
    error: str | None


@dataclass
class Run:
    id: str
    request: RunIn
    directory: Path
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    state: str = "running"
    error: str | None = None

    def describe(self) -> RunOut:
        return RunOut(
            run=self.id, state=self.state, started_at=self.started_at, finished_at=self.finished_at,
            request=self.request, error=self.error,
        )  # fmt: skip


class SimulationRuns:
    def __init__(self, layout: Path, runs_dir: Path, hub: EventHub | None = None) -> None:
        self.layout = layout
        self.runs_dir = runs_dir
        self.hub = hub
        self.runs: dict[str, Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._processes: set[asyncio.subprocess.Process] = set()

    def start(self, request: RunIn) -> Run:
        run_id = secrets.token_hex(6)
        run = Run(run_id, request, self.runs_dir / run_id)
        self.runs[run_id] = run
        task = asyncio.create_task(self._execute(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    def get(self, run_id: str) -> Run:
        try:
            return self.runs[run_id]
        except KeyError:
            raise UnknownRun(run_id) from None

    async def _execute(self, run: Run) -> None:
        run.directory.mkdir(parents=True, exist_ok=True)
        r = run.request
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "coilyard", "simulate", str(self.layout), "--hours", str(r.hours),
            "--warmup", str(r.warmup_hours), "--replications", str(r.replications), "--seed", str(r.seed),
            "--out", str(run.directory),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._processes.add(process)
        try:
            _, stderr = await process.communicate()
        finally:
            self._processes.discard(process)
        run.finished_at = time.time()
        if process.returncode == 0 and (run.directory / "kpis.json").exists():
            run.state = "done"
        else:
            run.state = "failed"
            tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
            run.error = f"exit code {process.returncode}: " + " | ".join(tail)
        if self.hub is not None:
            self.hub.publish({"type": "simulation", "run": run.id, "state": run.state})

    async def stop(self) -> None:
        for process in list(self._processes):
            if process.returncode is None:
                process.kill()
        for task in list(self._tasks):
            task.cancel()


def _runs(request: Request) -> SimulationRuns:
    runs: SimulationRuns = request.app.state.services.simulations
    return runs


@router.post("", status_code=202, summary="Start a simulation run of the plant", **allow(Role.PLANNER))
async def start_run(body: RunIn, request: Request, _: Caller) -> RunOut:
    return _runs(request).start(body).describe()


@router.get("", summary="Simulation runs of this process")
async def list_runs(request: Request, _: Caller) -> list[RunOut]:
    return [r.describe() for r in _runs(request).runs.values()]


@router.get("/{run}", summary="A run's state")
async def get_run(run: RunId, request: Request, _: Caller) -> RunOut:
    return _runs(request).get(run).describe()


@router.get("/{run}/kpis", summary="A finished run's KPIs (kpis.json, schema coilyard.kpis/1)")
async def run_kpis(run: RunId, request: Request, _: Caller) -> dict[str, Any]:
    found = _runs(request).get(run)
    if found.state != "done":
        raise RunNotFinished(run, found.state)
    loaded: dict[str, Any] = json.loads((found.directory / "kpis.json").read_text())
    return loaded


@router.get(
    "/{run}/report",
    summary="A finished run's report (self-contained HTML)",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}}, "description": "report.html"}},
)
async def run_report(run: RunId, request: Request, _: Caller) -> FileResponse:
    found = _runs(request).get(run)
    report = found.directory / "report.html"
    if found.state != "done" or not report.exists():
        raise RunNotFinished(run, found.state if found.state != "done" else "done but without report.html")
    return FileResponse(report, media_type="text/html")
