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
from mcmsim.schedule.spec import parse_scheduler_spec
from mcmsim.sim.engine import run_engine
from mcmsim.units import PS_PER_S

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
    # The table's name may carry inline parameters ("scar[objective=edp]").
    own_name = parse_scheduler_spec(spec.name).name
    merged = dict(spec.params) if (name or own_name) in (own_name, spec.name) else {}
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

    ``scheduler`` is a registered name, a spec with parameters (``"scar[objective=edp]"``,
    see :mod:`mcmsim.schedule.spec`) or a scheduler object; by default the scenario's
    ``[scheduler]`` table names it, and its other keys (updated by the spec's
    parameters, then by ``params``, see :func:`scheduler_params`) are the parameters.

    Raises
    ------
    SchedulerError
        Unknown name, a malformed spec, bad parameters, a scheduler that raises or
        returns an invalid schedule.
    """
    if scheduler is None or isinstance(scheduler, str):
        spec = parse_scheduler_spec(scheduler or scenario.spec.scheduler.name)
        given = {**spec.params, **(params or {})}
        scheduler = make_scheduler(spec.name, scheduler_params(scenario, spec.name, given))
    return run_scheduler(scheduler, SchedulingProblem(scenario))


def simulate(
    scenario: Scenario,
    schedule: Schedule,
    *,
    activity: bool = False,
    trace: bool = False,
    records: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Results:
    """Simulate ``schedule`` on ``scenario`` and return its :class:`Results`.

    ``records=True`` keeps per-request records (model, arrival, completion, inferences,
    energy) as a numpy structured array in ``Results.records``; ``activity=True`` (or
    its older name ``trace=True``) also keeps one compact record per segment execution,
    transfer and queue change in ``Results.activity`` (for records.npz, trace.json and
    timeline plots, see :mod:`mcmsim.metrics.activity`). Both cost memory linear in the
    length of the run; without them statistics keep 8 bytes a request (its
    latency). ``progress`` is called as ``progress(completed, target)`` while the run
    advances.

    Raises
    ------
    ScheduleError
        If the schedule does not fit the scenario.
    """
    problem = SchedulingProblem(scenario)
    schedule.validate(problem.layer_counts(), problem.n_chiplets, problem.mode == "stream")
    raw = run_engine(
        scenario, schedule, activity=activity or trace, records=records, progress=progress
    )
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
    from mcmsim.search.makespan_bound import with_makespan_bound
    from mcmsim.search.reference import objective_context

    data = results.to_dict()
    bound = bound_for_results(scenario, data)
    if scenario.simulation.mode == "batch":
        bound = with_makespan_bound(scenario, data, bound)
    objectives = results_objectives(results, objective_context(scenario))
    recorded = results.activity
    if recorded is not None:
        # What a plot redrawn from records.npz alone needs to know about the run.
        recorded = replace(
            recorded,
            meta={
                **recorded.meta,
                "scenario": scenario.name,
                "scheduler": schedule.scheduler,
                "mode": scenario.simulation.mode,
                "warmup_ps": round(results.run.warmup_s * PS_PER_S),
                "measured_ps": round(results.run.measured_s * PS_PER_S),
                "mean_latency_ps": {
                    name: m.latency_s.mean * PS_PER_S for name, m in results.models.items()
                },
            },
        )
    return replace(
        results, bound=OptimalityBound(**bound), objectives=objectives, activity=recorded
    )
