"""The Pareto front of a sweep: the default objective against energy per inference.

The served axis is :data:`~mcmsim.metrics.objectives.DEFAULT_OBJECTIVE`
(``min_normalized_throughput``, higher is better: the worst-served model's share of its
reference rate, see :mod:`mcmsim.metrics.objectives`), not inferences added over
models, which a schedule wins by starving a model. A point is on the front when no
other point serves at least as well at no more energy per inference, and is strictly
better in one of the two. Points are compared on common references
(:func:`on_common_references`). ``pareto.png`` shows
every successful point, rings the front and joins it with a line. Each varying axis
is marked: the first by colour, the second by marker shape, the third by marker size
(each with its own legend); further axes are named in the point labels only, and the
figure says so. With few points (else with a small front) the points carry labels
made of their axis values; points with equal metrics share one label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mcmsim.metrics.objectives import DEFAULT_OBJECTIVE, common_objective_values, objective_spec
from mcmsim.sweep.store import StoredPoint

__all__ = [
    "ENERGY",
    "SERVED",
    "cluster_label",
    "objective_value",
    "on_common_references",
    "pareto_front",
    "plot_pareto",
    "point_label",
    "served",
    "varying_axes",
]

SERVED = DEFAULT_OBJECTIVE
ENERGY = "energy_per_inference_j"
MAX_LABELS = 12
MAX_ALL_LABELS = 8
MAX_COLOURS = 10


def on_common_references(points: Sequence[StoredPoint]) -> list[StoredPoint]:
    """``points`` with each ok point's objectives against the sweep's common references.

    Points differ in package and streams, so each model is measured against its largest
    reference rate over the ok points
    (:func:`~mcmsim.metrics.objectives.common_objective_values`); a point's own
    ``objectives.models`` stay as stored, so this is idempotent.
    """
    ok = [p for p in points if p.ok and p.metrics]
    common = dict(
        zip((p.id for p in ok), common_objective_values([p.metrics for p in ok]), strict=True)
    )
    rescaled = []
    for p in points:
        values = common.get(p.id)
        if values:
            objectives = {**p.metrics["objectives"], **values}
            p = replace(p, metrics={**p.metrics, "objectives": objectives})
        rescaled.append(p)
    return rescaled


def objective_value(point: StoredPoint, name: str) -> float | None:
    """The point's objective ``name`` (None when its results have no objectives)."""
    objectives = (point.metrics or {}).get("objectives") or {}
    return objectives.get(name)


def served(point: StoredPoint) -> float | None:
    """The point's :data:`SERVED` objective (None when its results have no objectives)."""
    return objective_value(point, SERVED)


def _measured(points: Sequence[StoredPoint]) -> list[StoredPoint]:
    return [
        p
        for p in points
        if p.ok and p.metrics and served(p) is not None and p.metrics.get(ENERGY) is not None
    ]


def pareto_front(points: Sequence[StoredPoint]) -> list[StoredPoint]:
    """The non-dominated successful points, by increasing energy per inference.

    Give points rescaled by :func:`on_common_references` when they differ in hardware.
    """
    ordered = sorted(_measured(points), key=lambda p: (p.metrics[ENERGY], -served(p)))
    front: list[StoredPoint] = []
    for point in ordered:
        energy, value = point.metrics[ENERGY], served(point)
        if not front:
            front.append(point)
            continue
        last = front[-1]
        if value > served(last) or (value == served(last) and energy == last.metrics[ENERGY]):
            front.append(point)
    return front


def varying_axes(points: Sequence[StoredPoint]) -> list[str]:
    """The axis paths whose label is not the same in every point, in axis order."""
    axes = list(dict.fromkeys(a for p in points for a in p.labels))
    return [a for a in axes if len({p.labels.get(a) for p in points}) > 1]


def point_label(point: StoredPoint, axes: Sequence[str]) -> str:
    """The point's labels on ``axes``, joined: ``scar, 100, checkerboard``."""
    return ", ".join(point.labels.get(a, "?") for a in axes)


def _clusters(points: Sequence[StoredPoint]) -> list[list[StoredPoint]]:
    """Points grouped by identical (energy, throughput), in order of first appearance."""
    groups: dict[tuple[float, float], list[StoredPoint]] = {}
    for p in points:
        groups.setdefault((p.metrics[ENERGY], served(p)), []).append(p)
    return list(groups.values())


def cluster_label(cluster: Sequence[StoredPoint], axes: dict[str, list[str]]) -> str:
    """Labels of points with equal metrics: ``greedy/scar, *, all-ws (x6)``.

    Per axis, the values the points have, joined by ``/``, or ``*`` when they have all
    of the axis's values; ``axes`` maps each varying axis to all its labels.
    """
    parts = []
    for axis, every in axes.items():
        present = {p.labels.get(axis, "?") for p in cluster}
        parts.append("*" if present >= set(every) else "/".join(v for v in every if v in present))
    count = f" (x{len(cluster)})" if len(cluster) > 1 else ""
    return ", ".join(parts) + count


