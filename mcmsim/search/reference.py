"""Reference rates: what each model's throughput is normalised by in the objectives.

An open stream's reference is its offered rate (inferences/s): the demand a schedule
should serve. A closed stream's (and, in batch mode, every model's) is the most that
model *alone* could be served on the whole package: the LP bound of
:func:`mcmsim.search.bound.throughput_bound` along a mix of that model only, with its
own in-flight count (batch mode: one request). No schedule serves a closed model beyond
it, so its normalised throughput is at most about 1 whatever the other models get.
See :mod:`mcmsim.metrics.objectives` for how the references are used.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from mcmsim.metrics.objectives import ModelReference, ObjectiveContext
from mcmsim.scenario import Scenario
from mcmsim.search.bound import throughput_bound
from mcmsim.units import S_PER_PS

__all__ = ["objective_context"]

_CACHE_SIZE = 16
_contexts: OrderedDict[tuple[Any, ...], tuple[ObjectiveContext, Any]] = OrderedDict()


def _reference(scenario: Scenario, index: int) -> tuple[float, str]:
    workload = scenario.workloads[index]
    stream = workload.stream
    if scenario.simulation.mode == "stream":
        rate = stream._offered_rate_per_s()
        if rate is not None:
            return rate * workload.batch, "offered"
    in_flight = stream._requests_in_flight()
    counts = {workload.name: in_flight} if in_flight is not None else None
    bound = throughput_bound(scenario, {workload.name: 1.0}, in_flight=counts)
    return bound.throughput_per_s, "isolated bound"


def objective_context(scenario: Scenario) -> ObjectiveContext:
    """Every workload's reference rate, weight and latency target (cached per scenario).

    Raises
    ------
    ValueError
        If the LP solver fails.
    """
    key = (
        id(scenario.package),
        tuple(id(w) for w in scenario.workloads),
        scenario.simulation.mode,
        scenario.simulation.precision_bytes,
    )
    hit = _contexts.get(key)
    if hit is not None:
        _contexts.move_to_end(key)
        return hit[0]
    models = {}
    for i, w in enumerate(scenario.workloads):
        rate, basis = _reference(scenario, i)
        target_ps = w.latency_target_ps
        models[w.name] = ModelReference(
            reference_per_s=rate,
            basis=basis,
            weight=w.weight,
            latency_target_s=None if target_ps is None else target_ps * S_PER_PS,
        )
    context = ObjectiveContext(models)
    # The scenario's parts are kept alive so their ids stay unique while cached.
    _contexts[key] = (context, (scenario.package, scenario.workloads))
    if len(_contexts) > _CACHE_SIZE:
        _contexts.popitem(last=False)
    return context
