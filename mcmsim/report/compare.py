"""Side-by-side comparison of (scenario, scheduler) pairs: a table, a CSV, a bar chart.

This is how a scheduler author or an architect answers "how much better than the
alternatives": every pair is scheduled and simulated with the same settings, and each
row's objectives, throughput, p99 latency, energy per inference, EDP and (batch mode)
makespan is also given as a ratio to the first row, so the first pair is the baseline.
The *winner* is the best row by the chosen objective (:mod:`mcmsim.metrics.objectives`,
default ``min_normalized_throughput``), ranked as the search and the sweep rank it, and
every objective has its winner too (:func:`winners`). Rows within 1% of the best or
whose 95% intervals overlap the best's are a *tie*
(:func:`~mcmsim.metrics.objectives.tied_with_best`, the sweep's rule too) and are named
as one: a simulated number is an estimate. Each model gets its own table, one row per
run, with its offered and served rate, p99 against its SLO, deadline misses and
stability, the run that serves it best and why (:mod:`mcmsim.report.compare_models`).

Pairs come from scenario arguments and scheduler specs: ``FILE`` runs the schedulers
given for all files (default: the scenario's own ``[scheduler]``), ``FILE@a,b`` runs
``a`` and ``b`` on that file only. A scheduler may carry parameters in the notation of
:mod:`mcmsim.schedule.spec` (``scar[objective=throughput]`` or
``scar:objective=throughput``), and its row is labelled with them. Rows keep the order
of the arguments.

Columns (units in the names): ``min_normalized_throughput``, ``weighted_throughput``
and ``slo_goodput`` are the objectives of that name (shares of each model's reference
rate, each model against its largest reference over the rows, see
:func:`~mcmsim.metrics.objectives.common_objective_values`); ``throughput_per_s`` is
inferences per second added over all models (shown, never ranked by);
``latency_p99_s`` is the worst model's p99 request latency; ``energy_per_inference_j``
includes static energy; ``edp_j_s`` is the run's energy-delay product (see
:class:`mcmsim.Results`); ``makespan_s`` is the time until the last request finished in
batch mode (empty in stream mode); ``<objective>_ci95_half_width`` is the 95% half-width
of a normalised objective (:func:`~mcmsim.metrics.objectives.common_objective_half_widths`,
empty when unknown); ``models.<name>.<field>`` are the per-model fields of
:data:`~mcmsim.report.compare_models.MODEL_FIELDS`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import mcmsim
from mcmsim.metrics.objectives import (
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    TIE_RELATIVE_TOLERANCE,
    common_objective_half_widths,
    common_objective_values,
    objective_spec,
    tied_with_best,
)
from mcmsim.metrics.results import Results
from mcmsim.report.compare_models import (
    MODEL_FIELDS,
    ModelVerdict,
    draw_model_panels,
    model_rows,
    model_verdict,
    why_line,
)
from mcmsim.report.compare_models import print_models as print_model_tables
from mcmsim.scenario import Scenario, load_scenario
from mcmsim.schedule.registry import SchedulerError
from mcmsim.schedule.schedule import Schedule
from mcmsim.schedule.spec import parse_scheduler_list

__all__ = [
    "METRICS",
    "NORMALIZED",
    "Run",
    "columns",
    "document",
    "model_verdicts",
    "parse_pairs",
    "plot_bars",
    "print_models",
    "print_table",
    "print_winners",
    "run_labels",
    "run_pairs",
    "table_rows",
    "why_lines",
    "winner",
    "winners",
    "write_csv",
]

# Column name, chart title, table header, display scale and unit.
METRICS = (
    ("min_normalized_throughput", "worst model / its reference rate", "min norm.", 1.0, "share"),
    ("weighted_throughput", "weighted throughput / reference", "weighted", 1.0, "share"),
    ("slo_goodput", "worst model's goodput / reference", "SLO goodput", 1.0, "share"),
    ("throughput_per_s", "throughput, all models added", "sum thr.", 1.0, "inferences/s"),
    ("latency_p99_s", "p99 latency (worst model)", "p99", 1e3, "ms"),
    ("energy_per_inference_j", "energy per inference", "energy/inf", 1e3, "mJ"),
    ("edp_j_s", "energy-delay product", "EDP", 1.0, "J·s"),
    ("makespan_s", "makespan (batch mode)", "makespan", 1e3, "ms"),
)
RATIO_SUFFIX = "_ratio"
HALF_WIDTH_SUFFIX = "_ci95_half_width"
NORMALIZED = ("min_normalized_throughput", "weighted_throughput", "slo_goodput")
"""The objectives measured against reference rates (each has a 95% half-width column)."""


@dataclass(frozen=True)
class Run:
    """One simulated pair."""

    scenario: Scenario
    schedule: Schedule
    results: Results
    label: str = ""

    @property
    def scheduler(self) -> str:
        """The scheduler as the user named it, with any parameters given."""
        return self.label or self.schedule.scheduler


def _names(text: str, where: str) -> list[str]:
    try:
        return [spec.label for spec in parse_scheduler_list(text)]
    except SchedulerError as exc:
        raise SchedulerError(f"{where}: {exc}") from None


def parse_pairs(
    arguments: Sequence[str], schedulers: str | None = None
) -> list[tuple[Scenario, str]]:
    """Load the scenarios and pair each with its schedulers, in argument order.

    Each scheduler is given as its spec label (``scar[objective=throughput]``).

    Raises
    ------
    ScenarioError
        If a scenario file is missing or invalid.
    SchedulerError
        If a scheduler list has an empty name or a malformed spec.
    """
    default = _names(schedulers, "--scheduler") if schedulers is not None else None
    pairs: list[tuple[Scenario, str]] = []
    for argument in arguments:
        path, sep, chosen = argument.rpartition("@") if "@" in argument else (argument, "", "")
        scenario = load_scenario(path)
        names = _names(chosen, argument) if sep else default or [scenario.spec.scheduler.name]
        pairs.extend((scenario, name) for name in names)
    return pairs


def run_pairs(pairs: Sequence[tuple[Scenario, str]], requests: int | None = None) -> list[Run]:
    """Schedule every pair first (so a bad name fails fast), then simulate each.

    ``requests`` overrides the scenarios' request count.

    Raises
    ------
    SchedulerError
        Unknown scheduler, bad parameters, or a scheduler that fails.
    """
    if requests is not None:
        pairs = [(sc.with_overrides(requests=requests), name) for sc, name in pairs]
    schedules = [mcmsim.schedule(sc, name) for sc, name in pairs]
    return [
        Run(sc, schedule, mcmsim.simulate(sc, schedule), name)
        for (sc, name), schedule in zip(pairs, schedules, strict=True)
    ]


def table_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per run: the metrics, each as a ratio to the first row's, the normalised
    objectives' 95% half-widths and, under ``"models"``, each model's fields
    (:func:`~mcmsim.report.compare_models.model_rows`)."""
    rows: list[dict[str, Any]] = []
    datas = [run.results.to_dict() for run in runs]
    for run, data, objectives, halves, models in zip(
        runs,
        datas,
        common_objective_values(datas),
        common_objective_half_widths(datas),
        model_rows(runs, datas),
        strict=True,
    ):
        rows.append(
            {
                "scenario": run.scenario.name,
                "scheduler": run.scheduler,
                **{key: _number(objectives.get(key)) for key in NORMALIZED},
                **{key + HALF_WIDTH_SUFFIX: halves.get(key) for key in NORMALIZED},
                "throughput_per_s": data["throughput_per_s"],
                "latency_p99_s": max(
                    (m["latency_s"]["p99"] for m in data["models"].values()), default=0.0
                ),
                "energy_per_inference_j": data["energy_per_inference_j"],
                "edp_j_s": data["edp_j_s"],
                "makespan_s": data["makespan_s"]
                if data["makespan_s"] is not None
                else float("nan"),
                "models": models,
            }
        )
    if rows:
        first = dict(rows[0])
        for row in rows:
            for key, *_ in METRICS:
                row[key + RATIO_SUFFIX] = row[key] / first[key] if first[key] else float("nan")
    return rows


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def winners(rows: Sequence[dict[str, Any]], objective: str = DEFAULT_OBJECTIVE) -> list[int]:
    """Indices of the best row by ``objective`` and of every row tied with it, best
    first (the earlier row first among equals); ``[]`` without rows.

    Tied: :func:`~mcmsim.metrics.objectives.tied_with_best` with the normalised
    objectives' 95% half-widths.

    Raises
    ------
    ValueError
        If ``objective`` is unknown.
    """
    column = objective_spec(objective).column
    halves = [row.get(column + HALF_WIDTH_SUFFIX) for row in rows]
    return tied_with_best([row[column] for row in rows], objective, halves)


