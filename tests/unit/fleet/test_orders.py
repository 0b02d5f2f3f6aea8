from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.domain.orders import (
    ALLOWED,
    HISTORY_LIMIT,
    DependencyCycle,
    Destination,
    DuplicateOrder,
    InvalidOrder,
    InvalidOrderTransition,
    Operation,
    OrderBook,
    OrderSequence,
    OrderSpec,
    OrderState,
    OrderTransition,
    SequenceState,
    TransportOrder,
    UnknownDependency,
    UnknownNode,
    UnknownOrder,
    UnknownVehicleClass,
)
from fleet.domain.vehicles import vehicles_of
from tests.wms_factories import tiny_plant

S = OrderState
PICK_DROP = (Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP))


def spec(order_id: str, **kw: object) -> OrderSpec:
    values: dict[str, object] = {"id": order_id, "destinations": PICK_DROP, "weight": 20.0}
    values.update(kw)
    return OrderSpec(**values)  # type: ignore[arg-type]


def book_with(*specs: OrderSpec) -> OrderBook:
    book = OrderBook(tiny_plant())
    book.add_all(list(specs))
    return book


def to_state(book: OrderBook, order: str, state: OrderState) -> None:
    """Drive a CREATED order to `state` along legal transitions."""
    if state is S.CREATED:
        return
    if state is S.CANCELLED:
        book.cancel(order, 1.0, "not needed")
        return
    book.assign(order, "AGV-01", 1.0)
    if state is S.ASSIGNED:
        return
    book.start(order, 2.0)
    if state is S.ACTIVE:
        return
    if state is S.FAILED:
        book.fail(order, 3.0, "coil dropped")
        return
    while book[order].next_destination is not None:
        book.destination_done(order, 3.0)
    book.finish(order, 5.0)


# ------------------------------------------------------------------------------------- state machine


def test_the_happy_path_is_recorded_with_times_reasons_and_vehicle() -> None:
    book = book_with(spec("T1"))
    book.assign("T1", "AGV-01", 1.0, "closest idle vehicle")
    book.start("T1", 2.0)
    assert book.destination_done("T1", 3.0) == Destination("HM-X", Operation.PICK)
    assert book.destination_done("T1", 4.0) == Destination("H-FS1", Operation.DROP)
    book.finish("T1", 5.0, "dropped at H-FS1")
    assert book.history("T1") == [
        OrderTransition(
            order="T1",
            from_state=S.CREATED,
            to_state=S.ASSIGNED,
            at=1.0,
            reason="closest idle vehicle",
            vehicle="AGV-01",
        ),
        OrderTransition(order="T1", from_state=S.ASSIGNED, to_state=S.ACTIVE, at=2.0, vehicle="AGV-01"),
        OrderTransition(
            order="T1",
            from_state=S.ACTIVE,
            to_state=S.FINISHED,
            at=5.0,
            reason="dropped at H-FS1",
            vehicle="AGV-01",
        ),
    ]
    assert book["T1"].state is S.FINISHED


LEGAL = {(a, b) for a, targets in ALLOWED.items() for b in targets}


def finish_all(book: OrderBook, order: str) -> list[OrderTransition]:
    if book[order].state is S.ACTIVE:
        while book[order].next_destination is not None:
            book.destination_done(order, 8.0)
    return book.finish(order, 9.0)


def do(book: OrderBook, order: str, to: OrderState) -> list[OrderTransition]:
    actions: dict[OrderState, Callable[[], list[OrderTransition]]] = {
        S.CREATED: lambda: book.withdraw(order, 9.0, "re-dispatch"),
        S.ASSIGNED: lambda: book.assign(order, "AGV-02", 9.0),
        S.ACTIVE: lambda: book.start(order, 9.0),
        S.FINISHED: lambda: finish_all(book, order),
        S.FAILED: lambda: book.fail(order, 9.0, "vehicle fault"),
        S.CANCELLED: lambda: book.cancel(order, 9.0, "operator"),
    }
    return actions[to]()


