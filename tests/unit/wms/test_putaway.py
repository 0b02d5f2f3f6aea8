"""Putaway on the tiny plant: hard rules exclude places, each soft rule moves the choice, high-bay classes.

Flat store FS1, bay B1: rows R01 (y 36, ground P01-P02 cooling) and R02 (y 41), ground P01..P08 at
x = 9 + 2.4 (k - 1), upper P0k-U between ground P0k and P0k+1. Coils arrive at the bay handover H-FS1
(38, 33); the other bay handover RS1 is at (30, 50). Rows take 1-2 m wide, 1.2-2.2 m OD, up to 30 t.
"""

from __future__ import annotations

import gc
import math
import re
import weakref
from typing import Any

import pytest

from tests.wms_factories import fresh_yard, make_coil, place_coil, tiny_plant
from wms.domain.errors import InvalidInput, NoPlaceFound, UnknownCoil, UnknownStore, WmsError
from wms.domain.putaway import (
    SCORE_RULES,
    FlatIndex,
    HighBayIndex,
    PutawayWeights,
    build_index,
    legal_positions,
    propose_putaway,
    putaway,
    store_index,
)
from wms.domain.units import Packaging
from wms.domain.yard import Yard

HOUR = 3600.0


def g(row: int, k: int) -> str:
    return f"FS1-B1-R{row:02d}-P{k:02d}-G"


def u(row: int, k: int) -> str:
    return f"FS1-B1-R{row:02d}-P{k:02d}-U"


def arriving(yard: Yard, at: float = 0.0, **spec: Any) -> str:
    """A coil received at the bay handover H-FS1."""
    coil = make_coil(**spec)
    yard.receive_coil(coil, "H-FS1", at=at, actor="test")
    return coil.id


def stored(yard: Yard, position: str, at: float = 0.0, **spec: Any) -> str:
    coil = make_coil(**spec)
    place_coil(yard, coil, position, at=at)
    return coil.id


def best(yard: Yard, coil: str, at: float = 0.0, **options: Any) -> str:
    return propose_putaway(yard, coil, "FS1", at=at, **options).location


# ---------------------------------------------------------------------------------------------- soft rules


def test_an_empty_store_takes_the_ground_position_nearest_the_handover_and_the_score_adds_up() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    proposal = propose_putaway(yard, coil, "FS1", at=0.0)
    assert proposal.location == g(1, 8)  # (25.8, 36): 12.6 m from H-FS1
    assert set(proposal.breakdown) == set(SCORE_RULES)
    assert proposal.breakdown["travel"] == pytest.approx(math.hypot(38 - 25.8, 33 - 36))
    assert proposal.breakdown["ground"] > 0
    assert sum(proposal.breakdown.values()) == pytest.approx(proposal.total)
    assert proposal.runner_up == g(2, 8) and proposal.runner_up_total is not None
    assert proposal.runner_up_total >= proposal.total
    assert proposal.candidates == 16  # every ground position; no upper one has supports


def test_the_entry_point_moves_the_choice() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    assert best(yard, coil, origin="RS1") == g(2, 8)  # RS1 (30, 50) is nearer row R02
    assert best(yard, coil, origin=(9.0, 41.0)) == g(2, 1)  # a point: straight from there
    yard2 = fresh_yard()
    at_rs1 = make_coil()
    yard2.receive_coil(at_rs1, "RS1", at=0.0, actor="test")
    assert best(yard2, at_rs1.id) == g(2, 8)  # a coil standing at a bay handover enters from there


def test_heavier_coils_pay_more_for_travel_and_prefer_shorter_crane_runs() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 7), alloy="6061")
    stored(yard, g(1, 8), alloy="6061")
    light, heavy = arriving(yard, weight=10.0, alloy="1050"), arriving(yard, weight=20.0, alloy="1050")
    origin = (9.0, 41.0)  # right at R02-P01-G; the only legal upper position R01-P07-U is 16.4 m away
    light_choice = propose_putaway(yard, light, "FS1", at=0.0, origin=origin)
    heavy_choice = propose_putaway(yard, heavy, "FS1", at=0.0, origin=origin)
    assert light_choice.location == u(1, 7)  # 16.4 m x 10/20 < the 12 points of a ground position
    assert heavy_choice.location == g(2, 1)
    light_far = propose_putaway(yard, light, "FS1", at=0.0, exclude=[u(1, 7)])
    heavy_far = propose_putaway(yard, heavy, "FS1", at=0.0, exclude=[u(1, 7)])
    assert light_far.location == heavy_far.location == g(2, 8)
    assert heavy_far.breakdown["travel"] == pytest.approx(2 * light_far.breakdown["travel"])


