"""What a sweep's stored points turn into: results.csv, sweep.json, best-point tables.

``results.csv`` has one row per point: its id, grid index and status, one column per
axis (the value's label), every scalar metric of ``results.json`` flattened to a
dotted column name that carries its unit (``throughput_per_s``,
``models.gpt2.latency_s.p99``, ``energy_j.dram``), its wall time and its error. The
per-resource tables (``chiplets``, ``links``, ``dram``) stay in the store only: on a
6x6 package they would be hundreds of columns.

``sweep.json`` summarises the sweep: its axes, how many points are ok or failed, the
best point for each objective of :mod:`mcmsim.metrics.objectives` (read from each
point's ``objectives``, ranked as ``compare`` and ``search`` rank them; points within
:data:`~mcmsim.metrics.objectives.TIE_RELATIVE_TOLERANCE` of the best, or whose 95%
intervals overlap the best's, are a tie, listed with it, the first in grid order shown
first), the Pareto front of the default
objective against energy per inference, the failed points with their messages, and how
the last run went.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from mcmsim.files import write_atomically, write_text
from mcmsim.metrics import objectives as shared
from mcmsim.sweep.pareto import (
    ENERGY,
    SERVED,
    objective_value,
    on_common_references,
    pareto_front,
    point_label,
    served,
    varying_axes,
)
from mcmsim.sweep.store import StoredPoint

__all__ = [
    "OBJECTIVES",
    "Objective",
    "best_points",
    "best_table",
    "flat_metrics",
    "summary",
    "tied_points",
    "write_csv",
    "write_json",
]

_PER_RESOURCE = ("chiplets", "links", "dram")


@dataclass(frozen=True)
class Objective:
    """A shared objective as the sweep shows it: its name, max or min, display unit."""

    key: str
    goal: str
    title: str
    unit: str
    scale: float

    def value(self, point: StoredPoint) -> float | None:
        """The point's value (None when its results have no objectives)."""
        return objective_value(point, self.key)


_DISPLAY = {"energy": ("mJ", 1e3), "edp": ("mJ·s", 1e3)}
OBJECTIVES = tuple(
    Objective(
        spec.name,
        "max" if spec.higher_is_better else "min",
        spec.title,
        *_DISPLAY.get(spec.name, (spec.unit, 1.0)),
    )
    for spec in shared.OBJECTIVES.values()
)


def flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Scalar metrics by dotted name, the per-resource tables left out."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{prefix}.{i}", item)
        else:
            flat[prefix] = value

    for key, value in metrics.items():
        if key not in _PER_RESOURCE:
            walk(key, value)
    return flat


def write_csv(points: Sequence[StoredPoint], path: Path) -> None:
    """Write ``results.csv`` (atomically) for ``points``."""
    axes = list(dict.fromkeys(a for p in points for a in p.labels))
    flats = [flat_metrics(p.metrics) if p.metrics else {} for p in points]
    metric_columns = list(dict.fromkeys(k for flat in flats for k in flat))
    header = ["point_id", "grid_index", "status", *axes, *metric_columns, "wall_s", "error"]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for point, flat in zip(points, flats, strict=True):
                writer.writerow(
                    [
                        point.id,
                        point.index,
                        point.status,
                        *(point.labels.get(a, "") for a in axes),
                        *(flat.get(k, "") for k in metric_columns),
                        f"{point.wall_s:.6f}",
                        point.error or "",
                    ]
                )

    write_atomically(path, write)


def best_points(points: Sequence[StoredPoint]) -> dict[str, StoredPoint]:
    """For each objective with a value in some ok point, the point that is best at it.

    Objectives are compared on the sweep's common references
    (:func:`~mcmsim.sweep.pareto.on_common_references`); the points returned carry
    those values. Ties go to the point first in grid order.
    """
    points = on_common_references(points)
    best: dict[str, StoredPoint] = {}
    for objective in OBJECTIVES:
        scored = [p for p in points if p.ok and objective.value(p) is not None]
        index = shared.best_index([objective.value(p) for p in scored], objective.key)
        if index is not None:
            best[objective.key] = scored[index]
    return best