def winner(rows: Sequence[dict[str, Any]], objective: str = DEFAULT_OBJECTIVE) -> int | None:
    """Index of the best row by ``objective`` (ties: the earlier row); None without rows.

    Raises
    ------
    ValueError
        If ``objective`` is unknown.
    """
    tied = winners(rows, objective)
    return tied[0] if tied else None


def run_labels(rows: Sequence[dict[str, Any]]) -> list[str]:
    """How each row is named in reports: its scheduler, prefixed by the scenario when
    rows differ in scenario, and suffixed ``#n`` (its row number) when two rows would
    read the same."""
    several = len({row["scenario"] for row in rows}) > 1
    labels = [f"{r['scenario']}: {r['scheduler']}" if several else r["scheduler"] for r in rows]
    return [
        f"{label} #{i + 1}" if labels.count(label) > 1 else label for i, label in enumerate(labels)
    ]


def model_verdicts(rows: Sequence[dict[str, Any]]) -> list[ModelVerdict]:
    """For each model (in order of first appearance), the runs that serve it best."""
    per_run = [row["models"] for row in rows]
    return [model_verdict(name, per_run) for name in _model_names(rows)]


def why_lines(runs: Sequence[Run], rows: Sequence[dict[str, Any]]) -> list[str]:
    """For each model of :func:`model_verdicts`, who serves it best and what binds."""
    datas = [run.results.to_dict() for run in runs]
    per_run = [row["models"] for row in rows]
    labels = run_labels(rows)
    return [why_line(verdict, per_run, runs, datas, labels) for verdict in model_verdicts(rows)]


