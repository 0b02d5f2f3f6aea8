"""Putaway: the best legal place for a coil in a store, and the move that reserves it.

Slabs and ingot stacks go to ingot stores: `propose_putaway` hands them to `wms.domain.ingot_putaway`
(piles, last in first out); what follows is about coils.

Flat stores. A saddle position is *legal* for a coil when every hard rule of `stacking` holds there (the
row's width and diameter bands, its maximum coil weight and the crane's safe working load, hot coils only
on ground cooling positions, skid-packed coils only on the ground, an upper position only over two
settled coils that may carry it; the position free, not reserved and not locked for putting in). Among
the legal positions the one with the lowest *soft score* wins. The score is a sum of named parts, lower
is better, in points of about one metre of crane travel with a 20 t coil (`PutawayWeights`):

* ``travel``: metres the crane carries the coil, from where it enters the bay to the position, times the
  coil's weight over the reference weight (heavy coils cost more; tonne-metres are crane energy).
  The entry is a given `origin` (a point or network node: straight from there); by default, per bay, the
  bay handover nearest to where the coil is now (or, if the coil is nowhere with coordinates, the handover
  nearest to each position).
* ``bury``: for an upper position, `bury` points per support coil that is due to leave before this coil
  (or has a due time while this coil has none): it would have to be dug out from under this one.
* ``campaign``: minus `same_alloy` (and `same_customer`) points per neighbour of the same alloy (customer):
  the two supports of an upper position, the adjacent ground positions of a ground one.
* ``cooling``: `cooling_reserve` points for a cold coil on a cooling position (keep them for hot coils).
* ``ground``: `ground_tier` points for a ground position, so a legal upper position is filled first
  (compact storage) unless it buries (`bury` > `ground_tier`).

The choice is the argmin of the total (ties: the first position in layout order). A proposal costs no
Python loop over positions: each store has an index of numpy arrays (static: coordinates, tier, row
bands and limits, the bay's crane SWL, cooling flag, neighbour and support indices; live: free, reserved,
locked, and the occupant's weight, diameter, due time, alloy and customer codes, in-move and
"never carries" flags, and measured temperature with its time). The index is built in full the first time
a store is asked about (so it works for a replayed yard) and kept current through `Yard.watch`: O(1) per
changed location. Temperature rules are evaluated at proposal time with the store's cooling model,
vectorised over the supports.

High-bay stores: class-based storage by turnover (`CoilSpec.turnover`). Within each aisle, cells are
ranked by the stacker crane's travel time from the aisle's I/O point, max(along / v_h, height / v_v)
(Chebyshev: both axes move at once): class A is the fastest 20 % of an aisle's cells (rounded), B the next
30 % (up to 50 % of the cells), C the rest. A coil goes to the fastest open legal cell of its own class;
if its class is full, to the open legal cell nearest to its class zone in travel time (an A coil to the
fastest B cell, a C coil to the slowest B cell: fast cells stay for fast movers). Ties go to the aisle
with more free cells, then to the first cell in layout order. The high-bay score is informative:
``travel`` (seconds) plus ``class`` (0 in its own class, else `HIGH_BAY_OTHER_CLASS_S` plus the distance
in seconds from its class zone).

Indexes live in a module-level `weakref.WeakKeyDictionary` keyed by the yard, and hold no reference to
the yard: a yard that nobody uses any more is freed with its indexes.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from layout import schema as plant_schema
from layout.model import Tier
from wms.domain.errors import InvalidInput, NoPlaceFound, UnknownStore
from wms.domain.ingot_putaway import rank_piles
from wms.domain.stacking import TOLERANCE, FlatStorePolicy
from wms.domain.units import HOT_MARGIN_C, Coil, Packaging, UnitStatus
from wms.domain.yard import Move, Yard

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

Origin = tuple[float, float] | str | None

NO_CODE = -1  # no alloy / customer (empty position, or an empty customer field)

# High-bay classes: the fastest share of each aisle's cells up to each bound is A, then B; the rest is C.
TURNOVER_CLASSES = ("A", "B", "C")
CLASS_BOUNDS = (0.2, 0.5)
HIGH_BAY_OTHER_CLASS_S = 1000.0  # the informative penalty for a cell outside the coil's class


@dataclass(frozen=True, slots=True)
class PutawayWeights:
    """Weights of the flat-store soft rules; one point is about a metre of crane travel with a 20 t coil.

    The defaults keep an order between the rules: burying one support (60) costs more than the ground tier
    and full campaign bonuses together (12 + 2 x 8 + 2 x 8 = 44), so compactness and campaigns never buy a
    burial; a cold coil leaves a cooling position free unless the alternative is 40 m farther; a legal upper
    position wins over a ground one up to 12 m farther. Pass other weights to `propose_putaway` to tune.
    """

    travel_per_m: float = 1.0  # per metre of crane travel, for a coil of `reference_weight_t`
    reference_weight_t: float = 20.0  # travel cost scales with weight / reference weight
    bury: float = 60.0  # per support coil due to leave before the coil put on it
    same_alloy: float = 8.0  # bonus per neighbour of the same alloy
    same_customer: float = 8.0  # bonus per neighbour for the same customer
    cooling_reserve: float = 40.0  # a cold coil on a cooling position
    ground_tier: float = 12.0  # a ground position (prefer filling legal upper positions)


DEFAULT_WEIGHTS = PutawayWeights()

SCORE_RULES = ("travel", "bury", "campaign", "cooling", "ground")
SUPPORT_PROBLEMS = (
    "with an empty support",
    "with a support being moved",
    "with a support that carries nothing (skid-packed, thin gauge or hot)",
    "with supports too light",
    "with support diameters too different",
)


@dataclass(frozen=True, slots=True)
class Proposal:
    """The best legal place for `coil` in `store`, its score by rule (summing to `total`), and the next best."""

    coil: str
    store: str
    location: str
    total: float
    breakdown: dict[str, float]
    candidates: int  # legal places considered
    runner_up: str | None = None
    runner_up_total: float | None = None


# ---------------------------------------------------------------------------------------------- public API


def propose_putaway(
    yard: Yard,
    coil_id: str,
    store_id: str,
    *,
    at: float,
    origin: Origin = None,
    exclude: Iterable[str] = (),
    weights: PutawayWeights = DEFAULT_WEIGHTS,
) -> Proposal:
    """The best legal place for the coil in the store at time `at` (nothing is reserved).

    `origin`: where the coil enters a flat store (a point or a network node id); ignored by high-bay
    stores, whose travel is from each aisle's I/O point. `exclude`: location ids not to propose.
    Raises UnknownCoil, UnknownStore, InvalidInput (a coil to an ingot store, a slab elsewhere, a unit that
    left), NoPlaceFound. A slab or ingot stack (`coil_id` names one) goes to an ingot store's best pile
    (`wms.domain.ingot_putaway`; `weights` do not apply to it).
    """
    if coil_id in yard.stacks:
        return _propose_pile(yard, coil_id, store_id, at=at, origin=origin, exclude=exclude)
    coil = _coil(yard, coil_id)
    index = store_index(yard, store_id)
    if isinstance(index, FlatIndex):
        return index.propose(yard, coil, at, origin=origin, exclude=exclude, weights=weights)
    return index.propose(yard, coil, at, exclude=exclude)


def _propose_pile(
    yard: Yard, stack_id: str, store_id: str, *, at: float, origin: Origin, exclude: Iterable[str]
) -> Proposal:
    store = next((s for s in yard.plant.stores if s.id == store_id), None)
    if store is None:
        raise UnknownStore(store_id)
    if not isinstance(store, plant_schema.IngotStore):
        raise InvalidInput(f"'{stack_id}' is a slab or ingot stack; '{store_id}' is not an ingot store")
    ranked = rank_piles(yard, stack_id, store, at=at, origin=origin, exclude=exclude)
    best = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    return Proposal(
        stack_id, store_id, best.location, best.total, best.breakdown, len(ranked),
        second.location if second else None, second.total if second else None,
    )  # fmt: skip


def plan_putaway(yard: Yard, proposal: Proposal, *, at: float, actor: str) -> Move:
    """Reserve a proposal's place: plan the putaway move, with the score breakdown on the move."""
    return yard.plan_move(
        proposal.coil,
        proposal.location,
        at=at,
        actor=actor,
        purpose="putaway",
        score=dict(proposal.breakdown),
        reason=f"best of {proposal.candidates} legal places in {proposal.store} (score {proposal.total:.1f})",
    )