@pytest.mark.parametrize("from_state", list(S))
@pytest.mark.parametrize("to_state_", list(S))
def test_every_transition_is_legal_or_refused_by_name(from_state: OrderState, to_state_: OrderState) -> None:
    book = book_with(spec("T1", destinations=(Destination("P1", Operation.PARK),)))
    to_state(book, "T1", from_state)
    assert book["T1"].state is from_state
    before = list(book.events)
    if (from_state, to_state_) in LEGAL:
        made = do(book, "T1", to_state_)
        assert made[0].from_state is from_state
        assert made[0].to_state is to_state_
        assert book["T1"].state is to_state_
        assert book.events == [*before, *made]
    else:
        with pytest.raises(InvalidOrderTransition) as info:
            do(book, "T1", to_state_)
        assert str(from_state) in str(info.value)
        assert str(to_state_) in str(info.value)
        assert (info.value.from_state, info.value.to_state) == (from_state, to_state_)
        assert book["T1"].state is from_state
        assert book.events == before


def test_the_legal_table_is_the_documented_one() -> None:
    documented = {
        (S.CREATED, S.ASSIGNED),
        (S.CREATED, S.CANCELLED),
        (S.CREATED, S.FAILED),
        (S.ASSIGNED, S.ACTIVE),
        (S.ASSIGNED, S.CREATED),
        (S.ASSIGNED, S.CANCELLED),
        (S.ASSIGNED, S.FAILED),
        (S.ACTIVE, S.FINISHED),
        (S.ACTIVE, S.FAILED),
        (S.ACTIVE, S.CANCELLED),
    }
    assert documented == LEGAL


def test_active_back_to_created_only_through_reassign_with_a_reason() -> None:
    book = book_with(spec("T1"))
    to_state(book, "T1", S.ACTIVE)
    with pytest.raises(InvalidOrderTransition, match="use reassign"):
        book.withdraw("T1", 3.0, "re-dispatch")
    with pytest.raises(InvalidOrderTransition, match="needs a reason"):
        book.reassign("T1", 3.0, "")
    book.destination_done("T1", 3.0)  # picked, not yet dropped
    (event,) = book.reassign("T1", 4.0, "AGV-01 fault before the drop")
    assert event == OrderTransition(
        order="T1",
        from_state=S.ACTIVE,
        to_state=S.CREATED,
        at=4.0,
        reason="AGV-01 fault before the drop",
        vehicle="AGV-01",
    )
    assert book["T1"].vehicle is None
    assert book["T1"].done == 0
    assert [o.id for o in book.dispatchable()] == ["T1"]


def test_reassign_is_refused_after_the_drop_and_outside_active() -> None:
    book = book_with(spec("T1"), spec("T2"))
    to_state(book, "T1", S.ACTIVE)
    book.destination_done("T1", 3.0)
    book.destination_done("T1", 4.0)
    with pytest.raises(InvalidOrderTransition, match="already dropped"):
        book.reassign("T1", 5.0, "vehicle died")
    book.assign("T2", "AGV-02", 1.0)
    with pytest.raises(InvalidOrderTransition, match="only for active"):
        book.reassign("T2", 5.0, "vehicle died")
    assert book["T1"].state is S.ACTIVE and book["T2"].state is S.ASSIGNED


def test_finish_needs_every_destination_done_and_assign_needs_a_vehicle() -> None:
    book = book_with(spec("T1"))
    with pytest.raises(InvalidOrderTransition, match="needs a vehicle"):
        book.assign("T1", "", 1.0)
    to_state(book, "T1", S.ACTIVE)
    book.destination_done("T1", 3.0)
    with pytest.raises(InvalidOrderTransition, match="1 destination"):
        book.finish("T1", 4.0)
    book.destination_done("T1", 4.0)
    with pytest.raises(InvalidOrder, match="no destination to complete"):
        book.destination_done("T1", 4.5)
    book.finish("T1", 5.0)


def test_withdrawal_records_the_vehicle_it_came_from_and_frees_the_order() -> None:
    book = book_with(spec("T1"))
    book.assign("T1", "AGV-01", 1.0)
    (event,) = book.withdraw("T1", 2.0, "AGV-02 is closer now")
    assert (event.vehicle, event.reason, event.to_state) == ("AGV-01", "AGV-02 is closer now", S.CREATED)
    assert book["T1"].vehicle is None


def test_unknown_order_is_named() -> None:
    with pytest.raises(UnknownOrder, match="'NOPE'"):
        OrderBook(tiny_plant()).assign("NOPE", "AGV-01", 0.0)


# ---------------------------------------------------------------------------------------- validation


