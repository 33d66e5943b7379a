"""Running a sweep: expand the points, run those not stored yet, store, export, report.

:func:`run_sweep` is the whole of ``mcmsim sweep``. It expands the sweep into points,
opens the output folder's store, hands the points not stored yet to a backend, commits
each result as it arrives while a progress bar counts points done and failed with an
ETA, and at the end (also after Ctrl-C or a lost worker) writes ``results.csv``,
``sweep.json`` and ``pareto.png`` for the sweep's points. A folder that already holds
points is only continued with ``resume=True``: the points already stored are skipped,
the rest run, none runs twice. One sweep at a time writes to a folder
(:mod:`~mcmsim.sweep.lock`). With more than :data:`LARGE_SWEEP_POINTS` points to run,
the first runs in this process before the pool starts, and the count and an estimate
of the rest (its wall time x points / workers) are printed. A resumed sweep may differ
from the first run (an axis gained values, say): points of the old sweep stay in the
store, and the exports cover the points of the sweep as now written.

The store remembers which points form the sweep, so :func:`plot_sweep` redraws
``pareto.png`` from the folder alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mcmsim.files import write_atomically
from mcmsim.scenario import Diagnostic
from mcmsim.sweep.backends import WorkerLost, check_backend, open_backend
from mcmsim.sweep.evaluate import PointResult, run_point
from mcmsim.sweep.export import best_table, summary, write_csv, write_json
from mcmsim.sweep.lock import folder_lock
from mcmsim.sweep.pareto import plot_pareto, point_label, varying_axes
from mcmsim.sweep.points import Point, expand
from mcmsim.sweep.spec import SweepError, SweepSpec, format_value
from mcmsim.sweep.store import STORE_NAME, ResultStore, StoredPoint

__all__ = ["SweepReport", "describe_sweep", "plot_sweep", "print_report", "run_sweep"]

EXIT_INTERRUPTED = 130
LARGE_SWEEP_POINTS = 100  # more points to run than this: time the first, estimate the rest


@dataclass(frozen=True)
class SweepReport:
    """How a sweep run went.

    Attributes
    ----------
    planned
        Distinct points in the sweep.
    skipped
        Points already stored when the run started (``resume``).
    ran
        Points stored by this run.
    ok, failed
        The sweep's stored points that succeeded or failed (this run and earlier ones).
    not_run
        Points of the sweep still not stored (an interrupt, a lost worker).
    interrupted
        True if Ctrl-C (or ``stop_after``) ended the run early.
    worker_lost
        The message when a worker died, else None.
    wall_s
        Wall time from handing out the first point to storing the last one (backend
        start-up and shut-down excluded).
    point_wall_s
        Sum of the wall times the workers spent on this run's points.
    """

    name: str
    out: Path
    backend: str
    workers: int
    planned: int
    skipped: int
    ran: int
    ok: int
    failed: int
    not_run: int
    interrupted: bool
    worker_lost: str | None
    wall_s: float
    point_wall_s: float
    points: list[StoredPoint] = field(repr=False)
    files: list[Path] = field(repr=False)

    @property
    def exit_code(self) -> int:
        """0: every point stored and ok; 1: some failed or did not run; 130: interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return 1 if self.failed or self.not_run else 0


@contextmanager
def _progress(console: Console, total: int, label: str) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("points, [red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        progress.add_task(label, total=total, failed=0)
        yield progress


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    backend: str = "local",
    jobs: int | None = None,
    scheduler_address: str | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    console: Console | None = None,
) -> SweepReport:
    """Run ``spec`` into the folder ``out`` and write its exports there.

    Parameters
    ----------
    backend, jobs, scheduler_address
        Where points run (see :mod:`mcmsim.sweep.backends`); ``jobs`` None or 0 means
        the number of CPUs.
    resume
        Continue a sweep whose store is already in ``out``.
    stop_after
        Stop, as Ctrl-C would, once this many points are stored: runs a sweep in
        slices, each continued with ``resume``.
    console
        Where the progress bar goes (shown only on a terminal); default stderr.

    Raises
    ------
    SweepError
        If ``out`` is a file or cannot be created, another sweep is writing to it, it
        holds a store and ``resume`` is false, the store is unusable, or the backend
        cannot start.
    """
    out = Path(out)
    console = console or Console(stderr=True)
    if not jobs:  # None or 0: every CPU
        jobs = os.cpu_count() or 1
    check_backend(backend, jobs, scheduler_address)
    points = list(expand(spec))
    _make_folder(out)
    with folder_lock(out):
        return _run_locked(
            spec, points, out, backend, jobs, scheduler_address, resume, stop_after, console
        )


