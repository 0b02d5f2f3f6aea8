"""`Vda5050Port`: the fleet's vehicle port as VDA 5050 2.1 master control over MQTT, for many vehicles.

One paho-mqtt client serves every vehicle of the plant (or the ones named). Its network thread does nothing
but append `(topic, payload)` to a thread-safe inbox; `drain()`, called by the single-threaded shell, parses,
validates and interprets what arrived (see `link.VehicleLink`), sends due resends and returns the events.
`send()` builds the order or instant action, validates it and hands it to paho's queue; it never blocks.

Every message sent or received is checked against the vendored 2.1.0 schemas (unless `validate=False`). An
inbound message that is not JSON or breaks its schema is rejected: logged on `adapters.vda5050` with the
topic and reason, counted in `stats`, and otherwise ignored; the port keeps serving.

Vehicle ids are serial numbers: topics are `interface_name/v2/manufacturer/<vehicle id>/<topic>`. Until a
vehicle's `connection` says ONLINE and a state arrives, it is reported UNAVAILABLE; a `connection` of
OFFLINE or CONNECTIONBROKEN (the last will) makes it UNAVAILABLE again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.errors import AdapterConfigError, CommandRejected, ConnectionLost, InvalidMessage
from adapters.vda5050.link import PendingCancel, Timing, VehicleLink
from adapters.vda5050.orders import OrderBuilder
from adapters.vda5050.wire import (
    HeaderIds,
    Message,
    Topics,
    encode,
    header,
    parse,
    split_topic,
    subscription,
    validate,
)
from fleet.domain.vehicles import VehicleState
from fleet.ports import Cancel, Pause, Resume, SendRoute, StateChanged, VehicleCommand, VehicleEvent
from layout import Plant

log = logging.getLogger("adapters.vda5050")

INBOUND = ("state", "connection", "visualization", "factsheet")


def broker_address(url: str) -> tuple[str, int]:
    """(host, port) of `mqtt://host:port` or `host:port`."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker URL '{url}' must read mqtt://host:port")
    return parts.hostname, parts.port or 1883