def test_unknown_node_is_named_and_nothing_is_added() -> None:
    book = book_with(spec("T0"))
    with pytest.raises(UnknownNode, match="'X99'") as info:
        book.add_all(
            [
                spec("T1"),
                spec(
                    "T2",
                    destinations=(Destination("HM-X", Operation.PICK), Destination("X99", Operation.DROP)),
                ),
            ]
        )
    assert (info.value.order, info.value.node) == ("T2", "X99")
    assert sorted(book.orders) == ["T0"]
    assert book.events == []


def test_nodes_are_checked_against_the_required_class_graph() -> None:
    book = OrderBook(tiny_plant())
    with pytest.raises(UnknownNode, match="'RS1' is not in the routing graph of 'agv'"):
        book.add(spec("T1", vehicle_class="agv", destinations=(Destination("RS1"),)))
    book.add(
        spec(
            "T2",
            vehicle_class="rgv",
            destinations=(Destination("RS1", Operation.PICK), Destination("RS2", Operation.DROP)),
        )
    )
    with pytest.raises(UnknownVehicleClass, match="'crane'"):
        book.add(spec("T3", vehicle_class="crane"))
    assert sorted(book.orders) == ["T2"]


def test_duplicates_are_refused_in_the_book_and_in_one_batch() -> None:
    book = book_with(spec("T1"))
    with pytest.raises(DuplicateOrder, match="'T1'"):
        book.add(spec("T1"))
    with pytest.raises(DuplicateOrder, match="'T2'"):
        book.add_all([spec("T2"), spec("T2")])
    assert sorted(book.orders) == ["T1"]


def test_unknown_dependencies_are_refused() -> None:
    book = OrderBook(tiny_plant())
    with pytest.raises(UnknownDependency, match="'T1' depends on unknown order 'T9'"):
        book.add(spec("T1", dependencies=frozenset({"T9"})))
    assert book.orders == {}


def test_dependency_cycles_are_refused_with_the_cycle_named() -> None:
    book = OrderBook(tiny_plant())
    with pytest.raises(DependencyCycle, match="T1 -> T1"):
        book.add(spec("T1", dependencies=frozenset({"T1"})))
    with pytest.raises(DependencyCycle) as info:
        book.add_all(
            [
                spec("A", dependencies=frozenset({"B"})),
                spec("B", dependencies=frozenset({"C"})),
                spec("C", dependencies=frozenset({"A"})),
                spec("D"),
            ]
        )
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {"A", "B", "C"}
    assert book.orders == {}


def test_a_dependency_against_the_sequence_order_is_a_cycle() -> None:
    book = OrderBook(tiny_plant())
    with pytest.raises(DependencyCycle):
        book.add_sequence(
            OrderSequence(id="SEQ", orders=("L1", "L2")),
            [spec("L1", dependencies=frozenset({"L2"})), spec("L2")],
        )
    assert book.orders == {} and book.sequences == {}


def test_other_invalid_orders() -> None:
    book = OrderBook(tiny_plant())
    with pytest.raises(InvalidOrder, match="at least one destination"):
        book.add(spec("T1", destinations=()))
    with pytest.raises(InvalidOrder, match="weight must be >= 0"):
        book.add(spec("T1", weight=-1.0))
    with pytest.raises(InvalidOrder, match="no vehicle class can carry 40"):
        book.add(spec("T1", weight=40.0))
    with pytest.raises(InvalidOrder, match="exactly its orders"):
        book.add_sequence(OrderSequence(id="SEQ", orders=("L2", "L1")), [spec("L1"), spec("L2")])
    assert book.orders == {}


def test_accepts_checks_class_and_capacity() -> None:
    vehicles = vehicles_of(tiny_plant())
    book = book_with(
        spec("T1", weight=20.0), spec("T2", vehicle_class="agv", destinations=(Destination("P1"),))
    )
    assert book["T1"].accepts(vehicles["AGV-01"]) and book["T1"].accepts(vehicles["RGV-01"])
    assert book["T2"].accepts(vehicles["AGV-01"]) and not book["T2"].accepts(vehicles["RGV-01"])
    heavy = TransportOrder(spec("T3", min_capacity=33.0, weight=1.0))
    assert heavy.spec.required_capacity == 33.0
    assert not heavy.accepts(vehicles["AGV-01"])  # capacity 32 < 33


# ------------------------------------------------------------------------------------ dispatchability


