"""``fastest-type``: an example scheduler plugin for mcmsim.

Each model runs on the chiplet type that executes it fastest, cut into (by default)
two pipeline stages on neighbouring chiplets so that consecutive requests overlap:
the cut, and which of the two chiplets goes first, minimise the slower stage, and a
model stays whole when no cut beats running it on one chiplet. Models are placed
largest first; when no free chiplet is left, a model shares the least-loaded one.

It uses only the public scheduler API: the :class:`~mcmsim.schedule.SchedulingProblem`
(package, workloads, per-layer cost tables) in, a :class:`~mcmsim.Schedule` out.
Cost: O(models x (chiplets + layers)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mcmsim.hardware.package import Chiplet
from mcmsim.schedule import BaseScheduler, Schedule, SchedulingProblem, Segment

__all__ = ["FastestTypeScheduler"]


class FastestTypeParams(BaseModel):
    """Parameters, validated by mcmsim before the scheduler is built."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    stages: int = Field(2, ge=1, le=2, description="pipeline stages per model (1 or 2)")


class FastestTypeScheduler(BaseScheduler):
    name = "fastest-type"
    description = "example plugin: each model on its fastest chiplet type, two stages on neighbours"
    Params = FastestTypeParams

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        package = problem.package
        chiplets = package.chiplets
        busy = np.zeros(len(chiplets))  # resident-latency load per chiplet, in ps
        free = set(range(len(chiplets)))
        segments: list[Segment] = []
        for w in sorted(problem.workloads, key=lambda w: -w.model.macs):
            latency = {t: problem.costs(w, t).latency_ps for t in package.chiplet_types}
            fastest = min(latency, key=lambda t: latency[t].sum())
            first = self._pick(free, busy, chiplets, fastest)
            free.discard(first)
            second = None
            if self.params.stages == 2 and len(w.model.layers) > 1:
                near = [c for c in package.neighbours(first) if c in free]
                if near:
                    # Prefer a neighbour of the fastest type, then the lowest id.
                    second = min(near, key=lambda c: (chiplets[c].type.name != fastest, c))
                    free.discard(second)
            n = len(w.model.layers)
            plan = [(0, n, first)]
            if second is not None:
                plan = self._split(latency, chiplets, n, first, second)
                if len({c for _, _, c in plan}) == 1:
                    free.add(second)  # not worth a second stage: give the chiplet back
            for start, stop, chiplet in plan:
                segments.append(Segment(w.name, start, stop, chiplet))
                busy[chiplet] += latency[chiplets[chiplet].type.name][start:stop].sum()
        return Schedule.single(self.name, segments)

    @staticmethod
    def _split(
        latency: dict[str, np.ndarray], chiplets: Sequence[Chiplet], n: int, a: int, b: int
    ) -> list[tuple[int, int, int]]:
        """The two-stage cut (in either chiplet order) with the smallest bottleneck.

        Keeps the model whole on ``a`` when no cut beats that: a layer that runs badly
        on ``b`` (say, a huge GEMM on an output-stationary array) would otherwise
        become the bottleneck of every request.
        """
        whole = latency[chiplets[a].type.name].sum()
        best = (whole, [(0, n, a)])
        for head_chiplet, tail_chiplet in ((a, b), (b, a)):
            head = np.cumsum(latency[chiplets[head_chiplet].type.name])
            tail = np.cumsum(latency[chiplets[tail_chiplet].type.name][::-1])[::-1]
            # Cut c puts layers [0, c) on the head chiplet and [c, n) on the tail one.
            stage = np.maximum(head[:-1], tail[1:])
            cut = 1 + int(np.argmin(stage))
            if stage[cut - 1] < best[0]:
                best = (stage[cut - 1], [(0, cut, head_chiplet), (cut, n, tail_chiplet)])
        return best[1]

    @staticmethod
    def _pick(free: set[int], busy: np.ndarray, chiplets: Sequence[Chiplet], fastest: str) -> int:
        """A free chiplet of the fastest type, else any free one, else the least loaded."""
        of_type = sorted(c for c in free if chiplets[c].type.name == fastest)
        if of_type:
            return of_type[0]
        if free:
            return min(free)
        return int(np.argmin(busy))
