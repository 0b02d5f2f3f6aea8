"""The life of a coil as code: the process manager that carries each stock move through WMS, fleet and cranes.

It lives in `crane` because crane is the one core allowed to import both `wms` and `fleet`
(docs/architecture.md). Like the cores it is synchronous: `YardFlow.handle(message, at) -> effects`. It
calls the WMS through its message bus (the WMS's service-layer port, in memory in the twin, SQL live)
and returns what the fleet and crane cores should do; the shell (SimPy in `simulation/`, asyncio live)
hands those effects to the cores and feeds their effects and the vehicle port's events back here.

Messages in:

- `CoilArrived`: a production line finished a coil at its exit handover. `ReceiveCoil`, then
  `ProposePutaway` into the named store (position P reserved, `MovePlanned`). If the store has no legal
  place, the coil waits at the exit (the line's buffer stays full) and is tried again at each `Tick`.
- `IngotStackArrived`: a casting pit set down a slab (or an ingot stack) at its handover, bound for an
  ingot store. `ReceiveIngotStack`, then `ProposePutaway` (the WMS picks a pile), and on like a coil; a
  casting drop is several of these at one instant.
- `RetrievalRequested`: bring `count` coils (from an ingot store: slabs) from a store to a station
  handover (the next process, or a truck at a dock). Coils are chosen with the WMS's `select_by_criteria`; `PlanRetrieval` plans the
  relocations of their blockers and the retrievals; a blocked retrieval is planned (by sending
  `PlanRetrieval` again) once its relocations have started.
- fleet `OrderChanged` and crane `CraneJobChanged` effects, and the vehicle port's `OperationDone` events.
- `Tick`: releases cooled coils, retries waiting putaways and retrievals.

Every WMS move is carried as a list of legs, each a transport order of the fleet or a crane job:

- putaway: vehicle leg exit handover -> bay handover H (`MoveLegCompleted` at H), then crane leg H -> P
  (`MoveCompleted`, the coil is stored); a coil that arrives at a handover the store's cranes reach goes
  by crane alone;
- relocation: one crane leg in the store, ordered before the retrieval it clears (`after`);
- retrieval: crane leg P -> H, then vehicle leg H -> station handover, where the coil is consumed (or
  shipped, for a truck).

H and the vehicle class are chosen by route cost on the fleet's router (the station's `served_by` classes
only); lifting a unit is `StartMove` (a vehicle's PICK, a crane job's `picked`), setting it down is
`CompleteLeg`/`CompleteMove`. An order or crane job that fails before its lift (its vehicle or crane broke
down) is submitted again under a new id (`.../2r1`); jobs waiting for it follow it. Effects out: `SubmitOrder` (fleet), `SubmitCraneJob` (cranes), `WakeAt`,
and notes for the shell's statistics (`TaskChanged`, `RequestChanged`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from crane.core import CraneJobChanged, SubmitCraneJob
from fleet.core import OrderChanged, SubmitOrder, Tick, WakeAt
from fleet.domain.orders import Destination, Operation, OrderSpec, OrderState
from fleet.ports import OperationDone
from fleet.routing import NoRoute, Router
from layout import Plant
from layout import schema as plant_schema
from wms.domain.errors import WmsError
from wms.domain.retrieval import select_by_criteria
from wms.domain.yard import Yard
from wms.service_layer import commands as cmd

TaskKind = Literal["putaway", "retrieval", "relocation", "shipment", "transfer"]
TaskState = Literal["created", "started", "finished", "cancelled"]
RETRY_S = 120.0  # how long a waiting putaway or retrieval waits before it is tried again without news


class WmsPort(Protocol):
    """The WMS message bus (`wms.service_layer.messagebus.MessageBus`) as the flow uses it."""

    def handle(self, command: cmd.Command) -> dict[str, Any]: ...


# ------------------------------------------------------------------------------------------- messages


@dataclass(frozen=True, kw_only=True)
class CoilArrived:
    coil: str
    source: str  # the scenario's source (or the MES line) that made it
    station: str
    handover: str
    store: str
    alloy: str
    temper: str
    width: float
    gauge: float
    outer_diameter: float
    inner_diameter: float
    weight: float
    temperature: float = 25.0
    turnover: str = "C"
    due: float | None = None

    @property
    def unit(self) -> str:
        return self.coil


@dataclass(frozen=True, kw_only=True)
class IngotStackArrived:
    """A slab (count 1) or ingot stack set down at a casting pit's handover, bound for an ingot store."""

    stack: str
    source: str
    station: str
    handover: str
    store: str
    alloy: str
    unit_weight: float  # t
    unit_height: float  # m (a slab's thickness)
    count: int = 1
    width: float | None = None  # m
    length: float | None = None  # m
    cast_lot: str = ""

    @property
    def unit(self) -> str:
        return self.stack

    @property
    def weight(self) -> float:
        return self.count * self.unit_weight


