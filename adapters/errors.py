"""The exception tree of the vehicle adapters: one base, one subclass per thing a caller can act on.

    AdapterError
    ├── UnknownAdapter        no adapter kind of that name is registered
    ├── AdapterUnavailable    the kind is registered but its module or class cannot be imported
    ├── AdapterConfigError    the configuration given to `connect_vehicle` is wrong
    ├── ConnectionLost        the transport (broker, bus) went away or could not be reached
    ├── InvalidMessage        a message on the wire is not valid JSON or breaks its schema
    └── CommandRejected       the adapter cannot turn a port command into a wire message

Vehicle faults are never raised: the vehicle port reports them as events (`StateChanged` to error).
"""

from __future__ import annotations

from collections.abc import Iterable


class AdapterError(Exception):
    """Base of every vehicle adapter error."""


class UnknownAdapter(AdapterError):
    def __init__(self, kind: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown vehicle adapter kind '{kind}' (known: {', '.join(sorted(known))})")
        self.kind = kind


class AdapterUnavailable(AdapterError):
    def __init__(self, kind: str, target: str, why: str) -> None:
        super().__init__(f"vehicle adapter '{kind}' ({target}) cannot be loaded: {why}")
        self.kind = kind
        self.target = target


class AdapterConfigError(AdapterError):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"vehicle adapter '{kind}': {detail}")
        self.kind = kind
        self.detail = detail


class ConnectionLost(AdapterError):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"connection to {where} lost: {why}")
        self.where = where


class InvalidMessage(AdapterError):
    """A wire message was rejected; `topic` says where it came from, `reason` what is wrong with it."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"invalid message on '{topic}': {reason}")
        self.topic = topic
        self.reason = reason


class CommandRejected(AdapterError):
    def __init__(self, vehicle: str, detail: str) -> None:
        super().__init__(f"command for vehicle '{vehicle}' rejected: {detail}")
        self.vehicle = vehicle
        self.detail = detail
