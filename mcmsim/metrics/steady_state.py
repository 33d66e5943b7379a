"""Steady-state statistics: MSER warm-up truncation and batch-means confidence intervals.

MSER (White 1997; MSER-5 of White, Cobb and Spratt 2000) picks the truncation point
``d`` that minimises the standard error of the mean of what remains,
``sum((y_i - mean_d)^2) / (n - d)^2``, over batch means of the output series, searching
only the first half (and no further than the caller allows, so a cut never leaves a
model fewer completions than the stopping rule guaranteed).

The confidence interval of a rate uses non-overlapping batch means: the window is split
into ``n`` consecutive batches of ``I_i`` inferences in ``T_i`` seconds, the rate is the
ratio estimator ``R = sum I / sum T``, and its standard error
``se = sqrt(sum (I_i - R T_i)^2 / (n (n - 1))) / mean(T)``. The interval is built on the
log scale, ``R exp(+-t_{n-1} se / R)`` with Student's t: a rate is positive and its
error multiplicative, so the interval never has a negative bound and always contains
``R``. With fewer than :data:`MIN_CI_BATCHES` batches there is no interval (the caller
says so) rather than one resting on a handful of values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_CI_BATCHES", "RateInterval", "mser_truncation", "rate_ci"]

MIN_CI_BATCHES = 10


def mser_truncation(batch_means: np.ndarray, max_cut: int | None = None) -> int:
    """Number of leading batches to discard (MSER over the given batch means).

    Searches cuts ``0 .. min(n // 2, max_cut + 1) - 1``. Returns 0 for series too
    short to judge (fewer than 4 batches).
    """
    y = np.asarray(batch_means, dtype=np.float64)
    n = len(y)
    if n < 4:
        return 0
    # Suffix sums give every candidate's mean and variance in O(n).
    suffix_sum = np.cumsum(y[::-1])[::-1]
    suffix_sq = np.cumsum((y * y)[::-1])[::-1]
    limit = n // 2 if max_cut is None else max(min(n // 2, max_cut + 1), 1)
    d = np.arange(limit)
    remaining = n - d
    mean = suffix_sum[d] / remaining
    sse = suffix_sq[d] - remaining * mean * mean
    return int(np.argmin(sse / remaining**2))


@dataclass(frozen=True, slots=True)
class RateInterval:
    """A 95% interval of a rate, or why there is none (``bounds`` None, ``note`` set)."""

    bounds: tuple[float, float] | None
    note: str | None


def rate_ci(
    counts: np.ndarray, durations_s: np.ndarray, rate: float, confidence: float = 0.95
) -> RateInterval:
    """Log-scale batch-means interval around ``rate`` from per-batch counts and durations.

    ``rate`` is the point estimate the interval is centred on (on the log scale); it is
    normally ``counts.sum() / durations_s.sum()`` over the same window.
    """
    counts = np.asarray(counts, np.float64)
    durations = np.asarray(durations_s, np.float64)
    n = len(counts)
    if n < MIN_CI_BATCHES:
        return RateInterval(None, f"{n} batches")
    if rate <= 0 or counts.sum() <= 0:
        return RateInterval(None, "no completions")
    ratio = counts.sum() / durations.sum()
    residuals = counts - ratio * durations
    se = math.sqrt(float(residuals @ residuals) / (n * (n - 1))) / float(durations.mean())
    # Student's t quantile from scipy.special: a quarter of scipy.stats' import time.
    from scipy.special import stdtrit

    half_log = float(stdtrit(n - 1, 0.5 + confidence / 2)) * se / ratio
    return RateInterval((rate * math.exp(-half_log), rate * math.exp(half_log)), None)
