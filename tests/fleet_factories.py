"""Shared pieces for fleet tests that build small plants in code."""

from __future__ import annotations

from typing import Any


def agv_class() -> dict[str, Any]:
    """The plain AGV class of the generated test plants (a fresh dict: callers may add a battery)."""
    return {
        "id": "agv",
        "kind": "agv",
        "speed_empty": 1.5,
        "speed_loaded": 1.0,
        "acceleration": 0.3,
        "capacity": 30,
        "footprint": {"length": 6, "width": 2.8},
    }
