"""Running one sweep point: scenario data in, metrics or an error message out.

:func:`run_point` is what every backend executes in its worker processes. It takes and
returns plain data, so it pickles to a local process pool and to Dask workers alike,
and it never raises for a bad point: an invalid scenario, a scheduler that refuses or
fails, or any other exception becomes a failed :class:`PointResult` holding the
message, so one bad point never stops a sweep. The result depends on nothing but the
point's scenario (its ``simulation.seed`` included), so any worker gives the same
metrics.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from mcmsim.api import schedule, simulate
from mcmsim.scenario import ScenarioError, build_scenario
from mcmsim.schedule.registry import SchedulerError
from mcmsim.sweep.points import Point

__all__ = ["PointResult", "run_point"]


@dataclass(frozen=True)
class PointResult:
    """The outcome of one point.

    Attributes
    ----------
    id
        The point's id.
    metrics
        The run's ``results.json`` content, or None if the point failed.
    error
        The failure message, or None if the point succeeded.
    wall_s
        Wall-clock seconds the worker spent on the point.
    worker
        ``host:pid`` of the process that ran it.
    """

    id: str
    metrics: dict[str, Any] | None
    error: str | None
    wall_s: float
    worker: str

    @property
    def ok(self) -> bool:
        return self.error is None


def run_point(point: Point) -> PointResult:
    """Build, schedule and simulate ``point``'s scenario; never raises for a bad point."""
    start = time.perf_counter()
    metrics: dict[str, Any] | None = None
    error: str | None = None
    try:
        scenario = build_scenario(point.scenario, point.source)
        metrics = simulate(scenario, schedule(scenario)).to_dict()
    except (ScenarioError, SchedulerError) as exc:
        error = str(exc)
    except Exception as exc:  # any failure of one point is that point's result
        error = f"{type(exc).__name__}: {exc}"
    worker = f"{socket.gethostname()}:{os.getpid()}"
    return PointResult(point.id, metrics, error, time.perf_counter() - start, worker)
