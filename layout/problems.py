"""Layout problems: what is wrong, where in the file, on which line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PathPart = str | int


def format_path(parts: Sequence[PathPart]) -> str:
    """('stores', 1, 'bays', 0) -> 'stores[1].bays[0]'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True, slots=True)
class LayoutProblem:
    path: tuple[PathPart, ...]
    message: str
    line: int | None = None

    @property
    def where(self) -> str:
        return format_path(self.path) or "(file)"

    def describe(self, source: str = "") -> str:
        location = source
        if self.line is not None:
            location = f"{source}:{self.line}" if source else f"line {self.line}"
        prefix = f"{location}: " if location else ""
        return f"{prefix}{self.where}: {self.message}"


class LayoutInvalid(ValueError):
    """A plant file that cannot be used; carries every problem found, not just the first."""

    def __init__(self, source: str, problems: Sequence[LayoutProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p.describe(source)}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''}\n{lines}")