def putaway(
    yard: Yard,
    coil_id: str,
    store_id: str,
    *,
    at: float,
    actor: str,
    origin: Origin = None,
    exclude: Iterable[str] = (),
    weights: PutawayWeights = DEFAULT_WEIGHTS,
) -> Move:
    """Propose the best place for the coil in the store and reserve it (`propose_putaway` + `plan_putaway`)."""
    proposal = propose_putaway(
        yard, coil_id, store_id, at=at, origin=origin, exclude=exclude, weights=weights
    )
    return plan_putaway(yard, proposal, at=at, actor=actor)


def legal_positions(yard: Yard, coil_id: str, store_id: str, *, at: float) -> list[str]:
    """Every place of the store the coil may be put at `at`, in layout order.

    These are the places where `stacking.placement_violations` finds nothing, except the coil's own place
    and the upper positions resting on it (a move there makes no sense). For a slab or ingot stack: the
    piles of an ingot store it may go to (also within the bay crane's safe working load).
    """
    if coil_id in yard.stacks:
        ranked = _legal_piles(yard, coil_id, store_id, at=at)
        order = {pid: i for i, pid in enumerate(yard.plant.stack_positions)}
        return sorted(ranked, key=order.__getitem__)
    coil = _coil(yard, coil_id)
    index = store_index(yard, store_id)
    mask = index.legal(yard, coil, at)
    index.drop_own(coil, mask)
    return [index.ids[i] for i in np.flatnonzero(mask)]


def _legal_piles(yard: Yard, stack_id: str, store_id: str, *, at: float) -> list[str]:
    store = next((s for s in yard.plant.stores if s.id == store_id), None)
    if store is None:
        raise UnknownStore(store_id)
    if not isinstance(store, plant_schema.IngotStore):
        return []
    try:
        return [c.location for c in rank_piles(yard, stack_id, store, at=at)]
    except NoPlaceFound:
        return []


