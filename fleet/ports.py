"""The vehicle port: the one way the fleet core talks to vehicles, whatever they are.

Implemented by the SimPy vehicles of `simulation/`, the VDA 5050 adapter (`adapters/vda5050`), the CAN
gateway (`adapters/can`) and `fleet.fake_vehicle` for tests. The dispatcher sees only these messages, so it
cannot tell a simulated AGV from a real one.

Contract every implementation keeps:

- `send(command)` never blocks and never raises for a vehicle fault: what the vehicle makes of a command is
  reported later as events (a refused route is a `StateChanged` to error with the reason in `error`).
- A `SendRoute` lists the whole route from the node the vehicle stands on; its first `released` nodes are
  the base, allocated by traffic control; the rest is the horizon, shown but not to be driven. A vehicle
  never moves past the last released node. A later `SendRoute` for the same order extends the base: it
  keeps every node already released unchanged (VDA 5050 stitching) and may only raise `released`.
- `drain()` returns the events that arrived since the last call, oldest first, and forgets them; it never
  waits. A live adapter buffers what its transport (MQTT, CAN) delivers; the twin buffers what SimPy made.
- Times (`at`) are seconds on the shell's clock (SimPy `env.now`, or the event loop's clock), never read
  by the core itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState

# ------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True, kw_only=True)
class SendRoute:
    """Drive `nodes` (starting at the vehicle's node) for `order`; only the first `released` may be entered.

    `operation` is what to do at the last node of the route (pick, drop, park, charge, or just move).
    """

    vehicle: str
    order: str
    nodes: tuple[str, ...]
    released: int
    operation: Operation = Operation.MOVE

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ValueError(f"route for order '{self.order}' to {self.vehicle} has no nodes")
        if not 1 <= self.released <= len(self.nodes):
            raise ValueError(
                f"route for order '{self.order}' to {self.vehicle}: released must be 1..{len(self.nodes)}, got {self.released}"
            )

    @property
    def base(self) -> tuple[str, ...]:
        return self.nodes[: self.released]

    @property
    def horizon(self) -> tuple[str, ...]:
        return self.nodes[self.released :]


@dataclass(frozen=True, kw_only=True)
class Cancel:
    """Stop working on `order` (or whatever it does, if None) at the next node it may stop at."""

    vehicle: str
    order: str | None = None


@dataclass(frozen=True, kw_only=True)
class Pause:
    vehicle: str


@dataclass(frozen=True, kw_only=True)
class Resume:
    vehicle: str


@dataclass(frozen=True, kw_only=True)
class SendCraneMove:
    """A crane (overhead or stacker) travels to (`along`, `across`), then does `operation` there.

    Overhead crane: `along` is the bridge position on its runway, `across` the trolley position from the runway
    axis (`layout.model.RunwayFrame.to_runway`). Stacker crane: `along` is the horizontal position from the
    aisle's I/O point, `across` the height (`layout.model.RackCell`). `operation` is PICK, DROP or MOVE (just go
    there, e.g. to yield); `place` names the plant place of a PICK or DROP (reported back in `OperationDone`).
    A crane reports `OperationDone(node=place or "", operation, order)` when done, and `StateChanged` as any
    vehicle. `Cancel` and `Pause` are not used for cranes: a crane move, once sent, ends where it was sent.
    """

    vehicle: str
    order: str
    along: float
    across: float
    operation: Operation = Operation.MOVE
    place: str | None = None


VehicleCommand = SendRoute | Cancel | Pause | Resume | SendCraneMove

# --------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, kw_only=True)
class Progress:
    """The vehicle reached `node` (traffic control may free what lies behind it)."""

    vehicle: str
    node: str
    at: float
    order: str | None = None


@dataclass(frozen=True, kw_only=True)
class Arrived:
    """The vehicle reached the last node of its route for `order`."""

    vehicle: str
    node: str
    at: float
    order: str | None = None


@dataclass(frozen=True, kw_only=True)
class OperationDone:
    """The operation at the end of the route is done (unit picked or dropped, parked, charged)."""

    vehicle: str
    node: str
    operation: Operation
    at: float
    order: str | None = None


@dataclass(frozen=True, kw_only=True)
class StateChanged:
    vehicle: str
    state: VehicleState
    at: float
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class EnergyReport:
    vehicle: str
    energy: float  # kWh left
    at: float


@dataclass(frozen=True, kw_only=True)
class CraneAt:
    """A crane's bridge (overhead) or carriage (stacker) is at `along` (optional position report, for views)."""

    vehicle: str
    along: float
    at: float


VehicleEvent = Progress | Arrived | OperationDone | StateChanged | EnergyReport | CraneAt


@runtime_checkable
class VehiclePort(Protocol):
    """Commands in, events out; see the module docstring for the contract."""

    def send(self, command: VehicleCommand) -> None:
        """Hand a command to the vehicle named in it; returns at once."""
        ...

    def drain(self) -> list[VehicleEvent]:
        """Events since the last call, oldest first; empty when there are none."""
        ...
