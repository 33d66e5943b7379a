"""Objectives: the named numbers that rank schedules, shared by compare, sweep and search.

Adding up inferences of different models (GPT-2 prompts, ResNet frames, BERT queries)
gives a number in no unit, and ranking by it rewards serving the cheapest model and
starving the others. Every objective here is either per model first and then combined
in a way a starved model cannot win, or a cost per inference:

``min_normalized_throughput`` (default, higher is better)
    ``min_m served_m / reference_m``: the share of its reference rate that the
    worst-served model gets. A model's *reference rate* (inferences/s) is what it asks
    for or could get at best: the offered rate of an open stream (poisson, gamma,
    periodic, trace), and for a closed stream (and in batch mode) the most that model
    alone could be served on the whole package — the LP bound of
    :func:`mcmsim.search.bound.throughput_bound` for that model alone with its own
    in-flight count. A schedule that starves any model scores about 0. It is the
    fairness floor of multi-program performance metrics (Eyerman and Eeckhout,
    "System-level performance metrics for multiprogram workloads", IEEE Micro 2008).
``weighted_throughput`` (higher is better)
    ``sum_m weight_m * served_m / reference_m`` over ``sum_m weight_m``: the weighted
    mean normalised throughput (system throughput, STP, with weights). Each term is at
    most about 1, so a starved model costs its weight's share; it still lets a schedule
    trade one model against another, which is what the per-workload ``weight`` (default
    1) is for.
``slo_goodput`` (higher is better)
    ``min_m goodput_m / reference_m``, where ``goodput_m`` is model ``m``'s inferences
    per second whose request met its latency target (``workloads.slo.latency_ms``); a
    model without an SLO counts every inference. At most ``min_normalized_throughput``.
``energy`` (lower is better)
    Joules per inference (``energy_per_inference_j``), static energy included.
``edp`` (lower is better)
    Energy-delay product (``edp_j_s``): stream mode, J per inference x mean latency;
    batch mode, scenario energy x makespan.
``throughput`` (legacy, higher is better)
    The raw sum of inferences/s over all models (``throughput_sum_all_models_per_s``).
    It adds unlike units and a starved model can win it; asking for it by name still
    works, with a :class:`GameableObjectiveWarning`, and nothing uses it by default.

**Comparing runs on different hardware.** A closed model's reference is the best rate
*that package* could give it, so values in one results.json measure a schedule
against its own package. To compare runs of different packages or streams on one
yardstick, ``compare`` and ``sweep`` rescale (:func:`common_objective_values`): each
model's reference is the largest of its references over the runs compared (the best
any of those packages could do for it alone, or the highest offered rate). When every
run has the same scenario this changes nothing, so ``compare``, ``sweep`` and
``search`` rank the schedules of one scenario identically.

``energy`` and ``edp`` are averages over the served mix, so a schedule that serves
more of a cheap model lowers them; read them next to ``min_normalized_throughput``.
Models without a finite positive reference rate are left out of the normalised
objectives (they have no demand to be measured against).

**SLOs.** A workload may declare ``slo = { latency_ms = 50, percentile = 99 }``. A
request is good when :func:`mcmsim.metrics.slo.within_target` holds for its latency;
the collector counts good requests as they complete, so *attainment* is the share of
measured requests within target, the SLO is met when attainment >= percentile / 100 (the same as the
``percentile``-th latency being within target), and goodput = throughput x attainment.

**Ranking** (:mod:`mcmsim.search.objective`): latency constraints first (feasible
before infeasible, then smaller violation), then the objective; ties keep the earlier
candidate.

**Ties** (:func:`tied_with_best`, used by ``compare`` and the sweep's best points): a
simulated value is an estimate, so a runner-up is *tied* with the best when it is
within :data:`TIE_RELATIVE_TOLERANCE` (1%) of it, or, when confidence half-widths are
known, when the two 95% intervals overlap. Reports then say "tie" and list every tied
candidate instead of naming one winner.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mcmsim.metrics.results import NormalizedModel, ObjectiveResults, ReadOnlyMap, Results

__all__ = [
    "DEFAULT_OBJECTIVE",
    "LEGACY_OBJECTIVES",
    "OBJECTIVES",
    "TIE_RELATIVE_TOLERANCE",
    "GameableObjectiveWarning",
    "ModelReference",
    "ModelServed",
    "ObjectiveContext",
    "ObjectiveName",
    "ObjectiveSpec",
    "best_index",
    "common_objective_half_widths",
    "common_objective_values",
    "common_reference_rates",
    "objective_spec",
    "objective_values",
    "resolve_objective",
    "results_objectives",
    "sort_key",
    "throughput_ci95",
    "tied_with_best",
]


class GameableObjectiveWarning(UserWarning):
    """An objective a schedule can win by starving a model was asked for by name."""


@dataclass(frozen=True, slots=True)
class ObjectiveSpec:
    """One named objective: its column name in tables and CSVs, unit and direction."""

    name: str
    column: str
    unit: str
    higher_is_better: bool
    title: str


OBJECTIVES: Mapping[str, ObjectiveSpec] = {
    spec.name: spec
    for spec in (
        ObjectiveSpec(
            "min_normalized_throughput",
            "min_normalized_throughput",
            "share of reference rate",
            True,
            "worst model's throughput / reference rate",
        ),
        ObjectiveSpec(
            "weighted_throughput",
            "weighted_throughput",
            "share of reference rate",
            True,
            "weighted mean of throughput / reference rate",
        ),
        ObjectiveSpec(
            "slo_goodput",
            "slo_goodput",
            "share of reference rate",
            True,
            "worst model's goodput / reference rate",
        ),
        ObjectiveSpec(
            "energy", "energy_per_inference_j", "J/inference", False, "energy per inference"
        ),
        ObjectiveSpec("edp", "edp_j_s", "J*s", False, "energy-delay product"),
    )
}
LEGACY_OBJECTIVES: Mapping[str, ObjectiveSpec] = {
    "throughput": ObjectiveSpec(
        "throughput",
        "throughput_per_s",
        "inferences/s (all models added)",
        True,
        "sum of inferences/s over all models",
    )
}
DEFAULT_OBJECTIVE = "min_normalized_throughput"
# Every name an ``objective`` parameter accepts, legacy ones last.
ObjectiveName = Literal[
    "min_normalized_throughput", "weighted_throughput", "slo_goodput", "energy", "edp", "throughput"
]


def sort_key(value: float | None, higher_is_better: bool) -> float:
    """``value`` as a number where larger is better; no value (None, NaN) is worst."""
    if value is None or math.isnan(value):
        return -math.inf
    return value if higher_is_better else -value


def best_index(values: Sequence[float | None], objective: str) -> int | None:
    """Index of the best of ``values`` of ``objective``; ties go to the first; None if empty."""
    higher = objective_spec(objective).higher_is_better
    if not values:
        return None
    return max(range(len(values)), key=lambda i: sort_key(values[i], higher))


TIE_RELATIVE_TOLERANCE = 0.01
"""Relative difference from the best below which a candidate is tied with it."""


def tied_with_best(
    values: Sequence[float | None],
    objective: str,
    half_widths: Sequence[float | None] | None = None,
    rel_tol: float = TIE_RELATIVE_TOLERANCE,
) -> list[int]:
    """Indices of the best value and of every value tied with it, best first.

    Tied: within ``rel_tol`` of the best (relative to the best's magnitude), or, where
    ``half_widths`` gives both a 95% half-width, with overlapping intervals. No value
    (None, NaN) is never tied. Empty ``values`` give ``[]``.

    Raises
    ------
    ValueError
        If ``objective`` is unknown.
    """
    best = best_index(values, objective)
    if best is None or values[best] is None or math.isnan(values[best]):  # type: ignore[arg-type]
        return [] if best is None else [best]
    top = float(values[best])  # type: ignore[arg-type]
    widths = list(half_widths) if half_widths is not None else [None] * len(values)
    tied = [best]
    for i, value in enumerate(values):
        if i == best or value is None or math.isnan(value):
            continue
        gap = abs(value - top)
        close = gap <= rel_tol * abs(top)
        if widths[i] is not None and widths[best] is not None:
            close = close or gap <= widths[i] + widths[best]  # type: ignore[operator]
        if close:
            tied.append(i)
    return tied


def objective_spec(name: str) -> ObjectiveSpec:
    """The objective called ``name``, legacy names included, without a warning.

    Raises
    ------
    ValueError
        If no objective has that name.
    """
    spec = OBJECTIVES.get(name) or LEGACY_OBJECTIVES.get(name)
    if spec is None:
        known = ", ".join([*OBJECTIVES, *LEGACY_OBJECTIVES])
        raise ValueError(f"unknown objective {name!r}; known: {known}")
    return spec


def resolve_objective(name: str) -> ObjectiveSpec:
    """The objective called ``name``; the legacy ``throughput`` warns that it is gameable.

    Raises
    ------
    ValueError
        If no objective has that name.
    """
    spec = objective_spec(name)
    if name in LEGACY_OBJECTIVES:
        warnings.warn(
            "objective 'throughput' adds inferences/s of different models and a schedule "
            f"that starves a model can win it; use {DEFAULT_OBJECTIVE!r} (the default)",
            GameableObjectiveWarning,
            stacklevel=2,
        )
    return spec


@dataclass(frozen=True, slots=True)
class ModelReference:
    """What one model is measured against: its reference rate, weight and latency target.

    ``basis`` says where the rate comes from (``"offered"`` or ``"isolated bound"``).
    """

    reference_per_s: float
    basis: str
    weight: float = 1.0
    latency_target_s: float | None = None


@dataclass(frozen=True, slots=True)
class ObjectiveContext:
    """The references of every model of a scenario (built by :mod:`mcmsim.search.reference`)."""

    models: Mapping[str, ModelReference]


@dataclass(frozen=True, slots=True)
class ModelServed:
    """What a run (or an estimate) served of one model, inferences per second."""

    throughput_per_s: float
    goodput_per_s: float


def _normalized(served: Mapping[str, float], context: ObjectiveContext) -> dict[str, float]:
    return {
        name: served[name] / ref.reference_per_s
        for name, ref in context.models.items()
        if name in served and math.isfinite(ref.reference_per_s) and ref.reference_per_s > 0
    }


def objective_values(
    served: Mapping[str, ModelServed],
    context: ObjectiveContext,
    *,
    energy_per_inference_j: float,
    edp_j_s: float,
) -> dict[str, float | None]:
    """Every objective of :data:`OBJECTIVES` (and the legacy ``throughput``) by name.

    A normalised objective with no model to normalise is None (ranked last).
    """
    throughput = _normalized({m: s.throughput_per_s for m, s in served.items()}, context)
    goodput = _normalized({m: s.goodput_per_s for m, s in served.items()}, context)
    weights = {m: context.models[m].weight for m in throughput}
    total_weight = sum(weights.values())
    return {
        "min_normalized_throughput": min(throughput.values(), default=None),
        "weighted_throughput": (
            sum(weights[m] * x for m, x in throughput.items()) / total_weight
            if total_weight
            else None
        ),
        "slo_goodput": min(goodput.values(), default=None),
        "energy": energy_per_inference_j,
        "edp": edp_j_s,
        "throughput": sum(s.throughput_per_s for s in served.values()),
    }


def results_objectives(results: Results, context: ObjectiveContext) -> ObjectiveResults:
    """The objectives of a simulated run, and each model against its reference rate."""
    served = {
        name: ModelServed(
            m.throughput_per_s, m.slo.goodput_per_s if m.slo is not None else m.throughput_per_s
        )
        for name, m in results.models.items()
    }
    models = {}
    for name, s in served.items():
        ref = context.models[name]
        usable = math.isfinite(ref.reference_per_s) and ref.reference_per_s > 0
        models[name] = NormalizedModel(
            reference_rate_per_s=ref.reference_per_s if usable else None,
            reference=ref.basis,
            weight=ref.weight,
            normalized_throughput=s.throughput_per_s / ref.reference_per_s if usable else None,
            normalized_goodput=s.goodput_per_s / ref.reference_per_s if usable else None,
        )
    values = objective_values(
        served,
        context,
        energy_per_inference_j=results.energy_per_inference_j,
        edp_j_s=results.edp_j_s,
    )
    return ObjectiveResults(ReadOnlyMap(values), ReadOnlyMap(models))


def common_reference_rates(runs: Sequence[Mapping[str, Any] | None]) -> dict[str, float]:
    """Each model's largest reference rate over ``runs`` (results.json dicts)."""
    common: dict[str, float] = {}
    for run in runs:
        for name, model in ((run or {}).get("objectives") or {}).get("models", {}).items():
            rate = model.get("reference_rate_per_s")
            if rate is not None:
                common[name] = max(common.get(name, 0.0), rate)
    return common


def common_objective_values(runs: Sequence[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """Objective values of results.json dicts against common references (see above).

    Each model's reference is the largest of its reference rates over ``runs``; a run
    without objectives (None, or stored before they existed) gets an empty dict.
    """
    common = common_reference_rates(runs)
    values: list[dict[str, Any]] = []
    for run in runs:
        objectives = (run or {}).get("objectives")
        if not objectives:
            values.append({})
            continue
        served, references = {}, {}
        for name, model in run["models"].items():
            slo = model.get("slo")
            rate = model["throughput_per_s"]
            served[name] = ModelServed(rate, slo["goodput_per_s"] if slo else rate)
            own = objectives["models"][name]
            references[name] = ModelReference(
                common.get(name, math.nan), own["reference"], own["weight"]
            )
        values.append(
            objective_values(
                served,
                ObjectiveContext(references),
                energy_per_inference_j=run["energy_per_inference_j"],
                edp_j_s=run["edp_j_s"],
            )
        )
    return values


def throughput_ci95(model: Mapping[str, Any]) -> tuple[float, float] | None:
    """A results.json model's 95% throughput interval, or None when it has none that
    describes a steady state (no interval, ``steady_state: false``, or the empty
    ``(0, 0)`` of a run without batches, such as batch mode)."""
    interval = model.get("throughput_ci95_per_s")
    if not interval or model.get("steady_state") is False:
        return None
    low, high = interval
    if not high >= low or (high == low == 0 and model["throughput_per_s"] > 0):
        return None
    return float(low), float(high)


def _throughput_half_width(model: Mapping[str, Any]) -> float | None:
    interval = throughput_ci95(model)
    return None if interval is None else (interval[1] - interval[0]) / 2


def common_objective_half_widths(
    runs: Sequence[Mapping[str, Any] | None],
) -> list[dict[str, float | None]]:
    """95% half-widths of the normalised objectives of results.json dicts, against the
    common references of :func:`common_objective_values` (for :func:`tied_with_best`).

    Derived from each model's throughput interval: ``min_normalized_throughput`` takes
    the worst-served model's half-width over its reference, ``slo_goodput`` the same
    scaled by that model's SLO attainment, and ``weighted_throughput`` the weighted mean
    of the models' normalised half-widths (an upper bound whatever the correlation
    between models). A value is None when a model it depends on has no steady-state
    interval, and always for ``energy`` and ``edp`` (no interval is measured), so those
    tie only within :data:`TIE_RELATIVE_TOLERANCE`.
    """
    common = common_reference_rates(runs)
    widths: list[dict[str, float | None]] = []
    for run in runs:
        shares: dict[str, tuple[float, float, float | None]] = {}
        objectives = (run or {}).get("objectives") or {}
        for name, model in (run or {}).get("models", {}).items() if objectives else ():
            reference = common.get(name, math.nan)
            if not (math.isfinite(reference) and reference > 0):
                continue
            slo = model.get("slo")
            attainment = slo["attainment"] if slo else 1.0
            half = _throughput_half_width(model)
            shares[name] = (
                model["throughput_per_s"] / reference,
                model["throughput_per_s"] * attainment / reference,
                None if half is None else half / reference,
            )
        entry: dict[str, float | None] = {name: None for name in OBJECTIVES}
        if shares:
            worst = min(shares, key=lambda m: shares[m][0])
            worst_good = min(shares, key=lambda m: shares[m][1])
            entry["min_normalized_throughput"] = shares[worst][2]
            good = shares[worst_good]
            if good[2] is not None and good[0] > 0:
                entry["slo_goodput"] = good[2] * good[1] / good[0]
            weights = {m: objectives["models"][m]["weight"] for m in shares}
            halves = [shares[m][2] for m in shares]
            if all(h is not None for h in halves) and sum(weights.values()):
                entry["weighted_throughput"] = sum(
                    weights[m] * shares[m][2]
                    for m in shares  # type: ignore[operator]
                ) / sum(weights.values())
        widths.append(entry)
    return widths
