"""``homogeneous-pipeline``: Simba-like layer pipelining that ignores dataflow.

The baseline a homogeneous MCM scheduler would produce. Chiplets are split among the
models in proportion to their MACs (at least one each); each model takes a run of
consecutive chiplets along a snake (boustrophedon) path through the mesh, so its
segments sit on neighbouring chiplets, and is cut into contiguous segments of equal
MACs, one per chiplet. Which dataflow a chiplet has is never looked at, so on a
heterogeneous package a segment may land on a chiplet that runs it badly: that is the
point of the baseline.

With more models than chiplets, models are not split: each runs whole on one chiplet,
the largest (by MACs) first onto the chiplet with the fewest MACs so far.

Cost: O(models + chiplets + layers) after the models' MAC counts.
"""

from __future__ import annotations

import numpy as np

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.schedulers._pipeline import allocate, snake_order

__all__ = ["HomogeneousPipelineScheduler", "equal_work_cuts"]


def equal_work_cuts(macs: np.ndarray, parts: int) -> list[int]:
    """Cut points ``[0, c1, ..., len(macs)]`` giving ``parts`` segments of equal MACs.

    Each cut goes to the layer boundary whose cumulative MACs are nearest the target,
    kept strictly increasing so every segment has at least one layer; fewer segments
    come back when there are fewer layers than ``parts``.
    """
    n = len(macs)
    parts = max(1, min(parts, n))
    cumulative = np.concatenate([[0], np.cumsum(macs, dtype=np.float64)])
    total = cumulative[-1]
    cuts = [0]
    for k in range(1, parts):
        target = total * k / parts
        nearest = int(np.argmin(np.abs(cumulative - target)))
        # Leave at least one layer for each segment still to come.
        cuts.append(min(max(nearest, cuts[-1] + 1), n - (parts - k)))
    cuts.append(n)
    return cuts


class HomogeneousPipelineScheduler(BaseScheduler):
    name = "homogeneous-pipeline"
    description = "Simba-like: equal-MAC segments on chiplets split by work, dataflow ignored"

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        workloads = problem.workloads
        order = snake_order(problem.package)
        macs = [float(w.model.macs) for w in workloads]
        if len(workloads) > problem.n_chiplets:
            busy = dict.fromkeys(order, 0.0)
            segments = []
            for index in sorted(range(len(workloads)), key=lambda i: (-macs[i], i)):
                chiplet = min(order, key=lambda c: busy[c])
                busy[chiplet] += macs[index]
                w = workloads[index]
                segments.append(Segment(w.name, 0, len(w.model.layers), chiplet))
            return Schedule.single(self.name, segments)
        counts = allocate(macs, problem.n_chiplets)
        segments = []
        position = 0
        for w, count in zip(workloads, counts, strict=True):
            layer_macs = np.array([layer.macs for layer in w.model.layers], np.float64)
            cuts = equal_work_cuts(layer_macs, count)
            for k in range(len(cuts) - 1):
                segments.append(Segment(w.name, cuts[k], cuts[k + 1], order[position + k]))
            position += count
        return Schedule.single(self.name, segments)
