"""Test data for the WMS: the tiny plant, fresh yards and coils with sensible defaults."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

from layout import Plant, load_plant
from wms.domain.units import CoilSpec, IngotStackSpec
from wms.domain.yard import Yard

ROOT = Path(__file__).resolve().parents[1]
_ids = itertools.count(1)


@cache
def tiny_plant() -> Plant:
    """examples/tiny.yaml: flat store FS1 (bay B1, rows R01/R02 of 8 ground + 7 upper, P01-P02 of R01 cooling;
    cranes C1, C2 of 35 t), ingot store IS1, high-bay HB1 (1 aisle, 2 sides, 10 columns, 4 levels),
    handovers HM-X (hot mill), H-FS1 and RS1 (bay), H-IS1, IO-HB1, DOCK1; AGV-01/02, RGV-01."""
    return load_plant(ROOT / "examples" / "tiny.yaml")


def fresh_yard() -> Yard:
    return Yard(tiny_plant())


def make_coil(**overrides: Any) -> CoilSpec:
    """A cold, bare 20 t coil that fits every row of the tiny plant, unless told otherwise."""
    values: dict[str, Any] = {
        "id": f"K{next(_ids):05d}",
        "alloy": "5182",
        "temper": "H19",
        "width": 1.5,
        "gauge": 2.0,
        "outer_diameter": 1.8,
        "inner_diameter": 0.6,
        "weight": 20.0,
        "temperature": 25.0,
    }
    values.update(overrides)
    return CoilSpec(**values)


def make_stack(**overrides: Any) -> IngotStackSpec:
    values: dict[str, Any] = {
        "id": f"S{next(_ids):05d}",
        "alloy": "5182",
        "count": 2,
        "unit_weight": 25.0,
        "unit_height": 0.6,
    }
    values.update(overrides)
    return IngotStackSpec(**values)


def place_coil(yard: Yard, spec: CoilSpec, position: str, at: float = 0.0) -> None:
    """Receive a coil at the flat store's handover and carry it to `position` (the whole move, as events)."""
    yard.receive_coil(spec, "H-FS1", at=at, actor="test")
    move = yard.plan_move(spec.id, position, at=at, actor="test", purpose="putaway")
    yard.start_move(move.id, "C1", at=at, actor="test")
    yard.complete_move(move.id, at=at, actor="test")