def _make_folder(out: Path) -> None:
    """Create the output folder ``out`` (and its parents) unless it exists.

    Raises
    ------
    SweepError
        If ``out`` is a file, or cannot be created.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        message = "is a file, not a folder: choose another --out"
    except OSError as exc:
        message = f"cannot create the output folder: {exc.strerror or exc}"
    else:
        return
    raise SweepError([Diagnostic(str(out), None, "", message)])


def _run_locked(
    spec: SweepSpec,
    points: list[Point],
    out: Path,
    backend: str,
    jobs: int,
    scheduler_address: str | None,
    resume: bool,
    stop_after: int | None,
    console: Console,
) -> SweepReport:
    """:func:`run_sweep` once the folder exists and this process holds its lock."""
    with ResultStore(out / STORE_NAME) as store:
        stored = store.stored_ids()
        if stored and not resume:
            raise SweepError(
                [
                    Diagnostic(
                        str(out),
                        None,
                        "",
                        f"holds {len(stored)} stored point(s): pass --resume to continue "
                        "that sweep, or choose another --out",
                    )
                ]
            )
        store.set_meta(
            name=spec.name,
            sweep_file=spec.file,
            base_scenario=spec.base_file,
            point_ids=[p.id for p in points],
        )
        pending = [p for p in points if p.id not in stored]
        run = _run_points(
            store,
            pending,
            backend,
            jobs,
            scheduler_address,
            stop_after,
            console,
            spec.name,
        )
        mine = _sweep_points(store)
    ok = sum(1 for p in mine if p.ok)
    report = SweepReport(
        name=spec.name,
        out=out,
        planned=len(points),
        skipped=len(points) - len(pending),
        ok=ok,
        failed=len(mine) - ok,
        not_run=len(points) - len(mine),
        points=mine,
        files=[],
        **run,
    )
    files = _export(report, spec)
    return replace(report, files=files)


def _run_points(
    store: ResultStore,
    pending: list[Point],
    kind: str,
    jobs: int,
    scheduler_address: str | None,
    stop_after: int | None,
    console: Console,
    name: str,
) -> dict[str, Any]:
    """Run ``pending`` on a backend, storing each result as it arrives."""
    run: dict[str, Any] = {
        "backend": kind,
        "workers": 0,
        "ran": 0,
        "interrupted": False,
        "worker_lost": None,
        "wall_s": 0.0,
        "point_wall_s": 0.0,
    }
    if not pending:
        return run
    by_id = {p.id: p for p in pending}
    backend = open_backend(kind, jobs, scheduler_address)
    run["workers"] = backend.workers
    start = time.perf_counter()
    failed = 0

    def stored(result: PointResult) -> bool:
        """Store ``result``; True when ``stop_after`` points are stored."""
        nonlocal failed
        store.add(by_id[result.id], result)
        run["ran"] += 1
        run["point_wall_s"] += result.wall_s
        failed += not result.ok
        return stop_after is not None and run["ran"] >= stop_after

    try:
        if len(pending) > LARGE_SWEEP_POINTS:
            first, pending = pending[0], pending[1:]
            if stored(_timed_first(first, len(pending), backend.workers, console)):
                run["interrupted"] = True
                return run
        results = backend.submit(pending)
        with closing(results), _progress(console, len(pending), escape(name)) as progress:
            for result in results:
                stop = stored(result)
                progress.update(progress.task_ids[0], advance=1, failed=failed)
                if stop:
                    run["interrupted"] = True
                    break
    except KeyboardInterrupt:
        run["interrupted"] = True
    except WorkerLost as exc:
        run["worker_lost"] = str(exc)
    finally:
        run["wall_s"] = time.perf_counter() - start
        backend.close()
    return run


def _timed_first(point: Point, rest: int, workers: int, console: Console) -> PointResult:
    """Run ``point`` here and print how long the ``rest`` should take on ``workers``.

    A large sweep says what it is in for before it starts: the first point's wall time,
    times the points left, over the workers. Points differ (a scheduler axis, a larger
    package), so this is an order of magnitude, which the progress bar then refines.
    """
    console.print(
        f"{rest + 1:,} points to run; timing the first for an estimate of the rest",
        soft_wrap=True,
        highlight=False,
    )
    result = run_point(point)
    remaining_s = result.wall_s * rest / workers
    console.print(
        f"the first point took {result.wall_s:.2f} s: the other {rest:,} should take about "
        f"{_duration(remaining_s)} on {workers} worker(s)",
        soft_wrap=True,
        highlight=False,
    )
    return result


def _duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h`` or ``2.1 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _sweep_points(store: ResultStore) -> list[StoredPoint]:
    """The stored points that belong to the sweep last run into the store."""
    ids = set(store.meta().get("point_ids", []))
    return [p for p in store.points() if p.id in ids]


def _export(report: SweepReport, spec: SweepSpec) -> list[Path]:
    csv_path = report.out / "results.csv"
    json_path = report.out / "sweep.json"
    png_path = report.out / "pareto.png"
    write_csv(report.points, csv_path)
    sweep = {
        "name": spec.name,
        "description": spec.description,
        "sweep_file": spec.file,
        "base_scenario": spec.base_file,
        "overrides": spec.overrides,
        "sample": {"n": spec.sample.n, "seed": spec.sample.seed} if spec.sample else None,
        "grid_size": spec.grid_size,
        "planned": report.planned,
        "complete": report.not_run == 0,
    }
    run = {
        "backend": report.backend,
        "workers": report.workers,
        "skipped": report.skipped,
        "ran": report.ran,
        "interrupted": report.interrupted,
        "worker_lost": report.worker_lost,
        "wall_s": report.wall_s,
        "point_wall_s": report.point_wall_s,
    }
    write_json(summary(report.points, sweep, run), json_path)
    write_atomically(png_path, lambda tmp: plot_pareto(report.points, tmp, spec.name))
    return [csv_path, json_path, png_path]


def plot_sweep(out: str | Path) -> Path:
    """Redraw ``pareto.png`` in the sweep folder ``out`` from its store; return its path.

    Raises
    ------
    SweepError
        If ``out`` holds no sweep store.
    """
    out = Path(out)
    if not (out / STORE_NAME).is_file():
        raise SweepError([Diagnostic(str(out), None, "", f"no sweep store ({STORE_NAME}) here")])
    with ResultStore(out / STORE_NAME) as store:
        points = _sweep_points(store)
        name = store.meta().get("name", out.name)
    path = out / "pareto.png"
    write_atomically(path, lambda tmp: plot_pareto(points, tmp, name))
    return path


def describe_sweep(spec: SweepSpec, console: Console, first: int = 10) -> int:
    """Print the number of points, the axes and the first ``first`` points; return the count."""
    points = expand(spec)
    shown: list[Point] = []
    count = 0
    for point in points:
        count += 1
        if len(shown) < first:
            shown.append(point)
    sizes = " x ".join(str(len(a.values)) for a in spec.axes)
    how = f"grid {sizes} = {spec.grid_size}"
    if spec.sample and spec.sample.n < spec.grid_size:
        how = f"a sample of {spec.sample.n} (seed {spec.sample.seed}) from the {how}"
    merged = (min(spec.sample.n, spec.grid_size) if spec.sample else spec.grid_size) - count
    if merged:
        how += f"; {merged} duplicate scenario(s) merged"
    console.print(
        f"[bold]{escape(spec.name)}[/bold]: {count} points ({how}), base {escape(spec.base_file)}",
        soft_wrap=True,
    )
    for axis in spec.axes:
        values = ", ".join(axis.labels)
        console.print(
            f"  axis {axis.path} ({len(axis.values)}): {values}", soft_wrap=True, markup=False
        )
    for path, value in spec.overrides.items():
        console.print(f"  override {path} = {format_value(value)}", soft_wrap=True, markup=False)
    console.print(f"first {len(shown)} of {count} points:")
    for point in shown:
        values = " ".join(f"{a.path}={point.labels[a.path]}" for a in spec.axes)
        console.print(
            f"  #{point.index:<4} {point.id[:12]}  {values}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    return count


def print_report(report: SweepReport, console: Console) -> None:
    """Print what a run did, the best point per objective and the failures."""
    parts = [f"{report.planned} points: {report.ok} ok, {report.failed} failed"]
    if report.not_run:
        parts.append(f"{report.not_run} not run")
    if report.skipped:
        parts.append(f"{report.skipped} already stored (resumed)")
    console.print(", ".join(parts), soft_wrap=True)
    if report.ran:
        console.print(
            f"ran {report.ran} on {report.backend} with {report.workers} worker(s) in "
            f"{report.wall_s:.1f} s ({report.point_wall_s:.1f} s of point time)",
            soft_wrap=True,
        )
    if any(p.ok for p in report.points):
        console.print(best_table(report.points, f"{report.name}: best points"))
    axes = varying_axes(report.points)
    failures = [p for p in report.points if not p.ok]
    for point in failures[:5]:
        first_line = (point.error or "").splitlines()[0] if point.error else ""
        console.print(
            f"[red]failed[/red] {escape(point_label(point, axes) or point.id[:12])}: "
            f"{escape(first_line)}",
            highlight=False,
            soft_wrap=True,
        )
    if len(failures) > 5:
        console.print(
            f"... and {len(failures) - 5} more failed points (see results.csv)", soft_wrap=True
        )
    if report.worker_lost:
        console.print(
            f"[red]{escape(report.worker_lost)}[/red]; run again with --resume", soft_wrap=True
        )
    if report.interrupted:
        console.print(
            f"interrupted: {report.not_run} point(s) not run; continue with --resume",
            soft_wrap=True,
        )
    if report.files:
        files = ", ".join(f.name for f in report.files)
        console.print(f"wrote {files} to {report.out}", soft_wrap=True, markup=False)
