"""The dispatcher: which vehicle does which transport order, and where idle vehicles charge or park.

It runs the openTCS phases (research/fleet.md §1.5, §6.5) in one synchronous call, `dispatch(vehicles, at)`:

1. **Assign free orders.** The dispatchable orders (`OrderBook.dispatchable()`: CREATED, dependencies and
   sequence predecessors done) go to the available vehicles at minimum total cost, solved exactly with
   `scipy.optimize.linear_sum_assignment` (not openTCS's greedy sort; research/perf.md §4: 100 × 1,000 in
   well under a millisecond). The cost of vehicle i doing order j is

       cost[i, j] = travel[i, j]
                    - priority_weight * priority[j]
                    + lateness_weight * (late[i, j] - late_if_deferred[j])

   * `travel[i, j]`: seconds (`FASTEST` profile, empty) from the vehicle's node (or, on an edge, the edge's
     target) to the order's first destination; one `Router.cost_matrix` call per vehicle class.
   * `priority_weight` (default 10,000 s per level) is far more than any travel time in a plant, so a
     higher-priority order always wins a vehicle over a lower one, whatever the distances.
   * `late[i, j] = max(0, at + travel[i, j] - deadline[j])`: how late the vehicle would reach the first
     destination (a lower bound on the order's lateness); `late_if_deferred[j]` is the same for the order's
     best vehicle one `defer_horizon` (300 s) later, i.e. how late the order gets if it waits for the next
     round. So among vehicles, the one that keeps the deadline wins; among orders competing for too few
     vehicles, the one whose deadline is at risk wins. Orders without a deadline have no such term.
   * Infeasible pairs (wrong class, too heavy, no route) get a big finite cost, bigger than any difference
     of feasible totals, so the solver first maximises the number of feasible pairs, then minimises cost;
     infeasible pairs it still picks (rectangular or sparse problems) are dropped.

   A vehicle is available when it has no order (neither `vehicle.order` nor an ASSIGNED or ACTIVE order
   in the book) and is IDLE, or is only driving to / standing at a charger or parking place this dispatcher
   sent it to (those moves are dispensable: a real order preempts them), and in either case is not low on
   energy. A vehicle on an edge is costed from the edge's end. The dispatcher records each order with
   `book.assign`; telling the vehicle (and setting `vehicle.order`) is the caller's job.
2. **Take over.** An ASSIGNED (not yet started) order whose vehicle is still on its way to the pickup is
   given to a vehicle left free after phase 1 when that vehicle reaches the first destination at least
   `takeover_margin` seconds (default 30 s) sooner: `book.withdraw` then `book.assign`, and the assignment
   names the vehicle that lost the order in `previous`. Greedy, highest priority first. With
   `takeover_started=True` an ACTIVE order is a candidate too while nothing of it is done (`order.done == 0`),
   its vehicle is not loading and carries nothing (`book.recall` instead of `withdraw`); the caller must then
   stop the previous vehicle. An order never goes back to a vehicle it was taken from, and the caller's `keep`
   vehicles keep their orders this round.
3. **Recharge.** IDLE vehicles below their class's `low_fraction` go to a free charger (node kind
   'charger'), matched optimally by travel time; a charger holds one vehicle: it is taken by a vehicle
   standing on it (unless it is IDLE, free, charged and holds nothing: it is made to leave) or by one this
   dispatcher sent there. A vehicle keeps its charger until its energy is
   back to `full_fraction` (then it is parked) or it gets a real order. No free charger: it waits. A vehicle
   that stands IDLE on its charger still low (its charge stopped early) is sent to charge again, there
   (a one-node route) or at another free charger, at most every `recharge_retry` seconds (a vehicle that
   charges while it stands idle is left to report its energy).
4. **Park.** IDLE vehicles with nothing else to do that are not on a parking node go to a free one (kind
   'parking'), matched optimally by travel time; one vehicle per parking node.

`prepare(orders)` computes the travel times to the orders' next destinations (and, once, to the chargers
and parking places) when the orders arrive, so that a decision searches only for what the router does not
know yet (docs/fleet.md, "Dispatch time"); `repair()` searches again, when a topology change is handled, the
ones the change made wrong; `dispatch` drops cached columns no open order needs once more than
`COLUMN_SLACK` pile up.

`vehicle_failed(vehicle, at)` gives the vehicle's order back to the book (ASSIGNED: `withdraw`; ACTIVE and
nothing dropped yet: `reassign`) so the next dispatch gives it to another vehicle; an order whose unit was
already dropped is left for the caller. The caller keeps the vehicle out of the next dispatch by its state
(ERROR or UNAVAILABLE), and keeps busy vehicles (e.g. driving an errand of the caller's own) out with
`dispatch(..., busy=...)`: they keep their holds and the places they stand on, but get nothing.
`release_hold(vehicle)` drops a hold when the caller moved the vehicle elsewhere (e.g. to make way), so
the next dispatch plans it again.

Pure and synchronous: no I/O, no clock (time is `at`, seconds on the core's clock).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped, unused-ignore]

from fleet.domain.orders import OrderBook, OrderState, OrderTransition, TransportOrder
from fleet.domain.vehicles import OnEdge, Vehicle, VehicleState
from fleet.routing import FASTEST, CostProfile, Router
from layout import Plant

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

PRIORITY_WEIGHT = 10_000.0  # seconds of travel one priority level is worth
LATENESS_WEIGHT = 10.0  # seconds of travel one second of lateness is worth
DEFER_HORIZON = 300.0  # seconds an order left unassigned is assumed to wait for the next chance
TAKEOVER_MARGIN = 30.0  # seconds a free vehicle must save to take an assigned order over
RECHARGE_RETRY = 60.0  # seconds before a vehicle idle and still low on its charger is told to charge again
COLUMN_SLACK = 500  # cached columns (costs to a node) beyond those the open orders need, before dropping


class AssignmentKind(StrEnum):
    ORDER = "order"
    CHARGE = "charge"
    PARK = "park"


@dataclass(frozen=True, slots=True)
class Assignment:
    """One decision: `vehicle` drives to `target_node` for `order` (None for charging and parking).

    `cost` is the assignment cost (travel seconds, plus the priority and deadline terms for orders);
    `previous` names the vehicle an order was taken from (takeover), else None."""

    vehicle: str
    order: str | None
    kind: AssignmentKind
    target_node: str
    cost: float
    previous: str | None = None

    @property
    def dispensable(self) -> bool:
        return self.kind is not AssignmentKind.ORDER


def source_node(vehicle: Vehicle) -> str | None:
    """Where routes of `vehicle` start: its node, or the end of the edge it is on."""
    position = vehicle.position
    return position.target if isinstance(position, OnEdge) else vehicle.node


def solve(cost: FloatArray, feasible: BoolArray) -> list[tuple[int, int]]:
    """Pairs (row, column) of a minimum-cost assignment using feasible pairs only, as many pairs as possible.

    Infeasible entries get a finite cost larger than any difference between feasible totals, so the solver
    maximises the number of feasible pairs first; the infeasible pairs it is forced to pick are dropped."""
    rows = np.flatnonzero(feasible.any(axis=1))
    columns = np.flatnonzero(feasible.any(axis=0))
    if rows.size == 0 or columns.size == 0:
        return []
    sub = cost[np.ix_(rows, columns)]
    ok = feasible[np.ix_(rows, columns)]
    finite = sub[ok]
    high, low = float(finite.max()), float(finite.min())
    big = high + (high - low + 1.0) * (min(sub.shape) + 1)
    r, c = linear_sum_assignment(np.where(ok, sub, big))
    keep = ok[r, c]
    return [(int(i), int(j)) for i, j in zip(rows[r[keep]], columns[c[keep]], strict=True)]


class Dispatcher:
    """Assigns orders, chargers and parking places for one plant; keeps only its charger/parking holds."""

    def __init__(
        self,
        plant: Plant,
        router: Router,
        book: OrderBook,
        *,
        profile: CostProfile = FASTEST,
        priority_weight: float = PRIORITY_WEIGHT,
        lateness_weight: float = LATENESS_WEIGHT,
        defer_horizon: float = DEFER_HORIZON,
        takeover_margin: float = TAKEOVER_MARGIN,
        recharge_retry: float = RECHARGE_RETRY,
        takeover_started: bool = False,
    ) -> None:
        self.plant = plant
        self.router = router
        self.book = book
        self.profile = profile
        self.priority_weight = priority_weight
        self.lateness_weight = lateness_weight
        self.defer_horizon = defer_horizon
        self.takeover_margin = takeover_margin
        self.takeover_started = takeover_started
        self._taken_from: dict[str, set[str]] = {}  # order -> vehicles it was taken over from (no ping-pong)
        self.chargers = sorted(n for n, k in plant.node_kinds.items() if k == "charger")
        self.parking = sorted(n for n, k in plant.node_kinds.items() if k == "parking")
        self.recharge_retry = recharge_retry
        self._holds: dict[str, Assignment] = {}
        self._charge_sent: dict[str, float] = {}  # vehicle -> when it was last sent to charge

    def prepare(self, orders: Iterable[str] = ()) -> int:
        """Compute the travel times to these orders' next destinations now, when they arrive (one search each
        on the reversed graph, per class of the fleet that may do the order), and to the chargers and parking
        places (once), so that a dispatch decision needs searches only for what the router does not know yet.
        Returns how many searches ran."""
        classes = sorted({v.vehicle_class.id for v in self.plant.vehicles.values()})
        places = [*self.chargers, *self.parking]
        targets = {c: [n for n in places if n in self.plant.graph(c)] for c in classes}
        for order_id in orders:
            order = self.book[order_id]
            node = _first_node(order)
            for vclass in classes:
                if order.spec.vehicle_class in (None, vclass) and node in self.plant.graph(vclass):
                    targets.setdefault(vclass, []).append(node)
        return sum(self.router.prepare(c, nodes, self.profile) for c, nodes in targets.items())

    def repair(self) -> int:
        """After a topology change (closures, penalties, prohibitions): search again now the travel times the
        change made wrong (`Router.repair`), so that the next decision does not. Returns how many searches
        ran."""
        return self.router.repair()

    @property
    def holds(self) -> Mapping[str, Assignment]:
        """The charge and park assignments still standing, by vehicle (each holds its target node)."""
        return dict(self._holds)

    def release_hold(self, vehicle: str) -> None:
        """Forget the vehicle's charger or parking hold (it was moved off it, or could not get there)."""
        self._holds.pop(vehicle, None)

    # ------------------------------------------------------------------------------------------ failures

    def vehicle_failed(self, vehicle: str, at: float) -> list[OrderTransition]:
        """Give the failed vehicle's orders back to the book; drop its charger or parking hold."""
        self._holds.pop(vehicle, None)
        out: list[OrderTransition] = []
        for order in list(self.book.orders.values()):
            if order.vehicle != vehicle:
                continue
            reason = f"vehicle {vehicle} failed"
            if order.state is OrderState.ASSIGNED:
                out += self.book.withdraw(order.id, at, reason)
            elif order.state is OrderState.ACTIVE and not order.dropped:
                out += self.book.reassign(order.id, at, reason)
        return out

    # ------------------------------------------------------------------------------------------ dispatch

    def dispatch(
        self,
        vehicles: Mapping[str, Vehicle],
        at: float,
        *,
        busy: Collection[str] = (),
        keep: Collection[str] = (),
    ) -> list[Assignment]:
        """One round of all phases; applies `book.assign` (and `withdraw` or `recall` for takeovers) for real
        orders.

        `busy` vehicles get nothing this round but keep their holds and the places they stand on; `keep`
        vehicles keep their orders (no takeover from them this round)."""
        self._release_holds(vehicles)
        working: set[str | None] = set()
        assigned: list[TransportOrder] = []
        for o in self.book.orders.values():  # one pass: this runs over every open order per decision
            if o.state is OrderState.ASSIGNED:
                assigned.append(o)
                working.add(o.vehicle)
            elif o.state is OrderState.ACTIVE:
                working.add(o.vehicle)
                if self.takeover_started and o.done == 0:
                    assigned.append(o)
        free = [
            v
            for _, v in sorted(vehicles.items())
            if v.id not in working and v.id not in busy and self._free(v)
        ]
        orders = self.book.dispatchable()
        # Rows only for vehicles that may get an order: low ones only go to chargers (costed in phase 3).
        able = [v for v in free if not v.energy_low]
        if not able or self.takeover_margin == np.inf:
            assigned = []  # nobody could take an order over: no rows or columns for it
        assigned = [
            o
            for o in assigned
            if o.vehicle is not None
            and o.vehicle in vehicles
            and o.vehicle not in keep
            and self._on_the_way(vehicles[o.vehicle], started=o.state is OrderState.ACTIVE)
        ]
        holders = [vehicles[o.vehicle] for o in assigned if o.vehicle is not None]
        sources = [*able, *holders]
        facts = _Facts.of([*orders, *assigned])
        travel = self._travel(sources, facts) if orders or assigned else np.empty((0, 0))
        out: list[Assignment] = []

        # Phase 1: free orders, optimally.
        n_able, n_orders = len(able), len(orders)
        if able and orders:
            t = travel[:n_able, :n_orders]
            cost = self._order_cost(t, facts, at)
            feasible = np.isfinite(t) & self._fits(able, facts.need[:n_orders])
            for i, j in solve(cost, feasible):
                vehicle, order = able[i], orders[j]
                out.append(self._give(vehicle, order, float(cost[i, j]), at))
        given = {a.vehicle for a in out}

        # Phase 2: takeovers of assigned orders not yet started.
        left = [i for i, v in enumerate(able) if v.id not in given]
        index = {v.id: i for i, v in enumerate(sources)}
        if left and assigned:
            ranked = sorted(range(len(assigned)), key=lambda k: (-assigned[k].spec.priority, assigned[k].id))
            for k in ranked:
                order = assigned[k]
                holder = order.vehicle
                if holder is None or holder not in index:
                    continue
                column = n_orders + k
                now = travel[index[holder], column]
                lost = self._taken_from.get(order.id, set())
                best, best_i = np.inf, -1
                for i in left:
                    v = able[i]
                    if (
                        v.id not in given
                        and v.id not in lost
                        and order.accepts(v)
                        and travel[i, column] < best
                    ):
                        best, best_i = float(travel[i, column]), i
                if best_i >= 0 and best + self.takeover_margin < now:
                    winner = able[best_i]
                    why = f"taken over by {winner.id}"
                    if order.state is OrderState.ACTIVE:
                        self.book.recall(order.id, at, why)
                    else:
                        self.book.withdraw(order.id, at, why)
                    self._taken_from.setdefault(order.id, set()).add(holder)
                    out.append(self._give(winner, order, best, at, previous=holder))
                    given.add(winner.id)
        for oid in [o for o in self._taken_from if o not in self.book.orders or self.book[o].state.terminal]:
            del self._taken_from[oid]

        # Phases 3 and 4: chargers for low vehicles, parking for the rest with nothing to do.
        idle = [v for v in free if v.id not in given and v.state is VehicleState.IDLE]
        low = [v for v in idle if v.energy_low and self._needs_charger(v, at)]
        # A charged vehicle idling on a charger does not keep it from a low one (it is made to leave).
        idling = {v.id for v in idle if not v.energy_low and v.id not in self._holds}
        out += self._send(low, self.chargers, AssignmentKind.CHARGE, vehicles, idling)
        self._charge_sent.update((a.vehicle, at) for a in out if a.kind is AssignmentKind.CHARGE)
        taken = {a.vehicle for a in out}
        rest = [
            v
            for v in idle
            if v.id not in taken
            and v.id not in self._holds
            and not v.energy_low
            and self.plant.node_kinds.get(v.node or "") != "parking"
        ]
        out += self._send(rest, self.parking, AssignmentKind.PARK, vehicles)
        return out

    # --------------------------------------------------------------------------------------- internals

    def _needs_charger(self, vehicle: Vehicle, at: float) -> bool:
        """Low and IDLE: no hold, a parking hold, or a charger hold it stands on without charging since it
        was last sent to charge at least `recharge_retry` seconds ago."""
        hold = self._holds.get(vehicle.id)
        if hold is None or hold.kind is AssignmentKind.PARK:
            return True
        retry = self._charge_sent.get(vehicle.id, -float("inf")) + self.recharge_retry
        return vehicle.node == hold.target_node and at >= retry

    def _release_holds(self, vehicles: Mapping[str, Vehicle]) -> None:
        for vid, hold in list(self._holds.items()):
            v = vehicles.get(vid)
            gone = (
                v is None or v.order is not None or v.state in (VehicleState.ERROR, VehicleState.UNAVAILABLE)
            )
            done = v is not None and hold.kind is AssignmentKind.CHARGE and v.state is VehicleState.IDLE
            if gone or (done and v is not None and _charged(v)):
                del self._holds[vid]

    def _free(self, vehicle: Vehicle) -> bool:
        """IDLE with no order, or only on a dispensable move of ours (driving to, or at, a charger or park)."""
        if vehicle.order is not None or source_node(vehicle) is None:
            return False
        if vehicle.state is VehicleState.IDLE:
            return True
        return vehicle.id in self._holds and vehicle.state in (VehicleState.MOVING, VehicleState.CHARGING)

    @staticmethod
    def _on_the_way(vehicle: Vehicle, *, started: bool = False) -> bool:
        """Still on its way to the order's first destination; a started order's vehicle also carries nothing."""
        if started and vehicle.load is not None:
            return False
        return vehicle.state in (VehicleState.IDLE, VehicleState.MOVING) and source_node(vehicle) is not None

    def _travel(self, vehicles: Sequence[Vehicle], facts: _Facts) -> FloatArray:
        """Seconds from each vehicle to each order's next destination; inf where the class cannot do it."""
        targets = facts.targets
        out = np.full((len(vehicles), len(targets)), np.inf)
        for vclass, rows in _by_class(vehicles).items():
            graph = self.plant.graph(vclass)
            columns = [
                j for j, c in enumerate(facts.classes) if (c is None or c == vclass) and targets[j] in graph
            ]
            if not columns:
                continue
            wanted = [targets[j] for j in columns]
            block = self.router.cost_matrix(
                vclass, [source_node(vehicles[i]) or "" for i in rows], wanted, self.profile
            )
            if len(rows) == len(vehicles) and len(columns) == len(targets):
                out = block  # one class that can do every order: the common case, no scatter
            else:
                out[np.ix_(rows, columns)] = block
            # Columns of destinations no open order has any more are dropped once they pile up.
            keep = [*wanted, *self.chargers, *self.parking]
            self.router.forget_columns(vclass, keep, self.profile, slack=COLUMN_SLACK)
        return out

    def _order_cost(self, travel: FloatArray, facts: _Facts, at: float) -> FloatArray:
        """The cost formula of the module docstring, for the first `travel.shape[1]` orders of `facts`; inf
        where `travel` is."""
        n = travel.shape[1]
        cost = travel - self.priority_weight * facts.priority[:n]
        due = np.flatnonzero(~np.isnan(facts.deadline[:n]))
        if due.size:
            deadline = facts.deadline[due]
            t = travel[:, due]
            best = t.min(axis=0)  # inf where no vehicle can
            with np.errstate(invalid="ignore"):
                late = np.maximum(0.0, at + t - deadline)
                deferred = np.maximum(0.0, at + self.defer_horizon + best - deadline)
                extra = np.nan_to_num(late - deferred, nan=0.0, posinf=0.0, neginf=0.0)
            cost[:, due] += self.lateness_weight * extra
        return cost

    @staticmethod
    def _fits(vehicles: Sequence[Vehicle], need: FloatArray) -> BoolArray:
        """Capacity (the class is already in the travel matrix: inf across classes)."""
        capacity = np.fromiter(
            (v.capabilities.max_load for v in vehicles), dtype=np.float64, count=len(vehicles)
        )
        fits: BoolArray = (capacity[:, None] >= need[None, :]) & (need[None, :] >= 0)
        return fits

    def _give(
        self, vehicle: Vehicle, order: TransportOrder, cost: float, at: float, previous: str | None = None
    ) -> Assignment:
        why = "dispatched" if previous is None else f"dispatched, taken over from {previous}"
        self.book.assign(order.id, vehicle.id, at, reason=why)
        self._holds.pop(vehicle.id, None)
        return Assignment(vehicle.id, order.id, AssignmentKind.ORDER, _first_node(order), cost, previous)

    def _send(
        self,
        candidates: Sequence[Vehicle],
        places: Sequence[str],
        kind: AssignmentKind,
        vehicles: Mapping[str, Vehicle],
        idling: Collection[str] = (),
    ) -> list[Assignment]:
        """Match vehicles to free places of one kind by travel time; record and return the holds. A place
        on which only an `idling` vehicle stands counts as free."""
        if not candidates or not places:
            return []
        wanted = {v.id for v in candidates}
        taken = {h.target_node for vid, h in self._holds.items() if vid not in wanted}
        taken |= {
            n for v in vehicles.values() if v.id not in wanted | set(idling) and (n := v.node) is not None
        }
        free_places = [p for p in places if p not in taken]
        if not free_places:
            return []
        travel = np.full((len(candidates), len(free_places)), np.inf)
        for vclass, rows in _by_class(candidates).items():
            graph = self.plant.graph(vclass)
            columns = [j for j, p in enumerate(free_places) if p in graph]
            if columns:
                travel[np.ix_(rows, columns)] = self.router.cost_matrix(
                    vclass,
                    [source_node(candidates[i]) or "" for i in rows],
                    [free_places[j] for j in columns],
                    self.profile,
                )
        out: list[Assignment] = []
        for i, j in solve(travel, np.isfinite(travel)):
            vehicle = candidates[i]
            if vehicle.node == free_places[j] and kind is AssignmentKind.PARK:
                # Already there: hold the place, nothing to drive.
                self._holds[vehicle.id] = Assignment(vehicle.id, None, kind, free_places[j], 0.0)
                continue
            assignment = Assignment(vehicle.id, None, kind, free_places[j], float(travel[i, j]))
            self._holds[vehicle.id] = assignment
            out.append(assignment)
        return out


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a decision reads of each order, gathered in one pass over them (it runs per decision)."""

    targets: list[str]  # next destination
    classes: list[str | None]  # required vehicle class
    priority: FloatArray
    deadline: FloatArray  # nan where none
    need: FloatArray  # tonnes the vehicle must carry

    @classmethod
    def of(cls, orders: Sequence[TransportOrder]) -> _Facts:
        specs = [o.spec for o in orders]
        n = len(specs)
        return cls(
            [
                s.destinations[min(o.done, len(s.destinations) - 1)].node
                for o, s in zip(orders, specs, strict=True)
            ],
            [s.vehicle_class for s in specs],
            np.fromiter((s.priority for s in specs), dtype=np.float64, count=n),
            np.fromiter((np.nan if s.deadline is None else s.deadline for s in specs), np.float64, count=n),
            np.fromiter((s.required_capacity for s in specs), dtype=np.float64, count=n),
        )


def _first_node(order: TransportOrder) -> str:
    destination = order.next_destination
    return destination.node if destination is not None else order.spec.destinations[-1].node


def _by_class(vehicles: Iterable[Vehicle]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, v in enumerate(vehicles):
        groups.setdefault(v.vehicle_class, []).append(i)
    return groups


def _charged(vehicle: Vehicle) -> bool:
    battery = vehicle.spec.battery
    fraction = vehicle.energy_fraction
    return battery is None or fraction is None or fraction >= battery.full_fraction
