"""An in-memory ledger store and unit of work: for the simulation and for tests. Same contract as SQL."""

from __future__ import annotations

from typing import Any

from layout import Plant
from wms.domain.errors import StaleVersion
from wms.domain.events import LedgerEntry
from wms.domain.yard import Yard
from wms.service_layer.unit_of_work import AbstractUnitOfWork


class InMemoryLedgerStore:
    """The committed ledger and idempotent results, shared by the units of work of one process."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        self.results: dict[str, Any] = {}


class InMemoryUnitOfWork(AbstractUnitOfWork):
    def __init__(self, plant: Plant, store: InMemoryLedgerStore | None = None) -> None:
        self.plant = plant
        self.store = store or InMemoryLedgerStore()
        self.yard = Yard.replay(plant, self.store.entries)
        self._pending: dict[str, Any] = {}

    def _begin(self) -> None:
        # The yard holds a prefix of the committed ledger (rollback drops anything else): catch up.
        self.yard.catch_up(self.store.entries[len(self.yard.ledger) :])
        self._pending = {}

    def _commit(self, entries: list[LedgerEntry]) -> None:
        found = len(self.store.entries)
        if found != self.read_version:
            raise StaleVersion(self.read_version, found)
        self.store.entries.extend(entries)
        self.store.results.update(self._pending)
        self._pending = {}

    def rollback(self) -> None:
        self._pending = {}
        if len(self.yard.ledger) > self.read_version:  # uncommitted entries: rebuild what was read
            self.yard = Yard.replay(self.plant, self.store.entries[: self.read_version])

    def recall(self, key: str) -> Any | None:
        return self._pending.get(key, self.store.results.get(key))

    def remember(self, key: str, result: Any) -> None:
        self._pending[key] = result
