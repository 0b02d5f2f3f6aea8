"""Vehicle adapter kinds by name, imported only when used (the pattern of python-can's interface registry).

A kind maps to a `"module.path:ClassName"` string. The built-in kinds are `vda5050` (MQTT master control),
`can` (CAN gateway) and `sim` (the twin's simulated vehicles); third-party packages add kinds through the
entry point group `coilyard.vehicle_adapters` (`name = "package.module:Class"`). Nothing is imported until
`load_adapter` or `connect_vehicle` asks for that kind, so a missing optional module only fails its own kind.

An adapter class implements `fleet.ports.VehiclePort` (`send` never blocks, `drain` returns events); it is
built with keyword arguments only and may have `open()` (connect) and `close()` (clean shutdown).
`connect_vehicle(kind=..., **config)` builds and opens one and returns it wrapped in a `ConnectedPort`, a
context manager that closes it however the block ends:

    with connect_vehicle(kind="vda5050", plant=plant, url=settings.mqtt_url) as port:
        port.send(...); events = port.drain()
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any

from adapters.errors import (
    AdapterConfigError,
    AdapterError,
    AdapterUnavailable,
    ConnectionLost,
    UnknownAdapter,
)
from fleet.ports import VehicleCommand, VehicleEvent, VehiclePort

ENTRY_POINT_GROUP = "coilyard.vehicle_adapters"

BUILTIN: Mapping[str, str] = {
    "vda5050": "adapters.vda5050.port:Vda5050Port",
    "can": "adapters.can.port:CanGatewayPort",
    "sim": "simulation.live_port:SimVehiclePort",
}


def adapter_kinds() -> dict[str, str]:
    """Every known kind and its target: the built-ins, then entry points (which may not replace them)."""
    kinds = dict(BUILTIN)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        kinds.setdefault(point.name, point.value)
    return kinds


def load_adapter(kind: str, kinds: Mapping[str, str] | None = None) -> type[Any]:
    """Import the class registered for `kind`; raises `UnknownAdapter` or `AdapterUnavailable`."""
    known = adapter_kinds() if kinds is None else kinds
    try:
        target = known[kind]
    except KeyError:
        raise UnknownAdapter(kind, known) from None
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise AdapterUnavailable(kind, target, "the target must read 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise AdapterUnavailable(
            kind, target, f"module '{module_name}' cannot be imported ({error})"
        ) from None
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        raise AdapterUnavailable(kind, target, f"module '{module_name}' has no class '{class_name}'")
    return cls


class ConnectedPort:
    """An opened adapter behind the vehicle port; closes it on `close()` or at the end of a `with` block."""

    def __init__(self, kind: str, adapter: VehiclePort) -> None:
        self.kind = kind
        self.adapter = adapter
        self.closed = False

    def send(self, command: VehicleCommand) -> None:
        self.adapter.send(command)

    def drain(self) -> list[VehicleEvent]:
        return self.adapter.drain()

    def close(self) -> None:
        """Shut the adapter down once (later calls do nothing)."""
        if self.closed:
            return
        self.closed = True
        close = getattr(self.adapter, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> ConnectedPort:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def connect_vehicle(kind: str, *, kinds: Mapping[str, str] | None = None, **config: Any) -> ConnectedPort:
    """Build the adapter of `kind` from `config` (keyword arguments of its class) and open it."""
    cls = load_adapter(kind, kinds)
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as error:
        raise AdapterConfigError(kind, f"bad configuration: {error}") from None
    adapter = cls(**config)
    if not isinstance(adapter, VehiclePort):
        raise AdapterUnavailable(kind, f"{cls.__module__}:{cls.__qualname__}", "it has no send() and drain()")
    port = ConnectedPort(kind, adapter)
    opener = getattr(adapter, "open", None)
    if callable(opener):
        try:
            opener()
        except AdapterError:
            port.close()
            raise
        except OSError as error:
            port.close()
            raise ConnectionLost(kind, str(error)) from None
    return port