def _annotate(
    fig: Any,
    ax: Any,
    clusters: list[list[StoredPoint]],
    axes: list[str],
    measured: list[StoredPoint],
) -> None:
    """Label ``clusters`` beside their points, pushed apart vertically so none overlap."""
    every = {a: list(dict.fromkeys(p.labels.get(a, "?") for p in measured)) for a in axes}
    fig.draw_without_rendering()  # settle the layout so data -> pixel is final
    to_points = 72.0 / fig.dpi
    (x_left, _), (x_right, _) = ax.transAxes.transform([(0, 0), (1, 1)])
    anchors = []
    for cluster in clusters:
        xy = (cluster[0].metrics[ENERGY] * 1e3, served(cluster[0]))
        anchors.append((ax.transData.transform(xy), xy, cluster))
    anchors.sort(key=lambda a: a[0][1])
    placed: dict[bool, float] = {}  # per side, the highest label so far (pixels)
    gap = 11.0 / to_points
    for (px, py), xy, cluster in anchors:
        left = px > x_left + 0.6 * (x_right - x_left)
        y = max(py, placed.get(left, -1e9) + gap)
        placed[left] = y
        ax.annotate(
            cluster_label(cluster, every),
            xy,
            xytext=(-10 if left else 10, (y - py) * to_points),
            textcoords="offset points",
            ha="right" if left else "left",
            va="center",
            fontsize=7,
            arrowprops={"arrowstyle": "-", "color": "gray", "linewidth": 0.5},
        )
    fig.supxlabel(
        f"labels: {', '.join(axes)}; * = every value, xN = N points with equal metrics",
        fontsize=7,
        color="dimgray",
        x=0.01,
        ha="left",
    )


def plot_pareto(points: Sequence[StoredPoint], path: Path, title: str) -> None:
    """Draw ``pareto.png`` of ``points`` to ``path``."""
    from matplotlib.figure import Figure

    points = on_common_references(points)
    measured = _measured(points)
    failed = sum(1 for p in points if not p.ok)
    front = pareto_front(measured)
    fig = Figure(figsize=(10, 6), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlabel("energy per inference (mJ)")
    ax.set_ylabel(f"{SERVED} ({objective_spec(SERVED).unit})")
    ax.grid(True, alpha=0.3)
    subtitle = f"{len(measured)} points, {len(front)} on the Pareto front"
    ax.set_title(f"{title}: {subtitle}" + (f", {failed} failed" if failed else ""))
    if not measured:
        ax.text(0.5, 0.5, "no successful points", ha="center", va="center", transform=ax.transAxes)
        fig.savefig(path, dpi=150)
        return

    axes = varying_axes(measured)
    encodings = _draw_points(ax, measured, axes)
    front_xy = [(p.metrics[ENERGY] * 1e3, served(p)) for p in front]
    ax.plot(*zip(*front_xy, strict=True), color="black", linewidth=1, zorder=1)
    ax.scatter(
        *zip(*front_xy, strict=True),
        s=180,
        facecolors="none",
        edgecolors="black",
        linewidths=1.5,
        zorder=3,
    )
    energies = [p.metrics[ENERGY] for p in measured]
    if min(energies) > 0 and max(energies) / min(energies) > 30:
        ax.set_xscale("log")

    clusters = _clusters(measured)
    front_ids = {p.id for p in front}
    on_front = [c for c in clusters if any(p.id in front_ids for p in c)]
    labelled = clusters if len(clusters) <= MAX_ALL_LABELS else on_front
    if axes and len(labelled) <= MAX_LABELS:
        _annotate(fig, ax, labelled, axes, measured)
    _legends(fig, encodings)
    unmarked = [a for a in axes if a not in {axis for axis, _, _ in encodings}]
    if unmarked:
        ax.text(
            0.99,
            0.01,
            f"not marked (see labels): {', '.join(unmarked)}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="dimgray",
        )
    fig.savefig(path, dpi=150)


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SIZES = (24, 60, 110, 170)
# (axis, its values in order, one style per value) of each marked axis.
_Encoding = tuple[str, list[str], list[Any]]


def _draw_points(ax: Any, measured: list[StoredPoint], axes: list[str]) -> list[_Encoding]:
    """Scatter the points with colour, marker and size for the first three axes that
    have few enough values for each; returns the encodings used."""
    palettes = ([f"C{i}" for i in range(MAX_COLOURS)], list(MARKERS), list(SIZES))
    encodings: list[_Encoding] = []
    free_axes = list(axes)
    for palette in palettes:
        for axis in free_axes:
            values = list(dict.fromkeys(p.labels.get(axis, "?") for p in measured))
            if len(values) <= len(palette):
                encodings.append((axis, values, palette[: len(values)]))
                free_axes.remove(axis)
                break
        else:
            encodings.append(("", [], []))
    by_style: dict[tuple[Any, ...], list[StoredPoint]] = {}
    for point in measured:
        key = tuple(
            style[values.index(point.labels.get(axis, "?"))] if axis else default
            for (axis, values, style), default in zip(encodings, ("C0", "o", 40), strict=True)
        )
        by_style.setdefault(key, []).append(point)
    for (colour, marker, size), members in by_style.items():
        ax.scatter(
            [p.metrics[ENERGY] * 1e3 for p in members],
            [served(p) for p in members],
            s=size,
            color=colour,
            marker=marker,
            alpha=0.85,
            zorder=2,
        )
    return [e for e in encodings if e[0]]


def _legends(fig: Any, encodings: list[_Encoding]) -> None:
    """One legend outside the axes: a section per marked axis, then the front's ring."""
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    for i, (axis, values, style) in enumerate(encodings):
        # A section title is an invisible handle; its label names the axis.
        handles.append(Line2D([], [], linestyle="", marker="", label=f"{axis}:"))
        for value, s in zip(values, style, strict=True):
            look: dict[str, Any] = {"color": "0.4", "marker": "o", "markersize": 6}
            if i == 0:
                look["color"] = s
            elif i == 1:
                look["marker"] = s
            else:
                look["markersize"] = float(s) ** 0.5
            handles.append(Line2D([], [], linestyle="", label=f"  {value}", **look))
    ring = Line2D(
        [],
        [],
        linestyle="-",
        color="black",
        marker="o",
        markersize=11,
        markerfacecolor="none",
        label="Pareto front",
    )
    fig.legend(handles=[*handles, ring], loc="outside right upper", fontsize=7, frameon=False)
