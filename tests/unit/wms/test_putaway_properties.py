"""Property test: the vectorised putaway index reads the yard exactly as the stacking rules do.

A hypothesis state machine drives the tiny plant through random receipts (cold, warm and hot coils, skid-
packed, thin gauge, on and off the bands, with and without due times), putaways into the flat and the
high-bay store, moves to random places, starts, completions, cancellations, locks, re-measured
temperatures and the passing of time. Refused commands (`WmsError`) are part of the game.

Checked along the way:

* for every saddle position and rack cell, and for every coil in the yard and random probe coils at random
  times, the index says "legal" exactly when `stacking.placement_violations` finds nothing;
* `legal_positions` is that set without the coil's own place and the places resting on it; a putaway
  lands on one of them, and fails with NoPlaceFound exactly when there is none;
* the cached index, kept current by the yard's watcher, equals a freshly built one and one built on
  `Yard.replay(plant, ledger)`.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.wms_factories import fresh_yard, tiny_plant
from wms.domain.errors import NoPlaceFound, WmsError
from wms.domain.putaway import build_index, legal_positions, putaway, store_index
from wms.domain.stacking import placement_violations
from wms.domain.units import Coil, CoilSpec, Packaging, UnitStatus
from wms.domain.yard import Move, MoveState, Yard

T = TypeVar("T")
HOUR = 3600.0
STORES = ("FS1", "HB1")
SADDLES = sorted(p.id for p in tiny_plant().saddle_positions.values())
CELLS = sorted(c.id for c in tiny_plant().rack_cells.values())
ARRIVALS = ("H-FS1", "RS1", "HM-X", "IO-HB1")
UPPER_SUPPORTS = {p.id: p.supports for p in tiny_plant().saddle_positions.values() if p.supports is not None}
_numbers = itertools.count(1)


def around(typical: float, edges: list[float], low: float, high: float) -> st.SearchStrategy[float]:
    """Mostly a typical value (so coils stack), often a band edge, sometimes anything in between."""
    return st.one_of(st.sampled_from([typical] * len(edges) + edges), st.floats(low, high, allow_nan=False))


def mostly(typical: T, *others: T) -> st.SearchStrategy[T]:
    return st.sampled_from([typical] * (2 * len(others)) + list(others))


coil_fields = st.fixed_dictionaries(
    {
        "width": around(1.5, [0.99, 1.0, 2.0, 2.01], 0.9, 2.1),
        "outer_diameter": around(1.8, [1.19, 1.2, 1.64, 1.65, 1.95, 1.96, 2.2, 2.21], 1.1, 2.3),
        "weight": around(15.0, [10.0, 20.0, 30.0, 30.5, 35.0], 2.0, 36.0),
        "gauge": mostly(2.0, 0.5, 0.99, 1.0),
        "packaging": mostly(Packaging.BARE, Packaging.STRAPPED, Packaging.SKID),
        "temperature": around(25.0, [79.0, 80.0, 81.0, 300.0], 20.0, 400.0),
        "alloy": st.sampled_from(["5182", "3104", "6061"]),
        "customer": st.sampled_from(["", "Ardagh", "Novelis"]),
        "due": st.one_of(st.none(), st.floats(0.0, 100 * HOUR)),
        "turnover": st.sampled_from(["A", "B", "C"]),
    }
)


def spec_of(fields: dict[str, object], at: float) -> CoilSpec:
    values: dict[str, object] = {"alloy": "5182", "temper": "H19", "inner_diameter": 0.6, **fields}
    return CoilSpec(id=f"P{next(_numbers):06d}", temperature_at=at, **values)  # type: ignore[arg-type]


def rules_say_legal(yard: Yard, coil: Coil, place: str, now: float) -> bool:
    return not placement_violations(yard, coil, yard.locations[place], now)


class PutawayIndexMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.yard = fresh_yard()
        self.now = 0.0

    @initialize()
    def watch_from_the_start(self) -> None:
        for store in STORES:
            store_index(self.yard, store)  # built on the empty yard, then kept current incrementally

    # ------------------------------------------------------------------------------------------ helpers

    def coils(self) -> list[Coil]:
        return sorted(
            (c for c in self.yard.coils.values() if c.status in (UnitStatus.IN_STOCK, UnitStatus.IN_TRANSIT)),
            key=lambda c: c.id,
        )

    def open_moves(self, *states: MoveState) -> list[Move]:
        return [m for m in self.yard.moves.values() if m.state in states]

    # ------------------------------------------------------------------------------------------ commands

    @rule(fields=coil_fields, where=st.sampled_from(ARRIVALS + tuple(SADDLES) + tuple(CELLS[:8])))
    def receive(self, fields: dict[str, object], where: str) -> None:
        """At a handover, or straight onto a place (as at go-live): saddles fill up quickly."""
        with contextlib.suppress(WmsError):
            self.yard.receive_coil(spec_of(fields, self.now), where, at=self.now, actor="test")

    @rule(
        row=st.sampled_from(["R01", "R02"]),
        first=st.integers(1, 7),
        coils=st.lists(coil_fields, min_size=2, max_size=4),
    )
    def stock_a_stretch_of_ground(self, row: str, first: int, coils: list[dict[str, object]]) -> None:
        """Neighbouring ground positions filled at once, so upper positions get supports."""
        for k, fields in enumerate(coils, start=first):
            with contextlib.suppress(WmsError):
                self.yard.receive_coil(
                    spec_of(fields, self.now), f"FS1-B1-{row}-P{min(k, 8):02d}-G", at=self.now, actor="test"
                )

    @rule(
        upper=st.sampled_from([p for p in SADDLES if p.endswith("-U")]),
        gap=st.sampled_from([0.0, 0.1, 0.14, 0.15, 0.16, 0.2]),
        weights=st.tuples(around(15.0, [10.0, 20.0], 5.0, 30.0), around(15.0, [10.0, 20.0], 5.0, 30.0)),
    )
    def stock_a_pair_of_supports(self, upper: str, gap: float, weights: tuple[float, float]) -> None:
        """Two typical coils under an upper position, their diameters `gap` apart (tolerance 0.15 m)."""
        supports = UPPER_SUPPORTS[upper]
        for support, od, weight in zip(supports, (1.8, 1.8 - gap), weights, strict=True):
            fields: dict[str, object] = {"width": 1.5, "outer_diameter": od, "weight": weight, "gauge": 2.0}
            with contextlib.suppress(WmsError):
                self.yard.receive_coil(spec_of(fields, self.now), support, at=self.now, actor="test")

    @precondition(lambda self: bool(self.coils()))
    @rule(data=st.data(), store=st.sampled_from(STORES), carry_out=st.booleans())
    def put_away(self, data: st.DataObject, store: str, carry_out: bool) -> None:
        coil = data.draw(st.sampled_from(self.coils()))
        legal = legal_positions(self.yard, coil.id, store, at=self.now)
        try:
            move = putaway(self.yard, coil.id, store, at=self.now, actor="test")
        except NoPlaceFound:
            assert legal == [], f"NoPlaceFound although {legal} are legal"
            return
        except WmsError:  # the coil is busy, blocked or not liftable: plan_move refused
            return
        assert move.target in legal
        if carry_out:
            carrier = "HB1-SC01" if store == "HB1" else "C1"
            with contextlib.suppress(WmsError):
                self.yard.start_move(move.id, carrier, at=self.now, actor="test")
                self.yard.complete_move(move.id, at=self.now, actor="test")

    @precondition(lambda self: bool(self.coils()))
    @rule(data=st.data(), place=st.sampled_from(SADDLES + CELLS[:8] + ["H-FS1"]))
    def plan_a_move(self, data: st.DataObject, place: str) -> None:
        coil = data.draw(st.sampled_from(self.coils()))
        with contextlib.suppress(WmsError):
            self.yard.plan_move(coil.id, place, at=self.now, actor="test", purpose="relocation")

    @precondition(lambda self: bool(self.open_moves(MoveState.PLANNED)))
    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        move = data.draw(st.sampled_from(self.open_moves(MoveState.PLANNED)))
        carrier = "HB1-SC01" if move.target in CELLS or move.source in CELLS else "C1"
        with contextlib.suppress(WmsError):
            self.yard.start_move(move.id, carrier, at=self.now, actor="test")

    @precondition(lambda self: bool(self.open_moves(MoveState.ACTIVE)))
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        move = data.draw(st.sampled_from(self.open_moves(MoveState.ACTIVE)))
        with contextlib.suppress(WmsError):
            self.yard.complete_move(move.id, at=self.now, actor="test")

    @precondition(lambda self: bool(self.open_moves(MoveState.PLANNED, MoveState.ACTIVE)))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        move = data.draw(st.sampled_from(self.open_moves(MoveState.PLANNED, MoveState.ACTIVE)))
        with contextlib.suppress(WmsError):
            self.yard.cancel_move(move.id, at=self.now, actor="test", reason="test", set_down_at="H-FS1")

    @rule(place=st.sampled_from(SADDLES + CELLS[:8]), lock=st.booleans())
    def lock_or_unlock(self, place: str, lock: bool) -> None:
        if lock:
            self.yard.lock(place, "in", "repair", at=self.now, actor="test")
        else:
            self.yard.unlock(place, "in", at=self.now, actor="test")

    @precondition(lambda self: bool(self.coils()))
    @rule(data=st.data(), temperature=around(60.0, [79.0, 80.0, 81.0, 150.0], 20.0, 400.0))
    def measure(self, data: st.DataObject, temperature: float) -> None:
        coil = data.draw(st.sampled_from(self.coils()))
        self.yard.measure_temperature(coil.id, temperature, at=self.now, actor="test")

    @rule(hours=st.sampled_from([0.5, 5.0, 30.0]))
    def time_passes(self, hours: float) -> None:
        self.now += hours * HOUR

    # ------------------------------------------------------------------------------------------ checks

    @rule(probes=st.lists(coil_fields, min_size=1, max_size=3), later=st.floats(0.0, 60 * HOUR))
    def index_agrees_with_the_rules(self, probes: list[dict[str, object]], later: float) -> None:
        """Every coil in the yard and a few coils that are not, now and some time later."""
        probe_coils = [
            Coil(spec, "H-FS1", temperature=spec.temperature, temperature_at=spec.temperature_at)
            for spec in (spec_of(fields, self.now) for fields in probes)
        ]
        for now in (self.now, self.now + later):
            for coil in self.coils() + probe_coils:
                for store in STORES:
                    index = store_index(self.yard, store)
                    mask = index.legal(self.yard, coil, now)
                    by_rules = [rules_say_legal(self.yard, coil, place, now) for place in index.ids]
                    disagree = [p for p, a, b in zip(index.ids, mask, by_rules, strict=True) if a != b]
                    assert not disagree, f"{coil.id} at {now}: index and rules disagree on {disagree}"
                    uppers = sum(
                        1 for p, ok in zip(index.ids, by_rules, strict=True) if ok and p.endswith("-U")
                    )
                    event(f"legal upper positions: {min(uppers, 3)}")
                    if coil.id in self.yard.coils:
                        own = index.pos.get(coil.location)
                        dropped = set() if own is None else {index.ids[own]}
                        dropped |= set(self.yard.uppers_above(coil.location)) if own is not None else set()
                        expected = [
                            p for p, ok in zip(index.ids, by_rules, strict=True) if ok and p not in dropped
                        ]
                        assert legal_positions(self.yard, coil.id, store, at=now) == expected

    @invariant()
    def incremental_index_equals_a_fresh_one(self) -> None:
        for store in STORES:
            kept = store_index(self.yard, store).snapshot()
            assert kept == build_index(self.yard, store).snapshot()

    def teardown(self) -> None:
        replayed = Yard.replay(self.yard.plant, self.yard.ledger)
        for store in STORES:
            assert build_index(replayed, store).snapshot() == store_index(self.yard, store).snapshot()
            assert store_index(replayed, store).snapshot() == store_index(self.yard, store).snapshot()


PutawayIndexMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPutawayIndex = PutawayIndexMachine.TestCase
