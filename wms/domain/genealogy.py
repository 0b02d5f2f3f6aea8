"""Genealogy: which coils came from which coil or ingot lot, and slitting one coil into several."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from wms.domain.errors import InvalidInput
from wms.domain.units import Coil, CoilSpec
from wms.domain.yard import Yard


def slit(
    yard: Yard, parent: str, children: list[CoilSpec], station: str, *, at: float, actor: str
) -> list[Coil]:
    """Consume `parent` at the slitter's handover and receive `children` there, each naming its parent.

    Everything is checked before anything is recorded: the children's widths must fit within the parent's,
    their weights must not exceed it, and each child must name the parent.
    """
    coil = yard.coil(parent)
    if not children:
        raise InvalidInput("slitting needs at least one child coil")
    for child in children:
        if parent not in child.parents:
            raise InvalidInput(f"child '{child.id}' does not name its parent '{parent}'")
        if child.id in yard.coils or child.id in yard.stacks:
            raise InvalidInput(f"child '{child.id}' is already known")
    width = sum(c.width for c in children)
    if width > coil.spec.width + 1e-9:
        raise InvalidInput(f"children are {width:g} m wide together; the parent is {coil.spec.width:g} m")
    weight = sum(c.weight for c in children)
    if weight > coil.weight + 1e-9:
        raise InvalidInput(f"children weigh {weight:g} t together; the parent weighs {coil.weight:g} t")
    location = coil.location
    yard.consume(parent, station, at=at, actor=actor)
    return [
        yard.receive_coil(child, location, at=at, actor=actor, reason=f"slit from {parent}")
        for child in children
    ]


def ancestors(yard: Yard, coil: str) -> list[str]:
    """Parents, grandparents, ... (coils, slabs or ingot stacks, cast lots), nearest first."""
    return _walk(coil, lambda c: _parents(yard, c))


def _parents(yard: Yard, unit: str) -> list[str]:
    if unit in yard.coils:
        return list(yard.coils[unit].spec.parents)
    stack = yard.stacks.get(unit)
    return [stack.spec.cast_lot] if stack is not None and stack.spec.cast_lot else []


def descendants(yard: Yard, coil: str) -> list[str]:
    """Children, grandchildren, ..., nearest first."""
    children: dict[str, list[str]] = {}
    for c in yard.coils.values():
        for p in c.spec.parents:
            children.setdefault(p, []).append(c.id)
    return _walk(coil, lambda c: sorted(children.get(c, [])))


def _walk(start: str, next_of: Callable[[str], list[str]]) -> list[str]:
    seen: list[str] = []
    queue = deque(next_of(start))
    while queue:
        item = queue.popleft()
        if item not in seen:
            seen.append(item)
            queue.extend(next_of(item))
    return seen
