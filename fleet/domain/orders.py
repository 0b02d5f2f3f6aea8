"""Transport orders, order sequences and the order book (after openTCS, see shared/research/fleet.md §1.5, §6.4).

An order is a list of destinations, each a node with an operation, to be driven by one vehicle. Its life:

    CREATED -> ASSIGNED -> ACTIVE -> FINISHED | FAILED | CANCELLED
    ASSIGNED -> CREATED    withdrawn (re-dispatch)
    ACTIVE   -> CREATED    only through `OrderBook.reassign` (the vehicle died before the drop), with a reason,
                           or `OrderBook.recall` (taken over before anything was done: nothing picked)
    CREATED | ASSIGNED -> CANCELLED;  CREATED | ASSIGNED -> FAILED (unroutable, vehicle lost before start)

The `OrderBook` is the only writer: each change is one `OrderTransition`, returned by the command that made
it and appended to `OrderBook.events` until taken with `take_events()`; the fleet core takes them after every
message and hands them out as effects, which the shell records. So the book keeps no log that grows with
every decision (a long-lived list that full garbage collections would walk); `history(order)` gives an order's
own last `HISTORY_LIMIT` transitions, kept with the order. A command that raises changed nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.domain.vehicles import FleetError, Vehicle, can_carry
from layout import Plant


class Operation(StrEnum):
    PICK = "pick"
    DROP = "drop"
    PARK = "park"
    CHARGE = "charge"
    MOVE = "move"


class OrderState(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    ACTIVE = "active"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({OrderState.FINISHED, OrderState.FAILED, OrderState.CANCELLED})
# Transitions kept per order for `history`: an order's whole life takes 3 (CREATED -> ASSIGNED -> ACTIVE ->
# FINISHED) plus 2 per withdrawal or reassignment; only an order withdrawn over and over loses its oldest.
HISTORY_LIMIT = 16

# Transitions any command may make. ACTIVE -> CREATED is deliberately absent: only `reassign` and `recall`
# make it.
ALLOWED: dict[OrderState, frozenset[OrderState]] = {
    OrderState.CREATED: frozenset({OrderState.ASSIGNED, OrderState.CANCELLED, OrderState.FAILED}),
    OrderState.ASSIGNED: frozenset(
        {OrderState.ACTIVE, OrderState.CREATED, OrderState.CANCELLED, OrderState.FAILED}
    ),
    OrderState.ACTIVE: frozenset({OrderState.FINISHED, OrderState.FAILED, OrderState.CANCELLED}),
    OrderState.FINISHED: frozenset(),
    OrderState.FAILED: frozenset(),
    OrderState.CANCELLED: frozenset(),
}


# ------------------------------------------------------------------------------------------------ errors


class OrderError(FleetError):
    """Base of the order errors."""


class InvalidOrderTransition(OrderError):
    def __init__(self, order: str, from_state: OrderState, to_state: OrderState, detail: str = "") -> None:
        why = f": {detail}" if detail else ""
        super().__init__(f"order '{order}' cannot go from {from_state} to {to_state}{why}")
        self.order = order
        self.from_state = from_state
        self.to_state = to_state


class UnknownOrder(OrderError):
    def __init__(self, order: str) -> None:
        super().__init__(f"unknown transport order '{order}'")
        self.order = order


class DuplicateOrder(OrderError):
    def __init__(self, order: str) -> None:
        super().__init__(f"transport order or sequence '{order}' already exists")
        self.order = order


class UnknownNode(OrderError):
    def __init__(self, order: str, node: str, graph: str) -> None:
        super().__init__(f"order '{order}': node '{node}' is not in the routing graph of '{graph}'")
        self.order = order
        self.node = node
        self.graph = graph


class UnknownVehicleClass(OrderError):
    def __init__(self, order: str, vehicle_class: str, known: Iterable[str]) -> None:
        super().__init__(
            f"order '{order}': unknown vehicle class '{vehicle_class}' (known: {', '.join(sorted(known))})"
        )
        self.order = order
        self.vehicle_class = vehicle_class


class UnknownDependency(OrderError):
    def __init__(self, order: str, dependency: str) -> None:
        super().__init__(f"order '{order}' depends on unknown order '{dependency}'")
        self.order = order
        self.dependency = dependency


class DependencyCycle(OrderError):
    def __init__(self, cycle: Sequence[str]) -> None:
        super().__init__(f"orders depend on each other in a cycle: {' -> '.join(cycle)}")
        self.cycle = tuple(cycle)


class InvalidOrder(OrderError):
    def __init__(self, order: str, detail: str) -> None:
        super().__init__(f"order '{order}': {detail}")
        self.order = order
        self.detail = detail


# ------------------------------------------------------------------------------------------ the records


@dataclass(frozen=True, slots=True)
class Destination:
    node: str
    operation: Operation = Operation.MOVE


@dataclass(frozen=True, kw_only=True)
class OrderSpec:
    """What is asked: immutable once in the book. `weight` in tonnes; `deadline` in seconds on the core's clock."""

    id: str
    destinations: tuple[Destination, ...]
    priority: int = 0  # higher first
    deadline: float | None = None
    vehicle_class: str | None = None  # required class (and so routing graph), or None for any that fits
    min_capacity: float | None = None  # tonnes the vehicle must be able to carry, beyond `weight`
    dependencies: frozenset[str] = frozenset()
    unit: str | None = None
    weight: float = 0.0
    dispensable: bool = False  # parking and charging orders a real order may preempt
    created_at: float = 0.0

    @property
    def required_capacity(self) -> float:
        return max(self.weight, self.min_capacity or 0.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderTransition:
    """One recorded change of an order's state."""

    order: str
    from_state: OrderState
    to_state: OrderState
    at: float
    reason: str = ""
    vehicle: str | None = None


@dataclass(slots=True)
class TransportOrder:
    spec: OrderSpec
    state: OrderState = OrderState.CREATED
    vehicle: str | None = None
    sequence: str | None = None
    done: int = 0  # destinations completed so far
    transitions: deque[OrderTransition] = field(
        default_factory=lambda: deque(maxlen=HISTORY_LIMIT), compare=False, repr=False
    )  # its last HISTORY_LIMIT transitions, oldest first

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def next_destination(self) -> Destination | None:
        return self.spec.destinations[self.done] if self.done < len(self.spec.destinations) else None

    @property
    def dropped(self) -> bool:
        """Whether a drop destination has been completed (then the order can no longer be reassigned)."""
        return any(d.operation is Operation.DROP for d in self.spec.destinations[: self.done])

    def accepts(self, vehicle: Vehicle) -> bool:
        """Whether `vehicle` has the class and capacity this order needs."""
        if self.spec.vehicle_class is not None and vehicle.vehicle_class != self.spec.vehicle_class:
            return False
        return can_carry(vehicle, self.spec.required_capacity)


@dataclass(frozen=True, kw_only=True)
class OrderSequence:
    """Orders run strictly one after the other (e.g. AGV leg to the bay handover, then the crane leg).

    With `failure_fatal`, a failed or cancelled order cancels the rest; otherwise the next order may go on.
    """

    id: str
    orders: tuple[str, ...]
    failure_fatal: bool = True


class SequenceState(StrEnum):
    OPEN = "open"
    FINISHED = "finished"
    FAILED = "failed"  # ended with at least one order not finished


# ----------------------------------------------------------------------------------------------- book


@dataclass
class OrderBook:
    """All transport orders of one plant, their sequences, and the state changes not taken yet (`events`)."""

    plant: Plant
    orders: dict[str, TransportOrder] = field(default_factory=dict)
    sequences: dict[str, OrderSequence] = field(default_factory=dict)
    events: list[OrderTransition] = field(default_factory=list)  # made since the last `take_events()`

    # ------------------------------------------------------------------------------------------ lookups

    def __getitem__(self, order: str) -> TransportOrder:
        try:
            return self.orders[order]
        except KeyError:
            raise UnknownOrder(order) from None

    def history(self, order: str) -> list[OrderTransition]:
        """The order's transitions, oldest first: all of them, or its last `HISTORY_LIMIT`."""
        return list(self[order].transitions)

    def take_events(self) -> list[OrderTransition]:
        """The transitions made since the last call, in the order they were made; the book forgets them."""
        taken, self.events = self.events, []
        return taken

    def predecessor(self, order: str) -> str | None:
        """The order before `order` in its sequence, if any."""
        seq_id = self[order].sequence
        if seq_id is None:
            return None
        ids = self.sequences[seq_id].orders
        i = ids.index(order)
        return ids[i - 1] if i > 0 else None

    def dispatchable(self) -> list[TransportOrder]:
        """CREATED orders whose dependencies have finished and whose sequence predecessor is done,
        highest priority first, then earliest deadline, then creation time, then id."""
        ready = [o for o in self.orders.values() if self._ready(o)]
        return sorted(
            ready,
            key=lambda o: (
                -o.spec.priority,
                o.spec.deadline if o.spec.deadline is not None else float("inf"),
                o.spec.created_at,
                o.id,
            ),
        )

    def _ready(self, order: TransportOrder) -> bool:
        if order.state is not OrderState.CREATED:
            return False
        dependencies = order.spec.dependencies
        if dependencies and any(self.orders[d].state is not OrderState.FINISHED for d in dependencies):
            return False
        if order.sequence is None:  # the common case, checked first: this runs for every order per decision
            return True
        before = self.predecessor(order.id)
        if before is None:
            return True
        previous = self.orders[before].state
        fatal = order.sequence is not None and self.sequences[order.sequence].failure_fatal
        return previous is OrderState.FINISHED or (not fatal and previous.terminal)

    def sequence_state(self, sequence: str) -> SequenceState:
        try:
            seq = self.sequences[sequence]
        except KeyError:
            raise UnknownOrder(sequence) from None
        states = [self.orders[o].state for o in seq.orders]
        if all(s is OrderState.FINISHED for s in states):
            return SequenceState.FINISHED
        if all(s.terminal for s in states):
            return SequenceState.FAILED
        return SequenceState.OPEN

    # ----------------------------------------------------------------------------------------- adding

    def add(self, spec: OrderSpec) -> TransportOrder:
        """Validate and add one order. Raises (and adds nothing) on any problem."""
        self.add_all([spec])
        return self.orders[spec.id]

    def add_all(
        self, specs: Sequence[OrderSpec], sequence: OrderSequence | None = None
    ) -> list[TransportOrder]:
        """Validate and add orders together (they may depend on each other): all or none."""
        ids = [s.id for s in specs]
        for spec in specs:
            if spec.id in self.orders or spec.id in self.sequences or ids.count(spec.id) > 1:
                raise DuplicateOrder(spec.id)
            self._validate(spec)
        known = set(self.orders) | set(ids)
        for spec in specs:
            for dep in sorted(spec.dependencies):
                if dep not in known:
                    raise UnknownDependency(spec.id, dep)
        if sequence is not None:
            if sequence.id in self.sequences or sequence.id in self.orders or sequence.id in ids:
                raise DuplicateOrder(sequence.id)
            if list(sequence.orders) != ids:
                raise InvalidOrder(sequence.id, "a sequence must be added with exactly its orders, in order")
        self._check_cycles(specs, sequence)
        added = [TransportOrder(s, sequence=sequence.id if sequence else None) for s in specs]
        for order in added:
            self.orders[order.id] = order
        if sequence is not None:
            self.sequences[sequence.id] = sequence
        return added

    def add_sequence(self, sequence: OrderSequence, specs: Sequence[OrderSpec]) -> list[TransportOrder]:
        """Add a sequence with its (new) orders, given in the sequence's order: all or none."""
        if not specs:
            raise InvalidOrder(sequence.id, "a sequence needs at least one order")
        return self.add_all(specs, sequence)

    def _validate(self, spec: OrderSpec) -> None:
        if not spec.destinations:
            raise InvalidOrder(spec.id, "needs at least one destination")
        if spec.weight < 0:
            raise InvalidOrder(spec.id, f"weight must be >= 0 t, got {spec.weight}")
        if spec.min_capacity is not None and spec.min_capacity < 0:
            raise InvalidOrder(spec.id, f"min_capacity must be >= 0 t, got {spec.min_capacity}")
        if spec.id in spec.dependencies:
            raise DependencyCycle([spec.id, spec.id])
        classes = self.plant.vehicle_classes
        if spec.vehicle_class is not None:
            if spec.vehicle_class not in self.plant.graphs:
                raise UnknownVehicleClass(spec.id, spec.vehicle_class, self.plant.graphs)
            graphs = [spec.vehicle_class]
        else:
            graphs = sorted(self.plant.graphs)
        for dest in spec.destinations:
            if not any(dest.node in self.plant.graph(g) for g in graphs):
                raise UnknownNode(spec.id, dest.node, spec.vehicle_class or "any vehicle class")
        candidates = [classes[g] for g in graphs if g in classes]
        if candidates and all(c.capacity < spec.required_capacity for c in candidates):
            raise InvalidOrder(
                spec.id, f"no vehicle class can carry {spec.required_capacity} t (of {', '.join(graphs)})"
            )

    def _check_cycles(self, specs: Sequence[OrderSpec], sequence: OrderSequence | None) -> None:
        """Depth-first search over dependencies plus sequence order (an order waits for its predecessor)."""
        waits: dict[str, list[str]] = {o.id: sorted(o.spec.dependencies) for o in self.orders.values()}
        for spec in specs:
            waits[spec.id] = sorted(spec.dependencies)
        for seq in [*self.sequences.values(), *([sequence] if sequence else [])]:
            for before, after in zip(seq.orders, seq.orders[1:], strict=False):
                waits.setdefault(after, []).append(before)
        done: set[str] = set()
        for start in [s.id for s in specs]:
            path: list[str] = []
            on_path: set[str] = set()
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:
                node, i = stack.pop()
                if i == 0:
                    if node in done:
                        continue
                    path.append(node)
                    on_path.add(node)
                nexts = waits.get(node, [])
                if i < len(nexts):
                    stack.append((node, i + 1))
                    nxt = nexts[i]
                    if nxt in on_path:
                        raise DependencyCycle([*path[path.index(nxt) :], nxt])
                    if nxt not in done:
                        stack.append((nxt, 0))
                else:
                    path.pop()
                    on_path.discard(node)
                    done.add(node)

    # -------------------------------------------------------------------------------------- transitions

    def assign(self, order: str, vehicle: str, at: float, reason: str = "") -> list[OrderTransition]:
        return [self._move(order, OrderState.ASSIGNED, at, reason, vehicle)]

    def start(self, order: str, at: float, reason: str = "") -> list[OrderTransition]:
        """The vehicle accepted the route and began working on the order."""
        return [self._move(order, OrderState.ACTIVE, at, reason)]

    def destination_done(self, order: str, at: float) -> Destination:
        """Record that the vehicle completed the order's next destination; returns it."""
        o = self[order]
        dest = o.next_destination
        if o.state is not OrderState.ACTIVE or dest is None:
            raise InvalidOrder(order, f"no destination to complete (state {o.state}, {o.done} done)")
        o.done += 1
        return dest

    def finish(self, order: str, at: float, reason: str = "") -> list[OrderTransition]:
        o = self[order]
        if o.state is OrderState.ACTIVE and o.next_destination is not None:
            raise InvalidOrderTransition(
                order,
                o.state,
                OrderState.FINISHED,
                f"{len(o.spec.destinations) - o.done} destination(s) not done yet",
            )
        return [self._move(order, OrderState.FINISHED, at, reason)]

    def withdraw(self, order: str, at: float, reason: str) -> list[OrderTransition]:
        """Take an assigned (not yet active) order back from its vehicle, to be dispatched again."""
        return [self._move(order, OrderState.CREATED, at, reason)]

    def reassign(self, order: str, at: float, reason: str) -> list[OrderTransition]:
        """ACTIVE -> CREATED when the vehicle died before the drop; `reason` (required) says why.
        The order starts again from its first destination."""
        o = self[order]
        return self._back_to_created(
            o, "reassign", at, reason, "the unit was already dropped" if o.dropped else ""
        )

    def recall(self, order: str, at: float, reason: str) -> list[OrderTransition]:
        """ACTIVE -> CREATED while no destination is done yet (the vehicle is still on its way to the first
        one, nothing picked): the order is taken back from its vehicle to be given to another (a takeover).
        `reason` (required) says why."""
        o = self[order]
        return self._back_to_created(
            o, "recall", at, reason, f"{o.done} destination(s) already done" if o.done else ""
        )

    def _back_to_created(
        self, o: TransportOrder, verb: str, at: float, reason: str, refused: str
    ) -> list[OrderTransition]:
        """An active order back to CREATED, with its vehicle cleared; `refused` (non-empty) says why it may not."""
        if o.state is not OrderState.ACTIVE:
            raise InvalidOrderTransition(
                o.id, o.state, OrderState.CREATED, f"{verb} is only for active orders"
            )
        if not reason:
            raise InvalidOrderTransition(o.id, o.state, OrderState.CREATED, f"{verb} needs a reason")
        if refused:
            raise InvalidOrderTransition(o.id, o.state, OrderState.CREATED, refused)
        return [self._record(o, OrderState.CREATED, at, reason, None)]

    def fail(self, order: str, at: float, reason: str) -> list[OrderTransition]:
        """The order failed; in a failure-fatal sequence the orders after it are cancelled."""
        o = self[order]
        self._check(o, OrderState.FAILED)
        return [self._record(o, OrderState.FAILED, at, reason, o.vehicle), *self._after_sequence_end(o, at)]

    def cancel(self, order: str, at: float, reason: str) -> list[OrderTransition]:
        """Cancel an order; in a failure-fatal sequence the orders after it are cancelled too."""
        o = self[order]
        self._check(o, OrderState.CANCELLED)
        return [
            self._record(o, OrderState.CANCELLED, at, reason, o.vehicle),
            *self._after_sequence_end(o, at),
        ]

    def cancel_sequence(self, sequence: str, at: float, reason: str) -> list[OrderTransition]:
        """Cancel every order of the sequence that has not ended yet."""
        if sequence not in self.sequences:
            raise UnknownOrder(sequence)
        out: list[OrderTransition] = []
        for oid in self.sequences[sequence].orders:
            o = self.orders[oid]
            if not o.state.terminal:
                out.append(self._record(o, OrderState.CANCELLED, at, reason, o.vehicle))
        return out

    def _after_sequence_end(self, order: TransportOrder, at: float) -> list[OrderTransition]:
        if order.sequence is None or not self.sequences[order.sequence].failure_fatal:
            return []
        seq = self.sequences[order.sequence]
        why = f"sequence '{seq.id}' is failure-fatal and order '{order.id}' ended {order.state}"
        out: list[OrderTransition] = []
        for oid in seq.orders[seq.orders.index(order.id) + 1 :]:
            o = self.orders[oid]
            if not o.state.terminal:
                out.append(self._record(o, OrderState.CANCELLED, at, why, o.vehicle))
        return out

    def _move(
        self, order: str, to: OrderState, at: float, reason: str, vehicle: str | None = None
    ) -> OrderTransition:
        o = self[order]
        self._check(o, to)
        if to is OrderState.ASSIGNED:
            if not vehicle:
                raise InvalidOrderTransition(order, o.state, to, "assigning needs a vehicle")
            return self._record(o, to, at, reason, vehicle)
        if to is OrderState.CREATED:
            if not reason:
                raise InvalidOrderTransition(order, o.state, to, "a withdrawal needs a reason")
            return self._record(o, to, at, reason, None)
        return self._record(o, to, at, reason, o.vehicle)

    @staticmethod
    def _check(order: TransportOrder, to: OrderState) -> None:
        if to not in ALLOWED[order.state]:
            detail = "use reassign" if (order.state, to) == (OrderState.ACTIVE, OrderState.CREATED) else ""
            raise InvalidOrderTransition(order.id, order.state, to, detail)

    def _record(
        self, order: TransportOrder, to: OrderState, at: float, reason: str, vehicle: str | None
    ) -> OrderTransition:
        event = OrderTransition(
            order=order.id,
            from_state=order.state,
            to_state=to,
            at=at,
            reason=reason,
            vehicle=vehicle if vehicle is not None else order.vehicle,
        )
        order.state = to
        order.vehicle = vehicle
        if to is OrderState.CREATED:
            order.done = 0
        self.events.append(event)
        order.transitions.append(event)
        return event
