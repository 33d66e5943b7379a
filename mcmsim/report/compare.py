"""Side-by-side comparison of (scenario, scheduler) pairs: a table, a CSV, a bar chart.

This is how a scheduler author or an architect answers "how much better than the
alternatives": every pair is scheduled and simulated with the same settings, and each
row's objectives, throughput, p99 latency, energy per inference, EDP and (batch mode)
makespan is also given as a ratio to the first row, so the first pair is the baseline.
The *winner* is the best row by the chosen objective (:mod:`mcmsim.metrics.objectives`,
default ``min_normalized_throughput``), ranked as the search and the sweep rank it;
ties go to the earlier row.

Pairs come from scenario arguments and scheduler names: ``FILE`` runs the schedulers
given for all files (default: the scenario's own ``[scheduler]``), ``FILE@a,b`` runs
``a`` and ``b`` on that file only. Rows keep the order of the arguments.

Columns (units in the names): ``min_normalized_throughput``, ``weighted_throughput``
and ``slo_goodput`` are the objectives of that name (shares of each model's reference
rate, each model against its largest reference over the rows, see
:func:`~mcmsim.metrics.objectives.common_objective_values`); ``throughput_per_s`` is
inferences per second added over all models (shown, never ranked by);
``latency_p99_s`` is the worst model's p99 request latency; ``energy_per_inference_j``
includes static energy; ``edp_j_s`` is the run's energy-delay product (see
:class:`mcmsim.Results`); ``makespan_s`` is the time until the last request finished in
batch mode (empty in stream mode).
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
from rich.table import Table

import mcmsim
from mcmsim.metrics.objectives import (
    DEFAULT_OBJECTIVE,
    best_index,
    common_objective_values,
    objective_spec,
)
from mcmsim.metrics.results import Results
from mcmsim.scenario import Scenario, load_scenario
from mcmsim.schedule.registry import SchedulerError
from mcmsim.schedule.schedule import Schedule

__all__ = [
    "METRICS",
    "Run",
    "columns",
    "parse_pairs",
    "plot_bars",
    "print_table",
    "run_pairs",
    "table_rows",
    "winner",
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


@dataclass(frozen=True)
class Run:
    """One simulated pair."""

    scenario: Scenario
    schedule: Schedule
    results: Results


def _names(text: str, where: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise SchedulerError(f"{where}: empty scheduler name in {text!r}")
    return names


def parse_pairs(
    arguments: Sequence[str], schedulers: str | None = None
) -> list[tuple[Scenario, str]]:
    """Load the scenarios and pair each with its schedulers, in argument order.

    Raises
    ------
    ScenarioError
        If a scenario file is missing or invalid.
    SchedulerError
        If a scheduler list has an empty name.
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
        Run(sc, schedule, mcmsim.simulate(sc, schedule))
        for (sc, _), schedule in zip(pairs, schedules, strict=True)
    ]


