"""The yard's indexes for selection and the cooling clock (`present_coils_of`, `present_stacks`,
`next_cooling_release`) agree with a scan of every unit, also after a replay of the ledger."""

from __future__ import annotations

from tests.wms_factories import fresh_yard, make_coil, make_stack, place_coil, tiny_plant
from wms.domain.units import HoldKind, UnitStatus
from wms.domain.yard import Yard

GONE = (UnitStatus.CONSUMED, UnitStatus.SHIPPED)


def scanned(yard: Yard) -> tuple[dict[str | None, set[str]], set[str], float | None]:
    by_alloy: dict[str | None, set[str]] = {None: set()}
    for coil in yard.coils.values():
        if coil.status not in GONE:
            by_alloy[None].add(coil.id)
            by_alloy.setdefault(coil.spec.alloy, set()).add(coil.id)
    stacks = {s.id for s in yard.stacks.values() if s.status not in GONE}
    times = [
        h.release_at
        for c in yard.coils.values()
        for h in c.holds.values()
        if h.kind is HoldKind.COOLING and h.release_at is not None
    ]
    return by_alloy, stacks, min(times, default=None)


def indexed(yard: Yard) -> tuple[dict[str | None, set[str]], set[str], float | None]:
    alloys = {None, *(c.spec.alloy for c in yard.coils.values())}
    by_alloy = {a: {c.id for c in yard.present_coils_of(a)} for a in alloys}
    return (
        {a: ids for a, ids in by_alloy.items() if ids or a is None},
        set(yard.present_stacks),
        (yard.next_cooling_release()),
    )


def test_units_that_left_are_out_of_the_indexes_and_a_replay_builds_the_same() -> None:
    yard = fresh_yard()
    hot = make_coil(alloy="3004", temperature=300.0)
    yard.receive_coil(hot, "H-FS1", at=10.0, actor="test")  # a cooling hold
    shipped, consumed = make_coil(), make_coil(alloy="3004")
    yard.receive_coil(shipped, "DOCK1", at=20.0, actor="test")
    yard.receive_coil(consumed, "HM-X", at=20.0, actor="test")
    kept = make_coil()
    place_coil(yard, kept, "FS1-B1-R02-P03-G", at=30.0)
    stack = make_stack()
    yard.receive_ingot_stack(stack, "H-IS1", at=40.0, actor="test")
    assert indexed(yard) == scanned(yard)
    assert yard.next_cooling_release() is not None

    yard.ship(shipped.id, "SH1", at=50.0, actor="dock")
    yard.consume(consumed.id, "CM1", at=60.0, actor="mill")
    assert shipped.id not in yard.present_coils and consumed.id not in yard.present_coils
    assert {c.id for c in yard.present_coils_of("3004")} == {hot.id}
    release = yard.next_cooling_release()
    assert release is not None
    assert yard.release_cooled(at=release) == [hot.id]
    assert yard.next_cooling_release() is None
    assert indexed(yard) == scanned(yard)

    again = Yard.replay(tiny_plant(), yard.ledger)
    assert indexed(again) == scanned(again) == scanned(yard)
