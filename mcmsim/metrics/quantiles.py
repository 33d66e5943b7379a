"""Exact latency quantiles: the nearest-rank definition over every measured request.

The ``p``-th percentile of ``n`` latencies is the smallest latency such that at least
``p`` percent of them are at most it: the ``ceil(p n / 100)``-th smallest (numpy's
``method="inverted_cdf"``, Hyndman and Fan's definition 1). It is always one of the
measured latencies, so ``p50 <= p95 <= p99 <= max`` holds and identical latencies give
percentiles equal to their mean exactly. The rank is computed in integers, so no
rounding of ``0.95 * n`` moves it.
"""

from __future__ import annotations

import numpy as np

from mcmsim.metrics.results import LatencySummary
from mcmsim.units import S_PER_PS

__all__ = ["latency_summary", "nearest_rank_ps"]


def nearest_rank_ps(sorted_ps: np.ndarray, percent: int) -> int:
    """The ``percent``-th percentile (nearest rank) of ascending latencies; 0 if empty.

    Raises
    ------
    ValueError
        If ``percent`` is not an integer in 1..100.
    """
    if not 1 <= percent <= 100:
        raise ValueError(f"percent {percent!r}: expected an integer in 1..100")
    n = len(sorted_ps)
    if n == 0:
        return 0
    rank = -(-percent * n // 100)  # ceil in integers
    return int(sorted_ps[rank - 1])


def latency_summary(latencies_ps: np.ndarray) -> LatencySummary:
    """Mean, p50, p95, p99 and max of integer-picosecond latencies, in seconds."""
    ordered = np.sort(np.asarray(latencies_ps, np.int64))
    if len(ordered) == 0:
        return LatencySummary(mean=0.0, p50=0.0, p95=0.0, p99=0.0, max=0.0)
    # An integer sum (exact to 9.2e18 ps) makes the mean of equal latencies equal to them.
    mean_ps = int(ordered.sum()) / len(ordered)
    return LatencySummary(
        mean=mean_ps * S_PER_PS,
        p50=nearest_rank_ps(ordered, 50) * S_PER_PS,
        p95=nearest_rank_ps(ordered, 95) * S_PER_PS,
        p99=nearest_rank_ps(ordered, 99) * S_PER_PS,
        max=int(ordered[-1]) * S_PER_PS,
    )
