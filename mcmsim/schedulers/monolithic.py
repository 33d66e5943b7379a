"""``monolithic``: the layer-by-layer baseline of a single large accelerator.

Every model runs whole on chiplet 0, one layer after the other; requests of all models
share that one array in arrival order, the way a monolithic accelerator serves a model
mix. Meant for 1x1 packages; on a larger package the other chiplets stay idle.
Cost: O(models).
"""

from __future__ import annotations

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler
from mcmsim.schedule.schedule import Schedule, Segment

__all__ = ["MonolithicScheduler"]


class MonolithicScheduler(BaseScheduler):
    name = "monolithic"
    description = "all models layer by layer on one chiplet (baseline for a 1x1 package)"

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        segments = [Segment(w.name, 0, len(w.model.layers), 0) for w in problem.workloads]
        return Schedule.single(self.name, segments)