def test_dispatchable_waits_for_dependencies_to_finish() -> None:
    book = book_with(spec("A"), spec("B", dependencies=frozenset({"A"})), spec("C", priority=5))
    assert [o.id for o in book.dispatchable()] == ["C", "A"]  # priority first
    to_state(book, "A", S.ACTIVE)
    assert [o.id for o in book.dispatchable()] == ["C"]
    book.destination_done("A", 3.0)
    book.destination_done("A", 4.0)
    book.finish("A", 5.0)
    assert [o.id for o in book.dispatchable()] == ["C", "B"]


def test_a_failed_dependency_keeps_the_dependent_waiting() -> None:
    book = book_with(spec("A"), spec("B", dependencies=frozenset({"A"})))
    to_state(book, "A", S.FAILED)
    assert book.dispatchable() == []


def test_dispatchable_orders_by_priority_then_deadline() -> None:
    book = book_with(
        spec("late", deadline=500.0), spec("none"), spec("soon", deadline=100.0), spec("vip", priority=1)
    )
    assert [o.id for o in book.dispatchable()] == ["vip", "soon", "late", "none"]


def agv_then_crane_leg(failure_fatal: bool) -> OrderBook:
    book = OrderBook(tiny_plant())
    book.add_sequence(
        OrderSequence(id="MOVE-1", orders=("L1", "L2", "L3"), failure_fatal=failure_fatal),
        [
            spec("L1"),
            spec(
                "L2", destinations=(Destination("H-FS1", Operation.PICK), Destination("P1", Operation.DROP))
            ),
            spec("L3", destinations=(Destination("P2", Operation.PARK),)),
        ],
    )
    return book


def test_a_sequence_runs_one_order_after_the_other() -> None:
    book = agv_then_crane_leg(failure_fatal=True)
    assert book.predecessor("L2") == "L1" and book.predecessor("L1") is None
    assert [o.id for o in book.dispatchable()] == ["L1"]
    to_state(book, "L1", S.ACTIVE)
    assert book.dispatchable() == []
    book.destination_done("L1", 3.0)
    book.destination_done("L1", 4.0)
    book.finish("L1", 5.0)
    assert [o.id for o in book.dispatchable()] == ["L2"]
    assert book.sequence_state("MOVE-1") is SequenceState.OPEN
    to_state(book, "L2", S.FINISHED)
    to_state(book, "L3", S.ACTIVE)
    book.destination_done("L3", 6.0)
    book.finish("L3", 7.0)
    assert book.sequence_state("MOVE-1") is SequenceState.FINISHED


def test_a_fatal_failure_cancels_the_rest_of_the_sequence() -> None:
    book = agv_then_crane_leg(failure_fatal=True)
    to_state(book, "L1", S.ACTIVE)
    made = book.fail("L1", 3.0, "AGV-01 lost the coil")
    assert [(e.order, e.to_state) for e in made] == [
        ("L1", S.FAILED),
        ("L2", S.CANCELLED),
        ("L3", S.CANCELLED),
    ]
    assert "MOVE-1" in made[1].reason and "L1" in made[1].reason
    assert book.events[-3:] == made
    assert book.dispatchable() == []
    assert book.sequence_state("MOVE-1") is SequenceState.FAILED


def test_a_cancelled_order_in_a_fatal_sequence_cancels_the_rest_too() -> None:
    book = agv_then_crane_leg(failure_fatal=True)
    made = book.cancel("L1", 1.0, "coil re-planned")
    assert [(e.order, e.to_state) for e in made] == [
        ("L1", S.CANCELLED),
        ("L2", S.CANCELLED),
        ("L3", S.CANCELLED),
    ]


def test_a_non_fatal_failure_lets_the_sequence_go_on() -> None:
    book = agv_then_crane_leg(failure_fatal=False)
    to_state(book, "L1", S.ACTIVE)
    made = book.fail("L1", 3.0, "AGV-01 fault")
    assert [(e.order, e.to_state) for e in made] == [("L1", S.FAILED)]
    assert book["L2"].state is S.CREATED
    assert [o.id for o in book.dispatchable()] == ["L2"]
    to_state(book, "L2", S.FINISHED)
    to_state(book, "L3", S.CANCELLED)
    assert book.sequence_state("MOVE-1") is SequenceState.FAILED


def test_cancel_sequence_cancels_only_what_has_not_ended() -> None:
    book = agv_then_crane_leg(failure_fatal=False)
    to_state(book, "L1", S.FINISHED)
    to_state(book, "L2", S.ASSIGNED)
    made = book.cancel_sequence("MOVE-1", 9.0, "operator")
    assert [(e.order, e.from_state, e.vehicle) for e in made] == [
        ("L2", S.ASSIGNED, "AGV-01"),
        ("L3", S.CREATED, None),
    ]
    assert book["L1"].state is S.FINISHED


