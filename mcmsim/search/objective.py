"""Objectives and latency constraints: how the search ranks two evaluated schedules.

An objective is one number of a run's results: ``throughput`` (inferences per second,
higher is better), ``energy`` (joules per inference, lower is better) or ``edp``
(energy-delay product, lower is better). Per-model latency constraints bound the p99
latency (``{"resnet50": {"p99_ms": 5}}``); a schedule's *violation* is the sum over
constrained models of ``max(0, p99 / limit - 1)``. Ranking is lexicographic: feasible
before infeasible, then smaller violation, then the better objective — so a search with
an unreachable constraint still returns the schedule that comes closest to it.

The same :class:`Score` is computed from simulator results (with the simulated p99)
and from analytical estimates (with the estimated mean latency standing in for p99 —
closed streams have nearly deterministic latencies), so one ordering serves both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PositiveFloat

from mcmsim.metrics.results import Results

__all__ = [
    "OBJECTIVES",
    "LatencyConstraint",
    "Objective",
    "Score",
    "score_estimate",
    "score_results",
]

Objective = Literal["throughput", "energy", "edp"]
OBJECTIVES: dict[str, tuple[str, str, bool]] = {
    # name: (attribute of Results and of Estimate, unit, higher is better)
    "throughput": ("throughput_per_s", "inferences/s", True),
    "energy": ("energy_per_inference_j", "J/inference", False),
    "edp": ("edp_j_s", "J*s", False),
}


class LatencyConstraint(BaseModel):
    """A bound on one model's p99 latency, in milliseconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    p99_ms: PositiveFloat


@dataclass(frozen=True, slots=True)
class Score:
    """An evaluated schedule's objective value and constraint standing."""

    value: float
    violation: float
    higher_is_better: bool

    @property
    def feasible(self) -> bool:
        return self.violation <= 0.0

    @property
    def key(self) -> tuple[bool, float, float]:
        """Sort key, larger is better."""
        value = (
            self.value if math.isfinite(self.value) else (math.inf if self.value > 0 else -math.inf)
        )
        signed = value if self.higher_is_better else -value
        if math.isnan(signed):
            signed = -math.inf
        return (self.feasible, -self.violation, signed)


def _violation(
    latency_s: Mapping[str, float], constraints: Mapping[str, LatencyConstraint]
) -> float:
    total = 0.0
    for model, limit in constraints.items():
        latency = latency_s[model]
        total += max(0.0, latency / (limit.p99_ms * 1e-3) - 1.0) if math.isfinite(latency) else 1e9
    return total


def score_results(
    results: Results, objective: Objective, constraints: Mapping[str, LatencyConstraint]
) -> Score:
    """Score simulator :class:`~mcmsim.metrics.results.Results`."""
    key, _, higher = OBJECTIVES[objective]
    p99 = {m: results.models[m].latency_s.p99 for m in constraints}
    return Score(float(getattr(results, key)), _violation(p99, constraints), higher)


def score_estimate(
    estimate: Any, objective: Objective, constraints: Mapping[str, LatencyConstraint]
) -> Score:
    """Score an :class:`~mcmsim.search.estimate.Estimate` (mean latency stands in for p99)."""
    key, _, higher = OBJECTIVES[objective]
    return Score(
        float(getattr(estimate, key)),
        _violation(estimate.latency_mean_s, constraints),
        higher,
    )
