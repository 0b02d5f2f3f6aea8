"""The runway rule: which crane on a shared runway may start which job, and who must yield. Pure.

This is the one implementation of the rule (research notes wms.md §2.5: an ordered interval resource). The
crane core (`crane.core`) applies it to real crane events; the event simulation `crane.runway.RunwayModel`
applies it to simulated moves, and its property tests (never closer than the safety distance, every job
ends) therefore test this code.

Positions are bridge positions `along` the runway. Cranes are ordered by home; they never pass each other
and keep `min_distance` (d) between bridges. Crane k of n reaches only [k·d, L − (n−1−k)·d].

- A crane's position is known as an interval [x_lo, x_hi] (a point once it reported where it stopped).
- A crane starting a job claims S = hull(position, job points). Walking outwards, crane k−1 must end at or
  left of S.lo − d, crane k−2 left of that minus d, ... (mirrored to the right). A busy (or out of service,
  or frozen) neighbour whose reservation crosses that bound blocks the job; an idle one is pushed to the
  bound: it yields. Yields of one side run one crane at a time, outermost first.
- Fairness: requests are tried in the order given (oldest first). A blocked request freezes its crane, the
  cranes it would push and the crane blocking it; younger requests may neither start on nor push them.
- Reservations shrink as the job goes on (`shrink`), and collapse to the stopping point (`settle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EPS = 1e-9


@dataclass(slots=True)
class Bridge:
    """One crane on the runway: where it may be, what it reserves, whether it works."""

    id: str
    home: float
    x_lo: float
    x_hi: float
    lo: float
    hi: float
    busy: bool = False
    out: bool = False  # out of service: it blocks what it holds until it is back


@dataclass(frozen=True, slots=True)
class Request:
    """Crane `crane` wants to start job `job`, visiting the along-positions `points` (pick, drop, ...)."""

    job: str
    crane: str
    points: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Yield:
    """Crane `crane` moves aside to `target`; `side` is −1 left of the job's crane, +1 right of it."""

    crane: str
    target: float
    side: int


@dataclass(frozen=True, slots=True)
class Grant:
    """`request` may start: its crane holds `claim`; the `yields` (per side, outermost first) go first."""

    request: Request
    claim: tuple[float, float]
    yields: tuple[Yield, ...]


class Runway:
    """The state of one runway's cranes under the rule (see the module docstring)."""

    def __init__(self, length: float, min_distance: float, cranes: Iterable[tuple[str, float]]) -> None:
        ordered = sorted(cranes, key=lambda c: c[1])
        if not (length > 0 and min_distance > 0 and ordered):
            raise ValueError("a runway needs a positive length, a positive distance and at least one crane")
        for k, (cid, home) in enumerate(ordered):
            if not (-EPS <= home <= length + EPS):
                raise ValueError(f"crane {cid} home {home} is off the runway (0..{length} m)")
            if k and home - ordered[k - 1][1] < min_distance - EPS:
                raise ValueError(f"crane {cid} home is closer than {min_distance} m to its neighbour")
        self.length = length
        self.d = min_distance
        self.bridges = [Bridge(c, h, h, h, h, h) for c, h in ordered]
        self.index = {b.id: k for k, b in enumerate(self.bridges)}

    # ------------------------------------------------------------------------------------------ queries

    def bridge(self, crane: str) -> Bridge:
        return self.bridges[self.index[crane]]

    def reach(self, k: int) -> tuple[float, float]:
        return k * self.d, self.length - (len(self.bridges) - 1 - k) * self.d

    def can_reach(self, crane: str, points: Sequence[float]) -> bool:
        lo, hi = self.reach(self.index[crane])
        return lo - EPS <= min(points) and max(points) <= hi + EPS

    def default_crane(self, points: Sequence[float]) -> str | None:
        """The crane whose zone (split at midpoints between homes) holds the first point, or the nearest
        crane in order that can reach every point; None if none can."""
        homes = [b.home for b in self.bridges]
        zone = sum(1 for k in range(1, len(homes)) if points[0] > (homes[k - 1] + homes[k]) / 2)
        for k in sorted(range(len(self.bridges)), key=lambda k: (abs(k - zone), k)):
            if self.can_reach(self.bridges[k].id, points):
                return self.bridges[k].id
        return None

    def separated(self) -> bool:
        """Reservations in order and d apart, and every crane's position inside its reservation."""
        for b in self.bridges:
            if not (b.lo - EPS <= b.x_lo and b.x_hi <= b.hi + EPS):
                return False
        return all(b.lo - a.hi >= self.d - 1e-6 for a, b in zip(self.bridges, self.bridges[1:], strict=False))

    # ------------------------------------------------------------------------------------------ changes

    def shrink(self, crane: str, lo: float, hi: float) -> None:
        """The crane's reservation becomes [lo, hi] (inside the old one: the rest is free for others)."""
        b = self.bridge(crane)
        b.lo, b.hi = max(b.lo, lo), min(b.hi, hi)

    def settle(self, crane: str, x: float) -> None:
        """The crane stopped at `x` and is free: it holds only that point."""
        b = self.bridge(crane)
        b.busy = False
        b.x_lo = b.x_hi = b.lo = b.hi = x

    def seen_at(self, crane: str, x: float) -> None:
        """A position report: narrows where an idle crane is (a busy crane keeps its reservation)."""
        b = self.bridge(crane)
        if b.lo - EPS <= x <= b.hi + EPS:
            b.x_lo = b.x_hi = x
            if not b.busy:
                b.lo = b.hi = x

    def set_out(self, crane: str, out: bool) -> None:
        self.bridge(crane).out = out

    # ------------------------------------------------------------------------------------------ the rule

    def _plan(self, k: int, lo: float, hi: float, frozen: set[int]) -> tuple[list[Yield], set[int]]:
        """Yields needed for crane k to claim [lo, hi] (outermost first per side), and the blockers."""
        yields: list[Yield] = []
        blockers: set[int] = set()
        for step, bound0 in ((-1, lo), (1, hi)):
            side: list[Yield] = []
            bound = bound0
            j = k + step
            while 0 <= j < len(self.bridges):
                bound = bound - self.d if step < 0 else bound + self.d
                other = self.bridges[j]
                clear = other.hi <= bound + EPS if step < 0 else other.lo >= bound - EPS
                if clear:
                    break
                if other.busy or other.out or j in frozen:
                    blockers.add(j)
                    break
                side.append(Yield(other.id, bound, step))
                j += step
            yields.extend(reversed(side))
        return yields, blockers

    def schedule(self, requests: Sequence[Request]) -> list[Grant]:
        """Grant what may start now, trying `requests` in order (oldest first); reserve what is granted.

        A granted crane and its yielding neighbours become busy with their claims; the caller runs the
        yields (per side, in the order given) and then the job, calling `shrink` and `settle` as they end.
        """
        frozen: set[int] = set()
        grants: list[Grant] = []
        for request in requests:
            k = self.index[request.crane]
            crane = self.bridges[k]
            if crane.busy or crane.out or k in frozen:
                continue
            lo = min(crane.x_lo, *request.points)
            hi = max(crane.x_hi, *request.points)
            yields, blockers = self._plan(k, lo, hi, frozen)
            if blockers:
                frozen |= {k} | {self.index[y.crane] for y in yields} | blockers
                continue
            crane.busy, crane.lo, crane.hi = True, lo, hi
            for y in yields:
                other = self.bridge(y.crane)
                other.busy = True
                other.lo, other.hi = min(y.target, other.x_lo), max(y.target, other.x_hi)
            grants.append(Grant(request, (lo, hi), tuple(yields)))
        return grants