def store_index(yard: Yard, store_id: str) -> FlatIndex | HighBayIndex:
    """The live index of a flat or high-bay store of this yard (built on first use, then kept current)."""
    indexes = _INDEXES.get(yard)
    if indexes is None:
        indexes = _INDEXES[yard] = _YardIndexes(yard)
    return indexes.get(yard, store_id)


def build_index(yard: Yard, store_id: str) -> FlatIndex | HighBayIndex:
    """A fresh index of the store as the yard is now, not cached and not kept current (for checks)."""
    store = _store(yard, store_id)
    if isinstance(store, plant_schema.FlatStore):
        return FlatIndex(yard, store)
    return HighBayIndex(yard, store)


def _coil(yard: Yard, coil_id: str) -> Coil:
    coil = yard.coil(coil_id)
    if coil.status not in (UnitStatus.IN_STOCK, UnitStatus.IN_TRANSIT):
        raise InvalidInput(f"'{coil_id}' is {coil.status}; only coils in the yard are put away")
    return coil


def _store(yard: Yard, store_id: str) -> plant_schema.FlatStore | plant_schema.HighBayStore:
    for store in yard.plant.stores:
        if store.id == store_id:
            if isinstance(store, plant_schema.IngotStore):
                raise InvalidInput(f"'{store_id}' is an ingot store; coils go to flat or high-bay stores")
            return store
    raise UnknownStore(store_id)


# ---------------------------------------------------------------------------------------------- the cache


class _YardIndexes:
    """The indexes of one yard, and the one watcher that keeps them current. Holds the yard weakly."""

    def __init__(self, yard: Yard) -> None:
        self._yard = weakref.ref(yard)
        self.stores: dict[str, FlatIndex | HighBayIndex] = {}
        self._where: dict[str, tuple[FlatIndex | HighBayIndex, int]] = {}
        yard.watch(self._changed)

    def get(self, yard: Yard, store_id: str) -> FlatIndex | HighBayIndex:
        index = self.stores.get(store_id)
        if index is None:
            index = self.stores[store_id] = build_index(yard, store_id)
            self._where.update((place, (index, i)) for i, place in enumerate(index.ids))
        return index

    def _changed(self, location: str) -> None:
        hit = self._where.get(location)
        yard = self._yard()
        if hit is not None and yard is not None:
            index, i = hit
            index.refresh(yard, i)


_INDEXES: weakref.WeakKeyDictionary[Yard, _YardIndexes] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------------------------- flat stores


class _PlaceState:
    """Which places of an index are open: the bookkeeping both kinds of store index share.

    Arrays have `size` slots (a flat index keeps one spare slot for "no support"); `refresh_place` reads
    place `i` back from the yard and returns the unit on it, if any.
    """

    ids: list[str]

    def _init_place_state(self, size: int, n: int) -> None:
        self.occupied: BoolArray = np.zeros(size, dtype=np.bool_)
        self.reserved: BoolArray = np.zeros(size, dtype=np.bool_)
        self.locked_in: BoolArray = np.zeros(size, dtype=np.bool_)
        self.closed: BoolArray = np.zeros(size, dtype=np.bool_)  # occupied, reserved or locked in
        self.occupant: list[str | None] = [None] * n

    def _refresh_all(self, yard: Yard) -> None:
        for i, pid in enumerate(self.ids):
            place = yard.locations[pid]
            if place.occupants or place.reserved_by is not None or place.locked_in is not None:
                self.refresh(yard, i)

    def refresh(self, yard: Yard, i: int) -> None:
        self.refresh_place(yard, i)

    def refresh_place(self, yard: Yard, i: int) -> str | None:
        place = yard.locations[self.ids[i]]
        occupied, reserved, locked = place.is_full, place.reserved_by is not None, place.locked_in is not None
        self.occupied[i], self.reserved[i], self.locked_in[i] = occupied, reserved, locked
        self.closed[i] = occupied or reserved or locked
        self.occupant[i] = place.occupants[0] if place.occupants else None
        return self.occupant[i]