def test_a_legal_upper_position_is_filled_before_a_nearer_ground_position() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 4), alloy="6061")
    stored(yard, g(1, 5), alloy="6061")
    coil = arriving(yard, alloy="1050")
    proposal = propose_putaway(yard, coil, "FS1", at=0.0)
    assert proposal.location == u(1, 4)
    assert proposal.breakdown["ground"] == 0.0
    assert best(yard, coil, weights=PutawayWeights(ground_tier=0.0)) == g(1, 8)


def test_a_coil_is_not_put_on_coils_that_leave_before_it() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 4), due=10 * HOUR)
    stored(yard, g(1, 5), due=20 * HOUR)
    later = arriving(yard, due=30 * HOUR)
    undated = arriving(yard)
    earlier = arriving(yard, due=5 * HOUR)
    on_top = propose_putaway(yard, earlier, "FS1", at=0.0)
    assert on_top.location == u(1, 4) and on_top.breakdown["bury"] == 0.0  # leaves first: may lie on top
    assert best(yard, later) == g(1, 6)  # on the ground, beside coils of its alloy
    assert best(yard, undated) == g(1, 6)  # no due time: it would sit on two coils that have one
    assert best(yard, later, weights=PutawayWeights(bury=0.0)) == u(1, 4)


def test_the_bury_part_counts_each_support_that_leaves_earlier() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 4), due=10 * HOUR)
    stored(yard, g(1, 5), due=20 * HOUR)
    weights = PutawayWeights(ground_tier=1000.0)  # force the upper position to see its bury part
    middle = propose_putaway(yard, arriving(yard, due=15 * HOUR), "FS1", at=0.0, weights=weights)
    late = propose_putaway(yard, arriving(yard, due=30 * HOUR), "FS1", at=0.0, weights=weights)
    assert middle.location == late.location == u(1, 4)
    assert middle.breakdown["bury"] == pytest.approx(weights.bury)
    assert late.breakdown["bury"] == pytest.approx(2 * weights.bury)


def test_an_upper_coil_joins_its_alloy_campaign() -> None:
    yard = fresh_yard()
    for row, alloy in ((1, "6061"), (2, "3104")):
        stored(yard, g(row, 4), alloy=alloy)
        stored(yard, g(row, 5), alloy=alloy)
    coil = arriving(yard, alloy="3104")
    proposal = propose_putaway(yard, coil, "FS1", at=0.0)
    assert proposal.location == u(2, 4)  # farther than R01-P04-U, but on its own alloy
    assert proposal.breakdown["campaign"] == pytest.approx(-2 * PutawayWeights().same_alloy)
    assert best(yard, coil, weights=PutawayWeights(same_alloy=0.0)) == u(1, 4)


def test_an_upper_coil_joins_its_customer() -> None:
    yard = fresh_yard()
    for row, customer in ((1, "Ardagh"), (2, "Novelis")):
        stored(yard, g(row, 4), customer=customer)
        stored(yard, g(row, 5), customer=customer)
    coil = arriving(yard, customer="Novelis")
    assert best(yard, coil) == u(2, 4)
    assert best(yard, coil, weights=PutawayWeights(same_customer=0.0)) == u(1, 4)


def test_a_ground_coil_goes_next_to_its_alloy() -> None:
    yard = fresh_yard()
    stored(yard, g(2, 6), alloy="8011")
    coil = arriving(yard, alloy="8011")
    proposal = propose_putaway(yard, coil, "FS1", at=0.0)
    assert proposal.location == g(2, 7)
    assert proposal.breakdown["campaign"] == pytest.approx(-PutawayWeights().same_alloy)
    assert best(yard, coil, weights=PutawayWeights(same_alloy=0.0)) == g(1, 8)


def test_cooling_positions_are_kept_free_for_hot_coils() -> None:
    yard = fresh_yard()
    cold = arriving(yard)
    origin = (5.0, 36.0)  # beside the cooling positions R01-P01-G and P02-G
    assert best(yard, cold, origin=origin) == g(2, 1)
    assert best(yard, cold, origin=origin, weights=PutawayWeights(cooling_reserve=0.0)) == g(1, 1)
    hot = propose_putaway(yard, arriving(yard, temperature=300.0), "FS1", at=0.0, origin=origin)
    assert hot.location == g(1, 1) and hot.breakdown["cooling"] == 0.0


