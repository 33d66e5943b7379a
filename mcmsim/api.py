"""The Python API: load a scenario, schedule it, simulate the schedule.

    >>> import mcmsim
    >>> scenario = mcmsim.load_scenario("scenarios/gpt2_resnet.toml")
    >>> schedule = mcmsim.schedule(scenario)            # the scenario's [scheduler]
    >>> results = mcmsim.simulate(scenario, schedule)
    >>> results.throughput_per_s

The command line is a thin layer over these three functions.
"""

from __future__ import annotations

from typing import Any

from mcmsim.metrics.results import Results, summarize
from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import Scheduler, make_scheduler, run_scheduler
from mcmsim.schedule.schedule import Schedule
from mcmsim.sim.engine import run_engine

__all__ = ["schedule", "simulate"]


def schedule(
    scenario: Scenario,
    scheduler: str | Scheduler | None = None,
    params: dict[str, Any] | None = None,
) -> Schedule:
    """Ask a scheduler for a validated Schedule.

    ``scheduler`` is a registered name or a scheduler object; by default the scenario's
    ``[scheduler]`` table names it, and its other keys (updated by ``params``) are the
    parameters.

    Raises
    ------
    SchedulerError
        Unknown name, bad parameters, a scheduler that raises or returns an invalid schedule.
    """
    if scheduler is None or isinstance(scheduler, str):
        spec = scenario.spec.scheduler
        name = scheduler or spec.name
        merged = {**(spec.params if name == spec.name else {}), **(params or {})}
        scheduler = make_scheduler(name, merged)
    return run_scheduler(scheduler, SchedulingProblem(scenario))


def simulate(scenario: Scenario, schedule: Schedule, *, trace: bool = False) -> Results:
    """Simulate ``schedule`` on ``scenario`` and return its :class:`Results`.

    ``trace=True`` keeps every event (for trace.json and timeline plots) and the
    per-request records as a numpy structured array in ``Results.records``.

    Raises
    ------
    ScheduleError
        If the schedule does not fit the scenario.
    """
    problem = SchedulingProblem(scenario)
    schedule.validate(problem.layer_counts(), problem.n_chiplets, problem.mode == "stream")
    raw = run_engine(scenario, schedule, trace=trace)
    meta = {
        "scenario": scenario.name,
        "scheduler": schedule.scheduler,
        "seed": scenario.simulation.seed,
        "mode": scenario.simulation.mode,
        "warmup": scenario.simulation.warmup,
    }
    names = [w.name for w in scenario.workloads]
    types = [c.type.name for c in scenario.package.chiplets]
    return summarize(raw, meta, names, types)
