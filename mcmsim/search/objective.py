"""Ranking evaluated schedules: an objective of :mod:`mcmsim.metrics.objectives`, then
latency constraints, for simulated results and analytical estimates alike.

The objectives themselves (``min_normalized_throughput``, the default, and
``weighted_throughput``, ``slo_goodput``, ``energy``, ``edp``, legacy ``throughput``)
are defined and documented in :mod:`mcmsim.metrics.objectives`, shared with
``compare`` and ``sweep``. Per-model latency constraints bound the p99 latency
(``{"resnet50": {"p99_ms": 5}}``); a schedule's *violation* is the sum over
constrained models of ``max(0, p99 / limit - 1)``. Ranking is lexicographic: feasible
before infeasible, then smaller violation, then the better objective — so a search with
an unreachable constraint still returns the schedule that comes closest to it. An
objective without a value (None or NaN) ranks last.

The same :class:`Score` is computed from simulator results (their ``objectives``,
with the simulated p99) and from analytical estimates (:func:`estimate_objectives`,
with the estimated mean latency standing in for p99 and for the SLO test — closed
streams have nearly deterministic latencies), so one ordering serves both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveFloat

from mcmsim.metrics.objectives import (
    ModelServed,
    ObjectiveContext,
    ObjectiveName,
    objective_spec,
    objective_values,
    sort_key,
)
from mcmsim.metrics.results import Results

__all__ = [
    "LatencyConstraint",
    "Objective",
    "Score",
    "estimate_objectives",
    "score_estimate",
    "score_results",
]

Objective = ObjectiveName


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
        """Sort key, larger is better (the objective as :func:`sort_key` orders it)."""
        return (self.feasible, -self.violation, sort_key(self.value, self.higher_is_better))


def _violation(
    latency_s: Mapping[str, float], constraints: Mapping[str, LatencyConstraint]
) -> float:
    total = 0.0
    for model, limit in constraints.items():
        latency = latency_s[model]
        total += max(0.0, latency / (limit.p99_ms * 1e-3) - 1.0) if math.isfinite(latency) else 1e9
    return total


def _value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def score_results(
    results: Results, objective: Objective, constraints: Mapping[str, LatencyConstraint]
) -> Score:
    """Score simulator :class:`~mcmsim.metrics.results.Results` (from :func:`mcmsim.simulate`,
    which sets their ``objectives``)."""
    spec = objective_spec(objective)
    assert results.objectives is not None, "results without objectives (use mcmsim.simulate)"
    p99 = {m: results.models[m].latency_s.p99 for m in constraints}
    return Score(
        _value(results.objectives.values[objective]),
        _violation(p99, constraints),
        spec.higher_is_better,
    )


def estimate_objectives(estimate: Any, context: ObjectiveContext) -> dict[str, float | None]:
    """Every objective of an :class:`~mcmsim.search.estimate.Estimate`.

    A model's goodput is its throughput when its estimated mean latency is within its
    latency target (or it has none), else zero.
    """
    served = {}
    for name, rate in estimate.model_throughput_per_s.items():
        target = context.models[name].latency_target_s
        good = target is None or estimate.latency_mean_s[name] <= target
        served[name] = ModelServed(rate, rate if good else 0.0)
    return objective_values(
        served,
        context,
        energy_per_inference_j=estimate.energy_per_inference_j,
        edp_j_s=estimate.edp_j_s,
    )


def score_estimate(
    estimate: Any,
    objective: Objective,
    constraints: Mapping[str, LatencyConstraint],
    context: ObjectiveContext,
) -> Score:
    """Score an :class:`~mcmsim.search.estimate.Estimate` (mean latency stands in for p99)."""
    spec = objective_spec(objective)
    return Score(
        _value(estimate_objectives(estimate, context)[objective]),
        _violation(estimate.latency_mean_s, constraints),
        spec.higher_is_better,
    )