# ---------------------------------------------------------------------------------------------- hard rules


def test_a_hot_coil_goes_to_a_ground_cooling_position_only_until_it_has_cooled() -> None:
    yard = fresh_yard()
    coil = arriving(yard, temperature=300.0)
    assert legal_positions(yard, coil, "FS1", at=0.0) == [g(1, 1), g(1, 2)]
    # 300 °C falls to 80 °C after 18 h x ln(275 / 55) = 29 h
    assert len(legal_positions(yard, coil, "FS1", at=30 * HOUR)) == 16
    stored(yard, g(1, 1))
    stored(yard, g(1, 2))
    with pytest.raises(NoPlaceFound, match=r"hot \(300 °C > 80 °C\).*all 2 positions that fit are occupied"):
        propose_putaway(yard, coil, "FS1", at=0.0)


def test_a_skid_packed_coil_stays_on_the_ground() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 7))
    stored(yard, g(1, 8))
    bare, skid = arriving(yard), arriving(yard, packaging=Packaging.SKID)
    assert u(1, 7) in legal_positions(yard, bare, "FS1", at=0.0)
    skid_places = legal_positions(yard, skid, "FS1", at=0.0)
    assert skid_places and not [p for p in skid_places if p.endswith("-U")]


def test_an_upper_position_needs_both_supports() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    stored(yard, g(1, 8))
    assert u(1, 7) not in legal_positions(yard, coil, "FS1", at=0.0)
    stored(yard, g(1, 7))
    assert u(1, 7) in legal_positions(yard, coil, "FS1", at=0.0)
    assert u(1, 6) not in legal_positions(yard, coil, "FS1", at=0.0)


def test_nothing_goes_on_a_support_that_is_about_to_be_moved() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    stored(yard, g(1, 7))
    leaving = stored(yard, g(1, 8))
    yard.plan_move(leaving, "H-FS1", at=0.0, actor="test", purpose="retrieval")
    assert u(1, 7) not in legal_positions(yard, coil, "FS1", at=0.0)


def test_nothing_goes_on_thin_gauge_supports() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    stored(yard, g(1, 7))
    stored(yard, g(1, 8), gauge=0.5)
    assert u(1, 7) not in legal_positions(yard, coil, "FS1", at=0.0)


def test_nothing_goes_on_hot_supports_until_they_have_cooled() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 1), temperature=300.0)
    stored(yard, g(1, 2))
    coil = arriving(yard)
    assert u(1, 1) not in legal_positions(yard, coil, "FS1", at=0.0)
    assert u(1, 1) in legal_positions(yard, coil, "FS1", at=30 * HOUR)  # evaluated when asked
    yard.measure_temperature(yard.locations[g(1, 1)].occupants[0], 200.0, at=30 * HOUR, actor="test")
    assert u(1, 1) not in legal_positions(yard, coil, "FS1", at=30 * HOUR)


def test_an_upper_coil_weighs_at_most_its_lighter_support() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 7), weight=10.0)
    stored(yard, g(1, 8), weight=20.0)
    assert u(1, 7) not in legal_positions(yard, arriving(yard, weight=15.0), "FS1", at=0.0)
    assert u(1, 7) in legal_positions(yard, arriving(yard, weight=10.0), "FS1", at=0.0)


def test_support_diameters_must_match_within_the_tolerance() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 6), outer_diameter=1.5)
    stored(yard, g(1, 7), outer_diameter=1.8)
    stored(yard, g(1, 8), outer_diameter=1.7)
    places = legal_positions(yard, arriving(yard), "FS1", at=0.0)
    assert u(1, 6) not in places  # 0.3 m apart
    assert u(1, 7) in places  # 0.1 m apart


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ({"width": 2.3}, "no row accepts width 2.3 m (bands 1–2 m)"),
        ({"outer_diameter": 2.5}, "no row accepts outer diameter 2.5 m"),
        ({"weight": 31.0}, "31 t is above every row's limit (at most 30 t)"),
    ],
)
def test_a_coil_no_row_accepts_is_refused_with_the_reason(spec: dict[str, float], why: str) -> None:
    yard = fresh_yard()
    coil = arriving(yard, **spec)
    assert legal_positions(yard, coil, "FS1", at=0.0) == []
    with pytest.raises(NoPlaceFound, match=re.escape(why)) as refused:
        propose_putaway(yard, coil, "FS1", at=0.0)
    assert refused.value.unit == coil and refused.value.store == "FS1"


