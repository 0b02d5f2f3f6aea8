"""One handler per command: translate it into domain calls on the yard and return a plain, JSON-able result.

Handlers never commit; the message bus does, once, after the handler returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wms.domain.putaway import putaway
from wms.domain.retrieval import plan_retrieval_batch
from wms.domain.shipments import confirm_loading, plan_shipments
from wms.domain.units import CoilSpec, IngotStackSpec
from wms.domain.yard import Move, Yard
from wms.service_layer import commands as cmd

Result = dict[str, Any]


def _move_result(move: Move) -> Result:
    return {
        "move": move.id,
        "unit": move.unit,
        "source": move.source,
        "target": move.target,
        "state": str(move.state),
        "score": dict(move.score),
    }


def receive_coil(c: cmd.ReceiveCoil, yard: Yard, now: float) -> Result:
    spec = CoilSpec(
        id=c.coil, alloy=c.alloy, temper=c.temper, width=c.width, gauge=c.gauge,
        outer_diameter=c.outer_diameter, inner_diameter=c.inner_diameter, weight=c.weight,
        temperature=c.temperature, temperature_at=now, packaging=c.packaging, lot=c.lot, heat=c.heat,
        customer=c.customer, order=c.order, due=c.due, turnover=c.turnover, parents=c.parents,
    )  # fmt: skip
    coil = yard.receive_coil(spec, c.location, at=now, actor=c.actor)
    return {"coil": coil.id, "location": coil.location, "holds": sorted(coil.holds)}


def receive_ingot_stack(c: cmd.ReceiveIngotStack, yard: Yard, now: float) -> Result:
    spec = IngotStackSpec(
        c.stack, c.alloy, c.count, c.unit_weight, c.unit_height, c.cast_lot, width=c.width, length=c.length
    )
    stack = yard.receive_ingot_stack(spec, c.location, at=now, actor=c.actor)
    return {"stack": stack.id, "location": stack.location}


def propose_putaway(c: cmd.ProposePutaway, yard: Yard, now: float) -> Result:
    return _move_result(putaway(yard, c.coil, c.store, at=now, actor=c.actor))


def plan_move(c: cmd.PlanMove, yard: Yard, now: float) -> Result:
    move = yard.plan_move(
        c.unit, c.target, at=now, actor=c.actor, purpose=c.purpose, order=c.order, reason=c.reason
    )
    return _move_result(move)


def move_now(c: cmd.MoveNow, yard: Yard, now: float) -> Result:
    move = yard.plan_move(c.unit, c.target, at=now, actor=c.actor, reason=c.reason)
    yard.start_move(move.id, c.carrier, at=now, actor=c.actor)
    return _move_result(yard.complete_move(move.id, at=now, actor=c.actor))


def start_move(c: cmd.StartMove, yard: Yard, now: float) -> Result:
    return _move_result(yard.start_move(c.move, c.carrier, at=now, actor=c.actor))


def complete_leg(c: cmd.CompleteLeg, yard: Yard, now: float) -> Result:
    return _move_result(yard.complete_leg(c.move, c.location, at=now, actor=c.actor))


def complete_move(c: cmd.CompleteMove, yard: Yard, now: float) -> Result:
    return _move_result(yard.complete_move(c.move, at=now, actor=c.actor))


def cancel_move(c: cmd.CancelMove, yard: Yard, now: float) -> Result:
    return _move_result(
        yard.cancel_move(c.move, at=now, actor=c.actor, reason=c.reason, set_down_at=c.set_down_at)
    )


def plan_retrieval(c: cmd.PlanRetrieval, yard: Yard, now: float) -> Result:
    plan = plan_retrieval_batch(yard, list(c.coils), c.destination, at=now, actor=c.actor, order=c.order)
    return {"plan": plan.describe()}


def hold(c: cmd.Hold, yard: Yard, now: float) -> Result:
    placed = yard.place_hold(c.unit, c.kind, c.reason, at=now, actor=c.actor)
    return {"unit": c.unit, "hold": placed.id, "kind": str(placed.kind)}


def release(c: cmd.Release, yard: Yard, now: float) -> Result:
    yard.release_hold(c.unit, c.hold, at=now, actor=c.actor, reason=c.reason)
    return {"unit": c.unit, "released": c.hold}


def release_cooled(c: cmd.ReleaseCooled, yard: Yard, now: float) -> Result:
    return {"released": yard.release_cooled(at=now, actor=c.actor), "next": yard.next_cooling_release()}


def measure_temperature(c: cmd.MeasureTemperature, yard: Yard, now: float) -> Result:
    yard.measure_temperature(c.coil, c.temperature, at=now, actor=c.actor)
    return {"coil": c.coil, "holds": sorted(yard.coil(c.coil).holds)}


def reserve(c: cmd.Reserve, yard: Yard, now: float) -> Result:
    yard.reserve(c.unit, c.order, at=now, actor=c.actor)
    return {"unit": c.unit, "order": c.order}


def release_reservation(c: cmd.ReleaseReservation, yard: Yard, now: float) -> Result:
    yard.release_reservation(c.unit, at=now, actor=c.actor, reason=c.reason)
    return {"unit": c.unit}


def count(c: cmd.Count, yard: Yard, now: float) -> Result:
    event = yard.record_count(c.location, c.observed, at=now, actor=c.actor)
    return {
        "location": c.location,
        "expected": list(event.expected),
        "observed": list(event.observed),
        "discrepancy": event.discrepancy,
    }


def lock(c: cmd.Lock, yard: Yard, now: float) -> Result:
    yard.lock(c.location, c.direction, c.reason, at=now, actor=c.actor)
    return {"location": c.location, "locked": c.direction}


def unlock(c: cmd.Unlock, yard: Yard, now: float) -> Result:
    yard.unlock(c.location, c.direction, at=now, actor=c.actor)
    return {"location": c.location, "unlocked": c.direction}


def ship(c: cmd.Ship, yard: Yard, now: float) -> Result:
    yard.ship(c.unit, c.shipment, at=now, actor=c.actor)
    return {"unit": c.unit, "shipment": c.shipment}


def plan_shipment(c: cmd.PlanShipment, yard: Yard, now: float) -> Result:
    planned = plan_shipments(
        yard,
        c.shipment,
        list(c.coils),
        payload=c.payload,
        dock=c.dock,
        at=now,
        actor=c.actor,
        window=c.window,
    )
    return {"shipments": [{"shipment": s.id, "coils": list(s.coils), "dock": s.dock} for s in planned]}


def confirm_loading_scan(c: cmd.ConfirmLoading, yard: Yard, now: float) -> Result:
    shipment = confirm_loading(yard, c.shipment, c.coil, at=now, actor=c.actor)
    return {"shipment": shipment.id, "loaded": list(shipment.loaded), "next": shipment.next_coil}


def consume(c: cmd.Consume, yard: Yard, now: float) -> Result:
    yard.consume(c.coil, c.station, at=now, actor=c.actor)
    return {"coil": c.coil, "station": c.station}


Handler = Callable[[Any, Yard, float], Result]

HANDLERS: dict[type[cmd.Command], Handler] = {
    cmd.ReceiveCoil: receive_coil,
    cmd.ReceiveIngotStack: receive_ingot_stack,
    cmd.ProposePutaway: propose_putaway,
    cmd.PlanMove: plan_move,
    cmd.MoveNow: move_now,
    cmd.StartMove: start_move,
    cmd.CompleteLeg: complete_leg,
    cmd.CompleteMove: complete_move,
    cmd.CancelMove: cancel_move,
    cmd.PlanRetrieval: plan_retrieval,
    cmd.Hold: hold,
    cmd.Release: release,
    cmd.ReleaseCooled: release_cooled,
    cmd.MeasureTemperature: measure_temperature,
    cmd.Reserve: reserve,
    cmd.ReleaseReservation: release_reservation,
    cmd.Count: count,
    cmd.Lock: lock,
    cmd.Unlock: unlock,
    cmd.Ship: ship,
    cmd.PlanShipment: plan_shipment,
    cmd.ConfirmLoading: confirm_loading_scan,
    cmd.Consume: consume,
}
