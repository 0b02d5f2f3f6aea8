"""One vehicle as master control sees it: what it was sent, what its state messages mean for the fleet.

`VehicleLink` turns validated `state` and `connection` messages into fleet events and keeps the timers of
what it sent. It does no I/O: it returns the messages to publish and the events to hand to the core.

State mapping (first match wins): offline -> UNAVAILABLE; a FATAL error or a rejection of one of our orders
-> ERROR; not AUTOMATIC/SEMIAUTOMATIC -> UNAVAILABLE; charging -> CHARGING; driving, or node/edge states
left of an order that has not ended -> MOVING; a pick/drop running -> LOADING; otherwise IDLE.

Two failure modes of the openTCS VDA 5050 driver are ruled out here:

- a vehicle that ignores `cancelOrder` (commadapter-vda5050 #2): the cancel is sent once per order and
  repeated at most `max_cancel_tries` times with the same actionId, then the link gives up and reports the
  vehicle in error; it never loops;
- a vehicle that keeps (horizon) node states after its order was interrupted (#12): once a cancel is
  confirmed or given up, node and edge states of that order no longer count as working, and a state change
  is always reported, so the core never waits for a vehicle stuck "executing".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from adapters.vda5050.orders import SentOrder
from adapters.vda5050.wire import Message
from fleet.domain.vehicles import VehicleState
from fleet.ports import Arrived, EnergyReport, OperationDone, Progress, StateChanged, VehicleEvent

log = logging.getLogger("adapters.vda5050")

REJECTIONS = frozenset({"validationError", "orderError", "orderUpdateError", "noRouteError"})
_ACTIVE_MODES = frozenset({"AUTOMATIC", "SEMIAUTOMATIC"})
_RUNNING = frozenset({"INITIALIZING", "RUNNING", "PAUSED"})
_LOAD_ACTIONS = frozenset({"pick", "drop"})


@dataclass(slots=True)
class PendingCancel:
    order_id: str
    action_id: str
    message: Message
    sent_at: float
    tries: int = 1


@dataclass(frozen=True, slots=True)
class Timing:
    ack_timeout: float = 3.0  # seconds for a state to echo an order (update) before it is sent again
    max_sends: int = 3  # order sends before escalation
    cancel_timeout: float = 3.0  # seconds for cancelOrder to show up finished in actionStates
    max_cancel_tries: int = 3


@dataclass(slots=True)
class VehicleLink:
    vehicle: str
    capacity_kwh: float | None = None
    timing: Timing = field(default_factory=Timing)
    online: bool = False
    reported: VehicleState | None = None
    sent: SentOrder | None = None
    cancel: PendingCancel | None = None
    ended_orders: set[str] = field(default_factory=set)
    rejected: set[tuple[str, int]] = field(default_factory=set)
    battery: float | None = None  # percent
    position: tuple[float, float] | None = None
    last_node: str | None = None
    states: int = 0  # state messages interpreted

    # -------------------------------------------------------------------------------------- inbound

    def on_connection(self, message: Message, at: float) -> list[VehicleEvent]:
        state = message["connectionState"]
        if state == "ONLINE":
            self.online = True
            return []
        self.online = False
        self._end_drive()
        return self._report(VehicleState.UNAVAILABLE, at, f"connection {state}", force=True)

    def on_state(self, message: Message, at: float) -> list[VehicleEvent]:
        self.states += 1
        self.last_node = message["lastNodeId"] or self.last_node
        position = message.get("agvPosition")
        if position is not None:
            self.position = (position["x"], position["y"])
        events: list[VehicleEvent] = self.energy(message, at)
        sent = self.sent
        order_id = message["orderId"]
        if sent is not None and order_id == sent.order_id and message["orderUpdateId"] >= sent.update_id:
            sent.acked = True
        rejection = self._rejection(message)
        if rejection is not None:
            return events + self._report(VehicleState.ERROR, at, rejection, force=True)
        if sent is not None and order_id == sent.order_id and not sent.ended:
            events += self._progress(sent, message["lastNodeSequenceId"], at)
        forced = self._settle_cancel(message)
        derived = self.derive(message)
        working = derived in (VehicleState.MOVING, VehicleState.LOADING, VehicleState.CHARGING)
        done = (
            self._operation_done(sent, message, at) if sent is not None and order_id == sent.order_id else []
        )
        if done and isinstance(done[0], StateChanged):
            return events + done
        if working:
            return events + self._report(derived, at, force=forced) + done
        return events + done + self._report(derived, at, force=forced)

    def derive(self, message: Message) -> VehicleState:
        if not self.online:
            return VehicleState.UNAVAILABLE
        if any(e["errorLevel"] == "FATAL" or self._rejected(e) for e in message["errors"]):
            return VehicleState.ERROR
        if message["operatingMode"] not in _ACTIVE_MODES:
            return VehicleState.UNAVAILABLE
        if message["batteryState"]["charging"]:
            return VehicleState.CHARGING
        live_order = message["orderId"] not in self.ended_orders
        if message["driving"] or (live_order and (message["nodeStates"] or message["edgeStates"])):
            return VehicleState.MOVING
        if any(
            a["actionStatus"] in _RUNNING and a.get("actionType") in _LOAD_ACTIONS
            for a in message["actionStates"]
        ):
            return VehicleState.LOADING
        return VehicleState.IDLE

    def energy(self, message: Message, at: float) -> list[VehicleEvent]:
        charge = float(message["batteryState"]["batteryCharge"])
        if self.capacity_kwh is None or (self.battery is not None and abs(charge - self.battery) < 0.1):
            return []
        self.battery = charge
        return [EnergyReport(vehicle=self.vehicle, energy=self.capacity_kwh * charge / 100.0, at=at)]

    # -------------------------------------------------------------------------------------- outbound

    def order_sent(self, order: SentOrder, at: float) -> None:
        order.sent_at = at
        self.sent = order

    def cancel_needed(self, fleet_order: str | None) -> SentOrder | None:
        """The drive a `Cancel` for `fleet_order` stops, or None if there is nothing left to cancel."""
        sent = self.sent
        if sent is None or sent.ended or sent.done or sent.cancelled:
            return None
        if fleet_order is not None and fleet_order != sent.fleet_order:
            return None
        return sent

    def nothing_to_cancel(self, at: float) -> list[VehicleEvent]:
        """A Cancel with nothing running: confirm with the current state so the core can settle the drive."""
        return self._report(self.reported or VehicleState.IDLE, at, force=True)

    def due(self, at: float) -> tuple[list[Message], list[VehicleEvent], list[str]]:
        """Resends that are due (order messages, instantActions) and escalations; third item: their topics."""
        resend: list[Message] = []
        topics: list[str] = []
        events: list[VehicleEvent] = []
        sent = self.sent
        timing = self.timing
        if sent is not None and not sent.acked and not sent.ended and at - sent.sent_at >= timing.ack_timeout:
            if sent.sends < timing.max_sends:
                sent.sends += 1
                sent.sent_at = at
                resend.append(sent.message)
                topics.append("order")
            else:
                why = (
                    f"order {sent.order_id} update {sent.update_id} not acknowledged after {sent.sends} sends"
                )
                log.warning("%s: %s", self.vehicle, why)
                self._end_drive()
                events += self._report(VehicleState.ERROR, at, why, force=True)
        cancel = self.cancel
        if cancel is not None and at - cancel.sent_at >= timing.cancel_timeout:
            if cancel.tries < timing.max_cancel_tries:
                cancel.tries += 1
                cancel.sent_at = at
                resend.append(cancel.message)
                topics.append("instantActions")
            else:
                why = f"cancelOrder for order {cancel.order_id} not confirmed after {cancel.tries} tries"
                log.warning("%s: %s", self.vehicle, why)
                self.cancel = None
                self.ended_orders.add(cancel.order_id)
                self._end_drive()
                events += self._report(VehicleState.ERROR, at, why, force=True)
        return resend, events, topics

    # ------------------------------------------------------------------------------------- internals

    def _rejection(self, message: Message) -> str | None:
        sent = self.sent
        if sent is None:
            return None
        for error in message["errors"]:
            if error["errorType"] not in REJECTIONS:
                continue
            refs = {r["referenceKey"]: r["referenceValue"] for r in error.get("errorReferences", ())}
            if "orderId" in refs and refs["orderId"] != sent.order_id:
                continue
            if "orderId" not in refs and (sent.acked or message["orderId"] == sent.order_id):
                continue  # an unreferenced error from before our order was taken
            key = (sent.order_id, sent.update_id)
            if key in self.rejected:
                return None
            self.rejected.add(key)
            self._end_drive()
            description = error.get("errorDescription", "")
            return f"order {sent.order_id} update {sent.update_id} rejected: {error['errorType']} {description}".strip()
        return None

    def _rejected(self, error: Message) -> bool:
        """A rejection of one of our orders still listed: the vehicle stays in error until it is cleared."""
        if error["errorType"] not in REJECTIONS:
            return False
        refs = {r["referenceKey"]: r["referenceValue"] for r in error.get("errorReferences", ())}
        return any(order == refs.get("orderId") for order, _ in self.rejected)

    def _progress(self, sent: SentOrder, sequence: int, at: float) -> list[VehicleEvent]:
        events: list[VehicleEvent] = []
        last = len(sent.nodes) - 1
        while sent.passed < min(sequence // 2, sent.released - 1):
            sent.passed += 1
            node = sent.nodes[sent.passed]
            events.append(Progress(vehicle=self.vehicle, node=node, at=at, order=sent.fleet_order))
        if sent.passed == last and not sent.arrived and not sent.cancelled:
            sent.arrived = True
            events.append(Arrived(vehicle=self.vehicle, node=sent.nodes[last], at=at, order=sent.fleet_order))
        return events

    def _operation_done(self, sent: SentOrder, message: Message, at: float) -> list[VehicleEvent]:
        if not sent.arrived or sent.done or sent.ended or sent.cancelled:
            return []
        node = sent.nodes[-1]
        if sent.action_id is not None:
            status = next(
                (a["actionStatus"] for a in message["actionStates"] if a["actionId"] == sent.action_id), None
            )
            if status == "FAILED":
                self._end_drive()
                return self._report(
                    VehicleState.ERROR,
                    at,
                    f"{sent.operation} at {node} failed (order {sent.order_id})",
                    force=True,
                )
            if status != "FINISHED":
                return []
        sent.done = True
        sent.ended = True
        return [
            OperationDone(
                vehicle=self.vehicle, node=node, operation=sent.operation, at=at, order=sent.fleet_order
            )
        ]

    def _settle_cancel(self, message: Message) -> bool:
        """Whether a pending cancel is over with this state (confirmed, or the order is gone anyway)."""
        cancel = self.cancel
        if cancel is None:
            return False
        status = next(
            (a["actionStatus"] for a in message["actionStates"] if a["actionId"] == cancel.action_id), None
        )
        idle = not message["driving"] and not message["nodeStates"] and not message["edgeStates"]
        if (
            status in ("FINISHED", "FAILED")
            or message["orderId"] != cancel.order_id
            or (idle and status is None)
        ):
            self.cancel = None
            self.ended_orders.add(cancel.order_id)
            self._end_drive()
            return True
        return False

    def _end_drive(self) -> None:
        if self.sent is not None:
            self.sent.ended = True

    def _report(
        self, state: VehicleState, at: float, error: str | None = None, *, force: bool = False
    ) -> list[VehicleEvent]:
        if state is self.reported and not force:
            return []
        self.reported = state
        return [StateChanged(vehicle=self.vehicle, state=state, at=at, error=error)]
