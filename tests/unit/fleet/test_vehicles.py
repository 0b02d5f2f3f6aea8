from __future__ import annotations

import pytest

from fleet.domain.vehicles import AtNode, Load, OnEdge, VehicleState, can_carry, vehicles_of
from tests.wms_factories import tiny_plant


def test_vehicles_of_puts_every_vehicle_at_its_home_idle_empty_and_full() -> None:
    vehicles = vehicles_of(tiny_plant())
    assert sorted(vehicles) == ["AGV-01", "AGV-02", "RGV-01"]
    assert {v.id: v.position for v in vehicles.values()} == {
        "AGV-01": AtNode("P1"),
        "AGV-02": AtNode("P2"),
        "RGV-01": AtNode("RS1"),
    }
    assert all(v.state is VehicleState.IDLE and v.load is None and v.order is None for v in vehicles.values())
    assert vehicles["AGV-01"].energy == 120.0  # the agv class battery: capacity_kwh 120
    assert vehicles["AGV-01"].energy_fraction == 1.0
    assert vehicles["RGV-01"].energy is None  # the rgv class has no battery
    assert vehicles["RGV-01"].energy_fraction is None


def test_capabilities_come_from_the_class() -> None:
    vehicles = vehicles_of(tiny_plant())
    agv, rgv = vehicles["AGV-02"], vehicles["RGV-01"]
    assert (agv.capabilities.max_load, agv.capabilities.graph, agv.capabilities.kind) == (32.0, "agv", "agv")
    assert (rgv.capabilities.graph, rgv.capabilities.kind) == ("rgv", "rgv")
    assert agv.node == "P2"
    assert agv.available


def test_vehicles_of_gives_each_vehicle_its_own_state() -> None:
    vehicles = vehicles_of(tiny_plant())
    vehicles["AGV-01"].load = Load("K1", 20.0)
    vehicles["AGV-01"].state = VehicleState.MOVING
    assert vehicles["AGV-02"].load is None
    assert vehicles["AGV-02"].state is VehicleState.IDLE
    assert vehicles["AGV-01"].loaded and not vehicles["AGV-01"].available


@pytest.mark.parametrize(
    ("weight", "ok"), [(0.0, True), (20.0, True), (32.0, True), (32.01, False), (-1.0, False)]
)
def test_can_carry_up_to_the_class_capacity(weight: float, ok: bool) -> None:
    assert can_carry(vehicles_of(tiny_plant())["AGV-01"], weight) is ok


def test_energy_low_below_the_class_low_fraction() -> None:
    agv = vehicles_of(tiny_plant())["AGV-01"]
    agv.energy = 120 * 0.26
    assert not agv.energy_low
    agv.energy = 120 * 0.24
    assert agv.energy_low
    assert not vehicles_of(tiny_plant())["RGV-01"].energy_low


def test_on_edge_position_has_no_node_and_refuses_negative_offsets() -> None:
    agv = vehicles_of(tiny_plant())["AGV-01"]
    agv.position = OnEdge("P1", "P2", 3.5)
    assert agv.node is None
    with pytest.raises(ValueError, match="P1->P2"):
        OnEdge("P1", "P2", -0.1)
