"""``exhaustive``: every schedule of a small instance, each scored by the simulator.

For each model it enumerates every way to cut its layer order into ``k`` contiguous
segments (``k`` from 1 to ``max_segments``, default the number of chiplets) and every
assignment of those segments to chiplets in which consecutive segments sit on
different chiplets (two consecutive segments on one chiplet are one segment, split for
nothing); the schedules are all combinations over the models, in one time window.
Each is simulated with the scenario's settings and the best on the objective (with the
latency constraints, ranked as in :mod:`mcmsim.search.objective`) is returned; ties go
to the first in enumeration order.

This is the reference that measures the local search's gap to the optimum. Its size is

    prod_m  sum_{k=1..K}  C(L_m - 1, k - 1) * n * (n - 1)^(k - 1)

for models of ``L_m`` layers on ``n`` chiplets; above ``max_schedules`` (default
5,000, e.g. two 8-layer models on 2 chiplets: 256) it refuses with a
:class:`~mcmsim.schedule.registry.SchedulerError` stating the count. Out of its space:
several windows, segment order within a chiplet (residency priority), and more than
``max_segments`` segments per model. Cost: one simulation per schedule.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from mcmsim.metrics.objectives import DEFAULT_OBJECTIVE, ObjectiveName, resolve_objective
from mcmsim.metrics.results import Results
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler, SchedulerError
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.search.objective import LatencyConstraint, score_results
from mcmsim.search.pool import SimulationPool

__all__ = ["ExhaustiveScheduler", "count_schedules"]

# Schedules simulated per batch handed to the pool.
CHUNK = 64


class ExhaustiveParams(BaseModel):
    """Parameters of ``exhaustive``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    objective: ObjectiveName = DEFAULT_OBJECTIVE
    constraints: dict[str, LatencyConstraint] = Field(default_factory=dict)
    max_segments: PositiveInt | None = Field(
        None, description="segments per model at most (default: the number of chiplets)"
    )
    max_schedules: PositiveInt = Field(5000, description="refuse larger instances")
    jobs: PositiveInt = Field(1, description="simulator processes; the answer does not change")


def _per_model(layers: int, chiplets: int, max_segments: int) -> int:
    return sum(
        math.comb(layers - 1, k - 1) * chiplets * (chiplets - 1) ** (k - 1)
        for k in range(1, min(max_segments, layers) + 1)
    )


def count_schedules(problem: SchedulingProblem, max_segments: int | None = None) -> int:
    """How many schedules :class:`ExhaustiveScheduler` would simulate."""
    k = max_segments or problem.n_chiplets
    return math.prod(
        _per_model(len(w.model.layers), problem.n_chiplets, k) for w in problem.workloads
    )


def _model_options(
    model: str, layers: int, chiplets: int, max_segments: int
) -> list[tuple[Segment, ...]]:
    options: list[tuple[Segment, ...]] = []
    for k in range(1, min(max_segments, layers) + 1):
        for cuts in itertools.combinations(range(1, layers), k - 1):
            bounds = (0, *cuts, layers)
            for first in range(chiplets):
                for rest in itertools.product(range(chiplets - 1), repeat=k - 1):
                    placed = [first]
                    for r in rest:  # any chiplet but the previous one
                        placed.append(r if r < placed[-1] else r + 1)
                    options.append(
                        tuple(Segment(model, bounds[i], bounds[i + 1], placed[i]) for i in range(k))
                    )
    return options


class ExhaustiveScheduler(BaseScheduler):
    name = "exhaustive"
    description = "every cut and chiplet assignment of a small instance, simulated (optimum)"
    Params = ExhaustiveParams

    def __init__(self, params: ExhaustiveParams | None = None) -> None:
        super().__init__(params)
        self.best_results: Results | None = None
        self.evaluated = 0

    def _schedules(self, problem: SchedulingProblem, max_segments: int) -> Iterator[Schedule]:
        options = [
            _model_options(w.name, len(w.model.layers), problem.n_chiplets, max_segments)
            for w in problem.workloads
        ]
        for combo in itertools.product(*options):
            yield Schedule.single(self.name, [s for segs in combo for s in segs])

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        """Simulate every schedule of the space and return the best.

        Raises
        ------
        SchedulerError
            If the space is larger than ``max_schedules`` (the message gives its size),
            or a latency constraint names an unknown model.
        """
        p = self.params
        max_segments = p.max_segments or problem.n_chiplets
        total = count_schedules(problem, max_segments)
        if total > p.max_schedules:
            shape = ", ".join(f"{w.name} {len(w.model.layers)} layers" for w in problem.workloads)
            raise SchedulerError(
                f"scheduler 'exhaustive': {total:,} schedules ({shape}; {problem.n_chiplets} "
                f"chiplets; up to {max_segments} segments per model) exceed the limit of "
                f"max_schedules = {p.max_schedules:,}; use local-search, lower max_segments, "
                "or raise max_schedules"
            )
        names = {w.name for w in problem.workloads}
        unknown = sorted(set(p.constraints) - names)
        if unknown:
            raise SchedulerError(
                f"scheduler 'exhaustive': latency constraint for unknown model {unknown[0]!r}"
            )
        resolve_objective(p.objective)
        best: tuple[Any, Schedule, Results] | None = None
        schedules = self._schedules(problem, max_segments)
        with SimulationPool({"final": problem.scenario}, p.jobs) as pool:
            while chunk := list(itertools.islice(schedules, CHUNK)):
                for schedule, results in zip(chunk, pool.run(chunk, "final"), strict=True):
                    key = score_results(results, p.objective, p.constraints).key
                    if best is None or key > best[0]:
                        best = (key, schedule, results)
            self.evaluated = pool.runs
        assert best is not None
        self.best_results = best[2]
        return best[1]