def _model_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for row in rows for name in row.get("models", {})))


def columns(rows: Sequence[dict[str, Any]] = ()) -> list[str]:
    """CSV column order: the run columns, then ``models.<name>.<field>`` for every model
    of ``rows``."""
    return (
        ["scenario", "scheduler"]
        + [key for key, *_ in METRICS]
        + [key + RATIO_SUFFIX for key, *_ in METRICS]
        + [key + HALF_WIDTH_SUFFIX for key in NORMALIZED]
        + [f"models.{name}.{field}" for name in _model_names(rows) for field in MODEL_FIELDS]
    )


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    flat = {key: value for key, value in row.items() if key != "models"}
    for name, fields in row.get("models", {}).items():
        flat.update({f"models.{name}.{field}": value for field, value in fields.items()})
    return flat


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Write the rows as CSV with a header line (an unknown value is an empty cell)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns(rows))
        writer.writeheader()
        writer.writerows(_csv_row(row) for row in rows)


def _json_ready(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


def document(
    runs: Sequence[Run], rows: Sequence[dict[str, Any]], objective: str = DEFAULT_OBJECTIVE
) -> dict[str, Any]:
    """The comparison as one JSON-ready dict (``compare --json``).

    ``runs``: the rows (with their per-model fields and ``label``); ``winners``: for
    every objective, the indices into ``runs`` of the best row and the rows tied with
    it (``tie`` says whether there are several) and the best value; ``models``: for each
    model, the runs that have it, those tied on served rate, the one that serves it best
    and the why line.
    """
    labels = run_labels(rows)
    verdicts = model_verdicts(rows)
    whys = why_lines(runs, rows)
    best_by = {}
    for name in OBJECTIVES:
        tied = winners(rows, name)
        column = objective_spec(name).column
        best_by[name] = {
            "column": column,
            "higher_is_better": objective_spec(name).higher_is_better,
            "best": tied[0] if tied else None,
            "tied": tied,
            "tie": len(tied) > 1,
            "value": rows[tied[0]][column] if tied else None,
        }
    return _json_ready(
        {
            "objective": objective,
            "tie_rule": {
                "relative_tolerance": TIE_RELATIVE_TOLERANCE,
                "confidence": 0.95,
            },
            "runs": [{"label": label, **row} for label, row in zip(labels, rows, strict=True)],
            "winners": best_by,
            "models": {
                v.model: {
                    "runs": list(v.runs),
                    "tied_on_served": list(v.tied),
                    "best": v.best,
                    "why": why,
                }
                for v, why in zip(verdicts, whys, strict=True)
            },
        }
    )


def _shown_metrics(
    rows: Sequence[dict[str, Any]], objective: str = DEFAULT_OBJECTIVE
) -> list[tuple[str, str, str, float, str]]:
    """The objective's column (when it is not one of the others), throughput, p99 latency
    (in batch mode the makespan, as latency then says little), energy and EDP."""
    batch = bool(rows) and all(r["makespan_s"] == r["makespan_s"] for r in rows)
    column = objective_spec(objective).column
    hidden = {"latency_p99_s" if batch else "makespan_s"}
    hidden |= set(NORMALIZED) - {column}
    return [m for m in METRICS if m[0] not in hidden]


def print_table(
    rows: Sequence[dict[str, Any]], console: Console, objective: str = DEFAULT_OBJECTIVE
) -> None:
    """The comparison as a rich table (each metric with its ratio to row 1 in brackets)
    and the winner by ``objective``, marked ``*`` (rows tied with it ``=``)."""
    shown = _shown_metrics(rows, objective)
    tied = winners(rows, objective)
    table = Table(title=f"(x) ratio to the first row; * best by {objective}, = tied with it")
    table.add_column("scenario", overflow="fold")
    table.add_column("scheduler", overflow="fold")
    for _, _, header, _, unit in shown:
        table.add_column(f"{header} {unit}", justify="right")
    for i, row in enumerate(rows):
        mark = "*" if tied and i == tied[0] else "=" if i in tied else ""
        cells = [escape(row["scenario"]), escape(row["scheduler"]) + mark]
        for key, _, _, scale, _ in shown:
            cells.append(f"{row[key] * scale:.4g} ({row[key + RATIO_SUFFIX]:.3g}x)")
        table.add_row(*cells)
    console.print(table)
    if tied:
        console.print(_winner_sentence(rows, objective, tied), markup=False, soft_wrap=True)


def _winner_sentence(rows: Sequence[dict[str, Any]], objective: str, tied: list[int]) -> str:
    spec = objective_spec(objective)
    labels = run_labels(rows)
    value = f"{rows[tied[0]][spec.column]:.4g} {spec.unit}"
    if len(tied) == 1:
        return f"winner by {objective}: {labels[tied[0]]} ({value})"
    tolerance = f"{TIE_RELATIVE_TOLERANCE:.0%}"
    return (
        f"tie by {objective} (within {tolerance} or the 95% CIs): "
        + ", ".join(labels[i] for i in tied)
        + f" (best {value})"
    )


def print_winners(rows: Sequence[dict[str, Any]], console: Console) -> None:
    """Every objective's winner, or the tied rows when several are within the tie rule."""
    table = Table(title="winner per objective (tie: within 1% or overlapping 95% CIs)")
    table.add_column("objective")
    table.add_column("best", justify="right")
    table.add_column("winner", overflow="fold")
    labels = run_labels(rows)
    for name, spec in OBJECTIVES.items():
        tied = winners(rows, name)
        if not tied:
            continue
        value = rows[tied[0]][spec.column]
        shown = "–" if value != value else f"{value:.4g} {spec.unit}"
        named = ", ".join(escape(labels[i]) for i in tied)
        goal = "max" if spec.higher_is_better else "min"
        table.add_row(f"{name} ({goal})", shown, ("tie: " if len(tied) > 1 else "") + named)
    console.print(table)


def print_models(runs: Sequence[Run], rows: Sequence[dict[str, Any]], console: Console) -> None:
    """One table per model with the run that serves it best, and why."""
    print_model_tables(
        [row["models"] for row in rows],
        model_verdicts(rows),
        why_lines(runs, rows),
        run_labels(rows),
        console,
    )


def plot_bars(
    rows: Sequence[dict[str, Any]], path: str | Path, objective: str = DEFAULT_OBJECTIVE
) -> None:
    """compare.png: one bar panel per shown metric, each bar labelled with its ratio to
    row 1, and below them the per-model panels of
    :func:`~mcmsim.report.compare_models.draw_model_panels` (served rate with 95% error
    bars and the offered rate; p99 with the SLO target).

    A metric panel whose values span more than 20x uses a log scale, so the baseline's
    bar stays visible next to a many-times-better one.
    """
    labels = run_labels(rows)
    schedulers = list(dict.fromkeys(r["scheduler"] for r in rows))
    palette = [f"C{i % 10}" for i in range(len(schedulers))]
    colors = [palette[schedulers.index(r["scheduler"])] for r in rows]
    shown = _shown_metrics(rows, objective)
    verdicts = model_verdicts(rows)
    n_cols = math.ceil(len(shown) / 2)
    per_row = min(3, len(verdicts))
    model_panel_rows = math.ceil(len(verdicts) / per_row) if verdicts else 0
    width = max(4.0 * n_cols, 0.55 * len(rows) * 2 * n_cols, 3.2 * 2 * per_row)
    figure = Figure(figsize=(width, 8 + 3.6 * model_panel_rows), layout="constrained")
    top, bottom = (
        figure.subfigures(2, 1, height_ratios=[8, 3.6 * model_panel_rows])
        if verdicts
        else (figure, None)
    )
    axes = list(top.subplots(2, n_cols).flat)
    for unused in axes[len(shown) :]:
        unused.set_axis_off()
    x = np.arange(len(rows))
    for ax, (key, title, _, scale, unit) in zip(axes, shown, strict=False):
        values = np.array([r[key] * scale for r in rows], np.float64)
        bars = ax.bar(x, values, color=colors)
        positive = values[values > 0]
        if positive.size and positive.max() / positive.min() > 20:
            ax.set_yscale("log")
        for bar, row in zip(bars, rows, strict=True):
            ax.annotate(
                f"{row[key + RATIO_SUFFIX]:.3g}x",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
        ax.margins(y=0.15)
    if bottom is not None:
        draw_model_panels(bottom, [row["models"] for row in rows], verdicts, labels, colors)
        bottom.suptitle("per model (black edge: serves it best)", fontsize=10)
    first = rows[0] if rows else {"scenario": "", "scheduler": ""}
    tied = winners(rows, objective)
    title = f"ratios to {first['scenario']} with {first['scheduler']}"
    if tied:
        names = ", ".join(labels[i] for i in tied)
        title += f"; {'tie' if len(tied) > 1 else 'best'} by {objective}: {names}"
    figure.suptitle(title)
    figure.savefig(path, format="png", dpi=110)