def test_when_only_unfit_upper_positions_are_free_the_refusal_says_why() -> None:
    yard = fresh_yard()
    for row in (1, 2):
        for k in range(1, 9):
            stored(yard, g(row, k), weight=10.0, temperature=25.0)
    coil = arriving(yard, weight=15.0)
    with pytest.raises(
        NoPlaceFound, match=r"of 30 positions that fit, 16 are occupied.*14 free upper positions"
    ):
        propose_putaway(yard, coil, "FS1", at=0.0)


# ---------------------------------------------------------------------------------------------- state


def test_a_reserved_position_is_not_proposed_again() -> None:
    yard = fresh_yard()
    first, second = arriving(yard), arriving(yard)
    move = putaway(yard, first, "FS1", at=0.0, actor="test")
    assert move.purpose == "putaway" and move.target == g(1, 8)
    assert yard.locations[g(1, 8)].reserved_by == move.id
    assert best(yard, second) != move.target
    assert move.target not in legal_positions(yard, second, "FS1", at=0.0)
    yard.cancel_move(move.id, at=1.0, actor="test", reason="changed plan")
    assert best(yard, second) == move.target


def test_the_planned_move_carries_the_score_breakdown() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    proposal = propose_putaway(yard, coil, "FS1", at=0.0)
    move = putaway(yard, coil, "FS1", at=0.0, actor="test")
    assert move.target == proposal.location
    assert move.score == proposal.breakdown
    assert sum(move.score.values()) == pytest.approx(proposal.total)


def test_a_position_locked_for_putting_in_is_skipped() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    first = best(yard, coil)
    yard.lock(first, "in", "saddle repair", at=0.0, actor="test")
    assert best(yard, coil) != first
    assert first not in legal_positions(yard, coil, "FS1", at=0.0)
    yard.unlock(first, "in", at=1.0, actor="test")
    assert best(yard, coil) == first


def test_excluded_positions_are_not_proposed() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    assert best(yard, coil, exclude=[g(1, 8)]) == g(2, 8)


def test_when_every_legal_position_is_excluded_the_refusal_says_so() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    legal = legal_positions(yard, coil, "FS1", at=0.0)
    with pytest.raises(
        NoPlaceFound, match=f"of 30 positions that fit, 0 are occupied.*; {len(legal)} are excluded"
    ):
        propose_putaway(yard, coil, "FS1", at=0.0, exclude=legal)


def test_a_stored_coil_is_never_proposed_its_own_place_or_the_places_on_it() -> None:
    yard = fresh_yard()
    stored(yard, g(1, 7))
    coil = stored(yard, g(1, 8))
    places = legal_positions(yard, coil, "FS1", at=0.0)
    assert g(1, 8) not in places and u(1, 7) not in places
    assert best(yard, coil) != g(1, 8)


def test_unknown_coils_and_stores_are_typed_errors() -> None:
    yard = fresh_yard()
    coil = arriving(yard)
    with pytest.raises(UnknownCoil):
        propose_putaway(yard, "NO-SUCH-COIL", "FS1", at=0.0)
    with pytest.raises(UnknownStore, match="unknown store 'FS9'") as unknown:
        propose_putaway(yard, coil, "FS9", at=0.0)
    assert isinstance(unknown.value, WmsError)
    with pytest.raises(InvalidInput, match="ingot store"):
        propose_putaway(yard, coil, "IS1", at=0.0)
    with pytest.raises(InvalidInput, match="not a node"):
        propose_putaway(yard, coil, "FS1", at=0.0, origin="NOWHERE")


def test_the_index_follows_the_yard_and_matches_a_fresh_one() -> None:
    yard = fresh_yard()
    index = store_index(yard, "FS1")
    assert isinstance(index, FlatIndex)
    assert store_index(yard, "FS1") is index  # cached
    stored(yard, g(1, 7), alloy="6061", due=5.0)
    stored(yard, g(1, 1), temperature=300.0)
    yard.lock(g(2, 3), "in", "repair", at=0.0, actor="test")
    putaway(yard, arriving(yard), "FS1", at=0.0, actor="test")
    assert index.occupied[index.pos[g(1, 7)]] and index.alloy[index.pos[g(1, 7)]] != -1
    fresh = build_index(yard, "FS1")
    assert isinstance(fresh, FlatIndex)
    assert index.snapshot() == fresh.snapshot()
    replayed = build_index(Yard.replay(yard.plant, yard.ledger), "FS1")
    assert isinstance(replayed, FlatIndex)
    assert replayed.snapshot() == index.snapshot()


