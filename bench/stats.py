"""Percentiles and summaries of timing samples (nearest rank, as bench/load.py)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty ascending list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Summary:
    """Milliseconds (or microseconds: whatever unit the samples were in)."""

    n: int
    p50: float
    p99: float
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        return cls(
            n=len(ordered),
            p50=statistics.median(ordered),
            p99=percentile(ordered, 0.99),
            mean=statistics.fmean(ordered),
            low=ordered[0],
            high=ordered[-1],
        )


def ratio(value: float, base: float) -> float:
    return value / base if base > 0 else math.inf
