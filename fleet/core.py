"""The fleet core: one synchronous event loop over the order book, dispatcher, router and traffic control.

`FleetCore(plant)` owns the plant's vehicles (`vehicles_of`), an `OrderBook`, a `Router`, a `TrafficControl`
(every vehicle registered at its home node) and a `Dispatcher`. Its single entry point is

    handle(message, at) -> list[Effect]

Messages (`Message`):

- commands from the WMS or an operator: `SubmitOrder(spec)`, `SubmitSequence(sequence, specs)` (both also
  compute the travel times to the new orders' pickups, `Dispatcher.prepare`), `CancelOrder(order, reason)`;
- vehicle events from the port (`ports.VehicleEvent`): `Progress`, `Arrived`, `OperationDone`,
  `StateChanged` (error and unavailable included), `EnergyReport`;
- `SetClosed(node= | edge=, closed)`: close a node or an edge to every vehicle, or open it again; the travel
  times the change made wrong are searched again here (`Dispatcher.repair`), not in the next dispatch.
  Routes already sent are not changed;
- `Tick()`: dispatch (orders, chargers, parking), retry allocation for waiting vehicles (longest waiting
  first, vehicles just back from a deadlock retreat last), resolve deadlocks (one vehicle retreats, or a
  joint plan moves several), make parked blockers give way.

Crane commands and events (`SendCraneMove`, `CraneAt`, events of vehicles the fleet does not own) are not the
fleet's: `handle` ignores them.

Effects (`Effect`):

- `ports.SendRoute` and `ports.Cancel`: commands the shell hands to the `VehiclePort`;
- `OrderChanged(transition)`: one order state change, in the order the book recorded it (for the WMS and UI);
- `WakeAt(at)`: the shell should send a `Tick` at (or soon after) `at`, because something waits.

`at` is the shell's clock (seconds); the core never reads a clock, never sleeps and does no I/O. Every state
change happens inside `handle`. See docs/fleet.md, "The fleet core", for the rules and what is not done.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from fleet.dispatcher import AssignmentKind, Dispatcher
from fleet.domain.orders import (
    Operation,
    OrderBook,
    OrderSequence,
    OrderSpec,
    OrderState,
    OrderTransition,
)
from fleet.domain.vehicles import AtNode, Load, Vehicle, VehicleState, vehicles_of
from fleet.ports import (
    Arrived,
    Cancel,
    CraneAt,
    EnergyReport,
    OperationDone,
    Progress,
    SendRoute,
    StateChanged,
    VehicleEvent,
)
from fleet.routing import NoRoute, Route, Router
from fleet.traffic import JointPlan, Resolution, ResolutionKind, Resource, TrafficControl, edge_resource
from layout import Plant

STEPS = 2  # nodes released ahead of the vehicle's node (the bounded base, k)
TICK_INTERVAL = 1.0  # seconds between ticks the core asks for while something waits
MAX_RESOLUTIONS = 4  # deadlocks resolved per tick at most

# ------------------------------------------------------------------------------------------- messages


@dataclass(frozen=True, kw_only=True)
class SubmitOrder:
    spec: OrderSpec


@dataclass(frozen=True, kw_only=True)
class SubmitSequence:
    sequence: OrderSequence
    specs: tuple[OrderSpec, ...]


@dataclass(frozen=True, kw_only=True)
class CancelOrder:
    order: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Tick:
    """Periodic work: dispatch, allocation retries, deadlocks, parked blockers."""


@dataclass(frozen=True, kw_only=True)
class SetClosed:
    """Close `node`, or `edge` (source, target), to every vehicle; with `closed=False` open it again."""

    node: str | None = None
    edge: tuple[str, str] | None = None
    closed: bool = True

    def __post_init__(self) -> None:
        if (self.node is None) == (self.edge is None):
            raise ValueError("SetClosed needs exactly one of node and edge")


Message = SubmitOrder | SubmitSequence | CancelOrder | SetClosed | Tick | VehicleEvent

# -------------------------------------------------------------------------------------------- effects


@dataclass(frozen=True, kw_only=True)
class OrderChanged:
    transition: OrderTransition


@dataclass(frozen=True, kw_only=True)
class WakeAt:
    at: float


Effect = SendRoute | Cancel | OrderChanged | WakeAt

# ------------------------------------------------------------------------------------------- internals


class DriveKind(StrEnum):
    ORDER = "order"  # driving to the order's next destination
    RETREAT = "retreat"  # a deadlock retreat for an order; the destination is given again on arrival
    ERRAND = "errand"  # an order-less move (making way for another vehicle)
    CHARGE = "charge"  # to a charger the dispatcher holds for the vehicle, and charge there
    PARK = "park"  # to a parking place the dispatcher holds for the vehicle


_ORDERLESS = (DriveKind.ERRAND, DriveKind.CHARGE, DriveKind.PARK)
_PLACE_DRIVES = {AssignmentKind.CHARGE: DriveKind.CHARGE, AssignmentKind.PARK: DriveKind.PARK}


@dataclass(slots=True)
class Drive:
    """The route a vehicle was last sent, as sent: `nodes` from where the route started, `released` of them
    released, `pos` the index of the node the vehicle last reported. `stopping` after a Cancel was sent."""

    order: str  # the SendRoute's order: a book order id, or an errand id
    kind: DriveKind
    nodes: tuple[str, ...]
    released: int
    operation: Operation
    pos: int = 0
    arrived: bool = False
    stopping: bool = False

    def command(self, vehicle: str) -> SendRoute:
        return SendRoute(
            vehicle=vehicle,
            order=self.order,
            nodes=self.nodes,
            released=self.released,
            operation=self.operation,
        )


_OUT = (VehicleState.ERROR, VehicleState.UNAVAILABLE)
_WORKING = (VehicleState.MOVING, VehicleState.LOADING, VehicleState.CHARGING)


class FleetCore:
    """Orders, vehicles and traffic of one plant behind one `handle(message, at)`."""

    def __init__(self, plant: Plant, *, steps: int = STEPS, tick_interval: float = TICK_INTERVAL) -> None:
        self.plant = plant
        self.steps = steps
        self.tick_interval = tick_interval
        self.vehicles: dict[str, Vehicle] = vehicles_of(plant)
        self.book = OrderBook(plant)
        self.router = Router(plant)
        self.traffic = TrafficControl(plant)
        # Takeovers (phase 2) include started orders whose vehicle still drives empty to the first destination
        # (`_takeover_candidates`); the vehicle that loses one is stopped (`_stop`).
        self.dispatcher = Dispatcher(plant, self.router, self.book, takeover_started=True)
        self.takeovers = 0  # orders taken over from a vehicle on its way to the pickup
        for vid, vehicle in sorted(self.vehicles.items()):
            self.traffic.register(vid, vehicle.vehicle_class, vehicle.home)
        self.drives: dict[str, Drive] = {}
        self.out: set[str] = set()  # vehicles in ERROR or UNAVAILABLE, until they report IDLE
        self.resume: set[str] = set()  # vehicles back from a deadlock retreat, to be sent on at the next tick
        self.hold: dict[str, tuple[str, str]] = {}  # vehicle -> (vehicle, errand) it waits for
        self._errands = 0
        self.victimised: dict[str, int] = {}  # vehicle -> deadlock resolutions it gave way in (aging)
        self.waited: dict[str, int] = {}  # vehicle -> ticks it has been stalled without a break (FIFO order)
        self.joint_plans = 0  # joint plans started (`_apply_plan`)
        # Situations (every vehicle's node, claim and whether it may move) in which no joint plan was found.
        self._no_plan: set[tuple[tuple[str, str, tuple[str, ...], bool], ...]] = set()
        # Routes to parking places (None: no route), asked again at every dispatch while a vehicle may not
        # park; valid while the router's costs do not change (its `version`).
        self._park_routes: dict[tuple[str, str, str], Route | None] = {}
        self._park_routes_version = -1

    # ------------------------------------------------------------------------------------------ queries

    def drive_of(self, vehicle: str) -> Drive | None:
        return self.drives.get(vehicle)

    def open_orders(self) -> list[str]:
        return sorted(o.id for o in self.book.orders.values() if not o.state.terminal)

    # ------------------------------------------------------------------------------------- entry point

    def handle(self, message: Message, at: float) -> list[Effect]:
        """Apply one message; return what should happen next (commands, order changes, a wake-up)."""
        seen = len(self.book.events)
        out: list[Effect] = []
        if isinstance(message, CraneAt) or (
            isinstance(message, VehicleEvent) and message.vehicle not in self.vehicles
        ):
            return []  # a crane's, or a vehicle this fleet does not own
        if isinstance(message, SubmitOrder):
            self.book.add(message.spec)
            self.dispatcher.prepare([message.spec.id])  # its travel times now, not in the next decision
        elif isinstance(message, SubmitSequence):
            self.book.add_sequence(message.sequence, message.specs)
            self.dispatcher.prepare([spec.id for spec in message.specs])
        elif isinstance(message, CancelOrder):
            self.book.cancel(message.order, at, message.reason)
        elif isinstance(message, SetClosed):
            self._set_closed(message)
        elif isinstance(message, Tick):
            out += self._tick(at)
        elif isinstance(message, Progress):
            out += self._progress(message, at)
        elif isinstance(message, Arrived):
            self._arrived(message, at)
        elif isinstance(message, OperationDone):
            out += self._operation_done(message, at)
        elif isinstance(message, StateChanged):
            out += self._state_changed(message, at)
        elif isinstance(message, EnergyReport):
            self.vehicles[message.vehicle].energy = message.energy
        out += self._after_transitions(seen, at)
        # The book hands its transitions out (as effects the shell records) and keeps no growing log.
        changes: list[Effect] = [OrderChanged(transition=t) for t in self.book.take_events()[seen:]]
        if not isinstance(message, Progress | Arrived) and self._waiting():
            out.append(WakeAt(at=at + self.tick_interval))
        return changes + out

    def _set_closed(self, change: SetClosed) -> None:
        """Close or open the node or edge in the router; the dispatcher's travel times are repaired now."""
        if change.node is not None:
            (self.router.close_node if change.closed else self.router.open_node)(change.node)
        elif change.edge is not None:
            source, target = change.edge
            (self.router.close_edge if change.closed else self.router.open_edge)(source, target)
        self.dispatcher.repair()

    # --------------------------------------------------------------------------------------- vehicle events

    def _progress(self, event: Progress, at: float) -> list[Effect]:
        vid = event.vehicle
        vehicle = self.vehicles[vid]
        vehicle.position = AtNode(event.node)
        if vid in self.out:
            return []
        self.traffic.progress(vid, event.node)
        drive = self.drives.get(vid)
        if drive is None:
            return []
        self._start_if_assigned(drive, at)
        for i in range(drive.pos + 1, drive.released):
            if drive.nodes[i] == event.node:
                drive.pos = i
                break
        if drive.stopping:
            return []
        return self._extend(vid, drive)

    def _arrived(self, event: Arrived, at: float) -> None:
        vehicle = self.vehicles[event.vehicle]
        vehicle.position = AtNode(event.node)
        drive = self.drives.get(event.vehicle)
        if drive is not None and drive.order == event.order:
            drive.arrived = True
            self._start_if_assigned(drive, at)

    def _operation_done(self, event: OperationDone, at: float) -> list[Effect]:
        vid = event.vehicle
        vehicle = self.vehicles[vid]
        vehicle.position = AtNode(event.node)
        drive = self.drives.get(vid)
        if drive is None or drive.order != event.order or drive.stopping:
            return []
        del self.drives[vid]
        if drive.kind in _ORDERLESS:
            return []  # parked, charged (the dispatcher keeps the charger until it is full) or out of the way
        order = self.book[drive.order]
        if drive.kind is DriveKind.RETREAT:
            self.resume.add(vid)  # its route again at the next tick, after parked vehicles made way
            return []
        self._start_if_assigned(drive, at)
        if order.state is not OrderState.ACTIVE:
            vehicle.order = None
            return []
        destination = self.book.destination_done(order.id, at)
        if destination.operation is Operation.PICK:
            vehicle.load = Load(order.spec.unit, order.spec.weight)
        elif destination.operation is Operation.DROP:
            vehicle.load = None
        if order.next_destination is not None:
            return self._drive_order(vid, order.id, at)
        self.book.finish(order.id, at)
        vehicle.order = None
        return []

    def _state_changed(self, event: StateChanged, at: float) -> list[Effect]:
        vid = event.vehicle
        vehicle = self.vehicles[vid]
        vehicle.state = event.state
        if event.state in _OUT:
            if vid not in self.out:
                self._fail_vehicle(vid, at, event.error or str(event.state))
            return []
        if vid in self.out:
            if event.state is VehicleState.IDLE:
                self.out.discard(vid)  # back in service where it stands; it holds its node already
                order = vehicle.order  # kept only when its unit is on board
                if order is not None:
                    if self.book[order].state is OrderState.ACTIVE:
                        return self._drive_order(vid, order, at)
                    vehicle.order = None
            return []
        drive = self.drives.get(vid)
        if drive is None:
            return []
        if drive.stopping and event.state not in _WORKING:
            self._settle(vid)
            del self.drives[vid]
        elif event.state in _WORKING:
            self._start_if_assigned(drive, at)
        return []

    def _fail_vehicle(self, vid: str, at: float, why: str) -> None:
        """The vehicle is out: free all it held except the node it stands on, give its order back. An order
        whose unit is on board (picked, not dropped) stays with the vehicle, ACTIVE: nobody else can pick the
        unit up; the vehicle drives it on when it reports IDLE again."""
        self.out.add(vid)
        self.resume.discard(vid)
        self.hold.pop(vid, None)
        vehicle = self.vehicles[vid]
        self.drives.pop(vid, None)
        self._settle(vid)
        carrying = vehicle.order if vehicle.load is not None else None
        if carrying is None:
            self.dispatcher.vehicle_failed(vid, at)
        else:
            self.dispatcher.release_hold(vid)
        for order in self.book.orders.values():
            if order.id == carrying:
                continue
            if order.vehicle == vid and order.state in (OrderState.ASSIGNED, OrderState.ACTIVE):
                # Only an order whose unit was already dropped is left over: it cannot be redone.
                self.book.fail(order.id, at, f"vehicle {vid} failed after the drop: {why}")
        vehicle.order = carrying

    def _settle(self, vid: str) -> None:
        """Free everything the vehicle holds but the node it last reported (it physically stands there)."""
        node = self.traffic.node_of(vid)
        self.traffic.release(vid)
        self.traffic.register(vid, self.vehicles[vid].vehicle_class, node)

    def _start_if_assigned(self, drive: Drive, at: float) -> None:
        if drive.kind in _ORDERLESS or drive.stopping:
            return
        order = self.book[drive.order]
        if order.state is OrderState.ASSIGNED:
            self.book.start(order.id, at, "vehicle began the route")

    # ---------------------------------------------------------------------------------------------- orders

    def _after_transitions(self, seen: int, at: float) -> list[Effect]:
        """Stop the vehicles of orders that ended (cancelled or failed) while a vehicle worked on them."""
        out: list[Effect] = []
        for transition in self.book.events[seen:]:
            if transition.to_state not in (OrderState.CANCELLED, OrderState.FAILED):
                continue
            for vid in sorted(self.resume):
                if self.vehicles[vid].order == transition.order:
                    self.resume.discard(vid)
                    self.hold.pop(vid, None)
                    self.vehicles[vid].order = None
            for vid, drive in list(self.drives.items()):
                if drive.kind in _ORDERLESS or drive.order != transition.order or drive.stopping:
                    continue
                out += self._stop(vid, drive)
        return out

    def _stop(self, vid: str, drive: Drive) -> list[Effect]:
        """Cancel the vehicle's drive for an order it no longer has; it is free once it stands."""
        self.vehicles[vid].order = None
        if self.vehicles[vid].state in _WORKING or len(self.traffic.base_of(vid)) > 1:
            # It may still be driving (or about to start, its state not reported yet) and stops at the next
            # node it may: keep its base until it reports a state that is not working.
            drive.stopping = True
            base_end = self.traffic.base_of(vid)[-1]
            self.traffic.claim(vid, [base_end])
        else:
            self._settle(vid)
            del self.drives[vid]
        return [Cancel(vehicle=vid, order=drive.order)]

    def _takeover_candidates(self) -> set[str]:
        """Vehicles whose order another vehicle may take over: driving (not stopping, not at or arrived at the
        end of its route) for the order to its first destination with nothing done and nothing on board, not
        loading, and in no retreat, joint plan or wait for another vehicle's errand (those run to their end)."""
        out: set[str] = set()
        for vid, drive in self.drives.items():
            vehicle = self.vehicles[vid]
            if (
                drive.kind is DriveKind.ORDER
                and not drive.stopping
                and not drive.arrived
                and drive.pos < len(drive.nodes) - 1  # not yet at the destination (arrival may be on its way)
                and vid not in self.out
                and vid not in self.hold
                and not self.traffic.in_plan(vid)
                and vehicle.order == drive.order
                and vehicle.load is None
                and vehicle.state is not VehicleState.LOADING
                and self.book[drive.order].done == 0
            ):
                out.add(vid)
        return out

    def _drive_order(self, vid: str, order_id: str, at: float, *, allocate: bool = True) -> list[Effect]:
        order = self.book[order_id]
        destination = order.next_destination
        if destination is None:  # pragma: no cover - callers check
            return []
        return self._drive(
            vid,
            order_id,
            kind=DriveKind.ORDER,
            target=destination.node,
            operation=destination.operation,
            at=at,
            allocate=allocate,
        )

    def _drive(
        self,
        vid: str,
        order: str,
        *,
        kind: DriveKind,
        target: str,
        operation: Operation,
        at: float,
        allocate: bool = True,
    ) -> list[Effect]:
        """Route the vehicle from where it stands to `target`, claim, allocate (unless told not to: then
        only its node is released, and the tick allocates later) and send the route."""
        vehicle = self.vehicles[vid]
        source = self.traffic.node_of(vid)
        try:
            route = self.router.route(vehicle.vehicle_class, source, target)
        except NoRoute as error:
            if kind not in _ORDERLESS:
                self.book.fail(order, at, str(error))
                vehicle.order = None
            return []
        self.traffic.claim(vid, route.nodes)
        released = self.traffic.allocate(vid, self.steps) if allocate else 1
        drive = Drive(order=order, kind=kind, nodes=route.nodes, released=released, operation=operation)
        self.drives[vid] = drive
        return [drive.command(vid)]

    def _extend(self, vid: str, drive: Drive) -> list[Effect]:
        """Allocate further; send the route again if more is released (the released prefix is kept)."""
        ahead = self.traffic.allocate(vid, self.steps)
        released = drive.pos + ahead
        if released <= drive.released:
            return []
        drive.released = released
        return [drive.command(vid)]

    # ------------------------------------------------------------------------------------------------ tick

    def _tick(self, at: float) -> list[Effect]:
        """Dispatch; send vehicles back from retreats (claimed, not yet allocated); let idle vehicles that
        stand on someone's claim make way; allocate; resolve deadlocks; move stalled vehicles whose idle
        blocker could not make way."""
        out: list[Effect] = []
        out += self._dispatch(at)
        resumed: set[str] = set()
        for vid in sorted(self.resume):
            blocker, errand = self.hold.get(vid, ("", ""))
            if blocker in self.drives and self.drives[blocker].order == errand:
                continue  # still waiting for the vehicle it made room for
            if vid in self.drives or self.traffic.in_plan(vid):
                continue  # moving for a joint plan (`_apply_plan`): its route again once that is done
            self.hold.pop(vid, None)
            self.resume.discard(vid)
            order = self.vehicles[vid].order
            if order is not None and not self.book[order].state.terminal:
                out += self._drive_order(vid, order, at, allocate=False)
                resumed.add(vid)
        out += self._make_way()
        for vid in self._allocation_order(resumed):
            out += self._extend(vid, self.drives[vid])
        self.waited = {vid: self.waited.get(vid, 0) + 1 for vid in self.drives if self._stalled(vid)}
        for _ in range(MAX_RESOLUTIONS):
            resolution = self._one_resolution()
            if resolution is None:
                break
            if isinstance(resolution, JointPlan):
                out += self._apply_plan(resolution)
            else:
                out += self._apply(resolution)
        out += self._untangle_stalls()
        out += self._unblock()
        return out

    def _allocation_order(self, resumed: set[str]) -> list[str]:
        """Drives to allocate for, in the order they get what was freed: the longest stalled first (FIFO), then
        the rest, and vehicles just back from a deadlock retreat last. A victim whose route is sent again at the
        tick it arrived (an adapter reports arrival and the end of a MOVE together) would otherwise take the
        contested node back before the vehicle it gave way to, if its id sorts first, and the same deadlock
        would form again at every retreat: a livelock."""
        drives = [v for v, d in self.drives.items() if not d.stopping and v not in self.out]
        return sorted(drives, key=lambda v: (v in resumed, -self.waited.get(v, 0), v))

    def _stalled(self, vid: str) -> bool:
        """Standing at the end of its released base with more of its claim ahead (waiting for traffic)."""
        drive = self.drives.get(vid)
        if drive is None or drive.stopping or vid in self.out:
            return False
        return (
            self.traffic.base_of(vid) == (self.traffic.node_of(vid),) and len(self.traffic.claim_of(vid)) > 1
        )

    def _dispatch(self, at: float) -> list[Effect]:
        """Orders to free vehicles; free vehicles low on energy to a charger, the rest with nothing to do to a
        parking place. A vehicle that drives (anything) or is out gets nothing: it is never diverted mid-route,
        and one with an order (loaded or not) never goes to charge before the order ends."""
        out: list[Effect] = []
        busy = self.drives.keys() | self.out
        keep = self.vehicles.keys() - self._takeover_candidates()
        for assignment in self.dispatcher.dispatch(self.vehicles, at, busy=busy, keep=keep):
            vid = assignment.vehicle
            if assignment.kind is AssignmentKind.ORDER and assignment.order is not None:
                previous = assignment.previous
                if previous is not None:
                    # Taken over: the vehicle that had the order stops where it safely can, then is free.
                    self.takeovers += 1
                    out += self._stop(previous, self.drives[previous])
                self.vehicles[vid].order = assignment.order
                out += self._drive_order(vid, assignment.order, at)
                continue
            kind = _PLACE_DRIVES[assignment.kind]
            if kind is DriveKind.PARK and not self._may_park(vid, assignment.target_node):
                self.dispatcher.release_hold(vid)  # offered again at the next dispatch
                continue
            operation = Operation.CHARGE if kind is DriveKind.CHARGE else Operation.PARK
            self._errands += 1
            sent = self._drive(
                vid,
                f"{kind}-{self._errands}",
                kind=kind,
                target=assignment.target_node,
                operation=operation,
                at=at,
            )
            if not sent:
                self.dispatcher.release_hold(vid)  # no route now: planned again at a later dispatch
            out += sent
        return out

    def _may_park(self, vid: str, place: str) -> bool:
        """Parking is worth a move only if it disturbs nobody: the way there passes no other vehicle that stands
        still (it would have to make way, and could then want to park back through this one: ping-pong), and
        the place is off every working vehicle's remaining claim and every open order's remaining
        destinations (else the parked vehicle is made to leave again: ping-pong with the order's vehicle)."""
        route = self._park_route(self.vehicles[vid].vehicle_class, self.traffic.node_of(vid), place)
        if route is None:
            return False
        for other in self.traffic.blockers(vid, _resources(route.nodes)):
            if other not in self.drives or self.drives[other].kind in (DriveKind.PARK, DriveKind.CHARGE):
                return False
        mine = self.traffic.conflicts[place]
        for other, drive in self.drives.items():
            if (
                other != vid
                and not drive.stopping
                and not mine.isdisjoint(self.traffic.claim_resources(other))
            ):
                return False
        # Nor where an open order still has to go (its vehicle may be between two legs, or not chosen yet).
        for order in self.book.orders.values():
            if not order.state.terminal and any(
                d.node in mine for d in order.spec.destinations[order.done :]
            ):
                return False
        return True

    def _park_route(self, vehicle_class: str, source: str, place: str) -> Route | None:
        """The router's route to a parking place, None if there is none; the same until the router changes."""
        if self._park_routes_version != self.router.version or len(self._park_routes) > 1000:
            self._park_routes.clear()
            self._park_routes_version = self.router.version
        key = (vehicle_class, source, place)
        if key not in self._park_routes:
            try:
                self._park_routes[key] = self.router.route(vehicle_class, source, place)
            except NoRoute:
                self._park_routes[key] = None
        return self._park_routes[key]

    def _one_resolution(self) -> Resolution | JointPlan | None:
        """The first deadlock that can be resolved. Victims are chosen fairly: the vehicle that gave way least
        often goes first, and among equals one on an order-less drive (parking, charging, an errand) before
        one on an order. Without that, the same vehicle could be sent back every time (livelock).

        When no single victim has a way out, several vehicles' moves are planned together
        (`traffic.untangle`): the cycle's vehicle that has waited longest drives to the end of its claim, and
        the vehicles standing around it make room, in plan order. One joint plan runs at a time; cycles that
        involve its vehicles wait for it."""
        for cycle in self.traffic.deadlocks():
            if any(v in self.out or v not in self.drives or self.drives[v].stopping for v in cycle):
                continue
            if any(self.traffic.in_plan(v) for v in cycle):
                continue
            for vid in cycle:
                orderless = self.drives[vid].kind in _ORDERLESS
                self.traffic.set_priority(vid, 2 * self.victimised.get(vid, 0) + (0 if orderless else 1))
            resolution = self.traffic.resolve(cycle, self.router)
            if resolution is not None:
                self.victimised[resolution.victim] = self.victimised.get(resolution.victim, 0) + 1
                return resolution
            plan = self._joint_plan(cycle)
            if plan is not None:
                return plan
        return None

    def _joint_plan(self, cycle: Sequence[str]) -> JointPlan | None:
        """A joint plan for a cycle no single retreat resolves, or for a stalled vehicle and the standing ones it
        waits for; None if there is none (or one runs already)."""
        if self.traffic.plan is not None:
            return None
        movable = self._movable()
        key = tuple(
            (v, self.traffic.node_of(v), self.traffic.claim_of(v), v in movable)
            for v in self.traffic.vehicles
        )
        if key in self._no_plan:
            return None  # searched in this very situation already: nothing changed since
        stalled = [v for v in cycle if self._stalled(v)]
        leads = sorted(stalled, key=lambda v: (-self.waited.get(v, 0), self.victimised.get(v, 0), v))
        plan = self.traffic.untangle(cycle, self.router, movable, leads=leads)
        if plan is None:
            if len(self._no_plan) > 1000:
                self._no_plan.clear()
            self._no_plan.add(key)
        return plan

    def _untangle_stalls(self) -> list[Effect]:
        """A stalled vehicle that waits for a vehicle without a drive (idle, or back from a retreat) that could
        not make way alone: plan their moves together, the stalled vehicle leading (longest waiting first)."""
        if self.traffic.plan is not None:
            return []
        for vid in sorted(self.waited, key=lambda v: (-self.waited[v], v)):
            if not self._stalled(vid):
                continue
            standing = sorted(
                b for b in self.traffic.waits_for(vid) if b not in self.drives and b not in self.out
            )
            if standing:
                plan = self._joint_plan((vid, *standing))
                if plan is not None:
                    return self._apply_plan(plan)
        return []

    def _movable(self) -> set[str]:
        """Vehicles a joint plan may move: neither out, loading, charging nor stopping, and not about to work at
        the end of their route (released up to it, on an order, charge or park drive)."""
        movable = set()
        for vid in self.traffic.vehicles:
            drive = self.drives.get(vid)
            if vid in self.out or (drive is not None and (drive.stopping or drive.arrived)):
                continue
            if (
                drive is None
                or drive.kind in (DriveKind.ERRAND, DriveKind.RETREAT)
                or len(self.traffic.claim_of(vid)) > len(self.traffic.base_of(vid))
            ):
                movable.add(vid)
        return movable

    def _apply_plan(self, plan: JointPlan) -> list[Effect]:
        """Claim a joint plan (traffic control gates its allocation into plan order) and send every route. The
        lead keeps its drive with the plan's route to its destination; the others make room: a drive for an
        order becomes a retreat (the order's route is sent again once the retreat is done), a charge or park
        drive an errand, and a vehicle without a drive gets an errand."""
        self.traffic.execute(plan)
        self.joint_plans += 1
        out: list[Effect] = []
        for vid, path in sorted(plan.paths.items()):
            drive = self.drives.get(vid)
            if drive is None:
                self._errands += 1
                self.dispatcher.release_hold(vid)
                drive = Drive(
                    order=f"make-way-{self._errands}",
                    kind=DriveKind.ERRAND,
                    nodes=path,
                    released=1,
                    operation=Operation.MOVE,
                )
                self.drives[vid] = drive
            else:
                drive.nodes = drive.nodes[: drive.released] + path[1:]
                if vid != plan.lead:
                    self._to_retreat(vid, drive)
            if vid != plan.lead:
                self.victimised[vid] = self.victimised.get(vid, 0) + 1
            ahead = self.traffic.allocate(vid, self.steps)
            drive.released = max(drive.released, drive.pos + ahead)
            out.append(drive.command(vid))
        return out

    def _to_retreat(self, vid: str, drive: Drive) -> None:
        """The drive no longer reaches its destination: an order's becomes a retreat (its route is sent again
        after it), a charge or park drive an errand (the place is given back, the next dispatch plans it)."""
        drive.operation = Operation.MOVE
        if drive.kind is DriveKind.ORDER:
            drive.kind = DriveKind.RETREAT
        elif drive.kind in (DriveKind.CHARGE, DriveKind.PARK):
            drive.kind = DriveKind.ERRAND
            self.dispatcher.release_hold(vid)

    def _apply(self, resolution: Resolution) -> list[Effect]:
        """Stitch the proposal onto the victim's route: its released prefix stays, the rest is replaced."""
        vid = resolution.victim
        drive = self.drives[vid]
        self.traffic.claim(vid, resolution.nodes)
        drive.nodes = drive.nodes[: drive.released] + resolution.nodes[1:]
        if resolution.kind is ResolutionKind.RETREAT:
            self._to_retreat(vid, drive)
        ahead = self.traffic.allocate(vid, self.steps)
        drive.released = max(drive.released, drive.pos + ahead)
        return [drive.command(vid)]

    def _idle(self, vid: str) -> bool:
        """Standing with nothing to do: no drive, no order, not out of service."""
        return vid not in self.drives and vid not in self.out and self.vehicles[vid].order is None

    def _claimed(self) -> set[Resource]:
        """The rest of every working vehicle's claim (drives neither stopping nor out), as resources."""
        claimed: set[Resource] = set()
        for other, drive in self.drives.items():
            if not drive.stopping and other not in self.out:
                claimed |= self.traffic.claim_resources(other)
        return claimed

    def _in_the_way(self, vid: str, claimed: set[Resource]) -> bool:
        """Whether what `vid` holds conflicts with `claimed` (`_claimed`: another working vehicle's claim when
        `vid` has no drive)."""
        conflicts = self.traffic.conflicts
        return any(not conflicts[r].isdisjoint(claimed) for r in self.traffic.held_by(vid))

    def _make_way(self) -> list[Effect]:
        """Idle vehicles standing on another vehicle's claim retreat off every claim (`make_way`)."""
        out: list[Effect] = []
        claimed: set[Resource] | None = None
        for vid in self.traffic.vehicles:
            if not self._idle(vid):
                continue
            if claimed is None:
                claimed = self._claimed()
            if self._in_the_way(vid, claimed):
                way = self.traffic.make_way(vid, self.router)
                if way is not None:
                    out += self._errand(vid, way.nodes)
                    claimed = None  # the errand is a new claim
        return out

    def _errand(self, vid: str, nodes: Sequence[str]) -> list[Effect]:
        self._errands += 1
        self.dispatcher.release_hold(vid)  # moved off its parking place or charger: planned again later
        self.traffic.claim(vid, nodes)
        released = self.traffic.allocate(vid, self.steps)
        drive = Drive(
            order=f"make-way-{self._errands}",
            kind=DriveKind.ERRAND,
            nodes=tuple(nodes),
            released=released,
            operation=Operation.MOVE,
        )
        self.drives[vid] = drive
        return [drive.command(vid)]

    def _unblock(self) -> list[Effect]:
        """A stalled vehicle W waits for an idle vehicle B that has nowhere to make way to (B stands in a dead
        end W needs). B gets an escape errand to the nearest node off W's claim; W first retreats to the
        nearest node off B's escape path, and gets its route again only when B's errand is done."""
        out: list[Effect] = []
        for blocker in self.traffic.parked_blockers():
            if not self._idle(blocker) or self.traffic.in_plan(blocker):
                continue
            for vid, drive in sorted(self.drives.items()):
                if drive.stopping or drive.kind is DriveKind.ERRAND or vid in self.out or vid in self.hold:
                    continue
                if self.traffic.in_plan(vid):
                    continue
                stalled = self.traffic.base_of(vid) == (self.traffic.node_of(vid),)
                if not stalled or blocker not in self.traffic.waits_for(vid):
                    continue
                escape = self._nearest_off(blocker, self.traffic.claim_resources(vid), {vid})
                if escape is None:
                    continue
                spot = self._nearest_off(vid, _resources(escape), set())
                if spot is None:
                    continue
                for_order = drive.kind not in _ORDERLESS  # a charge or park drive becomes a plain errand
                out += self._apply(Resolution(vid, ResolutionKind.RETREAT, spot, (vid, blocker)))
                out += self._errand(blocker, escape)
                if for_order:
                    self.hold[vid] = (blocker, self.drives[blocker].order)
                return out
        return out

    def _nearest_off(self, vid: str, avoid: Set[Resource], ignore: set[str]) -> tuple[str, ...] | None:
        """The cheapest route from the vehicle's node to the nearest node that conflicts with nothing in
        `avoid`, through nothing that vehicles other than `vid` and `ignore` hold; None if there is none."""
        vclass = self.vehicles[vid].vehicle_class
        source = self.traffic.node_of(vid)
        candidates = sorted(self.plant.graph(vclass))
        costs = self.router.cost_matrix(vclass, [source], candidates)[0]
        for cost, node in sorted(zip(costs.tolist(), candidates, strict=True)):
            if node == source or not math.isfinite(cost) or self.traffic.conflicts[node] & avoid:
                continue
            nodes = self.router.route(vclass, source, node).nodes
            if self.traffic.blockers(vid, _resources(nodes)) - ignore:
                continue
            return nodes
        return None

    def _waiting(self) -> bool:
        """An order is open, a vehicle drives, or an idle vehicle is low on energy (it waits for a charger)."""
        if self.open_orders() or self.drives:
            return True
        return bool(self.dispatcher.chargers) and any(
            self._idle(vid) and self.vehicles[vid].energy_low for vid in self.vehicles
        )


def order_states(effects: Sequence[Effect]) -> Mapping[str, list[OrderState]]:
    """The states each order went through in `effects` (first the state it left), for logs and tests."""
    out: dict[str, list[OrderState]] = {}
    for effect in effects:
        if isinstance(effect, OrderChanged):
            t = effect.transition
            out.setdefault(t.order, [t.from_state]).append(t.to_state)
    return out


def _resources(nodes: Sequence[str]) -> set[Resource]:
    """The nodes of a route and the edges between them, as traffic resources."""
    return {*nodes, *(edge_resource(a, b) for a, b in pairwise(nodes))}
