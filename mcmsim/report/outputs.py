"""Output folders: what ``mcmsim run --out`` and ``mcmsim search --out`` write.

A run's folder holds ``results.json``, ``schedule.json`` (loadable with
:meth:`mcmsim.Schedule.load`), ``records.npz`` (every segment execution, transfer and
queue change in compact columns, :mod:`mcmsim.metrics.activity`; ``mcmsim plot
timeline`` redraws any window from it) and ``timeline.png`` (the default window), and,
when asked for, ``trace.json`` (Perfetto / chrome://tracing, streamed from the
records); a search's holds ``results.json``, ``schedule.json``, ``search.csv``
(every evaluation) and ``search.png`` (objective against evaluations). Each file is
written through :mod:`mcmsim.files`, so an error or an interrupt never leaves a torn
file, and the folder is created when missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mcmsim.files import write_atomically, write_text

if TYPE_CHECKING:
    from mcmsim.metrics.results import Results
    from mcmsim.schedule.schedule import Schedule
    from mcmsim.search.tabu import SearchOutcome

__all__ = ["RUN_FILES", "SEARCH_FILES", "TRACE_FILE", "write_run_dir", "write_search_dir"]

RUN_FILES = ("results.json", "schedule.json", "records.npz", "timeline.png")
TRACE_FILE = "trace.json"
SEARCH_FILES = ("results.json", "schedule.json", "search.csv", "search.png")


def write_run_dir(
    results: Results,
    schedule: Schedule,
    out_dir: str | Path,
    trace: bool = False,
    trace_window_ps: tuple[int, int] | None = None,
) -> list[Path]:
    """Write a run's :data:`RUN_FILES` (and with ``trace``, :data:`TRACE_FILE`) into ``out_dir``.

    Parameters
    ----------
    results
        The run's results; simulate with ``activity=True`` for records, a timeline and
        a trace that show the run (without them they are empty).
    schedule
        The schedule that was simulated.
    out_dir
        The folder, created if missing; files already there are replaced.
    trace
        Also write ``trace.json``: every event of the run, or those overlapping
        ``trace_window_ps`` when given.
    trace_window_ps
        ``(start_ps, end_ps)`` of the trace's window.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`RUN_FILES`, then the trace.

    Raises
    ------
    OSError
        If the folder or a file cannot be written.
    ValueError
        If ``trace_window_ps`` does not have ``start < end``.
    """
    from mcmsim.report.timeline import plot_timeline

    out = Path(out_dir)
    paths = [out / name for name in RUN_FILES]
    write_text(paths[0], results.to_json())
    write_text(paths[1], schedule.to_json())
    if results.activity is not None:
        write_atomically(paths[2], results.activity.save)
    else:
        paths.remove(paths[2])
    write_atomically(out / "timeline.png", lambda tmp: plot_timeline(results, tmp))
    if trace:
        from mcmsim.report.perfetto import write_trace

        paths.append(out / TRACE_FILE)
        write_atomically(paths[-1], lambda tmp: write_trace(results, tmp, trace_window_ps))
    return paths


def write_search_dir(outcome: SearchOutcome, out_dir: str | Path, title: str) -> list[Path]:
    """Write a local search's :data:`SEARCH_FILES` into ``out_dir``.

    Parameters
    ----------
    outcome
        What :class:`~mcmsim.schedulers.local_search.LocalSearchScheduler` found.
    out_dir
        The folder, created if missing; files already there are replaced.
    title
        Title of the history plot.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`SEARCH_FILES`.

    Raises
    ------
    OSError
        If the folder or a file cannot be written.
    """
    from mcmsim.search.history import plot_history, write_history_csv

    out = Path(out_dir)
    paths = [out / name for name in SEARCH_FILES]
    objective = outcome.report["objective"]
    write_text(paths[0], outcome.results.to_json())
    write_text(paths[1], outcome.schedule.to_json())
    write_atomically(paths[2], lambda tmp: write_history_csv(outcome.history, objective, tmp))
    write_atomically(paths[3], lambda tmp: plot_history(outcome.history, objective, tmp, title))
    return paths
