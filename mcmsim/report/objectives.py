"""A run's SLOs and objectives as a few readable lines (``mcmsim run`` and ``search``)."""

from __future__ import annotations

from rich.console import Console

from mcmsim.metrics.objectives import DEFAULT_OBJECTIVE
from mcmsim.metrics.results import Results

__all__ = ["print_objectives"]


def print_objectives(results: Results, console: Console) -> None:
    """One line per model with an SLO, then the objectives and each model's share."""
    for name, model in results.models.items():
        slo = model.slo
        if slo is None:
            continue
        standing = "met" if slo.met else "NOT met"
        console.print(
            f"SLO {name}: {slo.attainment:.2%} of {model.completed} requests within "
            f"{slo.latency_ms:g} ms (target {slo.percentile:g}%: {standing}); goodput "
            f"{slo.goodput_per_s:.4g} of {model.throughput_per_s:.4g} inferences/s"
        )
    objectives = results.objectives
    if objectives is None:
        return
    shares = ", ".join(
        f"{name} {m.normalized_throughput:.3g} of {m.reference_rate_per_s:.4g}/s ({m.reference})"
        for name, m in objectives.models.items()
        if m.normalized_throughput is not None
    )
    values = objectives.values

    def shown(key: str) -> str:
        value = values[key]
        return "-" if value is None else f"{value:.4g}"

    console.print(
        f"objectives: {DEFAULT_OBJECTIVE} {shown(DEFAULT_OBJECTIVE)} (default), "
        f"weighted_throughput {shown('weighted_throughput')}, "
        f"slo_goodput {shown('slo_goodput')}; per model, throughput / reference: {shares}"
    )