class FlatIndex(_PlaceState):
    """Numpy arrays over the saddle positions of one flat store, indexed in layout order.

    Live arrays have one extra slot at the end (index n), always empty: ground positions name it as their
    "supports", and row ends as their missing neighbour, so gathers need no masks.
    """

    def __init__(self, yard: Yard, store: plant_schema.FlatStore) -> None:
        self.store = store.id
        policy = yard.flat_policy(store.id)
        self.policy: FlatStorePolicy = policy
        positions = [p for p in yard.plant.saddle_positions.values() if p.store == store.id]
        self.ids: list[str] = [p.id for p in positions]
        self.pos: dict[str, int] = {pid: i for i, pid in enumerate(self.ids)}
        n = self.n = len(positions)
        self.x: FloatArray = np.array([p.x for p in positions], dtype=np.float64)
        self.y: FloatArray = np.array([p.y for p in positions], dtype=np.float64)
        self.upper: BoolArray = np.array([p.tier is Tier.UPPER for p in positions], dtype=np.bool_)
        self.cooling: BoolArray = np.array([p.cooling for p in positions], dtype=np.bool_)
        self.ground_cooling: BoolArray = ~self.upper & self.cooling

        # Row groups (bay, row): bands and limits with the tolerance applied as stacking applies it.
        groups: dict[tuple[str, str], int] = {}
        group_rows: list[tuple[str, plant_schema.SaddleRow]] = []
        for p in positions:
            if (p.bay, p.row.id) not in groups:
                groups[p.bay, p.row.id] = len(groups)
                group_rows.append((p.bay, p.row))
        self.group: IntArray = np.array([groups[p.bay, p.row.id] for p in positions], dtype=np.intp)
        self.group_rows = group_rows
        self.g_wmin = np.array([r.width_band.min - TOLERANCE for _, r in group_rows], dtype=np.float64)
        self.g_wmax = np.array([r.width_band.max + TOLERANCE for _, r in group_rows], dtype=np.float64)
        self.g_odmin = np.array([r.od_band.min - TOLERANCE for _, r in group_rows], dtype=np.float64)
        self.g_odmax = np.array([r.od_band.max + TOLERANCE for _, r in group_rows], dtype=np.float64)
        self.g_maxw = np.array([r.max_coil_weight + TOLERANCE for _, r in group_rows], dtype=np.float64)
        swl = [policy.crane_swl_by_bay.get(bay) for bay, _ in group_rows]
        self.g_swl = np.array([-math.inf if s is None else s + TOLERANCE for s in swl], dtype=np.float64)

        # Neighbours: an upper position's two supports; a ground position's adjacent ground positions.
        ground_at = {(p.bay, p.row.id, p.index): i for i, p in enumerate(positions) if p.tier is Tier.GROUND}
        nb1 = np.full(n, n, dtype=np.intp)
        nb2 = np.full(n, n, dtype=np.intp)
        self.above: dict[int, list[int]] = {}
        for i, p in enumerate(positions):
            if p.tier is Tier.UPPER and p.supports is not None:
                nb1[i], nb2[i] = self.pos[p.supports[0]], self.pos[p.supports[1]]
                for s in (nb1[i], nb2[i]):
                    self.above.setdefault(int(s), []).append(i)
            else:
                nb1[i] = ground_at.get((p.bay, p.row.id, p.index - 1), n)
                nb2[i] = ground_at.get((p.bay, p.row.id, p.index + 1), n)
        self.nb1: IntArray = nb1
        self.nb2: IntArray = nb2

        # Bays and their handovers (where coils enter a bay).
        bay_ids = sorted({p.bay for p in positions})
        bay_code = {b: k for k, b in enumerate(bay_ids)}
        self.bay: IntArray = np.array([bay_code[p.bay] for p in positions], dtype=np.intp)
        points = yard.plant.node_points
        every_handover = [points[h.node] for b in store.bays for h in b.handovers if h.node in points]
        self.bay_handovers: list[FloatArray] = []
        for b in bay_ids:
            spec = next(bay for bay in store.bays if bay.id == b)
            own = [points[h.node] for h in spec.handovers if h.node in points] or every_handover
            self.bay_handovers.append(np.array(own, dtype=np.float64).reshape(-1, 2))
        entry = np.zeros(n, dtype=np.float64)
        for k, hand in enumerate(self.bay_handovers):
            members = np.flatnonzero(self.bay == k)
            if hand.size and members.size:
                d = np.hypot(
                    self.x[members, None] - hand[None, :, 0], self.y[members, None] - hand[None, :, 1]
                )
                entry[members] = d.min(axis=1)
        self.entry: FloatArray = entry
        widest = max((h.shape[0] for h in self.bay_handovers), default=0)
        self.handover_x: FloatArray = np.full((len(bay_ids), max(widest, 1)), np.inf, dtype=np.float64)
        self.handover_y: FloatArray = np.full((len(bay_ids), max(widest, 1)), np.inf, dtype=np.float64)
        for k, hand in enumerate(self.bay_handovers):
            self.handover_x[k, : hand.shape[0]] = hand[:, 0]
            self.handover_y[k, : hand.shape[0]] = hand[:, 1]

        # Live state.
        size = n + 1
        self._init_place_state(size, n)
        self.has_coil: BoolArray = np.zeros(size, dtype=np.bool_)
        self.in_move: BoolArray = np.zeros(size, dtype=np.bool_)
        self.never_carries: BoolArray = np.zeros(size, dtype=np.bool_)  # skid-packed or thin gauge
        self.weight: FloatArray = np.zeros(size, dtype=np.float64)
        self.od: FloatArray = np.zeros(size, dtype=np.float64)
        self.due: FloatArray = np.full(size, np.nan, dtype=np.float64)
        self.temperature: FloatArray = np.full(size, np.nan, dtype=np.float64)
        self.temperature_at: FloatArray = np.full(size, np.nan, dtype=np.float64)
        self.alloy: IntArray = np.full(size, NO_CODE, dtype=np.intp)
        self.customer: IntArray = np.full(size, NO_CODE, dtype=np.intp)
        self._alloys: dict[str, int] = {}
        self._customers: dict[str, int] = {}
        self._refresh_all(yard)

    # ------------------------------------------------------------------------------------------ upkeep

    def refresh(self, yard: Yard, i: int) -> None:
        """Read position `i` back from the yard (after anything there changed)."""
        occupant = self.refresh_place(yard, i)
        coil = yard.coils.get(occupant) if occupant is not None else None
        if coil is None:
            self.has_coil[i] = self.in_move[i] = self.never_carries[i] = False
            self.weight[i] = self.od[i] = 0.0
            self.due[i] = self.temperature[i] = self.temperature_at[i] = np.nan
            self.alloy[i] = self.customer[i] = NO_CODE
            return
        spec = coil.spec
        self.has_coil[i] = True
        self.in_move[i] = coil.move is not None
        self.never_carries[i] = (
            spec.packaging is Packaging.SKID or spec.gauge < self.policy.rules.thin_gauge_mm
        )
        self.weight[i], self.od[i] = spec.weight, spec.outer_diameter
        self.due[i] = np.nan if spec.due is None else spec.due
        self.temperature[i], self.temperature_at[i] = coil.temperature, coil.temperature_at
        self.alloy[i] = _code(self._alloys, spec.alloy)
        self.customer[i] = _code(self._customers, spec.customer)

    def snapshot(self) -> dict[str, list[object]]:
        """The live state as plain values (codes decoded, NaN as None), to compare two indexes."""
        n = self.n
        alloys = {c: a for a, c in self._alloys.items()}
        customers = {c: a for a, c in self._customers.items()}
        state: dict[str, list[object]] = {"occupant": list(self.occupant)}
        for name in ("occupied", "reserved", "locked_in", "closed", "has_coil", "in_move", "never_carries"):
            state[name] = [bool(v) for v in getattr(self, name)[:n]]
        for name in ("weight", "od", "due", "temperature", "temperature_at"):
            state[name] = [None if math.isnan(v) else float(v) for v in getattr(self, name)[:n]]
        state["alloy"] = [alloys.get(int(c)) for c in self.alloy[:n]]
        state["customer"] = [customers.get(int(c)) for c in self.customer[:n]]
        return state

    # ------------------------------------------------------------------------------------------ rules

    def legal(self, yard: Yard, coil: Coil, now: float) -> BoolArray:
        """Positions where `placement_violations(yard, coil, position, now)` is empty (length n)."""
        return self._evaluate(coil, now).legal

    def drop_own(self, coil: Coil, mask: BoolArray) -> None:
        """Clear the coil's own position and the upper positions resting on it from `mask`."""
        own = self.pos.get(coil.location)
        if own is not None:
            mask[own] = False
            mask[self.above.get(own, [])] = False

    def _fits(self, coil: Coil) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray, BoolArray]:
        """Per row group: width, diameter, row weight and crane SWL each accept the coil; and all four."""
        spec = coil.spec
        width = (self.g_wmin <= spec.width) & (spec.width <= self.g_wmax)
        od = (self.g_odmin <= spec.outer_diameter) & (spec.outer_diameter <= self.g_odmax)
        row_weight = spec.weight <= self.g_maxw
        crane = spec.weight <= self.g_swl
        return width, od, row_weight, crane, width & od & row_weight & crane

    def _evaluate(self, coil: Coil, now: float) -> _FlatEvaluation:
        n = self.n
        hot = self.policy.is_hot(coil, now)
        fits = self._fits(coil)[4][self.group]
        if hot:
            fits &= self.ground_cooling
        elif coil.spec.packaging is Packaging.SKID:
            fits &= ~self.upper
        open_ = ~self.closed[:n]
        own = self.pos.get(coil.location)
        if own is not None:  # its own place is not "occupied" for it (as stacking reads it)
            open_[own] = not (self.reserved[own] or self.locked_in[own])
        legal = fits & open_
        if own is not None:  # a coil cannot rest on itself (stacking's "support" rule)
            legal[self.above.get(own, [])] = False
        uppers = np.flatnonzero(legal & self.upper)
        legal[uppers[self._support_failures(coil, uppers, now)]] = False
        return _FlatEvaluation(hot, fits, open_, legal)

    def _support_failures(self, coil: Coil, uppers: IntArray, now: float) -> BoolArray:
        """Which of these upper positions' supports cannot carry the coil now."""
        failing: BoolArray = np.logical_or.reduce(self._support_problems(coil, uppers, now))
        return failing

    def _support_problems(self, coil: Coil, uppers: IntArray, now: float) -> list[BoolArray]:
        """Per upper position, each support rule broken, in the order of `SUPPORT_PROBLEMS`."""
        a, b = self.nb1[uppers], self.nb2[uppers]
        empty = ~(self.has_coil[a] & self.has_coil[b])
        moving = self.in_move[a] | self.in_move[b]
        never = self.never_carries[a] | self.never_carries[b] | self._hot(a, now) | self._hot(b, now)
        rules = self.policy.rules
        limit = np.minimum(self.weight[a], self.weight[b]) * rules.upper_weight_factor + TOLERANCE
        heavy = coil.spec.weight > limit
        uneven = np.abs(self.od[a] - self.od[b]) > rules.support_od_tolerance + TOLERANCE
        return [empty, moving, never, heavy, uneven]

    def _hot(self, idx: IntArray, now: float) -> BoolArray:
        """The store's cooling model at `now` for the occupants at `idx` (an empty slot is not hot)."""
        cooling, threshold = self.policy.cooling, self.policy.rules.hot_threshold_c
        measured = self.temperature[idx]
        hot = np.zeros(idx.size, dtype=np.bool_)
        # Newton cooling moves monotonically from the measurement towards ambient: with ambient at or below
        # the threshold only a coil measured above it can be hot, and most are not (evaluate those only).
        maybe = (
            np.flatnonzero(measured > threshold) if cooling.ambient_c <= threshold else np.arange(idx.size)
        )
        if maybe.size:
            elapsed = np.maximum(0.0, now - self.temperature_at[idx[maybe]])
            temperature = cooling.ambient_c + (measured[maybe] - cooling.ambient_c) * np.exp(
                -elapsed / cooling.time_constant_s
            )
            hot[maybe] = temperature > threshold + HOT_MARGIN_C
        return hot

    # ------------------------------------------------------------------------------------------ proposal

    def propose(
        self,
        yard: Yard,
        coil: Coil,
        now: float,
        *,
        origin: Origin = None,
        exclude: Iterable[str] = (),
        weights: PutawayWeights = DEFAULT_WEIGHTS,
    ) -> Proposal:
        evaluation = self._evaluate(coil, now)
        candidates = evaluation.legal
        legal = int(candidates.sum())
        self.drop_own(coil, candidates)
        candidates[[self.pos[e] for e in exclude if e in self.pos]] = False
        chosen = np.flatnonzero(candidates)
        if chosen.size == 0:
            raise NoPlaceFound(coil.id, self.store, self._why(coil, now, evaluation, legal))
        parts = self._score(yard, coil, hot=evaluation.hot, at=chosen, origin=origin, weights=weights)
        total = parts["travel"] + parts["bury"] + parts["campaign"] + parts["cooling"] + parts["ground"]
        best = int(np.argmin(total))
        runner_up: str | None = None
        runner_up_total: float | None = None
        if chosen.size > 1:
            rest = total.copy()
            rest[best] = np.inf
            second = int(np.argmin(rest))
            runner_up, runner_up_total = self.ids[chosen[second]], float(total[second])
        return Proposal(
            coil=coil.id,
            store=self.store,
            location=self.ids[chosen[best]],
            total=float(total[best]),
            breakdown={rule: float(parts[rule][best]) for rule in SCORE_RULES},
            candidates=int(chosen.size),
            runner_up=runner_up,
            runner_up_total=runner_up_total,
        )

    def _score(
        self, yard: Yard, coil: Coil, *, hot: bool, at: IntArray, origin: Origin, weights: PutawayWeights
    ) -> dict[str, FloatArray]:
        spec = coil.spec
        distance = self._travel(yard, coil, at, origin)
        travel = distance * (weights.travel_per_m * spec.weight / weights.reference_weight_t)
        upper = self.upper[at]
        a, b = self.nb1[at], self.nb2[at]
        due_a, due_b = self.due[a], self.due[b]
        if spec.due is None:
            buried = (~np.isnan(due_a)).astype(np.float64) + (~np.isnan(due_b)).astype(np.float64)
        else:
            buried = (due_a < spec.due).astype(np.float64) + (due_b < spec.due).astype(np.float64)
        bury = np.where(upper, weights.bury * buried, 0.0)
        campaign = np.zeros(at.size, dtype=np.float64)
        alloy = self._alloys.get(spec.alloy) if spec.alloy else None
        if alloy is not None:
            same = (self.alloy[a] == alloy).astype(np.float64) + (self.alloy[b] == alloy).astype(np.float64)
            campaign -= weights.same_alloy * same
        customer = self._customers.get(spec.customer) if spec.customer else None
        if customer is not None:
            same = (self.customer[a] == customer).astype(np.float64) + (self.customer[b] == customer).astype(
                np.float64
            )
            campaign -= weights.same_customer * same
        cooling = (
            np.zeros(at.size, dtype=np.float64)
            if hot
            else np.where(self.cooling[at], weights.cooling_reserve, 0.0)
        )
        ground = np.where(upper, 0.0, weights.ground_tier)
        return {"travel": travel, "bury": bury, "campaign": campaign, "cooling": cooling, "ground": ground}

    def _travel(self, yard: Yard, coil: Coil, at: IntArray, origin: Origin) -> FloatArray:
        """Metres from where the coil enters each position's bay to the position."""
        if origin is not None:
            ox, oy = _point(yard, origin)
            distance: FloatArray = np.hypot(self.x[at] - ox, self.y[at] - oy)
            return distance
        here = _where_is(yard, coil)
        if here is None:
            return self.entry[at]
        # Per bay: the handover nearest to the coil, then the crane from there.
        gaps = np.hypot(self.handover_x - here[0], self.handover_y - here[1])  # bays x handovers, inf padded
        nearest = np.argmin(gaps, axis=1)
        rows = np.arange(nearest.size)
        entries = np.where(
            np.isfinite(gaps[rows, nearest])[:, None],
            np.stack([self.handover_x[rows, nearest], self.handover_y[rows, nearest]], axis=1),
            np.array(here, dtype=np.float64)[None, :],
        )
        bay = self.bay[at]
        distance = np.hypot(self.x[at] - entries[bay, 0], self.y[at] - entries[bay, 1])
        return distance

    def _why(self, coil: Coil, now: float, evaluation: _FlatEvaluation, legal: int) -> str:
        """Why no position is left; `legal` counts those legal before exclusions and the coil's own place."""
        spec = coil.spec
        width, od, row_weight, crane, every = self._fits(coil)
        if not every.any():
            rows = [r for _, r in self.group_rows]
            if not width.any():
                bands = sorted({f"{r.width_band.min:g}–{r.width_band.max:g} m" for r in rows})
                return f"no row accepts width {spec.width:g} m (bands {', '.join(bands)})"
            if not od.any():
                bands = sorted({f"{r.od_band.min:g}–{r.od_band.max:g} m" for r in rows})
                return f"no row accepts outer diameter {spec.outer_diameter:g} m (bands {', '.join(bands)})"
            if not row_weight.any():
                return f"{spec.weight:g} t is above every row's limit (at most {max(r.max_coil_weight for r in rows):g} t)"
            if not crane.any():
                return f"{spec.weight:g} t is more than any crane of the store may lift"
            return f"no row takes width {spec.width:g} m, outer diameter {spec.outer_diameter:g} m and {spec.weight:g} t together"
        prefix = ""
        if evaluation.hot:
            temperature = self.policy.cooling.temperature(coil.temperature, coil.temperature_at, now)
            prefix = (
                f"the coil is hot ({temperature:.0f} °C > {self.policy.rules.hot_threshold_c:g} °C) "
                "and goes to a ground cooling position only: "
            )
            if not evaluation.fits.any():
                return prefix + "no cooling position fits it"
        elif spec.packaging is Packaging.SKID and not evaluation.fits.any():
            return "a skid-packed coil goes on the ground only, and no ground position fits it"
        fitting = int(evaluation.fits.sum())
        free = int((evaluation.fits & evaluation.open_).sum())
        if free == 0:
            return (
                prefix + f"all {fitting} positions that fit are occupied, reserved or locked for putting in"
            )
        parts = [f"{fitting - free} are occupied, reserved or locked"]
        uppers = np.flatnonzero(evaluation.fits & evaluation.open_ & self.upper)
        problems = self._support_problems(coil, uppers, now)
        failing = np.logical_or.reduce(problems)
        if failing.any():
            first = np.argmax(np.array(problems)[:, failing], axis=0)  # the first rule each one breaks
            counted = Counter(SUPPORT_PROBLEMS[int(k)] for k in first).most_common()
            parts.append(
                f"{int(failing.sum())} free upper positions cannot carry it ("
                + ", ".join(f"{k} {reason}" for reason, k in counted)
                + ")"
            )
        if legal:
            parts.append(f"{legal} are excluded, the coil's own place or resting on it")
        return prefix + f"of {fitting} positions that fit, " + "; ".join(parts)


