"""The unit of work: one command's view of the yard, applied whole or not at all.

Concurrency rule (see docs/wms.md): the ledger is one stream with one version, its length. A unit of work
remembers the version it read; `commit` appends the new ledger entries only if the stream is still at that
version, else raises `StaleVersion` and applies nothing. Two clients can therefore never both place a coil
in one position or both move one coil: the second one's decision was made on a state that no longer exists,
and it is retried on the fresh state, where the domain refuses it.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Any, Self

from wms.domain.events import LedgerEntry
from wms.domain.yard import Yard


class AbstractUnitOfWork(abc.ABC):
    yard: Yard
    _read_version: int = 0

    def __enter__(self) -> Self:
        self._begin()
        self._read_version = len(self.yard.ledger)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()  # a no-op after commit: committing must be explicit

    @property
    def read_version(self) -> int:
        return self._read_version

    def new_entries(self) -> list[LedgerEntry]:
        return self.yard.ledger[self._read_version :]

    def commit(self) -> None:
        self._commit(self.new_entries())
        self._read_version = len(self.yard.ledger)

    @abc.abstractmethod
    def _begin(self) -> None:
        """Make `self.yard` the latest committed state."""

    @abc.abstractmethod
    def _commit(self, entries: list[LedgerEntry]) -> None:
        """Persist `entries` (and remembered idempotent results) atomically, or raise StaleVersion."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Forget everything not committed, leaving `self.yard` at the last committed state."""

    @abc.abstractmethod
    def recall(self, key: str) -> Any | None:
        """The stored result of a command already applied under idempotency key `key`, if any."""

    @abc.abstractmethod
    def remember(self, key: str, result: Any) -> None:
        """Store `result` under `key`, committed together with the command's ledger entries."""
