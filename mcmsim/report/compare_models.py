"""The per-model view of a comparison: which schedule serves each model best, and why.

A package-level sum hides the model a schedule starves, so ``compare`` also answers per
model. For each model, one row per compared run (:func:`model_rows`):

``stream``
    ``"open"`` (offered a rate), ``"closed"`` (a fixed number in flight) or ``"batch"``.
``offered_per_s``
    An open stream's offered rate in inferences/s (None for a closed stream and in batch
    mode, where nothing is offered over time), as results.json reports it.
``served_per_s`` and ``served_ci95_low_per_s`` / ``served_ci95_high_per_s``
    Inferences/s in the measured window and its 95% interval (None when the run has
    none, or the run is not in a steady state: see
    :func:`~mcmsim.metrics.objectives.throughput_ci95`).
``served_share_of_offered``
    served / offered for an open stream.
``normalized_throughput``
    served / the model's reference rate, common to all runs compared (the per-model
    term of :mod:`mcmsim.metrics.objectives`).
``latency_p99_s``, ``slo_latency_s``, ``slo_attainment``, ``slo_met``
    The model's p99 request latency and, when the workload declares an SLO, its target,
    the share of requests within it and whether the SLO is met.
``deadline_miss_rate``
    Share of frames late or dropped, for a model with frame deadlines.
``stable``, ``steady_state``
    Whether an open stream is served at its offered rate, and whether the run's
    intervals describe a steady state (:mod:`mcmsim.metrics.stability`).

**Who serves a model best** (:func:`model_verdict`): the runs whose served rate is
tied with the highest (:func:`~mcmsim.metrics.objectives.tied_with_best`: within 1% or
overlapping 95% intervals), then among those the one where the model is stable, whose
run is in a steady state (its numbers describe one), that meets the SLO, misses the
fewest deadlines and has the lowest p99, in that order. The *why* line names the run's
rate against what was offered, the busiest of the chiplets the model runs on (share of
time held, and computing), the busiest NoP link or DRAM interface (bytes moved over
capacity x time) and what binds the run's bound (results.json's ``bound.binding``: the
throughput LP's in stream mode, the makespan bound's in batch mode).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcmsim.metrics.objectives import common_reference_rates, throughput_ci95, tied_with_best

if TYPE_CHECKING:
    from matplotlib.figure import SubFigure

    from mcmsim.report.compare import Run
__all__ = [
    "MODEL_FIELDS",
    "ModelVerdict",
    "draw_model_panels",
    "model_rows",
    "model_verdict",
    "print_models",
    "why_line",
]

MODEL_FIELDS = (
    "stream",
    "offered_per_s",
    "served_per_s",
    "served_ci95_low_per_s",
    "served_ci95_high_per_s",
    "served_share_of_offered",
    "normalized_throughput",
    "latency_p99_s",
    "slo_latency_s",
    "slo_attainment",
    "slo_met",
    "deadline_miss_rate",
    "stable",
    "steady_state",
)
"""Each run's per-model fields, in CSV order (CSV columns ``models.<name>.<field>``)."""

# The served rate is compared on its own scale; "throughput" only gives the direction.
_HIGHER_IS_BETTER = "throughput"


def _fields(
    run: Run, name: str, model: Mapping[str, Any], reference: float | None
) -> dict[str, Any]:
    offered, served = model["offered_per_s"], model["served_per_s"]
    interval = throughput_ci95(model) or (None, None)
    slo, deadline = model.get("slo"), model.get("deadline")
    batch = run.scenario.spec.simulation.mode == "batch"
    return {
        "stream": "batch" if batch else "closed" if offered is None else "open",
        "offered_per_s": offered,
        "served_per_s": served,
        "served_ci95_low_per_s": interval[0],
        "served_ci95_high_per_s": interval[1],
        "served_share_of_offered": served / offered if offered else None,
        "normalized_throughput": served / reference if reference else None,
        "latency_p99_s": model["latency_s"]["p99"],
        "slo_latency_s": slo["latency_ms"] * 1e-3 if slo else None,
        "slo_attainment": slo["attainment"] if slo else None,
        "slo_met": slo["met"] if slo else None,
        "deadline_miss_rate": deadline["miss_rate"] if deadline else None,
        "stable": model["stable"],
        "steady_state": model["steady_state"],
    }


