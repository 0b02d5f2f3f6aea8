"""Charging and parking driven by the fleet core, on the tiny plant through fake vehicles (tests/fleet_harness).

The tiny plant has parking places P1 and P2 (the AGVs' homes) and one charger CH1 behind them in a dead end
(W5 - P1 - P2 - CH1). The fakes model their battery: they charge at a high rate (a tick is a second) and
report each level as an EnergyReport.
"""

from __future__ import annotations

from fleet.core import SubmitOrder, Tick, WakeAt
from fleet.dispatcher import AssignmentKind
from fleet.domain.orders import Destination, Operation, OrderSpec, OrderState
from fleet.ports import CraneAt, EnergyReport, OperationDone, SendRoute
from tests.fleet_harness import Loop
from tests.wms_factories import tiny_plant

FAST_CHARGE_KW = 36_000.0  # 10 kWh per tick
LOW_KWH = 20.0  # below the class's low fraction (0.25 x 120 kWh)
FULL_KWH = 0.9 * 120.0


def low_loop(*vehicles: str, step_kwh: float = 0.0) -> Loop:
    loop = Loop.on(tiny_plant(), charge_kw=FAST_CHARGE_KW, step_kwh=step_kwh)
    for vid in vehicles:
        loop.fleet.vehicles[vid].report_energy(LOW_KWH, 0.0)
    loop.pump()
    return loop


def routes(loop: Loop, vid: str, operation: Operation) -> list[SendRoute]:
    fake = loop.fleet.vehicles[vid]
    return [c for c in fake.commands if isinstance(c, SendRoute) and c.operation is operation]


def test_an_idle_low_vehicle_charges_at_the_charger_and_returns_to_service() -> None:
    loop = low_loop("AGV-02")
    loop.run(30)
    charge = routes(loop, "AGV-02", Operation.CHARGE)
    assert [r.nodes[-1] for r in charge] == ["CH1"]
    reports = [e.energy for e in loop.messages if isinstance(e, EnergyReport) and e.vehicle == "AGV-02"]
    assert reports[0] == LOW_KWH and reports[-1] >= FULL_KWH
    assert reports == sorted(reports)  # energy only rises while it charges
    assert loop.core.vehicles["AGV-02"].energy is not None and loop.core.vehicles["AGV-02"].energy >= FULL_KWH
    # Full again: the charger is given back and the vehicle is parked, free for orders.
    hold = loop.core.dispatcher.holds.get("AGV-02")
    assert hold is None or hold.kind is AssignmentKind.PARK
    assert loop.fleet.vehicles["AGV-02"].node == "P2"
    assert loop.core.drive_of("AGV-02") is None
    loop.feed(SubmitOrder(spec=OrderSpec(id="M1", destinations=(Destination("W5"),), vehicle_class="agv")))
    loop.run(20, until="M1")
    assert loop.core.book["M1"].state is OrderState.FINISHED


def test_one_vehicle_per_charger_the_other_waits_then_charges() -> None:
    loop = low_loop("AGV-01", "AGV-02")
    charging_at_once = 0
    for _ in range(80):
        loop.tick()
        holds = [h for h in loop.core.dispatcher.holds.values() if h.kind is AssignmentKind.CHARGE]
        assert len({h.target_node for h in holds}) == len(holds)  # never two holds on one charger
        on_charger = [v for v, f in loop.fleet.vehicles.items() if f.node == "CH1"]
        charging_at_once = max(charging_at_once, len(on_charger))
    assert charging_at_once == 1
    for vid in ("AGV-01", "AGV-02"):
        assert len(routes(loop, vid, Operation.CHARGE)) >= 1
        energy = loop.core.vehicles[vid].energy
        assert energy is not None and energy >= FULL_KWH


def test_a_vehicle_under_an_order_never_diverts_to_charge() -> None:
    # Every node costs 20 kWh: AGV-01 runs low on its way to the pick, and must still finish the order first.
    loop = low_loop(step_kwh=20.0)
    spec = OrderSpec(
        id="T1",
        destinations=(Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP)),
        vehicle_class="agv",
        weight=20.0,
    )
    loop.feed(SubmitOrder(spec=spec))
    vid = ""
    for _ in range(40):
        loop.tick()
        order = loop.core.book["T1"]
        vid = order.vehicle or vid
        if order.state.terminal:
            break
        if vid:
            assert not routes(loop, vid, Operation.CHARGE), "sent to charge while it works on an order"
    assert loop.core.book["T1"].state is OrderState.FINISHED
    assert loop.core.vehicles[vid].energy_low
    loop.run(40)
    assert [r.nodes[-1] for r in routes(loop, vid, Operation.CHARGE)][:1] == ["CH1"]


def test_an_idle_vehicle_away_from_parking_is_parked() -> None:
    loop = Loop.on(tiny_plant())
    loop.feed(SubmitOrder(spec=OrderSpec(id="M1", destinations=(Destination("W1"),), vehicle_class="agv")))
    loop.run(40, until="M1")
    vid = loop.core.book["M1"].vehicle
    assert vid is not None and loop.fleet.vehicles[vid].node == "W1"
    loop.run(40)
    park = routes(loop, vid, Operation.PARK)
    assert park and park[-1].nodes[-1] in ("P1", "P2")
    assert loop.fleet.vehicles[vid].node == park[-1].nodes[-1]
    others = {f.node for v, f in loop.fleet.vehicles.items() if v != vid}
    assert loop.fleet.vehicles[vid].node not in others  # one vehicle per parking place


def test_a_vehicle_running_low_while_idle_asks_for_a_tick_and_crane_messages_are_ignored() -> None:
    loop = Loop.on(tiny_plant())
    assert loop.feed(Tick()) == []  # both AGVs parked and full: nothing to do, no tick asked for
    effects = loop.feed(EnergyReport(vehicle="AGV-01", energy=LOW_KWH, at=loop.t))
    assert WakeAt(at=loop.t + 1.0) in effects
    assert loop.feed(CraneAt(vehicle="C1", along=12.0, at=loop.t)) == []
    assert loop.feed(OperationDone(vehicle="C1", node="", operation=Operation.PICK, at=loop.t)) == []
