"""``standalone``: every model whole on one chiplet, chiplets dealt out round-robin.

The simplest schedule that uses a multi-chiplet package: no pipelining, no
heterogeneity awareness. Model ``i`` goes to chiplet ``i mod n``, so with more models
than chiplets some chiplets serve several models. Cost: O(models).
"""

from __future__ import annotations

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler
from mcmsim.schedule.schedule import Schedule, Segment

__all__ = ["StandaloneScheduler"]


class StandaloneScheduler(BaseScheduler):
    name = "standalone"
    description = "each model whole on one chiplet, chiplets assigned round-robin"

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        segments = [
            Segment(w.name, 0, len(w.model.layers), i % problem.n_chiplets)
            for i, w in enumerate(problem.workloads)
        ]
        return Schedule.single(self.name, segments)