def model_rows(runs: Sequence[Run], datas: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per run (in order), each of its models' fields (:data:`MODEL_FIELDS`) by name.

    ``datas`` are the runs' results.json dicts.
    """
    references = common_reference_rates(datas)
    return [
        {
            name: _fields(run, name, model, references.get(name))
            for name, model in data["models"].items()
        }
        for run, data in zip(runs, datas, strict=True)
    ]


@dataclass(frozen=True)
class ModelVerdict:
    """Which runs serve one model best: ``runs`` are the indices (into the compared runs)
    that have the model, ``tied`` those tied on served rate (best rate first) and
    ``best`` the one that serves it best (see the module docstring)."""

    model: str
    runs: tuple[int, ...]
    tied: tuple[int, ...]
    best: int


def _half_width(fields: Mapping[str, Any]) -> float | None:
    low, high = fields["served_ci95_low_per_s"], fields["served_ci95_high_per_s"]
    return None if low is None or high is None else (high - low) / 2


def model_verdict(name: str, per_run: Sequence[Mapping[str, Mapping[str, Any]]]) -> ModelVerdict:
    """Who serves model ``name`` best among the runs of :func:`model_rows` that have it.

    Raises
    ------
    ValueError
        If no run has the model.
    """
    runs = tuple(i for i, models in enumerate(per_run) if name in models)
    if not runs:
        raise ValueError(f"no compared run has a model {name!r}")
    fields = [per_run[i][name] for i in runs]
    tied = tied_with_best(
        [f["served_per_s"] for f in fields], _HIGHER_IS_BETTER, [_half_width(f) for f in fields]
    )

    def serves_better(k: int) -> tuple[bool, bool, bool, float, float]:
        f = fields[k]
        return (
            f["stable"] is False,
            f["steady_state"] is False,
            f["slo_met"] is False,
            f["deadline_miss_rate"] or 0.0,
            f["latency_p99_s"],
        )

    best = min(tied, key=serves_better)
    return ModelVerdict(name, runs, tuple(runs[k] for k in tied), runs[best])


def _rate(value: float) -> str:
    return f"{value:.4g}/s"


def why_line(
    verdict: ModelVerdict,
    per_run: Sequence[Mapping[str, Mapping[str, Any]]],
    runs: Sequence[Run],
    datas: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
) -> str:
    """One sentence: who serves the model best, at what rate and latency, and what binds."""
    name, best = verdict.model, verdict.best
    f = per_run[best][name]
    data = datas[best]
    offered = f["offered_per_s"]
    parts = [f"{name}: served best by {labels[best]}, {_rate(f['served_per_s'])}"]
    if offered is None:
        parts[-1] += f" ({f['stream']})" if f["stream"] == "batch" else " (closed stream)"
    else:
        keeps_up = f["served_share_of_offered"] >= 0.99
        parts[-1] += f" of {_rate(offered)} offered" + (" (keeps up)" if keeps_up else "")
        if f["stable"] is False:
            parts[-1] += " UNSTABLE: its backlog grows"
    parts[-1] += f", p99 {f['latency_p99_s'] * 1e3:.3g} ms"
    if f["slo_met"] is not None:
        parts[-1] += f", SLO {f['slo_latency_s'] * 1e3:.3g} ms " + (
            "met" if f["slo_met"] else "missed"
        )
    if f["deadline_miss_rate"] is not None:
        parts[-1] += f", {f['deadline_miss_rate']:.1%} deadlines missed"
    others = [labels[i] for i in verdict.tied if i != best]
    if others:
        parts.append("same rate within CI: " + ", ".join(others))
    chiplets = sorted({s.chiplet for s in runs[best].schedule.segments(name)})
    if chiplets:
        c = max(chiplets, key=lambda c: data["chiplets"][str(c)]["occupancy"])
        chiplet = data["chiplets"][str(c)]
        parts.append(
            f"busiest of its chiplets: {c} ({chiplet['type']}) {chiplet['occupancy']:.0%} held, "
            f"{chiplet['compute_activity']:.0%} computing"
        )
    channels = {**data.get("links", {}), **data.get("dram", {})}
    if channels:
        channel = max(channels, key=lambda k: channels[k]["bandwidth_utilization"])
        share = channels[channel]["bandwidth_utilization"]
        parts.append(f"busiest link/DRAM: {channel} at {share:.0%} of its bandwidth")
    binding = (data.get("bound") or {}).get("binding")
    if binding:
        parts.append(f"its bound binds on {binding}")
    return "; ".join(parts)


def _cell(value: float | None, scale: float = 1.0, fmt: str = ".4g") -> str:
    return "–" if value is None or math.isnan(value) else f"{value * scale:{fmt}}"


def _verdict_cell(value: bool | None, yes: str, no: str) -> str:
    return "–" if value is None else yes if value else no


def print_models(
    per_run: Sequence[Mapping[str, Mapping[str, Any]]],
    verdicts: Sequence[ModelVerdict],
    whys: Sequence[str],
    labels: Sequence[str],
    console: Console,
) -> None:
    """One table per model (a row per run that has it, the best marked ``*`` and rows
    tied with it on served rate ``=``), then its why line."""
    for verdict, why in zip(verdicts, whys, strict=True):
        name = verdict.model
        rows = [per_run[i][name] for i in verdict.runs]
        has_slo = any(r["slo_met"] is not None for r in rows)
        has_deadline = any(r["deadline_miss_rate"] is not None for r in rows)
        table = Table(title=f"model {escape(name)}: * serves it best, = same rate within CI")
        table.add_column("run", overflow="fold")
        for header in ("offered /s", "served /s (95% CI)", "served/offered", "p99 ms"):
            table.add_column(header, justify="right")
        if has_slo:
            table.add_column("SLO", justify="right")
        if has_deadline:
            table.add_column("deadline miss", justify="right")
        table.add_column("stable")
        for i, r in zip(verdict.runs, rows, strict=True):
            mark = "*" if i == verdict.best else "=" if i in verdict.tied else ""
            served = _cell(r["served_per_s"])
            if r["served_ci95_low_per_s"] is not None:
                served += f" ({r['served_ci95_low_per_s']:.4g}-{r['served_ci95_high_per_s']:.4g})"
            elif r["steady_state"] is False:
                served += " (not steady)"
            cells = [
                escape(labels[i]) + mark,
                r["stream"] if r["offered_per_s"] is None else _cell(r["offered_per_s"]),
                served,
                _cell(r["served_share_of_offered"], 100, ".1f") + "%"
                if r["served_share_of_offered"] is not None
                else "–",
                _cell(r["latency_p99_s"], 1e3),
            ]
            if has_slo:
                cells.append(
                    "–"
                    if r["slo_met"] is None
                    else f"{'met' if r['slo_met'] else 'MISSED'} "
                    f"(<= {r['slo_latency_s'] * 1e3:.3g} ms, {r['slo_attainment']:.1%})"
                )
            if has_deadline:
                cells.append(_cell(r["deadline_miss_rate"], 100, ".2f") + "%")
            cells.append(_verdict_cell(r["stable"], "yes", "NO"))
            table.add_row(*cells)
        console.print(table)
        console.print(escape(why), soft_wrap=True)


def _reference_line(ax: Any, value: float, name: str, unit: str, color: str) -> None:
    """A dashed horizontal line at ``value``, named at its right end above the bars."""
    ax.axhline(value, color=color, ls="--", lw=1, zorder=3)
    ax.annotate(
        f"{name} {value:.4g}{unit}",
        (1, value),
        xycoords=("axes fraction", "data"),
        ha="right",
        va="bottom",
        fontsize=7,
        color=color,
        xytext=(-2, 1),
        textcoords="offset points",
        zorder=4,
    )


def draw_model_panels(
    subfigure: SubFigure,
    per_run: Sequence[Mapping[str, Mapping[str, Any]]],
    verdicts: Sequence[ModelVerdict],
    labels: Sequence[str],
    colors: Sequence[str],
) -> None:
    """Two panels per model, side by side: served rate per run with 95% error bars (a
    run without a steady-state interval is labelled unstable or not steady instead) and
    the offered rate (dashed), and p99 latency per run with the SLO target (dashed) and
    any deadline-miss rate over the bar. Up to three models per panel row."""
    per_row = min(3, len(verdicts))
    n_rows = math.ceil(len(verdicts) / per_row)
    axes = np.array(subfigure.subplots(n_rows, 2 * per_row, squeeze=False)).reshape(n_rows, -1)
    for unused in axes.flat[2 * len(verdicts) :]:
        unused.set_axis_off()
    for k, verdict in enumerate(verdicts):
        served_ax, latency_ax = axes[k // per_row, 2 * (k % per_row) : 2 * (k % per_row) + 2]
        rows = [per_run[i][verdict.model] for i in verdict.runs]
        x = np.arange(len(rows))
        names = [labels[i] for i in verdict.runs]
        bar_colors = [colors[i] for i in verdict.runs]
        served = np.array([r["served_per_s"] for r in rows], np.float64)
        low, high = (
            np.array([np.nan if r[key] is None else r[key] for r in rows], np.float64)
            for key in ("served_ci95_low_per_s", "served_ci95_high_per_s")
        )
        bars = served_ax.bar(x, served, color=bar_colors)
        known = ~np.isnan(low)
        errors = np.vstack([served - low, high - served])[:, known].clip(min=0)
        served_ax.errorbar(x[known], served[known], errors, fmt="none", ecolor="k", capsize=3)
        for xi, r, height in zip(x, rows, served, strict=True):
            if r["stable"] is False or r["steady_state"] is False:
                note = "unstable" if r["stable"] is False else "not steady"
                served_ax.annotate(
                    note,
                    (xi, height),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        offered = {r["offered_per_s"] for r in rows if r["offered_per_s"] is not None}
        for rate in sorted(offered):
            _reference_line(served_ax, rate, "offered", "/s", "k")
        for i, bar in zip(verdict.runs, bars, strict=True):
            if i == verdict.best:
                bar.set_edgecolor("k")
                bar.set_linewidth(1.5)
        served_ax.set_title(f"{verdict.model}: served (95% CI)", fontsize=9)
        served_ax.set_ylabel("inferences/s")
        p99_ms = np.array([r["latency_p99_s"] * 1e3 for r in rows], np.float64)
        latency_ax.bar(x, p99_ms, color=bar_colors)
        targets = {r["slo_latency_s"] * 1e3 for r in rows if r["slo_latency_s"] is not None}
        for target in sorted(targets):
            _reference_line(latency_ax, target, "SLO", " ms", "r")
        spanned = np.concatenate([p99_ms, list(targets)])
        if spanned.min() > 0 and spanned.max() / spanned.min() > 20:
            latency_ax.set_yscale("log")
        for xi, r, height in zip(x, rows, p99_ms, strict=True):
            if r["deadline_miss_rate"] is not None:
                latency_ax.annotate(
                    f"{r['deadline_miss_rate']:.0%} late",
                    (xi, height),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        latency_ax.set_title(f"{verdict.model}: p99 latency", fontsize=9)
        latency_ax.set_ylabel("ms")
        for ax in (served_ax, latency_ax):
            ax.set_xticks(x, names, fontsize=7, rotation=30, ha="right")
            ax.margins(y=0.15)
