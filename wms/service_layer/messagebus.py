"""The message bus: run one command in one unit of work, retry it when another writer got there first.

A command either applies whole (its ledger entries and its idempotent result commit together) or not at
all. `StaleVersion` means the decision was made on a state that no longer exists: the command runs again
on the fresh state, where the domain may now refuse it with a proper error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from wms.domain.errors import InvalidInput, StaleVersion
from wms.domain.events import LedgerEntry
from wms.service_layer import commands as cmd
from wms.service_layer.handlers import HANDLERS, Result
from wms.service_layer.unit_of_work import AbstractUnitOfWork


class Clock(Protocol):
    def now(self) -> float: ...


class EventPublisher(Protocol):
    def publish(self, entries: list[LedgerEntry]) -> None: ...


class MessageBus:
    def __init__(
        self,
        uow: AbstractUnitOfWork,
        clock: Clock,
        publish: Callable[[list[LedgerEntry]], None] | None = None,
        max_attempts: int = 20,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.publish = publish
        self.max_attempts = max_attempts
        self.retries = 0  # how often a command was re-run after StaleVersion (a contention figure)

    def handle(self, command: cmd.Command) -> Result:
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise InvalidInput(f"no handler for {type(command).__name__}")
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._handle_once(command, handler)
            except StaleVersion:
                if attempt == self.max_attempts:
                    raise
                self.retries += 1
        raise AssertionError("unreachable")

    def _handle_once(self, command: cmd.Command, handler: Callable[[Any, Any, float], Result]) -> Result:
        with self.uow:
            key = command.idempotency_key
            # Only a keyed command is fingerprinted: hashing every command costs the twin ~5 % of its time.
            mark = fingerprint(command) if key is not None else ""
            if key is not None:
                stored = self.uow.recall(key)
                if stored is not None:
                    if stored.get("fingerprint") != mark:
                        raise InvalidInput(
                            f"idempotency key '{key}' was already used for a different command"
                        )
                    result: Result = stored["result"]
                    return result
            result = handler(command, self.uow.yard, self.clock.now())
            if key is not None:
                self.uow.remember(key, {"fingerprint": mark, "result": result})
            entries = self.uow.new_entries()
            self.uow.commit()
        if self.publish is not None and entries:
            self.publish(entries)
        return result


def fingerprint(command: cmd.Command) -> str:
    """What the command asks for, without who asked and the key itself: a retry must match it exactly."""
    fields = asdict(command)
    fields.pop("idempotency_key", None)
    text = json.dumps([type(command).__name__, fields], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
