"""The Python API: load a scenario, schedule it, simulate the schedule.

    >>> import mcmsim
    >>> scenario = mcmsim.load_scenario("scenarios/gpt2_resnet.toml")
    >>> schedule = mcmsim.schedule(scenario)            # the scenario's [scheduler]
    >>> results = mcmsim.simulate(scenario, schedule)
    >>> results.throughput_per_s

The command line is a thin layer over these three functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mcmsim.metrics.objectives import results_objectives
from mcmsim.metrics.results import OptimalityBound, Results
from mcmsim.metrics.summary import summarize
from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import Scheduler, make_scheduler, run_scheduler
from mcmsim.schedule.schedule import Schedule
from mcmsim.sim.engine import run_engine

__all__ = ["schedule", "scheduler_params", "simulate"]


def scheduler_params(
    scenario: Scenario, name: str | None = None, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The parameters scheduler ``name`` (default: the scenario's) runs with.

    The scenario's ``[scheduler]`` keys when it names that scheduler, updated by
    ``params``; a table-valued parameter (such as local-search's ``constraints``) is
    updated key by key, so a latency bound given here adds to the scenario's bounds.
    """
    spec = scenario.spec.scheduler
    merged = dict(spec.params) if (name or spec.name) == spec.name else {}
    for key, value in (params or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = {**merged[key], **value}
        merged[key] = value
    return merged


def schedule(
    scenario: Scenario,
    scheduler: str | Scheduler | None = None,
    params: dict[str, Any] | None = None,
) -> Schedule:
    """Ask a scheduler for a validated Schedule.

    ``scheduler`` is a registered name or a scheduler object; by default the scenario's
    ``[scheduler]`` table names it, and its other keys (updated by ``params``, see
    :func:`scheduler_params`) are the parameters.

    Raises
    ------
    SchedulerError
        Unknown name, bad parameters, a scheduler that raises or returns an invalid schedule.
    """
    if scheduler is None or isinstance(scheduler, str):
        name = scheduler or scenario.spec.scheduler.name
        scheduler = make_scheduler(name, scheduler_params(scenario, name, params))
    return run_scheduler(scheduler, SchedulingProblem(scenario))


def simulate(
    scenario: Scenario,
    schedule: Schedule,
    *,
    trace: bool = False,
    records: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Results:
    """Simulate ``schedule`` on ``scenario`` and return its :class:`Results`.

    ``records=True`` keeps per-request records (model, arrival, completion, inferences,
    energy) as a numpy structured array in ``Results.records``; ``trace=True`` also keeps
    every event (for trace.json and timeline plots). Both cost memory linear in the
    number of requests; without them statistics take constant memory. ``progress`` is
    called as ``progress(completed, target)`` while the run advances.

    Raises
    ------
    ScheduleError
        If the schedule does not fit the scenario.
    """
    problem = SchedulingProblem(scenario)
    schedule.validate(problem.layer_counts(), problem.n_chiplets, problem.mode == "stream")
    raw = run_engine(scenario, schedule, trace=trace, records=records, progress=progress)
    meta = {
        "scenario": scenario.name,
        "scheduler": schedule.scheduler,
        "seed": scenario.simulation.seed,
        "mode": scenario.simulation.mode,
        "warmup": scenario.simulation.warmup,
        "slo": {w.name: w.slo.model_dump() for w in scenario.workloads if w.slo is not None},
    }
    names = [w.name for w in scenario.workloads]
    types = [c.type.name for c in scenario.package.chiplets]
    results = summarize(raw, meta, names, types)
    # The search package builds on this API, so its LP bound is imported only when used
    # (which also keeps scipy out of ``import mcmsim``).
    from mcmsim.search.bound import bound_for_results
    from mcmsim.search.reference import objective_context

    bound = bound_for_results(scenario, results.to_dict())
    objectives = results_objectives(results, objective_context(scenario))
    return replace(results, bound=OptimalityBound(**bound), objectives=objectives)