@dataclass(slots=True)
class _FlatEvaluation:
    hot: bool
    fits: BoolArray  # the row, crane and tier accept the coil
    open_: BoolArray  # free, not reserved, not locked in (its own place counts as free)
    legal: BoolArray


def _code(codes: dict[str, int], value: str) -> int:
    if not value:
        return NO_CODE
    code = codes.get(value)
    if code is None:
        code = codes[value] = len(codes)
    return code


def _point(yard: Yard, origin: tuple[float, float] | str) -> tuple[float, float]:
    if isinstance(origin, str):
        point = yard.plant.node_points.get(origin)
        if point is None:
            raise InvalidInput(f"origin '{origin}' is not a node of the plant's network")
        return point
    return float(origin[0]), float(origin[1])


def _where_is(yard: Yard, coil: Coil) -> tuple[float, float] | None:
    """Coordinates of the coil's location: a network node, a saddle position or a rack cell; else None."""
    plant = yard.plant
    point = plant.node_points.get(coil.location)
    if point is not None:
        return point
    saddle = plant.saddle_positions.get(coil.location)
    if saddle is not None:
        return saddle.x, saddle.y
    cell = plant.rack_cells.get(coil.location)
    if cell is not None:
        return cell.x, cell.y
    return None


# ---------------------------------------------------------------------------------------------- high-bay stores


