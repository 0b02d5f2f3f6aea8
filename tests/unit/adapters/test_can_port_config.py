"""CanGatewayPort configuration errors are named before any bus is opened (the registry's keyword config)."""

from __future__ import annotations

import pytest

from adapters.can.nodes import NodeMap
from adapters.can.port import CanGatewayPort, UnknownVehicle
from adapters.errors import AdapterConfigError, ConnectionLost
from fleet.ports import Pause
from layout import load_plant
from tests.layout_helpers import TINY_PATH


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"vehicles": {"RGV-01": 0}}, r"vehicle 'RGV-01': CAN node id must be 1\.\.127, got 0"),
        ({"vehicles": {"RGV-01": "1"}}, r"CAN node id must be 1\.\.127, got '1'"),
        ({"vehicles": {"A": 3, "B": 3}}, "CAN node id 3 is given to both 'A' and 'B'"),
        ({"vehicles": {}}, "no vehicles configured"),
        ({"vehicles": {"A": 1}, "heartbeat_timeout_s": 0}, "heartbeat_timeout_s must be > 0"),
        ({"vehicles": {"A": 1}, "node_map": {"W1": 1, "W2": 1}}, "index 1 is given to both 'W1' and 'W2'"),
    ],
)
def test_bad_configuration_is_named(config: dict[str, object], message: str) -> None:
    config.setdefault("node_map", {"W1": 1})
    with pytest.raises(AdapterConfigError, match=message):
        CanGatewayPort(channel="unused", **config)  # type: ignore[arg-type]


def test_a_node_table_or_a_plant_is_required() -> None:
    with pytest.raises(
        AdapterConfigError, match=r"give the plant \(plant=\.\.\.\) or an explicit node table"
    ):
        CanGatewayPort(channel="unused", vehicles={"A": 1})


def test_the_plant_gives_the_node_table() -> None:
    plant = load_plant(TINY_PATH)
    port = CanGatewayPort(channel="unused", vehicles={"RGV-01": 1}, plant=plant)
    assert port.nodes == NodeMap.from_plant(plant)
    assert port.battery_kwh == {"AGV-01": 120.0, "AGV-02": 120.0}


def test_commands_for_unknown_vehicles_and_before_open_are_refused_clearly() -> None:
    port = CanGatewayPort(channel="unused", vehicles={"RGV-01": 1}, node_map={"RS1": 1})
    with pytest.raises(UnknownVehicle, match="no CAN gateway configured for vehicle 'AGV-09'"):
        port.send(Pause(vehicle="AGV-09"))
    with pytest.raises(ConnectionLost, match=r"not open \(call open\(\) first\)"):
        port.send(Pause(vehicle="RGV-01"))
    assert port.drain() == []  # nothing received, and the watchdog has not run out on a fresh port