def test_the_index_cache_does_not_keep_a_yard_alive() -> None:
    yard = fresh_yard()
    propose_putaway(yard, arriving(yard), "FS1", at=0.0)
    propose_putaway(yard, arriving(yard), "HB1", at=0.0)
    alive = weakref.ref(yard)
    del yard
    gc.collect()
    assert alive() is None


# ---------------------------------------------------------------------------------------------- high-bay


def stacker_seconds() -> dict[str, float]:
    """Travel time of every HB1 cell from the I/O point, read from the plant (2 m/s along, 0.4 m/s up)."""
    return {
        c.id: max(c.along / 2.0, c.height / 0.4) for c in tiny_plant().rack_cells.values() if c.store == "HB1"
    }


def test_high_bay_classes_split_the_cells_20_30_50_by_travel_time() -> None:
    yard = fresh_yard()
    index = store_index(yard, "HB1")
    assert isinstance(index, HighBayIndex)
    seconds = stacker_seconds()
    classes = {cell: index.cell_class(cell) for cell in seconds}
    assert [sum(1 for k in classes.values() if k == c) for c in "ABC"] == [16, 24, 40]
    slowest_a = max(seconds[c] for c, k in classes.items() if k == "A")
    fastest_b = min(seconds[c] for c, k in classes.items() if k == "B")
    slowest_b = max(seconds[c] for c, k in classes.items() if k == "B")
    fastest_c = min(seconds[c] for c, k in classes.items() if k == "C")
    assert slowest_a <= fastest_b and slowest_b <= fastest_c


def test_a_fast_mover_goes_next_to_the_io_point_and_a_slow_one_to_its_own_class() -> None:
    yard = fresh_yard()
    seconds = stacker_seconds()
    fast = propose_putaway(yard, arriving(yard, turnover="A"), "HB1", at=0.0)
    assert fast.location == "HB1-A01-L-C001-L01"
    assert fast.breakdown == {"travel": pytest.approx(min(seconds.values())), "class": 0.0}
    index = store_index(yard, "HB1")
    assert isinstance(index, HighBayIndex)
    slow = propose_putaway(yard, arriving(yard, turnover="C"), "HB1", at=0.0)
    assert index.cell_class(slow.location) == "C"
    assert seconds[slow.location] == min(s for c, s in seconds.items() if index.cell_class(c) == "C")


def test_a_full_class_falls_back_to_the_nearest_cell_of_the_next_class() -> None:
    yard = fresh_yard()
    index = store_index(yard, "HB1")
    assert isinstance(index, HighBayIndex)
    seconds = stacker_seconds()
    taken = [
        putaway(yard, arriving(yard, turnover="A"), "HB1", at=0.0, actor="test").target for _ in range(16)
    ]
    assert {index.cell_class(c) for c in taken} == {"A"}
    assert [seconds[c] for c in taken] == sorted(seconds[c] for c in taken)  # fastest first
    spill = propose_putaway(yard, arriving(yard, turnover="A"), "HB1", at=0.0)
    assert index.cell_class(spill.location) == "B"
    assert seconds[spill.location] == min(s for c, s in seconds.items() if index.cell_class(c) == "B")
    assert spill.breakdown["class"] > 0 and spill.total == pytest.approx(sum(spill.breakdown.values()))
    for _ in range(40):
        putaway(yard, arriving(yard, turnover="C"), "HB1", at=0.0, actor="test")
    slow_spill = propose_putaway(yard, arriving(yard, turnover="C"), "HB1", at=0.0)
    assert index.cell_class(slow_spill.location) == "B"  # the B cell nearest the C zone: its slowest
    assert seconds[slow_spill.location] == max(s for c, s in seconds.items() if index.cell_class(c) == "B")


def test_hot_or_oversized_coils_are_refused_by_the_high_bay() -> None:
    yard = fresh_yard()
    with pytest.raises(NoPlaceFound, match="hot"):
        propose_putaway(yard, arriving(yard, temperature=300.0), "HB1", at=0.0)
    with pytest.raises(NoPlaceFound, match=re.escape("width 2.3 m is outside the cells' band 1–2 m")):
        propose_putaway(yard, arriving(yard, width=2.3), "HB1", at=0.0)
    assert legal_positions(yard, arriving(yard, weight=33.0), "HB1", at=0.0) == []
