from __future__ import annotations

import pytest

from tests.wms_factories import fresh_yard, make_coil
from wms.domain.errors import InvalidInput
from wms.domain.genealogy import ancestors, descendants, slit
from wms.domain.units import UnitStatus
from wms.domain.yard import Yard


def test_slitting_consumes_the_parent_and_receives_children_that_name_it() -> None:
    yard = fresh_yard()
    parent = make_coil(id="P1", width=1.6, weight=20.0, parents=("LOT-7",))
    yard.receive_coil(parent, "DOCK1", at=0, actor="mes")
    kids = [make_coil(id=f"P1-{i}", width=0.5, weight=6.0, parents=("P1",)) for i in (1, 2, 3)]
    made = slit(yard, "P1", kids, "CM1", at=10, actor="slitter")
    assert [c.id for c in made] == ["P1-1", "P1-2", "P1-3"]
    assert yard.coils["P1"].status is UnitStatus.CONSUMED
    assert all(yard.coils[k.id].location == "DOCK1" for k in kids)
    assert descendants(yard, "LOT-7") == ["P1", "P1-1", "P1-2", "P1-3"]
    assert ancestors(yard, "P1-2") == ["P1", "LOT-7"]
    assert Yard.replay(yard.plant, yard.ledger).snapshot() == yard.snapshot()


@pytest.mark.parametrize(
    ("width", "weight", "parents", "message"),
    [
        (0.9, 6.0, ("P1",), "wide together"),
        (0.5, 8.0, ("P1",), "weigh"),
        (0.5, 6.0, ("OTHER",), "does not name its parent"),
    ],
)
def test_impossible_slits_are_refused_whole(
    width: float, weight: float, parents: tuple[str, ...], message: str
) -> None:
    yard = fresh_yard()
    yard.receive_coil(make_coil(id="P1", width=1.6, weight=20.0), "DOCK1", at=0, actor="mes")
    before = len(yard.ledger)
    kids = [make_coil(id=f"P1-{i}", width=width, weight=weight, parents=parents) for i in (1, 2, 3)]
    with pytest.raises(InvalidInput, match=message):
        slit(yard, "P1", kids, "CM1", at=10, actor="slitter")
    assert len(yard.ledger) == before
    assert yard.coils["P1"].status is UnitStatus.IN_STOCK


def test_a_coil_is_consumed_only_by_a_known_station() -> None:
    yard = fresh_yard()
    yard.receive_coil(make_coil(id="P1"), "DOCK1", at=0, actor="mes")
    with pytest.raises(InvalidInput, match="unknown station 'NOPE'"):
        yard.consume("P1", "NOPE", at=1, actor="mill")
    assert yard.coils["P1"].status is UnitStatus.IN_STOCK


def test_a_time_that_is_not_a_number_is_refused_before_anything_is_written() -> None:
    yard = fresh_yard()
    with pytest.raises(InvalidInput, match="finite"):
        yard.receive_coil(make_coil(id="P1"), "DOCK1", at=float("nan"), actor="mes")
    assert yard.ledger == [] and "P1" not in yard.coils
