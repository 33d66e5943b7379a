"""``greedy``: a heterogeneity-aware pipeline built in one pass, without search.

1. Chiplets are split among the models in proportion to their MACs (at least one each).
2. Every model, the largest first, claims a seed chiplet of the type that runs the whole
   model fastest (the one with most free neighbours, so its region can grow). Seeding
   all models before growing any keeps a small model from being left only chiplets of
   a type that runs it badly.
3. Regions grow in turns, largest model first, one chiplet at a time: a free chiplet
   next to the region, of the fastest type for the model, preferring one next to the
   chiplet added last so the region stays a path. A model boxed in by others takes the
   nearest free chiplet instead.
4. The region is ordered as a path of neighbouring chiplets (a Hamiltonian path when
   one exists; among those, the type order whose cut gives the smallest bottleneck),
   and the model is cut along it into contiguous segments that minimise the pipeline's
   bottleneck stage, each stage costed on the type of the chiplet it lands on
   (:func:`~mcmsim.schedulers._pipeline.partition_path`). So each layer ends up on the
   type that runs it best as far as contiguity allows: a ResNet's first convolutions
   on an output-stationary chiplet, its GEMM-like rest on a weight-stationary one.
   A chiplet that would not lower the bottleneck is left without a segment.

With more models than chiplets, models run whole, the longest first, each on the
chiplet where it would finish earliest (its latency on that chiplet's type).

Cost: O(models x chiplets^2) for regions, plus per model O(P x k x L^2) for the cuts,
where k is its chiplet count, L its layer count and P <= ``MAX_PATHS`` the distinct
type orders tried.
"""

from __future__ import annotations

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.schedulers._pipeline import StageModel, allocate, partition_path, share_chiplets

__all__ = ["GreedyScheduler", "region_paths"]

# Bounds on the Hamiltonian-path enumeration of one region (regions are small).
MAX_PATHS = 64
MAX_STEPS = 20_000


def region_paths(problem: SchedulingProblem, region: list[int]) -> list[list[int]]:
    """Hamiltonian paths through ``region`` along mesh links, up to ``MAX_PATHS``.

    Falls back to a depth-first preorder (consecutive chiplets then are not always
    neighbours) when the region has no Hamiltonian path within ``MAX_STEPS`` steps.
    """
    package = problem.package
    members = set(region)
    # The DFS asks for the same neighbours many times over.
    inside = {c: [n for n in package.neighbours(c) if n in members] for c in region}
    paths: list[list[int]] = []
    steps = 0

    def extend(path: list[int], seen: set[int]) -> None:
        nonlocal steps
        steps += 1
        if len(paths) >= MAX_PATHS or steps > MAX_STEPS:
            return
        if len(path) == len(region):
            paths.append(list(path))
            return
        for nxt in inside[path[-1]]:
            if nxt not in seen:
                path.append(nxt)
                seen.add(nxt)
                extend(path, seen)
                seen.discard(nxt)
                path.pop()

    for root in region:
        extend([root], {root})
    if paths:
        return paths
    preorder: list[int] = []
    stack = [region[0]]
    while stack:
        node = stack.pop()
        if node in preorder:
            continue
        preorder.append(node)
        stack.extend(n for n in reversed(package.neighbours(node)) if n in members)
    preorder += [c for c in region if c not in preorder]
    return [preorder]


class GreedyScheduler(BaseScheduler):
    name = "greedy"
    description = (
        "heterogeneity-aware: chiplets by work, layers on their best type, "
        "latency-balanced segments on neighbours"
    )

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        package = problem.package
        stages = {w.name: StageModel(problem, w) for w in problem.workloads}
        if len(stages) > problem.n_chiplets:
            loads = {m: s.total_latency_ps for m, s in stages.items()}
            segments = share_chiplets(problem, loads, range(problem.n_chiplets))
            return Schedule.single(self.name, segments)

        macs = {w.name: w.model.macs for w in problem.workloads}  # a sum over layers
        workloads = sorted(problem.workloads, key=lambda w: (-macs[w.name], w.name))
        counts = dict(
            zip(
                (w.name for w in workloads),
                allocate([float(macs[w.name]) for w in workloads], problem.n_chiplets),
                strict=True,
            )
        )
        free = set(range(problem.n_chiplets))
        regions: dict[str, list[int]] = {}
        rank = {m: {t: i for i, t in enumerate(s.best_types())} for m, s in stages.items()}

        def type_rank(model: str, chiplet: int) -> int:
            return rank[model][package.chiplets[chiplet].type.name]

        def free_neighbours(chiplet: int) -> int:
            return sum(1 for n in package.neighbours(chiplet) if n in free)

        for w in workloads:
            seed = min(free, key=lambda c: (type_rank(w.name, c), -free_neighbours(c), c))
            regions[w.name] = [seed]
            free.discard(seed)
        while any(len(regions[w.name]) < counts[w.name] for w in workloads):
            for w in workloads:
                region = regions[w.name]
                if len(region) >= counts[w.name]:
                    continue
                adjacent = {n for c in region for n in package.neighbours(c) if n in free}
                last = set(package.neighbours(region[-1]))
                if adjacent:
                    pick = min(adjacent, key=lambda c: (type_rank(w.name, c), c not in last, c))
                else:
                    pick = min(
                        free,
                        key=lambda c: (
                            min(package.hops(c, r) for r in region),
                            type_rank(w.name, c),
                            c,
                        ),
                    )
                region.append(pick)
                free.discard(pick)

        segments: list[Segment] = []
        for w in problem.workloads:
            segments.extend(self._cut(problem, stages[w.name], regions[w.name]))
        return Schedule.single(self.name, segments)

    @staticmethod
    def _cut(problem: SchedulingProblem, stages: StageModel, region: list[int]) -> list[Segment]:
        """Segments of one model along the best-ordered path through its region."""
        chiplets = problem.package.chiplets
        n = stages.n_layers
        tried: dict[tuple[str, ...], tuple[float, list[tuple[int, int, int]], list[int]]] = {}
        for path in region_paths(problem, region):
            types = tuple(chiplets[c].type.name for c in path)
            if types in tried:
                continue
            cut = partition_path(stages, 0, n, types)
            times = [stages.stage(types[p], a, b)[0] for a, b, p in cut]
            tried[types] = (max(times) + 1e-6 * sum(times), cut, path)
        _, cut, path = min(tried.values(), key=lambda item: item[0])
        return [Segment(stages.workload.name, a, b, path[p]) for a, b, p in cut]