def tied_points(points: Sequence[StoredPoint]) -> dict[str, list[StoredPoint]]:
    """For each objective, the best point and every point tied with it (best first).

    See :func:`~mcmsim.metrics.objectives.tied_with_best`, the rule ``compare`` uses:
    within the relative tolerance, or with overlapping 95% intervals
    (:func:`~mcmsim.metrics.objectives.common_objective_half_widths`); the points carry
    their values on the sweep's common references.
    """
    points = on_common_references(points)
    ok = [p for p in points if p.ok and p.metrics]
    widths = shared.common_objective_half_widths([p.metrics for p in ok])
    halves = dict(zip((p.id for p in ok), widths, strict=True))
    tied: dict[str, list[StoredPoint]] = {}
    for objective in OBJECTIVES:
        scored = [p for p in points if p.ok and objective.value(p) is not None]
        indices = shared.tied_with_best(
            [objective.value(p) for p in scored],
            objective.key,
            [halves.get(p.id, {}).get(objective.key) for p in scored],
        )
        if indices:
            tied[objective.key] = [scored[i] for i in indices]
    return tied


def _tie_label(tied: list[StoredPoint], axes: list[str]) -> str:
    labels = [point_label(p, axes) or "(the only point)" for p in tied]
    if len(tied) == 1:
        return labels[0]
    tolerance = f"{shared.TIE_RELATIVE_TOLERANCE:.0%}"
    return f"tie (within {tolerance} or the 95% CIs): " + "; ".join(labels)


def best_table(points: Sequence[StoredPoint], title: str) -> Table:
    """A rich table of the best point for each objective ("tie" and all tied points when
    several are within the tie tolerance)."""
    best = best_points(points)
    tied = tied_points(points)
    axes = varying_axes(points)
    table = Table(title=escape(title))
    table.add_column("objective")
    table.add_column("best", justify="right")
    table.add_column("point", overflow="fold")
    table.add_column("id", style="dim")
    for objective in OBJECTIVES:
        if objective.key in best:
            point = best[objective.key]
            value = objective.value(point) * objective.scale
            table.add_row(
                f"{objective.title} ({objective.goal})",
                f"{value:.4g} {objective.unit}",
                escape(_tie_label(tied.get(objective.key, [point]), axes)),
                point.id[:12],
            )
    return table


def _brief(point: StoredPoint) -> dict[str, Any]:
    return {"point_id": point.id, "axes": point.labels}


def summary(
    points: Sequence[StoredPoint], sweep: dict[str, Any], run: dict[str, Any]
) -> dict[str, Any]:
    """The content of ``sweep.json``: ``sweep`` and ``run`` describe the sweep and its run."""
    axes: dict[str, list[str]] = {}
    for point in points:
        for path, label in point.labels.items():
            axes.setdefault(path, [])
            if label not in axes[path]:
                axes[path].append(label)
    failed = [p for p in points if not p.ok]
    tied = tied_points(points)
    return {
        **sweep,
        "axes": axes,
        "points": {"stored": len(points), "ok": len(points) - len(failed), "failed": len(failed)},
        "best": {
            key: {
                "goal": next(o.goal for o in OBJECTIVES if o.key == key),
                "value": next(o for o in OBJECTIVES if o.key == key).value(point),
                **_brief(point),
                "tied_with": [_brief(p) for p in tied.get(key, [])[1:]],
                "tie_relative_tolerance": shared.TIE_RELATIVE_TOLERANCE,
            }
            for key, point in best_points(points).items()
        },
        "pareto_front": [
            {**_brief(p), SERVED: served(p), ENERGY: p.metrics[ENERGY]}
            for p in pareto_front(on_common_references(points))
        ],
        "failed": [{**_brief(p), "error": p.error} for p in failed],
        "run": run,
    }


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as indented JSON (atomically)."""
    write_text(path, json.dumps(data, indent=2))
