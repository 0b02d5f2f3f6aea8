"""The AGV side of VDA 5050 2.1, for running the whole chain against a real broker without hardware.

`Emulator` runs N `EmulatedVehicle`s of a plant, one MQTT client each (the last will is per client): each
publishes `connection` ONLINE (retained, QoS 1) with a last will of CONNECTIONBROKEN, accepts orders and
order updates as 2.1 §6.6.2 says (new order only when idle and at the first node; stitching on the
decision point; lower orderUpdateId rejected, equal ignored), drives node to node along the released base at
the class speed (loaded or empty, capped by the edge's maxSpeed) times `speed_up`, in straight lines between
the layout's node coordinates, runs pick/drop as HARD actions lasting the class's load/unload time, charges
after startCharging at the class's charge power until full, and handles the instant actions cancelOrder (stop
at the next node), startPause/stopPause, stopCharging, initPosition and stateRequest. It publishes `state` on
every change and every `state_interval` seconds.

The simulation advances in `step(now)` with no I/O; the MQTT plumbing lives in `Emulator` only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.errors import ConnectionLost, InvalidMessage
from adapters.vda5050.wire import HeaderIds, Message, Topics, encode, header, parse, validate
from layout import Plant

log = logging.getLogger("adapters.vda5050.emulator")

ARRIVE = 0.01  # metres: a node is reached within this distance
_OPEN = frozenset({"WAITING", "INITIALIZING", "RUNNING", "PAUSED"})


@dataclass
class EmulatedVehicle:
    """One AGV's behaviour; `receive` takes order/instantActions, `step(now)` returns messages to publish."""

    plant: Plant
    vehicle: str
    manufacturer: str
    speed_up: float = 1.0
    state_interval: float = 1.0
    validate: bool = True
    x: float = 0.0
    y: float = 0.0
    last_node: str = ""
    last_sequence: int = 0
    order_id: str = ""
    update_id: int = 0
    nodes: list[Message] = field(default_factory=list)  # node states still to traverse, by sequenceId
    edges: list[Message] = field(default_factory=list)
    actions: dict[str, Message] = field(default_factory=dict)  # actionId -> action (from order or instant)
    action_states: dict[str, Message] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)  # actionId -> when it finishes
    errors: list[Message] = field(default_factory=list)
    driving: bool = False
    paused: bool = False
    cancelling: str | None = None  # actionId of a running cancelOrder
    loaded: bool = False
    battery: float = 100.0  # percent
    charging: bool = False
    headers: HeaderIds = field(default_factory=HeaderIds)
    _last_publish: float = -math.inf
    _last_signature: Any = None
    _last_step: float | None = None

    def __post_init__(self) -> None:
        spec = self.plant.vehicles[self.vehicle]
        self.spec = spec.vehicle_class
        self.last_node = self.last_node or spec.home
        self.x, self.y = self.plant.node_points[self.last_node]

    # ---------------------------------------------------------------------------------------- inbound

    def receive(self, topic: str, payload: bytes, now: float) -> None:
        try:
            message = parse(topic, payload, where=f"{self.vehicle}/{topic}", check=self.validate)
        except InvalidMessage as error:
            log.warning("%s rejected %s: %s", self.vehicle, topic, error.reason)
            self._error("validationError", error.reason, [("topic", topic)])
            return
        if topic == "order":
            self._order(message, now)
        elif topic == "instantActions":
            for action in message["actions"]:
                self._instant(action, now)

    def _order(self, order: Message, now: float) -> None:
        order_id, update = order["orderId"], order["orderUpdateId"]
        refs = [("orderId", order_id), ("orderUpdateId", str(update))]
        first = order["nodes"][0] if order["nodes"] else None
        if first is None:
            self._error("validationError", "order without nodes", refs)
            return
        if order_id != self.order_id:
            if self._busy():
                self._error("orderError", f"order {self.order_id} is still active", refs)
                return
            if first["nodeId"] != self.last_node:
                self._error("noRouteError", f"first node {first['nodeId']} is not {self.last_node}", refs)
                return
            self.actions = {}
            self.action_states = {}
            self.errors = []
            self.nodes, self.edges = [], []
            self.last_sequence = first["sequenceId"]
        else:
            if update < self.update_id:
                self._error("orderUpdateError", f"orderUpdateId {update} < {self.update_id}", refs)
                return
            if update == self.update_id:
                return  # a resend: ignored (2.1 §6.6.2)
            stitch = self._decision_point()
            if (first["nodeId"], first["sequenceId"]) != stitch:
                self._error("orderUpdateError", f"update does not start at the decision point {stitch}", refs)
                return
            self.nodes = [n for n in self.nodes if n["released"] and n["sequenceId"] < first["sequenceId"]]
            self.edges = [e for e in self.edges if e["released"] and e["sequenceId"] < first["sequenceId"]]
            order = {**order, "nodes": order["nodes"][1:]}
            self.errors = [e for e in self.errors if e["errorType"] not in ("orderUpdateError", "orderError")]
            if first["sequenceId"] != self.last_sequence:
                self.nodes.append(first)
        self.order_id, self.update_id = order_id, update
        self.nodes += order["nodes"]
        self.edges += order["edges"]
        for item in (*order["nodes"], *order["edges"]):
            for action in item["actions"]:
                self.actions[action["actionId"]] = action
                self.action_states.setdefault(action["actionId"], self._action_state(action, "WAITING"))
        if self.nodes and self.nodes[0]["sequenceId"] == self.last_sequence:
            self._traverse(self.nodes[0], now)

    def _instant(self, action: Message, now: float) -> None:
        kind, action_id = action["actionType"], action["actionId"]
        if action_id in self.action_states and self.action_states[action_id]["actionType"] == kind:
            return  # a resend of an instant action already taken
        self.actions[action_id] = action
        status = "FINISHED"
        if kind == "cancelOrder":
            if not self._busy():
                status = "FAILED"
                self._error(
                    "noOrderToCancel", "no order to cancel", [("actionId", action_id)], level="WARNING"
                )
            else:
                status = "RUNNING"
                self.cancelling = action_id
                if not self.driving:
                    self._stop_order()
                    status = "FINISHED"
        elif kind == "startPause":
            self.paused = True
        elif kind == "stopPause":
            self.paused = False
        elif kind == "initPosition":
            params = {p["key"]: p["value"] for p in action.get("actionParameters", [])}
            node = str(params.get("lastNodeId", self.last_node))
            if node in self.plant.node_points:
                self.last_node = node
                self.x, self.y = self.plant.node_points[node]
            else:
                status = "FAILED"
        elif kind == "stopCharging":
            self.charging = False
        elif kind == "stateRequest":
            self._last_signature = None
        else:
            status = "FAILED"
            self._error(
                "unsupportedAction", f"instant action {kind} is not supported", [("actionId", action_id)]
            )
        self.action_states[action_id] = self._action_state(action, status)

    # ------------------------------------------------------------------------------------------ motion

    def step(self, now: float) -> list[tuple[str, Message]]:
        """Advance to `now` (monotonic seconds); the messages to publish (topic name, message)."""
        dt = 0.0 if self._last_step is None else max(0.0, now - self._last_step)
        self._last_step = now
        for action_id, until in list(self.running.items()):
            if now >= until:
                del self.running[action_id]
                self._finish_action(action_id)
        self._charge(dt * self.speed_up)
        self._drive(dt * self.speed_up, now)
        out: list[tuple[str, Message]] = []
        signature = self._signature()
        if signature != self._last_signature or now - self._last_publish >= self.state_interval:
            self._last_signature = signature
            self._last_publish = now
            out.append(("state", self.state()))
        return out

    def _drive(self, sim_dt: float, now: float) -> None:
        blocked = self.paused or any(self.actions[a]["blockingType"] == "HARD" for a in self.running)
        target = self.nodes[0] if self.nodes else None
        if blocked or target is None or not target["released"] or sim_dt <= 0:
            self.driving = False
            return
        tx, ty = self.plant.node_points.get(target["nodeId"], (self.x, self.y))
        edge = self.edges[0] if self.edges else None
        speed = self.spec.speed_loaded if self.loaded else self.spec.speed_empty
        if edge is not None and edge.get("maxSpeed"):
            speed = min(speed, float(edge["maxSpeed"]))
        distance = math.hypot(tx - self.x, ty - self.y)
        step = speed * sim_dt
        self.driving = True
        self.battery = max(0.0, self.battery - self._battery_use(sim_dt))
        if step + ARRIVE >= distance:
            self.x, self.y = tx, ty
            self._traverse(target, now)
        else:
            self.x += (tx - self.x) * step / distance
            self.y += (ty - self.y) * step / distance

    def _traverse(self, node: Message, now: float) -> None:
        self.nodes.pop(0)
        if self.edges and self.edges[0]["sequenceId"] < node["sequenceId"]:
            self.edges.pop(0)
        self.last_node, self.last_sequence = node["nodeId"], node["sequenceId"]
        if self.cancelling is not None:
            self._stop_order()
            return
        for action in node["actions"]:
            self._start_action(action, now)
        if not self.nodes or not self.nodes[0]["released"]:
            self.driving = False

    def _start_action(self, action: Message, now: float) -> None:
        kind = action["actionType"]
        duration = {"pick": self.spec.load_time, "drop": self.spec.unload_time}.get(kind)
        if duration is None and kind not in ("startCharging", "stopCharging"):
            self.action_states[action["actionId"]] = self._action_state(action, "FAILED")
            self._error(
                "unsupportedAction", f"action {kind} is not supported", [("actionId", action["actionId"])]
            )
            return
        self.action_states[action["actionId"]] = self._action_state(action, "RUNNING")
        self.running[action["actionId"]] = now + (duration or 0.0) / self.speed_up

    def _finish_action(self, action_id: str) -> None:
        action = self.actions[action_id]
        if action["actionType"] == "startCharging":
            self.charging = self.spec.battery is not None
        elif action["actionType"] == "stopCharging":
            self.charging = False
        elif action["actionType"] == "pick":
            self.loaded = True
        elif action["actionType"] == "drop":
            self.loaded = False
        self.action_states[action_id] = self._action_state(action, "FINISHED")

    def _stop_order(self) -> None:
        """End of a cancel: drop what is left of the order, fail actions not done, confirm the cancel."""
        self.nodes, self.edges = [], []
        self.driving = False
        for action_id, state in self.action_states.items():
            if state["actionStatus"] in _OPEN and action_id != self.cancelling:
                self.running.pop(action_id, None)
                self.action_states[action_id] = {**state, "actionStatus": "FAILED"}
        if self.cancelling is not None:
            self.action_states[self.cancelling] = {
                **self.action_states[self.cancelling],
                "actionStatus": "FINISHED",
            }
            self.cancelling = None

    # ------------------------------------------------------------------------------------------- state

    def state(self) -> Message:
        message = {
            **header(self.headers.next("state"), self.manufacturer, self.vehicle),
            "orderId": self.order_id,
            "orderUpdateId": self.update_id,
            "lastNodeId": self.last_node,
            "lastNodeSequenceId": self.last_sequence,
            "nodeStates": [
                {"nodeId": n["nodeId"], "sequenceId": n["sequenceId"], "released": n["released"]}
                for n in self.nodes
            ],
            "edgeStates": [
                {"edgeId": e["edgeId"], "sequenceId": e["sequenceId"], "released": e["released"]}
                for e in self.edges
            ],
            "driving": self.driving,
            "paused": self.paused,
            "actionStates": list(self.action_states.values()),
            "batteryState": {"batteryCharge": round(self.battery, 2), "charging": self.charging},
            "operatingMode": "AUTOMATIC",
            "errors": list(self.errors),
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
            "agvPosition": {
                "x": self.x,
                "y": self.y,
                "theta": 0.0,
                "mapId": self.plant.id,
                "positionInitialized": True,
            },
            "loads": [{"loadId": "unit"}] if self.loaded else [],
        }
        if self.validate:
            validate("state", message)
        return message

    def _signature(self) -> Any:
        return (
            self.order_id,
            self.update_id,
            self.last_node,
            self.last_sequence,
            len(self.nodes),
            len(self.edges),
            self.driving,
            self.paused,
            tuple((k, v["actionStatus"]) for k, v in self.action_states.items()),
            len(self.errors),
        )

    def _busy(self) -> bool:
        return bool(self.nodes) or bool(self.running)

    def _decision_point(self) -> tuple[str, int]:
        released = [n for n in self.nodes if n["released"]]
        if released:
            return released[-1]["nodeId"], released[-1]["sequenceId"]
        return self.last_node, self.last_sequence

    def _charge(self, sim_dt: float) -> None:
        """On a charger until full: the class's charge power; driving off ends it."""
        battery = self.spec.battery
        if not self.charging or battery is None:
            return
        if self.nodes and self.nodes[0]["released"]:
            self.charging = False
            return
        self.battery = min(
            100.0, self.battery + battery.charge_kw * sim_dt / 3600.0 / battery.capacity_kwh * 100.0
        )
        if self.battery >= 100.0:
            self.charging = False

    def _battery_use(self, sim_dt: float) -> float:
        battery = self.spec.battery
        if battery is None:
            return 0.0
        return battery.moving_kw * sim_dt / 3600.0 / battery.capacity_kwh * 100.0

    def _error(
        self, kind: str, description: str, refs: Iterable[tuple[str, str]], level: str = "WARNING"
    ) -> None:
        self.errors.append(
            {
                "errorType": kind,
                "errorLevel": level,
                "errorDescription": description,
                "errorReferences": [{"referenceKey": k, "referenceValue": v} for k, v in refs],
            }
        )

    @staticmethod
    def _action_state(action: Message, status: str) -> Message:
        return {"actionId": action["actionId"], "actionType": action["actionType"], "actionStatus": status}