class HighBayIndex(_PlaceState):
    """Numpy arrays over the cells of one high-bay store: travel time, turnover class, free or not."""

    def __init__(self, yard: Yard, store: plant_schema.HighBayStore) -> None:
        self.store = store.id
        self.spec = store
        cells = [c for c in yard.plant.rack_cells.values() if c.store == store.id]
        self.ids: list[str] = [c.id for c in cells]
        self.pos: dict[str, int] = {cid: i for i, cid in enumerate(self.ids)}
        n = self.n = len(cells)
        aisles = sorted({c.aisle for c in cells})
        self.aisle_numbers = aisles
        code = {a: k for k, a in enumerate(aisles)}
        self.aisle: IntArray = np.array([code[c.aisle] for c in cells], dtype=np.intp)
        v_h, v_v = store.stacker.horizontal.speed, store.stacker.vertical.speed
        along = np.array([c.along for c in cells], dtype=np.float64)
        height = np.array([c.height for c in cells], dtype=np.float64)
        self.time: FloatArray = np.maximum(along / v_h, height / v_v)
        # Classes per aisle: rank by travel time (ties in layout order); zone bounds in seconds.
        self.klass: IntArray = np.zeros(n, dtype=np.intp)
        self.zone_lo: FloatArray = np.zeros((len(aisles), 3), dtype=np.float64)
        self.zone_hi: FloatArray = np.zeros((len(aisles), 3), dtype=np.float64)
        for k in range(len(aisles)):
            members = np.flatnonzero(self.aisle == k)
            ranked = members[np.argsort(self.time[members], kind="stable")]
            size = ranked.size
            cuts = [0, *(math.floor(share * size + 0.5) for share in CLASS_BOUNDS), size]
            for c in range(3):
                lo, hi = cuts[c], cuts[c + 1]
                self.klass[ranked[lo:hi]] = c
                first, last = ranked[min(lo, size - 1)], ranked[max(min(hi, size) - 1, min(lo, size - 1))]
                self.zone_lo[k, c], self.zone_hi[k, c] = self.time[first], self.time[last]
        self.limit = min(store.cell_load_limit, store.stacker.safe_working_load)
        self._init_place_state(n, n)
        self._refresh_all(yard)

    def snapshot(self) -> dict[str, list[object]]:
        state: dict[str, list[object]] = {"occupant": list(self.occupant)}
        for name in ("occupied", "reserved", "locked_in", "closed"):
            state[name] = [bool(v) for v in getattr(self, name)]
        return state

    def cell_class(self, cell: str) -> str:
        return TURNOVER_CLASSES[int(self.klass[self.pos[cell]])]

    def _refusal(self, yard: Yard, coil: Coil, now: float) -> str | None:
        """Why no cell of the store takes this coil whatever its state, or None."""
        spec, store = coil.spec, self.spec
        if not store.width_band.min - TOLERANCE <= spec.width <= store.width_band.max + TOLERANCE:
            return f"width {spec.width:g} m is outside the cells' band {store.width_band.min:g}–{store.width_band.max:g} m"
        if not store.od_band.min - TOLERANCE <= spec.outer_diameter <= store.od_band.max + TOLERANCE:
            return f"outer diameter {spec.outer_diameter:g} m is outside the cells' band {store.od_band.min:g}–{store.od_band.max:g} m"
        if spec.weight > self.limit + TOLERANCE:
            return f"{spec.weight:g} t is above the {self.limit:g} t a cell and its stacker crane take"
        if yard.is_hot(coil, now):
            return "the coil is hot; hot coils cool in flat-store cooling positions, not in the rack"
        return None

    def _open(self, coil: Coil) -> BoolArray:
        open_: BoolArray = ~self.closed
        own = self.pos.get(coil.location)
        if own is not None:
            open_[own] = not (self.reserved[own] or self.locked_in[own])
        return open_

    def legal(self, yard: Yard, coil: Coil, now: float) -> BoolArray:
        """Cells where `placement_violations(yard, coil, cell, now)` is empty."""
        if self._refusal(yard, coil, now) is not None:
            return np.zeros(self.n, dtype=np.bool_)
        return self._open(coil)

    def drop_own(self, coil: Coil, mask: BoolArray) -> None:
        own = self.pos.get(coil.location)
        if own is not None:
            mask[own] = False

    def propose(self, yard: Yard, coil: Coil, now: float, *, exclude: Iterable[str] = ()) -> Proposal:
        refusal = self._refusal(yard, coil, now)
        if refusal is not None:
            raise NoPlaceFound(coil.id, self.store, refusal)
        candidates = self._open(coil)
        free = np.bincount(self.aisle[~self.closed], minlength=len(self.aisle_numbers))
        self.drop_own(coil, candidates)
        candidates[[self.pos[e] for e in exclude if e in self.pos]] = False
        chosen = np.flatnonzero(candidates)
        if chosen.size == 0:
            raise NoPlaceFound(
                coil.id, self.store, f"all {self.n} cells are occupied, reserved or locked for putting in"
            )
        wanted = TURNOVER_CLASSES.index(coil.spec.turnover)
        time, aisle = self.time[chosen], self.aisle[chosen]
        other = self.klass[chosen] != wanted
        # Out of its class: seconds between the cell and the class zone of its aisle.
        distance = np.where(
            other,
            np.maximum(self.zone_lo[aisle, wanted] - time, time - self.zone_hi[aisle, wanted]).clip(min=0.0),
            0.0,
        )
        key = np.where(other, distance, time)
        order = np.lexsort((chosen, -free[aisle], key, other))
        penalty = np.where(other, HIGH_BAY_OTHER_CLASS_S + distance, 0.0)
        total = time + penalty
        best = int(order[0])
        second = int(order[1]) if order.size > 1 else None
        return Proposal(
            coil=coil.id,
            store=self.store,
            location=self.ids[chosen[best]],
            total=float(total[best]),
            breakdown={"travel": float(time[best]), "class": float(penalty[best])},
            candidates=int(chosen.size),
            runner_up=None if second is None else self.ids[chosen[second]],
            runner_up_total=None if second is None else float(total[second]),
        )
