"""`VehicleStateCache`: the live state of every vehicle for the web views, one Redis hash per vehicle.

Key ``<prefix><vehicle>`` (default ``coilyard:vehicle:AGV-01``), fields ``state``, ``node``, ``along``,
``load``, ``energy``, ``error``, ``at``. Each write refreshes a TTL, so a vehicle whose adapter stopped
reporting drops out of the views instead of showing a stale position forever. The writer is whoever sees
vehicle events (the dispatcher process, or an adapter); the readers are the web views, in any process.
Absent values are absent fields (a hash cannot hold None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from fleet.domain.orders import Operation
from fleet.ports import Arrived, CraneAt, EnergyReport, OperationDone, Progress, StateChanged, VehicleEvent

DEFAULT_PREFIX = "coilyard:vehicle:"


class CacheFormatError(ValueError):
    """A cached hash that does not read as a vehicle snapshot."""


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    vehicle: str
    at: float
    state: str | None = None
    node: str | None = None
    along: float | None = None  # metres along the rail or runway (cranes)
    load: bool | None = None  # a unit on board
    energy: float | None = None  # kWh left
    error: str | None = None


class VehicleStateCache:
    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, ttl_s: float = 30.0) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.client = client
        self.prefix = prefix
        self.ttl_ms = round(ttl_s * 1000)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, ttl_s: float = 30.0) -> VehicleStateCache:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix=prefix, ttl_s=ttl_s)

    # ------------------------------------------------------------------------------------------------ write

    def write(self, snapshot: VehicleSnapshot) -> None:
        """Replace the vehicle's hash with `snapshot` (absent values removed) and restart its TTL."""
        fields = {
            "state": snapshot.state,
            "node": snapshot.node,
            "along": snapshot.along,
            "load": None if snapshot.load is None else int(snapshot.load),
            "energy": snapshot.energy,
            "error": snapshot.error,
        }
        self._store(snapshot.vehicle, snapshot.at, fields, replace=True)

    def apply(self, event: VehicleEvent) -> None:
        """Update only what `event` tells (a state change keeps the node, a progress keeps the state)."""
        fields: dict[str, Any] = {}
        match event:
            case StateChanged(state=state, error=error):
                fields = {"state": str(state), "error": error}
            case Progress(node=node) | Arrived(node=node):
                fields = {"node": node}
            case OperationDone(node=node, operation=operation):
                fields = {"node": node or None}
                if operation is Operation.PICK:
                    fields["load"] = 1
                elif operation is Operation.DROP:
                    fields["load"] = 0
            case EnergyReport(energy=energy):
                fields = {"energy": energy}
            case CraneAt(along=along):
                fields = {"along": along}
        self._store(event.vehicle, event.at, fields, replace=False)

    def forget(self, vehicle: str) -> None:
        self.client.delete(self.prefix + vehicle)

    # ------------------------------------------------------------------------------------------------- read

    def read(self, vehicle: str) -> VehicleSnapshot | None:
        data = self.client.hgetall(self.prefix + vehicle)
        return _snapshot(vehicle, data) if data else None  # type: ignore[arg-type]

    def read_all(self) -> list[VehicleSnapshot]:
        """Every vehicle in the cache, by id (SCAN, so a large fleet does not block the server)."""
        keys = sorted(str(k) for k in self.client.scan_iter(match=self.prefix + "*", count=500))
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        snapshots = []
        for key, data in zip(keys, pipe.execute(), strict=True):
            if data:  # expired between SCAN and HGETALL
                snapshots.append(_snapshot(key[len(self.prefix) :], data))
        return snapshots

    def ttl_s(self, vehicle: str) -> float | None:
        """Seconds left before the vehicle's entry expires; None when there is none."""
        left = int(self.client.pttl(self.prefix + vehicle))
        return left / 1000 if left >= 0 else None

    # ---------------------------------------------------------------------------------------- internals

    def _store(self, vehicle: str, at: float, fields: Mapping[str, Any], *, replace: bool) -> None:
        key = self.prefix + vehicle
        present: dict[Any, Any] = {name: str(value) for name, value in fields.items() if value is not None}
        present["at"] = repr(float(at))
        absent = [name for name, value in fields.items() if value is None]
        pipe = self.client.pipeline(transaction=True)  # MULTI: readers never see half an update
        if replace:
            pipe.delete(key)
        elif absent:
            pipe.hdel(key, *absent)
        pipe.hset(key, mapping=present)
        pipe.pexpire(key, self.ttl_ms)
        pipe.execute()


def _snapshot(vehicle: str, data: Mapping[str, str]) -> VehicleSnapshot:
    try:
        return VehicleSnapshot(
            vehicle=vehicle,
            at=float(data["at"]),
            state=data.get("state"),
            node=data.get("node"),
            along=_float(data.get("along")),
            load=None if data.get("load") is None else data["load"] == "1",
            energy=_float(data.get("energy")),
            error=data.get("error"),
        )
    except (KeyError, ValueError) as error:
        raise CacheFormatError(
            f"cached state of vehicle '{vehicle}' is unreadable ({error}): {dict(data)}"
        ) from None


def _float(text: str | None) -> float | None:
    return None if text is None else float(text)