class Emulator:
    """N emulated vehicles on one broker, one MQTT client each; `run()` until `stop()` (or `seconds`)."""

    def __init__(
        self,
        plant: Plant,
        vehicles: Iterable[str],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        interface_name: str = "uagv",
        manufacturer: str = "coilyard",
        speed_up: float = 1.0,
        state_interval: float = 1.0,
        period: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plant = plant
        self.host, self.port = host, port
        self.period = period
        self.clock = clock
        self.vehicles = {
            v: EmulatedVehicle(plant, v, manufacturer, speed_up=speed_up, state_interval=state_interval)
            for v in vehicles
        }
        self.topics = {v: Topics(interface_name, manufacturer, v) for v in self.vehicles}
        self.clients: dict[str, mqtt.Client] = {}
        self._inbox: deque[tuple[str, str, bytes]] = deque()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def connect(self) -> None:
        """Connect every vehicle (last will set first), announce it ONLINE and subscribe to its commands."""
        for vehicle, topics in self.topics.items():
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"emu-{vehicle}-{uuid.uuid4().hex[:6]}"
            )
            will = self._connection(vehicle, "CONNECTIONBROKEN")  # its own headerId, before ONLINE's
            client.will_set(topics("connection"), will, qos=1, retain=True)
            client.on_connect = self._on_connect(vehicle)
            client.on_message = self._on_message(vehicle)
            try:
                client.connect(self.host, self.port, keepalive=5)
            except OSError as error:
                raise ConnectionLost(f"MQTT broker {self.host}:{self.port}", str(error)) from None
            client.loop_start()
            self.clients[vehicle] = client

    def _connection(self, vehicle: str, state: str) -> bytes:
        emulated = self.vehicles[vehicle]
        with self._lock:
            number = emulated.headers.next("connection")
        return encode({**header(number, emulated.manufacturer, vehicle), "connectionState": state})

    def _on_connect(self, vehicle: str) -> Callable[..., None]:
        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            topics = self.topics[vehicle]
            client.subscribe([(topics("order"), 0), (topics("instantActions"), 0)])
            client.publish(topics("connection"), self._connection(vehicle, "ONLINE"), qos=1, retain=True)

        return on_connect

    def _on_message(self, vehicle: str) -> Callable[..., None]:
        def on_message(client: mqtt.Client, userdata: Any, message: Any) -> None:
            self._inbox.append((vehicle, message.topic.rsplit("/", 1)[-1], message.payload))

        return on_message

    def run(self, seconds: float | None = None) -> None:
        """Step every vehicle each `period` and publish what changed, until `stop()` or `seconds` passed."""
        end = None if seconds is None else self.clock() + seconds
        while not self._stop.is_set() and (end is None or self.clock() < end):
            now = self.clock()
            while self._inbox:
                vehicle, topic, payload = self._inbox.popleft()
                self.vehicles[vehicle].receive(topic, payload, now)
            for vehicle, emulated in self.vehicles.items():
                for topic, message in emulated.step(now):
                    self.clients[vehicle].publish(self.topics[vehicle](topic), encode(message), qos=0)
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Say OFFLINE (retained) and disconnect cleanly, so no last will is sent."""
        for vehicle, client in self.clients.items():
            info = client.publish(
                self.topics[vehicle]("connection"), self._connection(vehicle, "OFFLINE"), qos=1, retain=True
            )
            info.wait_for_publish(2.0)
            client.disconnect()
            client.loop_stop()
        self.clients = {}
