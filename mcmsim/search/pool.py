"""Simulating batches of schedules, in this process or in worker processes.

Searches hand the simulator a batch of schedules at a time; :class:`SimulationPool`
returns their :class:`~mcmsim.metrics.results.Results` in the order given, whether it
runs them itself (``jobs=1``) or spreads them over ``jobs`` worker processes. The
simulator is deterministic, so the answer of a search that consumes batches in order
does not depend on ``jobs``. Workers start from a fresh interpreter (``forkserver``, or
``spawn`` where that is missing), which is safe when the caller runs threads, such as
a progress bar or a notebook kernel; each receives the scenarios once.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from mcmsim.api import simulate
from mcmsim.metrics.results import Results
from mcmsim.scenario import Scenario
from mcmsim.schedule.schedule import Schedule

__all__ = ["SimulationPool"]

_WORKER: dict[str, Scenario] = {}


def _init_worker(scenarios: dict[str, Scenario]) -> None:
    _WORKER.update(scenarios)


def _run(scenario: Scenario, schedule: Schedule) -> Results:
    return simulate(scenario, schedule)


def _worker_run(payload: tuple[str, dict[str, Any]]) -> Results:
    which, schedule = payload
    return _run(_WORKER[which], Schedule.from_dict(schedule))


class SimulationPool:
    """Simulate schedules on named scenarios, returning their Results in order.

    Parameters
    ----------
    scenarios : dict
        Scenario by name (e.g. a reduced-fidelity ``"search"`` and the ``"final"`` one).
    jobs : int
        Worker processes; 1 simulates in this process.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, scenarios: dict[str, Scenario], jobs: int = 1) -> None:
        self.scenarios = scenarios
        self.runs = 0
        self._pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            method = "forkserver" if "forkserver" in methods else "spawn"
            self._pool = ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(scenarios,),
            )

    def run(self, schedules: list[Schedule], scenario: str) -> list[Results]:
        """Results of each schedule simulated on ``scenarios[scenario]``, in order."""
        self.runs += len(schedules)
        if self._pool is None or len(schedules) < 2:
            return [_run(self.scenarios[scenario], s) for s in schedules]
        payload = [(scenario, s.to_dict()) for s in schedules]
        return list(self._pool.map(_worker_run, payload))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> SimulationPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
