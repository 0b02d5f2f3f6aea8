"""Typed domain errors: each says what is wrong in words a person at a terminal can act on."""

from __future__ import annotations

from dataclasses import dataclass


class WmsError(Exception):
    """Base of every WMS domain error; a command that raises one changed nothing."""


class UnknownCoil(WmsError):
    def __init__(self, coil: str) -> None:
        super().__init__(f"unknown coil '{coil}'")
        self.coil = coil


class UnknownUnit(WmsError):
    def __init__(self, unit: str) -> None:
        super().__init__(f"unknown coil or ingot stack '{unit}'")
        self.unit = unit


class UnknownLocation(WmsError):
    def __init__(self, location: str) -> None:
        super().__init__(f"unknown location '{location}'")
        self.location = location


class UnknownStore(WmsError):
    def __init__(self, store: str) -> None:
        super().__init__(f"unknown store '{store}'")
        self.store = store


class UnknownMove(WmsError):
    def __init__(self, move: str) -> None:
        super().__init__(f"unknown move '{move}'")
        self.move = move


class DuplicateUnit(WmsError):
    def __init__(self, unit: str) -> None:
        super().__init__(f"'{unit}' is already known to the yard")
        self.unit = unit


@dataclass(frozen=True)
class Violation:
    """One broken stacking or placement rule, e.g. Violation("width band", "coil 2.1 m > row max 2.0 m")."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


class StackingRuleViolated(WmsError):
    def __init__(self, unit: str, location: str, violations: list[Violation]) -> None:
        listed = "; ".join(str(v) for v in violations)
        super().__init__(f"'{unit}' may not go to '{location}': {listed}")
        self.unit = unit
        self.location = location
        self.violations = violations

    @property
    def rule(self) -> str:
        return self.violations[0].rule


class PositionReserved(WmsError):
    def __init__(self, location: str, move: str) -> None:
        super().__init__(f"location '{location}' is reserved for move {move}")
        self.location = location
        self.move = move


class LocationLocked(WmsError):
    def __init__(self, location: str, direction: str, reason: str) -> None:
        super().__init__(f"location '{location}' is locked for {direction}: {reason}")
        self.location = location
        self.direction = direction
        self.reason = reason


class Blocked(WmsError):
    """The unit cannot be lifted: coils rest on it, or a move onto its top is planned."""

    def __init__(self, unit: str, blockers: list[str]) -> None:
        super().__init__(f"'{unit}' is blocked by {', '.join(blockers)}")
        self.unit = unit
        self.blockers = blockers


class UnitBusy(WmsError):
    def __init__(self, unit: str, move: str) -> None:
        super().__init__(f"'{unit}' is already being moved by {move}")
        self.unit = unit
        self.move = move


class InvalidMoveState(WmsError):
    def __init__(self, move: str, state: str, wanted: str) -> None:
        super().__init__(f"move {move} is {state}; it must be {wanted}")
        self.move = move
        self.state = state


class OnHold(WmsError):
    def __init__(self, unit: str, holds: list[str]) -> None:
        super().__init__(f"'{unit}' is on hold ({', '.join(holds)})")
        self.unit = unit
        self.holds = holds


class Reserved(WmsError):
    def __init__(self, unit: str, order: str) -> None:
        super().__init__(f"'{unit}' is reserved for order '{order}'")
        self.unit = unit
        self.order = order


class NoPlaceFound(WmsError):
    def __init__(self, unit: str, store: str, why: str) -> None:
        super().__init__(f"no legal place for '{unit}' in store '{store}': {why}")
        self.unit = unit
        self.store = store


class InvalidInput(WmsError):
    """A value out of range or inconsistent (a negative weight, an inner diameter above the outer one)."""


class StaleVersion(WmsError):
    """Another command changed the yard after this one read it; the command was not applied (retry it)."""

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            f"the yard moved on (ledger at {found}, this command read it at {expected}); nothing was applied"
        )
        self.expected = expected
        self.found = found
