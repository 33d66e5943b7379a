"""The stability rule: is an open stream served at the rate it is offered?

An open stream (Poisson, gamma, periodic, trace) offers requests at a rate the schedule
does not choose. If the schedule serves them more slowly, the backlog grows without
bound, the run never reaches a steady state, and its throughput, confidence interval and
latency quantiles describe only how long the run happened to last. A closed stream keeps
a fixed number of requests in flight, so its backlog is bounded by construction: the
rule does not apply to it (``stable`` is ``None``).

**The rule.** Over the whole run, from time zero (empty) to the end ``T``, let ``lam``
be the stream's offered rate (requests/s), ``C`` its completed requests and ``N`` its
requests still in system at the end. The run's arrivals would number ``lam T`` on
average, with a standard deviation of ``sqrt(lam T)`` for Poisson arrivals. The stream
is **unstable** when both

1. the *deficit* ``lam T - C`` (offered less served) exceeds ``k sqrt(lam T)``, and
2. the *backlog growth* ``N - 0`` exceeds ``k sqrt(lam T)``,

with ``k = 3`` (:data:`STABILITY_K`); otherwise it is stable. Under overload both grow
linearly in ``T`` while the allowance grows as ``sqrt(T)``, so a long enough run always
detects it; for a stable queue the backlog stays bounded, so a false alarm becomes ever
less likely as the run grows. Requiring both keeps a stable stream from being flagged
when its arrivals merely ran low (deficit without backlog: the Poisson allowance is too
tight for bursty gamma streams, and a trace may start late or end early) or when the
run ended inside a burst (backlog, but served matched what arrived). Overloads within
a few ``sqrt(lam T)`` of the capacity cannot be told from noise in a finite run.

The whole run is judged, not the window after warm-up, because the warm-up cut (MSER)
assumes a stationary output and picks an arbitrary cut on a trending one. So when any
open stream is unstable, the summary cuts no warm-up, and every model's confidence
interval and quantiles are marked ``steady_state: false``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["STABILITY_K", "StabilityVerdict", "judge_open_stream"]

STABILITY_K = 3.0


@dataclass(frozen=True, slots=True)
class StabilityVerdict:
    """The rule's inputs and outcome for one open stream (counts in requests)."""

    stable: bool
    deficit_requests: float
    backlog_growth_requests: int
    allowance_requests: float


def judge_open_stream(
    offered_requests_per_s: float, span_s: float, completed: int, in_system_at_end: int
) -> StabilityVerdict:
    """Judge an open stream over a run of ``span_s`` seconds that started empty.

    Raises
    ------
    ValueError
        If the offered rate or the span is negative.
    """
    if offered_requests_per_s < 0 or span_s < 0:
        raise ValueError(
            f"offered rate {offered_requests_per_s!r}/s over {span_s!r} s: expected >= 0"
        )
    expected = offered_requests_per_s * span_s
    allowance = STABILITY_K * math.sqrt(max(expected, 1.0))
    deficit = expected - completed
    unstable = deficit > allowance and in_system_at_end > allowance
    return StabilityVerdict(
        stable=not unstable,
        deficit_requests=deficit,
        backlog_growth_requests=in_system_at_end,
        allowance_requests=allowance,
    )
