"""The vehicle adapter registry: kinds by name, lazy import, entry points, clear errors, clean shutdown."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from adapters import registry
from adapters.errors import (
    AdapterConfigError,
    AdapterError,
    AdapterUnavailable,
    ConnectionLost,
    InvalidMessage,
    UnknownAdapter,
)
from adapters.registry import ConnectedPort, adapter_kinds, connect_vehicle, load_adapter
from fleet.ports import Pause, VehicleCommand, VehicleEvent, VehiclePort
from tests.wms_factories import tiny_plant


class Recorder:
    """A minimal adapter: records commands and whether it was opened and closed."""

    instances: list[Recorder] = []  # noqa: RUF012

    def __init__(self, *, name: str, fail_open: bool = False) -> None:
        self.name = name
        self.fail_open = fail_open
        self.commands: list[VehicleCommand] = []
        self.opened = False
        self.closes = 0
        Recorder.instances.append(self)

    def open(self) -> None:
        if self.fail_open:
            raise ConnectionRefusedError("nobody listens")
        self.opened = True

    def send(self, command: VehicleCommand) -> None:
        self.commands.append(command)

    def drain(self) -> list[VehicleEvent]:
        return []

    def close(self) -> None:
        self.closes += 1


class NotAPort:
    def __init__(self) -> None:
        pass


KINDS = {"rec": f"{__name__}:Recorder", "notaport": f"{__name__}:NotAPort"}


def test_the_builtin_kinds_are_registered_by_module_path() -> None:
    kinds = adapter_kinds()
    assert kinds["vda5050"] == "adapters.vda5050.port:Vda5050Port"
    assert kinds["can"] == "adapters.can.port:CanGatewayPort"
    assert kinds["sim"] == "simulation.live_port:SimVehiclePort"


def test_the_vda5050_kind_loads_its_port() -> None:
    from adapters.vda5050.port import Vda5050Port

    assert load_adapter("vda5050") is Vda5050Port


def test_looking_up_a_kind_does_not_import_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "adapters.vda5050.port", raising=False)
    adapter_kinds()
    assert "adapters.vda5050.port" not in sys.modules


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UnknownAdapter, match=r"unknown vehicle adapter kind 'ros' \(known: .*vda5050"):
        load_adapter("ros")


def test_a_kind_whose_module_is_absent_fails_clearly() -> None:
    with pytest.raises(
        AdapterUnavailable, match=r"'ghost' \(no_such_pkg.port:Ghost\) cannot be loaded: module"
    ):
        load_adapter("ghost", {"ghost": "no_such_pkg.port:Ghost"})
    with pytest.raises(AdapterUnavailable, match="has no class 'Ghost'"):
        load_adapter("ghost", {"ghost": f"{__name__}:Ghost"})
    with pytest.raises(AdapterUnavailable, match=r"must read 'package\.module:ClassName'"):
        load_adapter("ghost", {"ghost": "no_colon"})


def test_third_parties_add_kinds_through_entry_points_but_cannot_replace_builtins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    points = [
        EntryPoint("rec", f"{__name__}:Recorder", registry.ENTRY_POINT_GROUP),
        EntryPoint("vda5050", f"{__name__}:Recorder", registry.ENTRY_POINT_GROUP),
    ]

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return points if group == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    kinds = adapter_kinds()
    assert kinds["rec"] == f"{__name__}:Recorder"
    assert kinds["vda5050"] == "adapters.vda5050.port:Vda5050Port"
    assert load_adapter("rec") is Recorder


def test_connect_vehicle_opens_and_the_with_block_closes_once() -> None:
    with connect_vehicle("rec", kinds=KINDS, name="a") as port:
        assert isinstance(port, ConnectedPort)
        assert isinstance(port, VehiclePort)
        adapter = port.adapter
        assert isinstance(adapter, Recorder)
        assert adapter.opened
        port.send(Pause(vehicle="V1"))
        assert adapter.commands == [Pause(vehicle="V1")]
    port.close()
    assert adapter.closes == 1


def test_the_adapter_is_closed_when_the_block_raises() -> None:
    Recorder.instances.clear()
    with pytest.raises(RuntimeError), connect_vehicle("rec", kinds=KINDS, name="a"):
        raise RuntimeError("boom")
    assert Recorder.instances[-1].closes == 1


def test_bad_configuration_is_a_config_error_naming_the_kind() -> None:
    with pytest.raises(AdapterConfigError, match=r"vehicle adapter 'rec': bad configuration: .*colour"):
        connect_vehicle("rec", kinds=KINDS, name="a", colour="red")
    with pytest.raises(AdapterConfigError, match="'name'"):
        connect_vehicle("rec", kinds=KINDS)


def test_a_class_that_is_not_a_vehicle_port_is_refused() -> None:
    with pytest.raises(AdapterUnavailable, match="no send"):
        connect_vehicle("notaport", kinds=KINDS)


def test_a_refused_connection_is_connection_lost_and_the_adapter_is_closed() -> None:
    Recorder.instances.clear()
    with pytest.raises(ConnectionLost, match="nobody listens"):
        connect_vehicle("rec", kinds=KINDS, name="a", fail_open=True)
    assert Recorder.instances[-1].closes == 1


def test_vda5050_config_errors_name_the_problem() -> None:
    plant = tiny_plant()
    with pytest.raises(AdapterConfigError, match="no vehicle AGV-99 in plant 'tiny'"):
        connect_vehicle("vda5050", plant=plant, vehicles=["AGV-99"])
    with pytest.raises(AdapterConfigError, match="must read mqtt://host:port"):
        connect_vehicle("vda5050", plant=plant, url="http://x")


@pytest.mark.parametrize(
    "error", [UnknownAdapter("x", []), InvalidMessage("t", "r"), ConnectionLost("w", "y")]
)
def test_every_adapter_error_is_an_adapter_error(error: Any) -> None:
    assert isinstance(error, AdapterError)
