"""Fleet routes as VDA 5050 orders: nodes, edges, base and horizon, stitching, sequence ids, schema."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.vda5050.orders import OrderBuilder, SentOrder
from adapters.vda5050.wire import header, validate
from fleet.domain.orders import Operation
from fleet.ports import SendRoute
from tests.wms_factories import tiny_plant

PLANT = tiny_plant()
ROUTE = ("P1", "W5", "W4", "W3", "IO-HB1")


def route(
    released: int, nodes: tuple[str, ...] = ROUTE, order: str = "T1", op: Operation = Operation.PICK
) -> SendRoute:
    return SendRoute(vehicle="AGV-01", order=order, nodes=nodes, released=released, operation=op)


def build(builder: OrderBuilder, command: SendRoute, current: SentOrder | None = None) -> SentOrder:
    return builder.build(command, current, header(0, "coilyard", "AGV-01"))


def test_a_new_route_is_a_new_order_with_every_node_and_edge() -> None:
    sent = build(OrderBuilder(PLANT), route(released=2))
    message: dict[str, Any] = sent.message
    validate("order", message)
    assert (message["orderId"], message["orderUpdateId"]) == ("T1.1", 0)
    assert [n["nodeId"] for n in message["nodes"]] == list(ROUTE)
    assert [n["sequenceId"] for n in message["nodes"]] == [0, 2, 4, 6, 8]
    assert [e["sequenceId"] for e in message["edges"]] == [1, 3, 5, 7]
    assert [n["released"] for n in message["nodes"]] == [True, True, False, False, False]
    assert [e["released"] for e in message["edges"]] == [True, False, False, False]
    assert [(e["startNodeId"], e["endNodeId"]) for e in message["edges"]] == list(itertools.pairwise(ROUTE))
    w5 = message["nodes"][1]["nodePosition"]
    assert (w5["x"], w5["y"], w5["mapId"]) == (*PLANT.node_points["W5"], "tiny")


def test_the_operation_is_a_hard_action_on_the_last_node_only() -> None:
    message = build(OrderBuilder(PLANT), route(released=5, op=Operation.DROP)).message
    actions = [n["actions"] for n in message["nodes"]]
    assert actions[:-1] == [[], [], [], []]
    [drop] = actions[-1]
    assert (drop["actionType"], drop["blockingType"], drop["actionId"]) == ("drop", "HARD", "T1.1/drop")


@pytest.mark.parametrize("op", [Operation.MOVE, Operation.PARK])
def test_moves_and_parking_need_no_action(op: Operation) -> None:
    message = build(OrderBuilder(PLANT), route(released=5, op=op)).message
    assert all(n["actions"] == [] for n in message["nodes"])


def test_an_edge_with_a_speed_limit_carries_max_speed_and_length() -> None:
    message = build(OrderBuilder(PLANT), route(released=3, nodes=("W5", "W4", "HM-X"))).message
    slow = message["edges"][1]
    assert slow["maxSpeed"] == 0.5
    assert slow["length"] == pytest.approx(5.0)
    assert "maxSpeed" not in message["edges"][0]


def test_an_update_stitches_on_the_last_base_node_with_the_next_update_id() -> None:
    builder = OrderBuilder(PLANT)
    first = build(builder, route(released=2))
    update = build(builder, route(released=4), first)
    message = update.message
    validate("order", message)
    assert (message["orderId"], message["orderUpdateId"]) == ("T1.1", 1)
    assert [n["nodeId"] for n in message["nodes"]] == ["W5", "W4", "W3", "IO-HB1"]
    assert [n["sequenceId"] for n in message["nodes"]] == [2, 4, 6, 8]
    assert [n["released"] for n in message["nodes"]] == [True, True, True, False]
    assert [e["sequenceId"] for e in message["edges"]] == [3, 5, 7]
    # the stitching node is sent again unchanged
    assert message["nodes"][0] == first.message["nodes"][1]
    assert update.action_id == first.action_id


def test_a_route_that_changes_the_released_nodes_is_a_new_order() -> None:
    builder = OrderBuilder(PLANT)
    first = build(builder, route(released=3))
    other = build(builder, route(released=2, nodes=("P1", "P2")), first)
    assert (other.order_id, other.update_id) == ("T1.2", 0)


def test_the_next_leg_of_a_finished_drive_is_a_new_order() -> None:
    builder = OrderBuilder(PLANT)
    first = build(builder, route(released=5))
    first.done = True
    leg = build(builder, route(released=2, nodes=("IO-HB1", "W3", "W4"), op=Operation.DROP), first)
    assert (leg.order_id, leg.update_id, leg.action_id) == ("T1.2", 0, "T1.2/drop")


def test_another_fleet_order_never_stitches() -> None:
    builder = OrderBuilder(PLANT)
    first = build(builder, route(released=2))
    assert build(builder, route(released=3, order="T2"), first).order_id == "T2.2"


@given(st.lists(st.integers(min_value=1, max_value=len(ROUTE)), min_size=1, max_size=6))
def test_stitched_updates_add_up_to_the_route_with_fixed_sequence_ids(releases: list[int]) -> None:
    builder = OrderBuilder(PLANT)
    current: SentOrder | None = None
    seen: dict[int, tuple[str, bool]] = {}  # sequenceId -> (nodeId, released) as last sent
    released = 0
    for step in sorted(releases):
        released = max(released, step)
        current = build(builder, route(released=released), current)
        validate("order", current.message)
        for node in current.message["nodes"]:
            previous = seen.get(node["sequenceId"])
            assert previous is None or previous[0] == node["nodeId"]
            assert previous is None or not previous[1] or node["released"]  # a release is never taken back
            seen[node["sequenceId"]] = (node["nodeId"], node["released"])
    assert current is not None
    assert current.order_id == "T1.1"
    assert current.update_id == len(releases) - 1
    assert [seen[2 * i][0] for i in range(len(ROUTE))] == list(ROUTE)
    assert [seen[2 * i][1] for i in range(len(ROUTE))] == [i < released for i in range(len(ROUTE))]