def table_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per run: the metrics, then each as a ratio to the first row's."""
    rows: list[dict[str, Any]] = []
    datas = [run.results.to_dict() for run in runs]
    for run, data, objectives in zip(runs, datas, common_objective_values(datas), strict=True):
        rows.append(
            {
                "scenario": run.scenario.name,
                "scheduler": run.schedule.scheduler,
                **{
                    key: _number(objectives[key])
                    for key in ("min_normalized_throughput", "weighted_throughput", "slo_goodput")
                },
                "throughput_per_s": data["throughput_per_s"],
                "latency_p99_s": max(
                    (m["latency_s"]["p99"] for m in data["models"].values()), default=0.0
                ),
                "energy_per_inference_j": data["energy_per_inference_j"],
                "edp_j_s": data["edp_j_s"],
                "makespan_s": data["makespan_s"]
                if data["makespan_s"] is not None
                else float("nan"),
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


def winner(rows: Sequence[dict[str, Any]], objective: str = DEFAULT_OBJECTIVE) -> int | None:
    """Index of the best row by ``objective`` (ties: the earlier row); None without rows.

    Raises
    ------
    ValueError
        If ``objective`` is unknown.
    """
    column = objective_spec(objective).column
    return best_index([row[column] for row in rows], objective)


def columns() -> list[str]:
    """CSV column order."""
    return (
        ["scenario", "scheduler"]
        + [key for key, *_ in METRICS]
        + [key + RATIO_SUFFIX for key, *_ in METRICS]
    )


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Write the rows as CSV with a header line."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns())
        writer.writeheader()
        writer.writerows(rows)


def _shown_metrics(
    rows: Sequence[dict[str, Any]], objective: str = DEFAULT_OBJECTIVE
) -> list[tuple[str, str, str, float, str]]:
    """The objective's column (when it is not one of the others), throughput, p99 latency
    (in batch mode the makespan, as latency then says little), energy and EDP."""
    batch = bool(rows) and all(r["makespan_s"] == r["makespan_s"] for r in rows)
    column = objective_spec(objective).column
    hidden = {"latency_p99_s" if batch else "makespan_s"}
    hidden |= {"min_normalized_throughput", "weighted_throughput", "slo_goodput"} - {column}
    return [m for m in METRICS if m[0] not in hidden]


def print_table(
    rows: Sequence[dict[str, Any]], console: Console, objective: str = DEFAULT_OBJECTIVE
) -> None:
    """The comparison as a rich table (each metric with its ratio to row 1 in brackets)
    and the winner by ``objective``, marked ``*``."""
    shown = _shown_metrics(rows, objective)
    best = winner(rows, objective)
    table = Table(title=f"(x) ratio to the first row; * best by {objective}")
    table.add_column("scenario", overflow="fold")
    table.add_column("scheduler", overflow="fold")
    for _, _, header, _, unit in shown:
        table.add_column(f"{header} {unit}", justify="right")
    for i, row in enumerate(rows):
        mark = "*" if i == best else ""
        cells = [row["scenario"], row["scheduler"] + mark]
        for key, _, _, scale, _ in shown:
            cells.append(f"{row[key] * scale:.4g} ({row[key + RATIO_SUFFIX]:.3g}x)")
        table.add_row(*cells)
    console.print(table)
    if best is not None:
        row = rows[best]
        value = row[objective_spec(objective).column]
        console.print(
            f"winner by {objective}: {row['scenario']} with {row['scheduler']} ({value:.4g} "
            f"{objective_spec(objective).unit})"
        )


def plot_bars(
    rows: Sequence[dict[str, Any]], path: str | Path, objective: str = DEFAULT_OBJECTIVE
) -> None:
    """A bar chart, one panel per shown metric, each bar labelled with its ratio to row 1.

    A panel whose values span more than 20x uses a log scale, so the baseline's bar
    stays visible next to a many-times-better one.
    """
    labels = [f"{r['scenario']}\n{r['scheduler']}" for r in rows]
    schedulers = list(dict.fromkeys(r["scheduler"] for r in rows))
    palette = [f"C{i % 10}" for i in range(len(schedulers))]
    colors = [palette[schedulers.index(r["scheduler"])] for r in rows]
    shown = _shown_metrics(rows, objective)
    n_cols = math.ceil(len(shown) / 2)
    width = max(4.0 * n_cols, 0.55 * len(rows) * 2 * n_cols)
    figure = Figure(figsize=(width, 8), layout="constrained")
    axes = list(figure.subplots(2, n_cols).flat)
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
    first = rows[0] if rows else {"scenario": "", "scheduler": ""}
    best = winner(rows, objective)
    title = f"ratios to {first['scenario']} with {first['scheduler']}"
    if best is not None:
        title += f"; best by {objective}: {rows[best]['scenario']} with {rows[best]['scheduler']}"
    figure.suptitle(title)
    figure.savefig(path, format="png", dpi=110)
