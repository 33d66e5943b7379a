"""Steady-state statistics: MSER warm-up truncation and batch-means confidence intervals.

MSER (White 1997; MSER-5 of White, Cobb and Spratt 2000) picks the truncation point
``d`` that minimises the standard error of the mean of what remains,
``sum((y_i - mean_d)^2) / (n - d)^2``, over batch means of the output series, searching
only the first half. The confidence interval of a rate uses the method of
non-overlapping batch means with Student's t.
"""

from __future__ import annotations

import numpy as np

__all__ = ["batch_means_ci", "mser_truncation"]


def mser_truncation(batch_means: np.ndarray) -> int:
    """Number of leading batches to discard (MSER over the given batch means).

    Returns 0 for series too short to judge (fewer than 4 batches).
    """
    y = np.asarray(batch_means, dtype=np.float64)
    n = len(y)
    if n < 4:
        return 0
    # Suffix sums give every candidate's mean and variance in O(n).
    suffix_sum = np.cumsum(y[::-1])[::-1]
    suffix_sq = np.cumsum((y * y)[::-1])[::-1]
    d = np.arange(n // 2)
    remaining = n - d
    mean = suffix_sum[d] / remaining
    sse = suffix_sq[d] - remaining * mean * mean
    return int(np.argmin(sse / remaining**2))


def batch_means_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the mean of ``values`` (one value per batch).

    With fewer than two batches the interval collapses to the single value.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return (0.0, 0.0)
    mean = float(v.mean())
    if len(v) < 2:
        return (mean, mean)
    from scipy import stats  # scipy.stats takes a second to import; most commands never need it

    half = float(stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return (mean - half, mean + half)
