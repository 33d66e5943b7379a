"""The search's history as a table and a picture: search.csv and search.png.

One row per evaluated schedule, in evaluation order: the step, the move that made it,
its estimated objective, its simulated objective when it was simulated (with whether
it met the latency constraints) and the best simulated objective so far. The plot shows
estimates and simulations against evaluations, with the best-so-far curve.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mcmsim.metrics.objectives import objective_spec
from mcmsim.search.tabu import HistoryRow

__all__ = ["plot_history", "write_history_csv"]


def write_history_csv(history: list[HistoryRow], objective: str, path: Path) -> None:
    """Write the history to ``path`` (columns carry the objective's unit)."""
    key = objective_spec(objective).column
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "evaluation",
                "step",
                "move",
                f"estimated_{key}",
                f"simulated_{key}",
                "feasible",
                f"best_{key}",
            ]
        )
        for row in history:
            writer.writerow(
                [
                    row.evaluation,
                    row.step,
                    row.move,
                    f"{row.estimated:.6g}",
                    "" if row.simulated is None else f"{row.simulated:.6g}",
                    "" if row.feasible is None else int(row.feasible),
                    "" if row.best is None else f"{row.best:.6g}",
                ]
            )


def plot_history(history: list[HistoryRow], objective: str, path: Path, title: str = "") -> None:
    """Plot objective against evaluations with the best-so-far curve, to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = objective_spec(objective)
    unit, higher = spec.unit, spec.higher_is_better
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax.scatter(
        [r.evaluation for r in history],
        [r.estimated for r in history],
        s=6,
        color="0.7",
        label="estimated",
    )
    simulated = [r for r in history if r.simulated is not None]
    ax.scatter(
        [r.evaluation for r in simulated],
        [r.simulated for r in simulated],
        s=14,
        color="tab:blue",
        label="simulated",
    )
    best = [(r.evaluation, r.best) for r in history if r.best is not None]
    if best:
        # Extend the best-so-far step to the last evaluation.
        xs, ys = zip(*best, strict=True)
        ax.step(
            [*xs, history[-1].evaluation],
            [*ys, ys[-1]],
            where="post",
            color="tab:red",
            label="best so far",
        )
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"{objective} ({unit})")
    if not higher:
        ax.set_yscale("log")
    ax.set_title(
        title or f"local search: {objective} ({'higher' if higher else 'lower'} is better)"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
