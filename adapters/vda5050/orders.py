"""Fleet routes as VDA 5050 orders: nodes and edges, a released base and a horizon, stitched updates.

A `SendRoute` lists the whole route from the node the vehicle stands on; its first `released` nodes are the
base. The first `SendRoute` of a drive becomes a new order (`orderId` = fleet order + a per-vehicle drive
number, since one fleet order is driven leg by leg, `orderUpdateId` 0, every node). A later `SendRoute` that
keeps the released prefix is an order update (2.1 §6.6.2): same `orderId`, `orderUpdateId` + 1, starting at
the stitching node (the last base node already sent), which is sent again unchanged.

`sequenceId` is 2·i for the i-th node of the route and 2·i + 1 for the edge after it, so it never changes
between updates and tells repeated visits to one node apart. The operation at the route's end becomes a HARD
action on the last node (pick, drop, startCharging); park and move need none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.vda5050.wire import Message
from fleet.domain.orders import Operation
from fleet.ports import SendRoute
from layout import Plant

ACTION_OF: dict[Operation, str] = {
    Operation.PICK: "pick",
    Operation.DROP: "drop",
    Operation.CHARGE: "startCharging",
}
OPERATION_OF: dict[str, Operation] = {action: op for op, action in ACTION_OF.items()}


@dataclass(slots=True)
class SentOrder:
    """What the vehicle was last told for one drive, and how far that has come."""

    fleet_order: str
    order_id: str
    update_id: int
    nodes: tuple[str, ...]
    released: int
    operation: Operation
    action_id: str | None
    message: Message = field(default_factory=dict, repr=False)  # the last order message, for resends
    sent_at: float = 0.0
    sends: int = 1
    acked: bool = False  # a state echoed orderId and orderUpdateId
    passed: int = 0  # index of the last node the vehicle reported
    arrived: bool = False
    done: bool = False  # operation done (or nothing to do): the next route starts a new order
    cancelled: bool = False
    ended: bool = False  # done, cancelled and confirmed, rejected or given up: no more events from it

    def stitches(self, command: SendRoute) -> bool:
        """Whether `command` continues this drive (same fleet order, released prefix kept)."""
        return (
            not self.done
            and not self.ended
            and not self.cancelled
            and command.order == self.fleet_order
            and command.nodes[: self.released] == self.nodes[: self.released]
            and command.released >= self.released
        )


class OrderBuilder:
    """Builds order messages for the vehicles of one plant (node coordinates from the layout)."""

    def __init__(self, plant: Plant, *, map_id: str | None = None, deviation: float = 0.5) -> None:
        self.points = plant.node_points
        self.map_id = map_id or plant.id
        self.deviation = deviation
        self.edges = {(e.source, e.target): e for e in plant.edges}
        self._drives: dict[str, int] = {}

    def build(self, command: SendRoute, current: SentOrder | None, head: Message) -> SentOrder:
        """The order (or order update, if `command` stitches onto `current`) with `head` as its header."""
        if current is not None and current.stitches(command):
            order_id, update_id, start = current.order_id, current.update_id + 1, current.released - 1
            action_id = current.action_id if command.operation is current.operation else None
        else:
            drive = self._drives.get(command.vehicle, 0) + 1
            self._drives[command.vehicle] = drive
            order_id, update_id, start, action_id = f"{command.order}.{drive}", 0, 0, None
        if action_id is None and command.operation in ACTION_OF:
            action_id = f"{order_id}/{ACTION_OF[command.operation]}"
        last = len(command.nodes) - 1
        nodes = [self._node(command, i, action_id if i == last else None) for i in range(start, last + 1)]
        edges = [self._edge(command, i) for i in range(start, last)]
        message = {**head, "orderId": order_id, "orderUpdateId": update_id, "nodes": nodes, "edges": edges}
        return SentOrder(
            fleet_order=command.order,
            order_id=order_id,
            update_id=update_id,
            nodes=command.nodes,
            released=command.released,
            operation=command.operation,
            action_id=action_id,
            message=message,
            passed=current.passed if current is not None and start > 0 else 0,
        )

    def _node(self, command: SendRoute, i: int, action_id: str | None) -> dict[str, Any]:
        node_id = command.nodes[i]
        x, y = self.points[node_id]
        actions: list[dict[str, Any]] = []
        if action_id is not None:
            actions.append(
                {
                    "actionType": ACTION_OF[command.operation],
                    "actionId": action_id,
                    "blockingType": "HARD",
                    "actionParameters": [{"key": "stationName", "value": node_id}],
                }
            )
        return {
            "nodeId": node_id,
            "sequenceId": 2 * i,
            "released": i < command.released,
            "nodePosition": {"x": x, "y": y, "mapId": self.map_id, "allowedDeviationXY": self.deviation},
            "actions": actions,
        }

    def _edge(self, command: SendRoute, i: int) -> dict[str, Any]:
        start, end = command.nodes[i], command.nodes[i + 1]
        edge: dict[str, Any] = {
            "edgeId": f"{start}--{end}",
            "sequenceId": 2 * i + 1,
            "released": i + 1 < command.released,
            "startNodeId": start,
            "endNodeId": end,
            "actions": [],
        }
        known = self.edges.get((start, end))
        if known is not None:
            edge["length"] = known.length
            if known.speed_limit is not None:
                edge["maxSpeed"] = known.speed_limit
        return edge