def test_a_sequence_id_cannot_clash_with_an_order() -> None:
    book = book_with(spec("MOVE-1"))
    with pytest.raises(DuplicateOrder, match="MOVE-1"):
        book.add_sequence(OrderSequence(id="MOVE-1", orders=("L1",)), [spec("L1")])
    assert sorted(book.orders) == ["MOVE-1"]


def test_a_diamond_of_dependencies_is_not_a_cycle() -> None:
    book = book_with(
        spec("A"),
        spec("B", dependencies=frozenset({"A"})),
        spec("C", dependencies=frozenset({"A"})),
        spec("D", dependencies=frozenset({"B", "C"})),
    )
    assert [o.id for o in book.dispatchable()] == ["A"]
    book.add(spec("E", dependencies=frozenset({"D", "A"})))
    assert "E" in book.orders


COMMANDS = ["assign", "start", "step", "finish", "fail", "cancel", "withdraw", "reassign"]


@settings(max_examples=200)
@given(st.lists(st.sampled_from(COMMANDS), max_size=25))
def test_any_command_sequence_leaves_a_consistent_history(commands: list[str]) -> None:
    book = book_with(spec("T1"))
    for i, command in enumerate(commands):
        at = float(i)
        before = (book["T1"].state, len(book.events))
        try:
            if command == "assign":
                book.assign("T1", "AGV-01", at)
            elif command == "start":
                book.start("T1", at)
            elif command == "step":
                book.destination_done("T1", at)
            elif command == "finish":
                book.finish("T1", at)
            elif command == "fail":
                book.fail("T1", at, "fault")
            elif command == "cancel":
                book.cancel("T1", at, "operator")
            elif command == "withdraw":
                book.withdraw("T1", at, "re-dispatch")
            else:
                book.reassign("T1", at, "vehicle died")
        except (InvalidOrderTransition, InvalidOrder):
            assert (book["T1"].state, len(book.events)) == before  # a refused command changed nothing
    history = book.history("T1")
    assert history == book.events[-HISTORY_LIMIT:]  # its last transitions (all, unless it had more)
    state = history[0].from_state if len(book.events) > HISTORY_LIMIT else S.CREATED
    for event in history:
        assert event.from_state is state
        assert (event.from_state, event.to_state) in LEGAL or event.reason == "vehicle died"
        state = event.to_state
    assert state is book["T1"].state
    assert [e.at for e in book.events] == sorted(e.at for e in book.events)


def test_taken_transitions_leave_the_book_and_stay_in_each_orders_history() -> None:
    book = book_with(spec("T1"), spec("T2"))
    made = [*book.assign("T1", "AGV-01", 1.0), *book.assign("T2", "AGV-02", 2.0), *book.start("T1", 3.0)]
    assert book.take_events() == made
    assert book.events == []
    assert book.take_events() == []
    assert book.history("T1") == [made[0], made[2]]
    assert book.history("T2") == [made[1]]
    later = book.start("T2", 4.0)
    assert book.take_events() == later


def test_an_order_withdrawn_over_and_over_keeps_its_last_transitions_only() -> None:
    book = book_with(spec("T1"))
    made: list[OrderTransition] = []
    for i in range(HISTORY_LIMIT):
        made += book.assign("T1", "AGV-01", 2.0 * i)
        made += book.withdraw("T1", 2.0 * i + 1.0, "re-dispatch")
    assert len(made) == 2 * HISTORY_LIMIT
    assert book.history("T1") == made[-HISTORY_LIMIT:]
    assert book.take_events() == made  # nothing is lost before the events are taken


def test_the_fleet_core_hands_every_transition_out_once_and_the_book_keeps_none() -> None:
    from fleet.core import FleetCore, OrderChanged, SubmitOrder, Tick

    core = FleetCore(tiny_plant())
    handed: list[OrderTransition] = []
    for message, at in ((SubmitOrder(spec=spec("T1", vehicle_class="agv")), 0.0), (Tick(), 1.0)):
        effects = core.handle(message, at)
        handed += [e.transition for e in effects if isinstance(e, OrderChanged)]
        assert core.book.events == []  # taken by the core: no log grows with every decision
    assert [t.to_state for t in handed] == [S.ASSIGNED]
    assert core.book.history("T1") == handed
