"""Sweep throughput on each backend: the shipped example on 1 and 2 local workers and Dask.

Run: ``python benchmarks/bench_sweep.py [--repeat 3] [--sweep scenarios/sweeps/layouts_2x2.toml]``.

Runs the whole sweep into a fresh folder with ``local`` and 1 worker, ``local`` and 2
workers, and ``dask`` on a 2-worker ``LocalCluster``, ``--repeat`` times each, and
reports for each configuration (best of the repeats):

- ``total_s``: wall time of :func:`mcmsim.sweep.run_sweep`, backend start-up included;
- ``run_s``: wall time from the first point handed out to the last one stored;
- ``setup_s``: ``total_s - run_s``: pool or cluster start-up and shut-down, expanding
  the points, writing the exports;
- ``speedup``: ``total_s`` of one local worker divided by this ``total_s`` (ideal: 2 on
  two cores), and the same for ``run_s``;
- ``point s``: the sum of the points' own wall times (it grows when the workers share
  the cores with each other or with other work);
- ``overhead_ms_per_point``: worker-seconds not spent inside a point
  (``run_s * workers - sum of point wall times``) per point: dispatch, pickling,
  storing, and waiting at the end of the sweep.

It also checks that every configuration stored the same metrics for every point.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console

from mcmsim.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ROOT / "scenarios" / "sweeps" / "layouts_2x2.toml"
CONFIGS = (("local", 1), ("local", 2), ("dask", 2))


def measure(sweep: Path, backend: str, jobs: int) -> dict[str, object]:
    """Run the sweep once into a temporary folder; times and stored metrics."""
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115 - closed with the console
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = run_sweep(load_sweep(sweep), tmp, backend=backend, jobs=jobs, console=quiet)
        total = time.perf_counter() - start
        with sqlite3.connect(Path(tmp) / "sweep.sqlite") as db:
            metrics = dict(db.execute("SELECT id, metrics FROM points"))
    quiet.file.close()
    assert report.failed == 0 and report.not_run == 0, "benchmark sweep must succeed"
    return {
        "total_s": total,
        "run_s": report.wall_s,
        "point_s": report.point_wall_s,
        "points": report.ran,
        "workers": report.workers,
        "metrics": metrics,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=SWEEP)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, float]] = {}
    reference: dict[str, str] | None = None
    # Round-robin over the configurations, so load from elsewhere spreads over all of them.
    all_runs: dict[tuple[str, int], list[dict[str, object]]] = {c: [] for c in CONFIGS}
    for _ in range(args.repeat):
        for backend, jobs in CONFIGS:
            all_runs[backend, jobs].append(measure(args.sweep, backend, jobs))
    for (backend, jobs), runs in all_runs.items():
        for run in runs:
            reference = reference or run["metrics"]
            assert run["metrics"] == reference, f"{backend} x{jobs}: metrics differ"
        best = min(runs, key=lambda r: r["total_s"])
        points, workers = best["points"], best["workers"]
        results[f"{backend} x{jobs}"] = {
            "total_s": best["total_s"],
            "total_s_median": statistics.median(r["total_s"] for r in runs),
            "run_s": best["run_s"],
            "setup_s": best["total_s"] - best["run_s"],
            "point_s_sum": best["point_s"],
            "points": points,
            "workers": workers,
            "overhead_ms_per_point": 1e3 * (best["run_s"] * workers - best["point_s"]) / points,
        }
    base = results["local x1"]
    for row in results.values():
        row["speedup_total"] = base["total_s"] / row["total_s"]
        row["speedup_run"] = base["run_s"] / row["run_s"]

    print(
        f"{args.sweep.name}: {base['points']} points, best of {args.repeat}; "
        f"{os.cpu_count()} CPUs, 1-min load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after (other work on the machine slows the parallel runs)"
    )
    print(
        f"{'config':10} {'total s':>8} {'run s':>7} {'setup s':>9} {'point s':>8} "
        f"{'speedup':>8} {'run speedup':>11} {'overhead ms/pt':>14}"
    )
    for name, row in results.items():
        print(
            f"{name:10} {row['total_s']:8.2f} {row['run_s']:7.2f} {row['setup_s']:9.2f} "
            f"{row['point_s_sum']:8.2f} {row['speedup_total']:8.2f} {row['speedup_run']:11.2f} "
            f"{row['overhead_ms_per_point']:14.1f}"
        )
    print("identical stored metrics on every backend: yes")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