class Vda5050Port:
    """Master control for the plant's vehicles over one MQTT connection (see the module docstring)."""

    def __init__(
        self,
        *,
        plant: Plant,
        url: str = "mqtt://127.0.0.1:1883",
        interface_name: str = "uagv",
        manufacturer: str = "coilyard",
        vehicles: Iterable[str] | None = None,
        validate: bool = True,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
        client_id: str | None = None,
    ) -> None:
        names = sorted(plant.vehicles) if vehicles is None else list(vehicles)
        unknown = sorted(set(names) - set(plant.vehicles))
        if unknown:
            raise AdapterConfigError("vda5050", f"no vehicle {', '.join(unknown)} in plant '{plant.id}'")
        try:
            self.host, self.port = broker_address(url)
            self.topics = {v: Topics(interface_name, manufacturer, v) for v in names}
        except ValueError as error:
            raise AdapterConfigError("vda5050", str(error)) from None
        self.plant = plant
        self.interface_name = interface_name
        self.manufacturer = manufacturer
        self.validate = validate
        self.clock = clock
        self.client_id = client_id or f"coilyard-master-{uuid.uuid4().hex[:8]}"
        self.builder = OrderBuilder(plant)
        self.links: dict[str, VehicleLink] = {}
        for v in names:
            battery = plant.vehicles[v].vehicle_class.battery
            self.links[v] = VehicleLink(
                v, capacity_kwh=battery.capacity_kwh if battery else None, timing=timing or Timing()
            )
        self.headers: dict[str, HeaderIds] = {v: HeaderIds() for v in names}
        self.stats: Counter[str] = Counter()
        # Read-only views for people: the latest `visualization` position and `factsheet` of each vehicle. The
        # fleet core takes positions from `state` only (nodes and sequence ids), so these never make events.
        self.positions: dict[str, Message] = {}
        self.factsheets: dict[str, Message] = {}
        self.outbox: list[tuple[str, Message]] = []  # what was published while not connected (unit tests)
        self._inbox: deque[tuple[str, bytes]] = deque()
        self._events: list[VehicleEvent] = [
            StateChanged(
                vehicle=v, state=VehicleState.UNAVAILABLE, at=clock(), error="no connection message yet"
            )
            for v in names
        ]
        for link in self.links.values():
            link.reported = VehicleState.UNAVAILABLE
        self._client: Any = None
        self._subscribed = threading.Event()

    # ------------------------------------------------------------------------------------- lifecycle

    def open(self, timeout: float = 5.0) -> None:
        """Connect, subscribe to state and connection of every vehicle, start the network thread."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        try:
            client.connect(self.host, self.port, keepalive=15)
        except OSError as error:
            raise ConnectionLost(f"MQTT broker {self.host}:{self.port}", str(error)) from None
        self._client = client
        client.loop_start()
        if not self._subscribed.wait(timeout):
            self.close()
            raise ConnectionLost(
                f"MQTT broker {self.host}:{self.port}", f"no subscription within {timeout} s"
            )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def __enter__(self) -> Vda5050Port:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        client.subscribe([(subscription(self.interface_name, self.manufacturer, t), 1) for t in INBOUND])

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._client is not None:  # not our own close(): paho reconnects and on_connect subscribes again
            log.warning("lost the MQTT broker %s:%s (%s); reconnecting", self.host, self.port, reason)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, reasons: Any, properties: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._inbox.append((message.topic, message.payload))  # network thread: enqueue only

    # ------------------------------------------------------------------------------------------- port

    def send(self, command: VehicleCommand) -> None:
        link = self.links.get(command.vehicle)
        if link is None:
            raise CommandRejected(command.vehicle, "not a vehicle of this VDA 5050 port")
        at = self.clock()
        if isinstance(command, SendRoute):
            order = self.builder.build(command, link.sent, self._header(command.vehicle, "order"))
            link.order_sent(order, at)
            self._publish(command.vehicle, "order", order.message)
        elif isinstance(command, Cancel):
            pending = link.cancel
            if (
                pending is not None
                and link.sent is not None
                and command.order in (None, link.sent.fleet_order)
            ):
                return  # sent once per order; resends are the link's timers' business
            sent = link.cancel_needed(command.order)
            if sent is None:
                self._events += link.nothing_to_cancel(at)
                return
            sent.cancelled = True
            message = self._instant(command.vehicle, "cancelOrder", f"cancel/{sent.order_id}")

            link.cancel = PendingCancel(sent.order_id, message["actions"][0]["actionId"], message, at)
            self._publish(command.vehicle, "instantActions", message)
        elif isinstance(command, Pause | Resume):
            kind = "startPause" if isinstance(command, Pause) else "stopPause"
            self._publish(command.vehicle, "instantActions", self._instant(command.vehicle, kind, None))
        else:  # crane moves have no VDA 5050 counterpart
            raise CommandRejected(command.vehicle, f"{type(command).__name__} is not a VDA 5050 command")

    def drain(self) -> list[VehicleEvent]:
        events, self._events = self._events, []
        at = self.clock()
        inbox = self._inbox
        while inbox:
            topic, payload = inbox.popleft()
            events += self.process(topic, payload, at)
        for vehicle, link in self.links.items():
            resend, escalations, topics = link.due(at)
            for message, topic in zip(resend, topics, strict=True):
                self._publish(vehicle, topic, {**message, **self._header(vehicle, topic)})
            events += escalations
        return events

    def process(self, topic: str, payload: bytes, at: float) -> list[VehicleEvent]:
        """Interpret one inbound message; an invalid one is logged, counted and yields no event."""
        try:
            vehicle, name = split_topic(topic)
            link = self.links.get(vehicle)
            if link is None or name not in INBOUND:
                self.stats["ignored"] += 1
                return []
            message = parse(name, payload, where=topic, check=self.validate)
            if message.get("serialNumber") != vehicle:
                raise InvalidMessage(
                    topic, f"serialNumber '{message.get('serialNumber')}' is not '{vehicle}'"
                )
            self.stats[f"received {name}"] += 1
            if name == "state":
                return link.on_state(message, at)
            if name == "visualization":
                if "agvPosition" in message:
                    self.positions[vehicle] = message["agvPosition"]
                return []
            if name == "factsheet":
                self.factsheets[vehicle] = message
                return []
            return link.on_connection(message, at)
        except InvalidMessage as error:
            self.stats["rejected"] += 1
            log.warning("rejected message on %s: %s", error.topic, error.reason)
            return []
        except (KeyError, TypeError, ValueError) as error:  # only reachable with validation off
            self.stats["rejected"] += 1
            log.warning("rejected message on %s: unusable content (%r)", topic, error)
            return []

    # -------------------------------------------------------------------------------------- internals

    def _header(self, vehicle: str, topic: str) -> Message:
        return header(self.headers[vehicle].next(topic), self.manufacturer, vehicle)

    def _instant(self, vehicle: str, action: str, action_id: str | None) -> Message:
        return {
            **self._header(vehicle, "instantActions"),
            "actions": [
                {
                    "actionType": action,
                    "actionId": action_id or f"{action}/{uuid.uuid4().hex[:12]}",
                    "blockingType": "HARD",
                }
            ],
        }

    def _publish(self, vehicle: str, topic: str, message: Message) -> None:
        if self.validate:
            try:
                validate(topic, message)
            except InvalidMessage as error:  # our own bug: never put it on the wire
                log.error("not sending %s to %s: %s", topic, vehicle, error.reason)
                self._events.append(
                    StateChanged(vehicle=vehicle, state=VehicleState.ERROR, at=self.clock(), error=str(error))
                )
                return
        self.stats[f"sent {topic}"] += 1
        client = self._client
        if client is None:
            self.outbox.append((topic, message))
            return
        client.publish(self.topics[vehicle](topic), encode(message), qos=0)
