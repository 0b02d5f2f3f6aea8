"""Drawing numbers from the scenario's distributions with a numpy random generator."""

from __future__ import annotations

import math

import numpy as np

from simulation.scenario import Constant, Distribution, Exponential, Lognormal, Normal, Triangular, Uniform

_MAX_REDRAWS = 100


def draw(value: float | Distribution, rng: np.random.Generator) -> float:
    """One draw; a plain number is a constant."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Constant):
        return value.value
    if isinstance(value, Exponential):
        return float(rng.exponential(value.mean))
    if isinstance(value, Uniform):
        return float(rng.uniform(value.low, value.high))
    if isinstance(value, Triangular):
        return float(rng.triangular(value.low, value.mode, value.high))
    if isinstance(value, Lognormal):
        sigma2 = math.log(1.0 + (value.sd / value.mean) ** 2)
        return float(rng.lognormal(math.log(value.mean) - sigma2 / 2.0, math.sqrt(sigma2)))
    return _normal(value, rng)


def _normal(value: Normal, rng: np.random.Generator) -> float:
    low = value.low if value.low is not None else -math.inf
    high = value.high if value.high is not None else math.inf
    for _ in range(_MAX_REDRAWS):
        x = float(rng.normal(value.mean, value.sd))
        if low <= x <= high:
            return x
    return min(max(value.mean, low), high)


def mean_of(value: float | Distribution) -> float:
    """The distribution's mean (for documentation and the analytic checks)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Constant):
        return value.value
    if isinstance(value, Exponential | Lognormal):
        return value.mean
    if isinstance(value, Uniform):
        return (value.low + value.high) / 2.0
    if isinstance(value, Triangular):
        return (value.low + value.mode + value.high) / 3.0
    return value.mean


def draw_choice(weights: dict[str, float], rng: np.random.Generator) -> str:
    """A key of `weights`, with probability proportional to its weight (keys in sorted order)."""
    keys = sorted(weights)
    if len(keys) == 1:
        return keys[0]
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]