Arrival = CoilArrived | IngotStackArrived


@dataclass(frozen=True, kw_only=True)
class RetrievalRequested:
    request: str
    store: str
    station: str
    destination: str  # a handover node of the station
    kind: Literal["retrieval", "shipment"] = "retrieval"
    count: int = 1
    alloy: str | None = None
    temper: str | None = None
    policy: Literal["fifo", "due"] = "fifo"
    deadline: float | None = None


FlowMessage = (
    CoilArrived
    | IngotStackArrived
    | RetrievalRequested
    | OrderChanged
    | CraneJobChanged
    | OperationDone
    | Tick
)

# -------------------------------------------------------------------------------------------- effects


@dataclass(frozen=True, kw_only=True)
class TaskChanged:
    """A WMS move (a task) was created, lifted first, finished or cancelled."""

    task: str
    kind: TaskKind
    coil: str
    state: TaskState
    at: float
    store: str
    source: str
    target: str
    carrier: str | None = None
    request: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestChanged:
    """A retrieval request: `waiting` (no coil or no plan yet), `planned`, `done` (every coil left at the
    station), with the coils it took and, when done, whether it met its deadline."""

    request: str
    kind: Literal["retrieval", "shipment"]
    state: Literal["waiting", "planned", "done"]
    at: float
    coils: tuple[str, ...] = ()
    on_time: bool | None = None
    detail: str = ""


FlowEffect = SubmitOrder | SubmitCraneJob | WakeAt | TaskChanged | RequestChanged

# ------------------------------------------------------------------------------------------ internals


@dataclass(slots=True)
class Leg:
    kind: Literal["vehicle", "crane"]
    source: str
    target: str
    vehicle_class: str | None = None  # vehicle legs
    store: str | None = None  # crane legs
    job: str = ""  # the fleet order or crane job id, once submitted
    done: bool = False
    lifted: bool = False
    attempt: int = 0  # resubmissions after the job failed before the lift


@dataclass(slots=True)
class Task:
    move: str
    kind: TaskKind
    coil: str
    weight: float
    store: str
    source: str
    target: str
    legs: list[Leg]
    request: str | None = None
    deadline: float | None = None
    leg: int = 0
    started: bool = False
    after: tuple[str, ...] = ()  # crane jobs that must finish before this task's first crane leg


@dataclass(slots=True)
class Request:
    message: RetrievalRequested
    coils: tuple[str, ...] = ()
    pending: set[str] = field(default_factory=set)  # coils whose retrieval move is not planned yet
    left: set[str] = field(default_factory=set)  # coils consumed or shipped
    last_try: float = -math.inf


@dataclass(slots=True)
class WaitingPutaway:
    arrival: Arrival
    last_try: float


