"""Small statistics the reports need: exact percentiles and a linear growth trend."""

from __future__ import annotations

import math
from typing import Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of values at or below.

    NOTE: no interpolation, on purpose: every figure in a report is a latency that a real
    request had, and the same log always gives the same figure.
    """
    if not sorted_values:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} must be in (0, 100]")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def share(part: int, whole: int) -> float:
    """part / whole rounded to 4 decimals; 0.0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def linear_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None with fewer than two distinct x values."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def days_until_full(points: Sequence[tuple[float, float]], capacity: float) -> float | None:
    """Days until y reaches capacity along the trend of (day, used) points.

    None when the trend is flat or shrinking (it never fills) or there is too little history.
    Counted from the last point, so a recent clean-up shows at once.
    """
    slope = linear_slope(points)
    if slope is None or slope <= 0:
        return None
    last_used = points[-1][1]
    return round(max(capacity - last_used, 0) / slope, 1)


def top(counts: dict[str, int], limit: int) -> list[dict[str, object]]:
    """The `limit` largest counts, largest first, ties by name."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"kind": kind, "count": count} for kind, count in ordered[:limit]]
