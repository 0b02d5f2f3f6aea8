"""The twin's simulated cranes and vehicles on their own: crane energy by load weight, breakdowns with and
without a load, charging only at chargers. Each unit runs in a bare SimPy environment with a list as its port.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import EnergyReport, OperationDone, SendCraneMove, SendRoute, StateChanged, VehicleEvent
from layout import schema as plant_schema
from simulation.cranes import CraneEnergy, SimCrane
from simulation.experiment import prepare
from simulation.shell import Replication, ReplicationSetup
from simulation.vehicles import ChargingMode, SimVehicle
from tests.wms_factories import tiny_plant

ROOT = Path(__file__).resolve().parents[3]

# Bridge 1.0 m/s, 0.25 m/s²; trolley 0.5 m/s, 0.25 m/s²; hoist 0.2 m/s, 0.2 m/s²; lift 6 m; pick/drop 30 s.
CRANE = plant_schema.OverheadCrane.model_validate(
    {
        "id": "C",
        "runway": "R",
        "bays": ["B"],
        "bridge": {"speed": 1.0, "acceleration": 0.25},
        "trolley": {"speed": 0.5, "acceleration": 0.25},
        "hoist": {"speed": 0.2, "acceleration": 0.2},
        "lift_height": 6.0,
        "safe_working_load": 35.0,
    }
)
# Work only; the defaults: η 0.8, μ 0.005, bridge 40 t, trolley 12 t, hook 3 t.
WORK_ONLY = CraneEnergy(aux_kw=0.0, idle_kw=0.0)


def crane_run(
    weight_t: float, energy: CraneEnergy = WORK_ONLY, *, breakdown: tuple[float, float] | None = None
) -> tuple[SimCrane, list[VehicleEvent]]:
    """Pick a `weight_t` coil at (30, 5) from home (0, 0), drop it at (10, 5); optionally a breakdown
    (at, repair_s)."""
    env = simpy.Environment()
    events: list[VehicleEvent] = []
    crane = SimCrane(env, "C", CRANE, (0.0, 0.0), events.append, energy=energy, weight_at=lambda _p: weight_t)
    crane.command(
        SendCraneMove(vehicle="C", order="J1", along=30.0, across=5.0, operation=Operation.PICK, place="A")
    )
    crane.command(
        SendCraneMove(vehicle="C", order="J1", along=10.0, across=5.0, operation=Operation.DROP, place="B")
    )
    if breakdown is not None:
        at, repair = breakdown
        env.timeout(at).callbacks.append(lambda _e: crane.fail(repair))
    env.run()
    return crane, events


def done_at(events: list[VehicleEvent], operation: Operation) -> float:
    return next(e.at for e in events if isinstance(e, OperationDone) and e.operation is operation)


def test_crane_energy_of_one_move_matches_the_hand_calculation() -> None:
    crane, events = crane_run(20.0)
    g = 9.81
    # Empty travel (0,0) -> (30,5): the bridge carries bridge + trolley + hook = 55 t over 30 m and reaches its
    # top speed (sqrt(30 m x 0.25 m/s²) > 1 m/s); the trolley carries trolley + hook = 15 t over 5 m at 0.5 m/s.
    bridge_empty = (0.005 * 55_000 * g * 30 + 0.5 * 55_000 * 1.0**2) / 0.8  # 135,540.6 J
    trolley_empty = (0.005 * 15_000 * g * 5 + 0.5 * 15_000 * 0.5**2) / 0.8  # 6,942.2 J
    hoist_load = (20_000 + 3_000) * g * 6 / 0.8  # PICK: coil and hook up 6 m: 1,692,225 J
    bridge_loaded = (0.005 * 75_000 * g * 20 + 0.5 * 75_000 * 1.0**2) / 0.8  # 20 m with 75 t: 138,843.8 J
    hook_back = 3_000 * g * 6 / 0.8  # DROP: the empty hook up again: 220,725 J
    total_j = bridge_empty + trolley_empty + hoist_load + bridge_loaded + hook_back
    assert total_j == pytest.approx(2_194_276.6, abs=0.1)
    assert crane.stats.energy_kwh == pytest.approx(total_j / 3.6e6, rel=1e-12)  # 0.6095 kWh
    # Times: travel 34 s, PICK 30 + 31 s, travel 24 s, DROP 31 + 30 s.
    assert done_at(events, Operation.PICK) == pytest.approx(95.0)
    assert done_at(events, Operation.DROP) == pytest.approx(180.0)


def test_crane_energy_grows_with_the_load_and_adds_the_auxiliary_draw_while_working() -> None:
    light, _ = crane_run(10.0)
    heavy, _ = crane_run(30.0)
    g = 9.81
    # 20 t more: hoisted 6 m, and carried 20 m by the bridge (rolling resistance, and brought to 1 m/s).
    extra = (20_000 * g * 6 + 0.005 * 20_000 * g * 20 + 0.5 * 20_000 * 1.0**2) / 0.8 / 3.6e6
    assert heavy.stats.energy_kwh - light.stats.energy_kwh == pytest.approx(extra, rel=1e-9)
    with_aux, _ = crane_run(10.0, CraneEnergy(aux_kw=8.0, idle_kw=0.0))
    assert with_aux.stats.busy_s == pytest.approx(180.0)
    assert with_aux.stats.energy_kwh - light.stats.energy_kwh == pytest.approx(8.0 * 180.0 / 3600.0)


def test_a_crane_with_a_load_hooked_waits_in_place_and_then_finishes_the_move() -> None:
    crane, events = crane_run(20.0, breakdown=(100.0, 500.0))  # during the loaded travel (95 s to 119 s)
    assert not [e for e in events if isinstance(e, StateChanged) and e.state is VehicleState.ERROR]
    assert done_at(events, Operation.DROP) == pytest.approx(180.0 + 500.0)
    assert (crane.stats.failures, crane.stats.loaded_failures, crane.stats.down_s) == (1, 1, 500.0)
    assert crane.stats.busy_s == pytest.approx(180.0)  # the repair is not working time
    assert crane.busy_seconds(0.0, 1000.0) == pytest.approx(180.0)
    assert (crane.along, crane.across, crane.loaded) == (10.0, 5.0, False)


def test_an_empty_crane_stops_where_it_is_and_reports_the_error_at_once() -> None:
    crane, events = crane_run(20.0, breakdown=(17.0, 300.0))  # half way through the empty travel (34 s)
    states = [(e.state, e.at) for e in events if isinstance(e, StateChanged)]
    assert states == [(VehicleState.MOVING, 0.0), (VehicleState.ERROR, 17.0), (VehicleState.IDLE, 317.0)]
    # The queue is dropped (the crane core fails the job): nothing is done.
    assert not [e for e in events if isinstance(e, OperationDone)]
    assert (crane.along, crane.across) == pytest.approx((15.0, 2.5))
    assert not crane.queue and not crane.loaded
    assert crane.stats.failures == 1 and crane.stats.loaded_failures == 0


# ------------------------------------------------------------------------------------------------ vehicles


def vehicle(
    charging: ChargingMode, energy: float, home: str = "P2", handling_kw: float = 0.0
) -> tuple[simpy.Environment, SimVehicle, list[VehicleEvent]]:
    env = simpy.Environment()
    events: list[VehicleEvent] = []
    plant = tiny_plant()
    spec = plant.vehicles["AGV-02"].vehicle_class  # 120 kWh, moving 18 kW, idle 1.5 kW, charge 60 kW
    sim = SimVehicle(env, "AGV-02", spec=spec, home=home, plant=plant, emit=events.append,
                     rng=np.random.default_rng(0), charging=charging, handling_kw=handling_kw)  # fmt: skip
    sim.energy = energy
    return env, sim, events


def charge_route(nodes: tuple[str, ...] = ("P2", "CH1")) -> SendRoute:
    return SendRoute(
        vehicle="AGV-02", order="charge-1", nodes=nodes, released=len(nodes), operation=Operation.CHARGE
    )


def test_with_chargers_a_vehicle_charges_only_at_the_charger_it_is_sent_to() -> None:
    env, sim, events = vehicle("chargers", 40.0)
    env.run(until=3600.0)
    sim._account_energy()
    assert sim.energy == pytest.approx(40.0 - 1.5)  # idle for an hour: only the idle draw, no charge
    sim.command(charge_route())
    env.run(until=20_000.0)
    done = next(e for e in events if isinstance(e, OperationDone))
    assert done.node == "CH1" and done.operation is Operation.CHARGE
    [(charger, start, end)] = sim.stats.charge_windows
    assert charger == "CH1"
    arrived = 40.0 - 1.5 - sim.stats.moving_s * 18.0 / 3600.0  # the drive P2 -> CH1 at 18 kW
    # Up to full_fraction 0.9 x 120 = 108 kWh at 60 kW less the 1.5 kW idle draw.
    assert end - start == pytest.approx((108.0 - arrived) / 58.5 * 3600.0)
    assert done.at == pytest.approx(end)
    assert [e.energy for e in events if isinstance(e, EnergyReport)] == [pytest.approx(108.0)]
    assert sim.stats.charged_kwh == pytest.approx((end - start) * 60.0 / 3600.0)
    assert sim.charging_seconds(0.0, 20_000.0, "CH1") == pytest.approx(end - start)
    assert sim.charging_seconds(0.0, 20_000.0, "P1") == 0.0


def test_opportunity_charging_charges_wherever_the_vehicle_stands_idle() -> None:
    env, sim, events = vehicle("opportunity", 20.0)  # below low_fraction 0.25 x 120 = 30 kWh
    env.run(until=5000.0)
    sim._account_energy()
    assert sim.energy == pytest.approx(20.0 + 58.5 * 5000.0 / 3600.0)  # charging at 60 kW less 1.5 kW idle
    assert not [e for e in events if isinstance(e, EnergyReport)]
    env.run(until=6000.0)  # 88 kWh at 58.5 kW net: reported at full_fraction, 5415 s
    [report] = [e for e in events if isinstance(e, EnergyReport)]
    assert report.energy == pytest.approx(108.0) and report.at == pytest.approx(88.0 / 58.5 * 3600.0)
    assert not sim.stats.charge_windows  # not at a charger


def test_none_keeps_the_battery_full_but_counts_the_draw() -> None:
    env, sim, _ = vehicle("none", 120.0)
    env.run(until=3600.0)
    sim._account_energy()
    assert sim.energy == 120.0
    assert sim.stats.energy_kwh == pytest.approx(1.5)


def test_an_idle_vehicle_says_when_its_idle_draw_takes_it_below_the_low_threshold() -> None:
    env, _sim, events = vehicle("chargers", 31.5)  # 1.5 kWh above 30 kWh: an hour of idle draw
    env.run(until=2 * 3600.0)
    [report] = [e for e in events if isinstance(e, EnergyReport)]
    assert report.at == pytest.approx(3601.0) and report.energy < 30.0


def test_loading_draws_the_handling_power_on_top_of_the_idle_draw() -> None:
    env, sim, events = vehicle("chargers", 100.0, home="HM-X", handling_kw=5.0)
    sim.command(
        SendRoute(vehicle="AGV-02", order="T1", nodes=("HM-X",), released=1, operation=Operation.PICK)
    )
    env.run(until=100.0)
    sim._account_energy()
    load_s = sim.spec.load_time
    done = next(e for e in events if isinstance(e, OperationDone))
    assert done.at == pytest.approx(load_s) and sim.loaded
    assert sim.stats.energy_kwh == pytest.approx((1.5 * 100.0 + 5.0 * load_s) / 3600.0)
    assert sim.energy == pytest.approx(100.0 - sim.stats.energy_kwh)


def test_a_breakdown_stops_a_charge_at_once() -> None:
    env, sim, events = vehicle("chargers", 20.0)
    sim.command(charge_route())
    env.run(until=600.0)
    sim.fail(300.0)
    env.run(until=5000.0)
    states = [(e.state, e.at) for e in events if isinstance(e, StateChanged)]
    assert (VehicleState.ERROR, 600.0) in states and (VehicleState.IDLE, 900.0) in states
    assert not [e for e in events if isinstance(e, OperationDone)]
    [(_, start, end)] = sim.stats.charge_windows
    assert end == 600.0 and start < 600.0
    assert sim.route is None and sim.node == "CH1"


def test_a_loaded_vehicle_breaks_down_at_the_next_node_and_keeps_its_load() -> None:
    env, sim, events = vehicle("chargers", 100.0, home="W4")
    pick = SendRoute(vehicle="AGV-02", order="T1", nodes=("W4", "HM-X"), released=2, operation=Operation.PICK)
    sim.command(pick)
    env.run(until=400.0)
    assert sim.loaded and sim.node == "HM-X"
    drop = SendRoute(vehicle="AGV-02", order="T1", nodes=("HM-X", "W4", "W5", "P1"), released=4,
                     operation=Operation.DROP)  # fmt: skip
    sim.command(drop)
    env.run(until=401.0)
    sim.fail(600.0)  # on the edge HM-X -> W4
    env.run(until=2000.0)
    error = next(e for e in events if isinstance(e, StateChanged) and e.state is VehicleState.ERROR)
    assert sim.node == "W4" and sim.loaded and sim.route is None
    assert sim.stats.loaded_failures == 1
    idle = [e.at for e in events if isinstance(e, StateChanged) and e.state is VehicleState.IDLE]
    assert idle[-1] == pytest.approx(error.at + 600.0)
    assert error.at < 401.0 + 60.0  # it stopped at the end of the edge it drove, not after the drop


# ------------------------------------------------------------------------------------- whole replications


def test_frequent_breakdowns_with_loads_on_board_keep_every_coil_with_its_carrier() -> None:
    """Vehicles and cranes that fail often, loaded or not: the run completes (the yard flow stops the run if an
    order or crane job failed with its coil lifted), loads were on board in some failures, and work gets done."""
    overrides = {"breakdowns.vehicles.mtbf_h": "1", "breakdowns.cranes.mtbf_h": "1.5",
                 "breakdowns.vehicles.mttr_h": "0.1", "breakdowns.cranes.mttr_h": "0.1"}  # fmt: skip
    plant, scenario = prepare(
        ROOT / "examples" / "tiny.yaml", ROOT / "examples" / "tiny.scenario.yaml", overrides
    )
    rep = Replication(ReplicationSetup(plant, scenario, 0, np.random.SeedSequence(3), 12.0, 1.0))
    out = rep.run()
    assert sum(v.stats.loaded_failures for v in rep.vehicles.values()) > 0
    assert sum(c.stats.loaded_failures for c in rep.cranes.values()) > 0
    assert sum(c.stats.failures - c.stats.loaded_failures for c in rep.cranes.values()) > 0
    assert out["kpis"]["moves_completed"] > 50
    assert out["kpis"]["tasks_open_at_end"] < 10