class YardFlow:
    """Carries moves through WMS, fleet and cranes for one plant; see the module docstring."""

    def __init__(
        self,
        plant: Plant,
        wms: WmsPort,
        yard: Callable[[], Yard],
        *,
        router: Router | None = None,
        actor: str = "yard-flow",
        retry_s: float = RETRY_S,
    ) -> None:
        self.plant = plant
        self.wms = wms
        self.yard = yard  # the read side, for choosing coils (a view; decisions go through the bus)
        self.router = router or Router(plant)
        self.actor = actor
        self.retry_s = retry_s
        self.tasks: dict[str, Task] = {}
        self.jobs: dict[str, str] = {}  # fleet order / crane job id -> move id
        self.requests: dict[str, Request] = {}
        self.waiting_putaways: list[WaitingPutaway] = []
        self._stations = {s.id: s for s in plant.stations}
        self._stores = {s.id: s for s in plant.stores}
        self._class_ids = sorted(plant.vehicle_classes)
        self._crane_handovers = _crane_handovers(plant)
        self._store_of_place = _store_of_place(plant)
        self._leg_cache: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, str, float] | None] = {}
        self._dirty_stores: set[str] = set()
        self._renamed: dict[str, str] = {}  # failed job id -> the id it was submitted again under
        self._next_cooling: float | None = None
        # Coils chosen by criteria and time (`_select`), for one state of the yard: its object and ledger length.
        self._selected: dict[tuple[object, ...], list[str]] = {}
        self._selected_in: tuple[Yard, int] | None = None

    # ----------------------------------------------------------------------------------------- queries

    def open_tasks(self) -> int:
        return len(self.tasks)

    # ------------------------------------------------------------------------------------- entry point

    def handle(self, message: FlowMessage, at: float) -> list[FlowEffect]:
        if isinstance(message, CoilArrived):
            return self._arrived(message, at)
        if isinstance(message, IngotStackArrived):
            return self._stack_arrived(message, at)
        if isinstance(message, RetrievalRequested):
            request = Request(message)
            self.requests[message.request] = request
            return self._try_request(request, at)
        if isinstance(message, OperationDone):
            return self._vehicle_operation(message, at)
        if isinstance(message, OrderChanged):
            return self._order_changed(message, at)
        if isinstance(message, CraneJobChanged):
            return self._crane_job(message, at)
        return self._tick(at)

    # ----------------------------------------------------------------------------------------- arrivals

    def _arrived(self, arrival: CoilArrived, at: float) -> list[FlowEffect]:
        self.wms.handle(
            cmd.ReceiveCoil(
                actor=arrival.source, coil=arrival.coil, location=arrival.handover, alloy=arrival.alloy,
                temper=arrival.temper, width=arrival.width, gauge=arrival.gauge,
                outer_diameter=arrival.outer_diameter, inner_diameter=arrival.inner_diameter,
                weight=arrival.weight, temperature=arrival.temperature, turnover=arrival.turnover,
                due=arrival.due,
            )
        )  # fmt: skip
        out: list[FlowEffect] = self._cooling_wake()
        return out + self._putaway(arrival, at)

    def _stack_arrived(self, arrival: IngotStackArrived, at: float) -> list[FlowEffect]:
        self.wms.handle(
            cmd.ReceiveIngotStack(
                actor=arrival.source, stack=arrival.stack, location=arrival.handover, alloy=arrival.alloy,
                count=arrival.count, unit_weight=arrival.unit_weight, unit_height=arrival.unit_height,
                cast_lot=arrival.cast_lot, width=arrival.width, length=arrival.length,
            )
        )  # fmt: skip
        return self._putaway(arrival, at)

    def _putaway(self, arrival: Arrival, at: float) -> list[FlowEffect]:
        try:
            result = self.wms.handle(
                cmd.ProposePutaway(actor=self.actor, coil=arrival.unit, store=arrival.store)
            )
        except WmsError:
            self.waiting_putaways.append(WaitingPutaway(arrival, at))
            return [WakeAt(at=at + self.retry_s)]
        target = str(result["target"])
        legs = self._legs(arrival.handover, target, arrival.store, inbound=True, station=arrival.station)
        if legs is None:
            # No vehicle class and handover connect the line to the store: give the place back, keep waiting.
            self.wms.handle(
                cmd.CancelMove(actor=self.actor, move=str(result["move"]), reason="no route to the store")
            )
            self.waiting_putaways.append(WaitingPutaway(arrival, at + 100 * self.retry_s))
            return []
        task = Task(
            str(result["move"]), "putaway", arrival.unit, arrival.weight, arrival.store,
            arrival.handover, target, legs,
        )  # fmt: skip
        return self._open(task, at)

    # --------------------------------------------------------------------------------------- retrievals

    def _try_request(self, request: Request, at: float) -> list[FlowEffect]:
        message = request.message
        request.last_try = at
        out: list[FlowEffect] = []
        if not request.coils:
            chosen = [c for c in self._select(message, at) if self._reachable_from(c, message)]
            if len(chosen) < message.count:
                return [
                    RequestChanged(
                        request=message.request, kind=message.kind, state="waiting", at=at,
                        detail=f"{len(chosen)} of {message.count} coils available in {message.store}",
                    ),
                    WakeAt(at=at + self.retry_s),
                ]  # fmt: skip
            request.coils = tuple(chosen)
            request.pending = set(chosen)
            for coil in chosen:  # no other request may take them meanwhile
                self.wms.handle(cmd.Reserve(actor=self.actor, unit=coil, order=message.request))
        out += self._plan(request, at)
        return out

    def _select(self, message: RetrievalRequested, at: float) -> list[str]:
        """`select_by_criteria` for the request. Several requests often wait for the same stock and are tried
        together: the same criteria at the same time on the same yard state (its ledger has not grown: only
        recorded events change a yard) choose the same coils, so the choice is kept until the ledger grows."""
        yard = self.yard()
        if (
            self._selected_in is None
            or self._selected_in[0] is not yard
            or self._selected_in[1] != len(yard.ledger)
        ):
            self._selected = {}
            self._selected_in = (yard, len(yard.ledger))
        key = (message.alloy, message.temper, message.store, message.policy, message.count, at)
        chosen = self._selected.get(key)
        if chosen is None:
            chosen = select_by_criteria(
                yard,
                alloy=message.alloy,
                temper=message.temper,
                store=message.store,
                policy=message.policy,
                count=message.count,
                at=at,
            )
            self._selected[key] = chosen
        return list(chosen)

    def _reachable_from(self, coil: str, message: RetrievalRequested) -> bool:
        location = self.yard().unit(coil).location
        return (
            self._legs(location, message.destination, message.store, inbound=False, station=message.station)
            is not None
        )

    def _plan(self, request: Request, at: float) -> list[FlowEffect]:
        """Send PlanRetrieval for the coils whose retrieval is not planned yet; open the new moves as tasks."""
        message = request.message
        coils = tuple(c for c in request.coils if c in request.pending)
        if not coils:
            return []
        try:
            result = self.wms.handle(
                cmd.PlanRetrieval(
                    actor=self.actor, coils=coils, destination=message.destination, order=message.request
                )
            )
        except WmsError as error:
            return [
                RequestChanged(
                    request=message.request, kind=message.kind, state="waiting", at=at, detail=str(error)
                ),
                WakeAt(at=at + self.retry_s),
            ]
        out: list[FlowEffect] = []
        relocation_jobs: list[str] = []
        for step in result["plan"]["steps"]:
            move = step["move"]
            if move is None:
                continue
            if move in self.tasks:
                relocation_jobs += [
                    leg.job for leg in self.tasks[move].legs if leg.kind == "crane" and not leg.done
                ]
                continue
            if step["purpose"] == "relocation":
                legs = [Leg("crane", step["source"], step["target"], store=self._store_of(step["source"]))]
                task = Task(move, "relocation", step["unit"], self._weight(step["unit"]), message.store,
                            step["source"], step["target"], legs, request=message.request, deadline=message.deadline)  # fmt: skip
                out += self._open(task, at)
                relocation_jobs += [leg.job for leg in legs]
                continue
            legs_or_none = self._legs(
                step["source"], message.destination, message.store, inbound=False, station=message.station
            )
            if legs_or_none is None:  # pragma: no cover - checked when the coil was chosen
                raise RuntimeError(f"no way from {step['source']} to {message.destination}")
            kind: TaskKind = "shipment" if message.kind == "shipment" else "retrieval"
            task = Task(move, kind, step["unit"], self._weight(step["unit"]), message.store, step["source"],
                        message.destination, legs_or_none, request=message.request, deadline=message.deadline,
                        after=tuple(relocation_jobs))  # fmt: skip
            request.pending.discard(step["unit"])
            out += self._open(task, at)
        state: Literal["planned", "waiting"] = "planned" if not request.pending else "waiting"
        out.append(
            RequestChanged(
                request=message.request, kind=message.kind, state=state, at=at, coils=request.coils
            )
        )
        return out

    # -------------------------------------------------------------------------------------------- tasks

    def _open(self, task: Task, at: float) -> list[FlowEffect]:
        self.tasks[task.move] = task
        note = TaskChanged(
            task=task.move, kind=task.kind, coil=task.coil, state="created", at=at, store=task.store,
            source=task.source, target=task.target, request=task.request,
        )  # fmt: skip
        return [note, *self._submit_leg(task, at)]

    def _submit_leg(self, task: Task, at: float) -> list[FlowEffect]:
        leg = task.legs[task.leg]
        leg.job = f"{task.move}/{task.leg + 1}" + (f"r{leg.attempt}" if leg.attempt else "")
        self.jobs[leg.job] = task.move
        if leg.kind == "vehicle":
            spec = OrderSpec(
                id=leg.job,
                destinations=(
                    Destination(leg.source, Operation.PICK),
                    Destination(leg.target, Operation.DROP),
                ),
                vehicle_class=leg.vehicle_class,
                unit=task.coil,
                weight=task.weight,
                deadline=task.deadline,
                created_at=at,
            )
            return [SubmitOrder(spec=spec)]
        after = tuple(
            job
            for job in (self._current_job(j) for j in task.after)
            if task.leg == 0 and job in self.jobs and not self._job_done(job)
        )
        return [
            SubmitCraneJob(
                job=leg.job, store=leg.store or task.store, pick=leg.source, drop=leg.target,
                weight_t=task.weight, deadline=task.deadline, after=after,
            )
        ]  # fmt: skip

    def _current_job(self, job: str) -> str:
        """The id a job runs under now (a job that failed before its lift was submitted again)."""
        while job in self._renamed:
            job = self._renamed[job]
        return job

    def _retry(self, task: Task, why: str, at: float) -> list[FlowEffect]:
        """The current leg's order or job failed before the coil was lifted (its vehicle or crane broke down):
        submit it again under a new id; a failure after the lift is a fault the flow cannot repair."""
        leg = task.legs[task.leg]
        if leg.lifted:
            raise RuntimeError(f"{leg.job} of move {task.move} failed with the coil lifted: {why}")
        old = leg.job
        self.jobs.pop(old, None)
        leg.attempt += 1
        effects = self._submit_leg(task, at)
        self._renamed[old] = leg.job
        return effects

    def _job_done(self, job: str) -> bool:
        task = self.tasks.get(self.jobs[job])
        if task is None:
            return True
        return next(leg.done for leg in task.legs if leg.job == job)

    def _lifted(self, task: Task, carrier: str, at: float) -> list[FlowEffect]:
        self.wms.handle(cmd.StartMove(actor=carrier, move=task.move, carrier=carrier))
        task.legs[task.leg].lifted = True
        out: list[FlowEffect] = []
        if not task.started:
            task.started = True
            out.append(
                TaskChanged(
                    task=task.move, kind=task.kind, coil=task.coil, state="started", at=at, store=task.store,
                    source=task.source, target=task.target, carrier=carrier, request=task.request,
                )
            )  # fmt: skip
        if task.kind == "relocation" and task.request is not None:
            request = self.requests.get(task.request)
            if request is not None and request.pending:
                out += self._plan(request, at)  # the blocked retrieval can be planned now
        return out

    def _set_down(self, task: Task, carrier: str, at: float) -> list[FlowEffect]:
        leg = task.legs[task.leg]
        leg.done = True
        self.jobs.pop(leg.job, None)
        if task.leg + 1 < len(task.legs):
            self.wms.handle(cmd.CompleteLeg(actor=carrier, move=task.move, location=leg.target))
            task.leg += 1
            return self._submit_leg(task, at)
        self.wms.handle(cmd.CompleteMove(actor=carrier, move=task.move))
        del self.tasks[task.move]
        self._dirty_stores.add(task.store)
        out: list[FlowEffect] = [
            TaskChanged(
                task=task.move, kind=task.kind, coil=task.coil, state="finished", at=at, store=task.store,
                source=task.source, target=task.target, carrier=carrier, request=task.request,
            )
        ]  # fmt: skip
        if task.kind in ("retrieval", "shipment") and task.request is not None:
            out += self._delivered(task, at)
        return out

    def _delivered(self, task: Task, at: float) -> list[FlowEffect]:
        request = self.requests[task.request or ""]
        message = request.message
        if message.kind == "shipment":
            self.wms.handle(cmd.Ship(actor=self.actor, unit=task.coil, shipment=message.request))
        else:
            self.wms.handle(cmd.Consume(actor=message.station, coil=task.coil, station=message.station))
        request.left.add(task.coil)
        if len(request.left) < len(request.coils):
            return []
        del self.requests[message.request]
        on_time = None if message.deadline is None else at <= message.deadline
        return [
            RequestChanged(
                request=message.request,
                kind=message.kind,
                state="done",
                at=at,
                coils=request.coils,
                on_time=on_time,
            )
        ]

    # ------------------------------------------------------------------------------------ core feedback

    def _vehicle_operation(self, event: OperationDone, at: float) -> list[FlowEffect]:
        move = self.jobs.get(event.order or "")
        if move is None:
            return []
        task = self.tasks[move]
        leg = task.legs[task.leg]
        if leg.kind != "vehicle" or leg.job != event.order:
            return []
        if event.operation is Operation.PICK:
            return self._lifted(task, event.vehicle, at)
        if event.operation is Operation.DROP:
            return self._set_down(task, event.vehicle, at)
        return []

    def _order_changed(self, change: OrderChanged, at: float) -> list[FlowEffect]:
        transition = change.transition
        if transition.to_state not in (OrderState.FAILED, OrderState.CANCELLED):
            return []
        move = self.jobs.get(transition.order)
        if move is None:
            return []
        return self._retry(
            self.tasks[move], f"transport order {transition.to_state}: {transition.reason}", at
        )

    def _crane_job(self, change: CraneJobChanged, at: float) -> list[FlowEffect]:
        move = self.jobs.get(change.job)
        if move is None:
            return []
        task = self.tasks[move]
        crane = change.crane or ""
        if change.state == "picked":
            return self._lifted(task, crane, at)
        if change.state == "done":
            return self._set_down(task, crane, at)
        if change.state == "failed":
            return self._retry(task, change.reason or "crane job failed", at)
        return []

    # --------------------------------------------------------------------------------------------- tick

    def _tick(self, at: float) -> list[FlowEffect]:
        out: list[FlowEffect] = []
        yard = self.yard()
        due = yard.next_cooling_release()
        if due is not None and due <= at:
            self.wms.handle(cmd.ReleaseCooled(actor=self.actor))
            self._dirty_stores.update(self._stores)
        out += self._cooling_wake()
        dirty, self._dirty_stores = self._dirty_stores, set()
        waiting, self.waiting_putaways = self.waiting_putaways, []
        for entry in waiting:
            if entry.arrival.store in dirty or at - entry.last_try >= self.retry_s:
                out += self._putaway(entry.arrival, at)
            else:
                self.waiting_putaways.append(entry)
        for request in list(self.requests.values()):
            waiting_for_stock = not request.coils
            due = request.message.store in dirty or at - request.last_try >= self.retry_s
            if due and (waiting_for_stock or (request.pending and not self._relocating(request))):
                out += self._try_request(request, at)
        return out

    def _relocating(self, request: Request) -> bool:
        """A relocation of this request is planned but not lifted yet: its start will plan the rest."""
        return any(
            t.kind == "relocation" and t.request == request.message.request and not t.started
            for t in self.tasks.values()
        )

    def _cooling_wake(self) -> list[FlowEffect]:
        due = self.yard().next_cooling_release()
        if due is None or due == self._next_cooling:
            return []
        self._next_cooling = due
        return [WakeAt(at=due)]

    # ------------------------------------------------------------------------------------------- legs

    def _legs(self, source: str, target: str, store: str, *, inbound: bool, station: str) -> list[Leg] | None:
        """Vehicle and crane legs from `source` to `target`: the store end by crane, the other by vehicle."""
        place = target if inbound else source
        node = source if inbound else target
        reach = self._crane_handovers_for(store, place)
        if node in reach:
            return [Leg("crane", source, target, store=store)]
        served_by = self._stations[station].served_by if station in self._stations else None
        classes = tuple(served_by) if served_by else tuple(self._class_ids)
        choice = self._handover_choice(node, place, store, classes, inbound)
        if choice is None:
            return None
        handover, vehicle_class, _ = choice
        if inbound:
            return [
                Leg("vehicle", source, handover, vehicle_class=vehicle_class),
                Leg("crane", handover, target, store=store),
            ]
        return [
            Leg("crane", source, handover, store=store),
            Leg("vehicle", handover, target, vehicle_class=vehicle_class),
        ]

    def _handover_choice(
        self, node: str, place: str, store: str, classes: tuple[str, ...], inbound: bool
    ) -> tuple[str, str, float] | None:
        reach = self._crane_handovers_for(store, place)
        key = (node, place if self._is_high_bay(store) else store, "in" if inbound else "out", classes)
        if key in self._leg_cache:
            return self._leg_cache[key]
        best: tuple[str, str, float] | None = None
        for handover in sorted(reach):
            for vehicle_class in classes:
                graph = self.plant.graph(vehicle_class)
                if node not in graph or handover not in graph:
                    continue
                try:
                    a, b = (node, handover) if inbound else (handover, node)
                    cost = self.router.cost(vehicle_class, a, b)
                except NoRoute:
                    continue
                if math.isfinite(cost) and (best is None or cost < best[2]):
                    best = (handover, vehicle_class, cost)
        self._leg_cache[key] = best
        return best

    def _crane_handovers_for(self, store: str, place: str) -> frozenset[str]:
        handovers = self._crane_handovers.get(store, {})
        if self._is_high_bay(store):
            aisle = self.plant.rack_cells[place].aisle if place in self.plant.rack_cells else None
            return handovers.get(str(aisle), frozenset())
        return handovers.get("", frozenset())

    def _is_high_bay(self, store: str) -> bool:
        return isinstance(self._stores.get(store), plant_schema.HighBayStore)

    def _store_of(self, place: str) -> str:
        return self._store_of_place.get(place, "")

    def _weight(self, unit: str) -> float:
        return float(self.yard().unit(unit).weight)


def _crane_handovers(plant: Plant) -> dict[str, dict[str, frozenset[str]]]:
    """Per store, the handover nodes its cranes serve: key "" for a flat or ingot store (every bay handover,
    the cranes of one runway serve all its bays), the aisle number for a high-bay store (its I/O node)."""
    out: dict[str, dict[str, frozenset[str]]] = {}
    for store in plant.stores:
        if isinstance(store, plant_schema.HighBayStore):
            out[store.id] = {str(p.aisle): frozenset({p.node}) for p in store.io_points}
        else:
            out[store.id] = {"": frozenset(h.node for bay in store.bays for h in bay.handovers)}
    return out


def _store_of_place(plant: Plant) -> dict[str, str]:
    places: dict[str, str] = {p.id: p.store for p in plant.saddle_positions.values()}
    places.update((c.id, c.store) for c in plant.rack_cells.values())
    places.update((s.id, s.store) for s in plant.stack_positions.values())
    return places
