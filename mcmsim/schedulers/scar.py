"""``scar``: the SCAR scheduler (Odema et al., arXiv 2405.00790), as DESIGN.md section 3 gives it.

SCAR narrows a scheduling space of about 10^56 points with five heuristic steps, scoring
candidates with an analytical model rather than a simulator.

1. **Windows.** Each layer's expected latency is the chiplet-count-weighted mean of
   its latency over the package's chiplet types. The horizon, the longest model's
   expected total, is cut into ``n_splits + 1`` windows of equal length, and each
   model's layers are packed in topological order first-fit into them: a layer goes
   into the current window while it has room, else into the next (the last window takes
   whatever is left). Short models finish in early windows. Windows that end up empty
   are dropped. *Stream mode allows one window* (the simulator regroups chiplets only
   between the phases of a batch run), so in stream mode there is a single window and
   ``n_splits`` is ignored.
2. **Provisioning.** Per window, each model present gets chiplets in proportion to its
   expected work there, at least one each (``provisioning="proportional"``), or every
   split of the chiplets with at least one each is tried (``"exhaustive"``);
   ``"auto"`` is exhaustive when there are at most ``exhaustive_limit`` splits (the
   default 32 covers a 2x2 package and a 3x3 one with up to three models; on a 6x6
   package with two models, 35 splits, exhaustive search took 12 s for 1% more
   throughput).
3. **Segmentation.** A model provisioned ``n`` chiplets is cut into at most ``n``
   contiguous segments. *Choice:* the paper leaves open how cut points are found; here
   a dynamic program over (layers placed, segments per chiplet type) finds, for every
   mix of chiplet types the package can offer (e.g. one weight-stationary and two
   output-stationary segments), the cut points and type order that minimise the
   bottleneck stage, the sum of stages and (for energy objectives) the energy. Each
   mix keeps its best candidate by the model's own score; the ``top_k`` best mixes per
   model go on to mapping, so the type mixes compete there, not the cut variants.
4. **Mapping.** Segments are placed by a depth-first search over trees of neighbouring
   chiplets: the first segment on a free chiplet of its type, each next one on a free
   neighbour of the previous chiplet with the wanted type, else of the nearest earlier
   chiplet in the tree (backtracking), else the nearest free chiplet of that type, else
   of any type. Branching over equally good choices gives up to ``max_placements``
   placements per candidate. Models are placed largest first; a branch-and-bound
   search over the models' placements (each model's options in order of its own score)
   keeps the best complete mapping, visiting at most ``max_evaluations`` nodes per window.
5. **Scoring.** The analytical SCAR model: a segment costs the sum of its layers'
   latencies plus its first input load and its last output transfer (hops x 35 ns plus
   bytes over the link bandwidth, or DRAM latency plus bytes over DRAM bandwidth at the
   model's ends). A model running ``r = b / b'`` micro-batches costs
   ``sum(stages) + (r - 1) * max(stage)``; a window costs its slowest model, and the
   windows add up. *Choices:* a segment whose weights overflow its chiplet's SRAM
   takes at least the time to stream the overflow from DRAM (the simulator's rule;
   SCAR's "slack" term is left out, since mcmsim simulates contention); in stream mode
   ``r`` is the scenario's request count divided among the models, so the score is the
   steady-state bottleneck; energy is the dynamic energy of all micro-batches plus
   the package's leakage over the window; ``objective="edp"`` minimises each window's
   energy x latency (the default: SCAR's headline metric). When a window has more
   models than chiplets, models run whole, longest first onto the chiplet where they
   finish earliest (no search).

The latency objective makes every model serve the same number of requests, so the
slowest model decides and a faster small model earns nothing. ``objective="throughput"``
(an mcmsim extension for stream mode) instead maximises the geometric mean of the
models' steady-state inference rates, each the lesser of what its bottleneck stage
allows and what its stream offers (closed streams: requests in flight over the request
latency, by Little's law; open streams: the arrival rate). Speeding up any model then
counts, and starving one costs as much as it gains elsewhere; maximising the plain
sum of rates would hand every chiplet to the cheapest model. In batch mode it is the
latency objective.

Cost: per window and model, the segmentation DP takes O(V x T x L^2 / 2) vectorised
time for L layers, T chiplet types and V type mixes of at most ``c`` segments (at most
(c + 1)^T), where ``c`` is the largest share any split gives the model (so proportional
provisioning on a large package pays only for the chiplets the model can get); mixes
of one size form one batch. Mapping visits at most ``max_evaluations`` search nodes,
each costing O(top_k x max_placements x n) the first time its set of free chiplets is
seen (results are cached, and so are placements per type sequence and free set, the
placed options per candidate, and the costs of placements that land on the same types
with the same hops; free sets are bit masks in the placement DFS). Candidates are
scored from the DP's own end figures. ``benchmarks/bench_schedulers.py`` times it: on
a 3x3 package with GPT-2 large, BERT-large and ResNet-50 about 0.2 s, on a 6x6 package
with five models of SCAR's mix 5 about 0.5 s in either mode: in stream mode mostly the
segmentation DP of GPT-2 large (20 segments over 437 layers), in batch mode the DP and
the mapping search of the first window, which uses up its ``max_evaluations``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations, pairwise, product
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler
from mcmsim.schedule.schedule import Schedule, Segment, Window
from mcmsim.schedulers._pipeline import StageModel, allocate, relax, share_chiplets
from mcmsim.units import PS_PER_S

__all__ = ["ScarScheduler", "first_fit_windows"]


class ScarParams(BaseModel):
    """Parameters of the ``scar`` scheduler."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    objective: Literal["latency", "energy", "edp", "throughput"] = Field(
        "edp", description="what the analytical model optimises"
    )
    n_splits: int = Field(4, ge=0, description="batch mode: n_splits + 1 time windows")
    top_k: PositiveInt = Field(4, description="segmentation candidates kept per model")
    provisioning: Literal["auto", "proportional", "exhaustive"] = Field(
        "auto", description="how chiplets are split among models (auto: exhaustive when small)"
    )
    exhaustive_limit: PositiveInt = Field(
        32, description="auto: exhaustive provisioning up to this many chiplet splits"
    )
    max_placements: PositiveInt = Field(16, description="placements tried per candidate")
    max_evaluations: PositiveInt = Field(
        50_000, description="search-tree nodes visited per window, over all provisionings"
    )


@dataclass(frozen=True)
class _Candidate:
    """A segmentation of one model's layers in one window: cut points and intended types."""

    cuts: tuple[tuple[int, int], ...]
    types: tuple[str, ...]


class _Option(NamedTuple):
    """A placed candidate and its analytical cost (a named tuple: the mapping search
    builds tens of thousands)."""

    model: str
    segments: tuple[tuple[int, int, int], ...]
    chiplets: frozenset[int]
    latency_ps: float
    energy_pj: float
    log_rate: float


def first_fit_windows(
    expected: dict[str, np.ndarray], n_windows: int
) -> list[dict[str, tuple[int, int]]]:
    """Pack each model's layers, in order, first-fit into ``n_windows`` equal windows.

    ``expected[model]`` holds per-layer expected latencies. The window length is the
    longest model's total over ``n_windows``; a layer that does not fit in the current
    window opens the next (a window never stays empty for a model that has layers
    left). Returns, per non-empty window, each present model's ``(start, stop)``.
    """
    horizon = max((float(e.sum()) for e in expected.values()), default=0.0)
    capacity = horizon / n_windows if n_windows else math.inf
    ranges: list[dict[str, tuple[int, int]]] = [{} for _ in range(n_windows)]
    for model, latencies in expected.items():
        window, fill, start = 0, 0.0, 0
        for i, x in enumerate(latencies):
            if fill > 0 and fill + x > capacity and window < n_windows - 1:
                ranges[window][model] = (start, i)
                window, fill, start = window + 1, 0.0, i
            fill += float(x)
        ranges[window][model] = (start, len(latencies))
    return [r for r in ranges if r]


class ScarScheduler(BaseScheduler):
    name = "scar"
    description = (
        "SCAR: time windows, provisioning by work, top-k segmentation, "
        "DFS mapping on neighbours; objective latency|energy|edp|throughput"
    )
    Params = ScarParams

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        params: ScarParams = self.params  # type: ignore[assignment]
        return _Search(problem, params).run(self.name)


class _Search:
    """One scheduling run: the problem, its stage models and caches."""

    def __init__(self, problem: SchedulingProblem, params: ScarParams) -> None:
        self.problem = problem
        self.params = params
        self.package = problem.package
        self.types_of = [ch.type.name for ch in self.package.chiplets]
        self.type_counts = self.package.type_counts()
        self.stages = {w.name: StageModel(problem, w) for w in problem.workloads}
        self.static_w = sum(ch.type.leakage_w for ch in self.package.chiplets)
        n_models = len(problem.workloads)
        requests = problem.scenario.simulation.requests
        self.rounds = {
            w.name: len(w.micro_batch_sizes)
            * (max(1, requests // n_models) if problem.mode == "stream" else 1)
            for w in problem.workloads
        }
        # What caps each model's rate: closed streams' in-flight counts, else offered rates.
        self.in_flight = {w.name: w.stream._requests_in_flight() for w in problem.workloads}
        self.offered_per_s = {w.name: w.stream._offered_rate_per_s() for w in problem.workloads}
        # A batch run's throughput is its inferences over its makespan: the latency score.
        self.objective = (
            "latency"
            if params.objective == "throughput" and problem.mode == "batch"
            else params.objective
        )
        self._segmentations: dict[tuple[str, int, int, int], list[tuple]] = {}
        self._ranked: dict[tuple[str, int, int, int], list[_Candidate]] = {}
        # The mapping search asks the same questions many times; these make them O(1).
        n_chiplets = len(self.types_of)
        self.neighbours = [self.package.neighbours(c) for c in range(n_chiplets)]
        self.neighbours_by_type = [
            {t: [c for c in near if self.types_of[c] == t] for t in self.package.chiplet_types}
            for near in self.neighbours
        ]
        # neighbour_masks[c][t]: bit mask of c's neighbours of type t (None: any type).
        self.neighbour_masks = [
            {None: sum(1 << n for n in self.neighbours[c])}
            | {t: sum(1 << n for n in near) for t, near in by_type.items()}
            for c, by_type in enumerate(self.neighbours_by_type)
        ]
        self.hops = [
            [self.package.hops(a, b) for b in range(n_chiplets)] for a in range(n_chiplets)
        ]
        self._placed_costs: dict[tuple, tuple[float, float, float]] = {}
        self._option_lists: dict[tuple, list[tuple[float, _Option]]] = {}
        self._placement_lists: dict[tuple, list[tuple[int, ...]]] = {}
        self._placed_options: dict[tuple, dict[tuple[int, ...], tuple[float, _Option]]] = {}
        # rings[c][t]: the chiplets of type t (None: any) by hops from c, nearest first,
        # one (bit mask, ids in order) per distance.
        self.rings: list[dict[str | None, list[tuple[int, list[int]]]]] = []
        for row in self.hops:
            by_type: dict[str | None, list[tuple[int, list[int]]]] = {}
            for want in [None, *self.package.chiplet_types]:
                wanted = [c for c in range(n_chiplets) if want is None or self.types_of[c] == want]
                distances = sorted({row[c] for c in wanted})
                ids = [[c for c in wanted if row[c] == d] for d in distances]
                by_type[want] = [(sum(1 << c for c in ring), ring) for ring in ids]
            self.rings.append(by_type)

    # --- scores ---------------------------------------------------------------------

    def _score(self, latency_ps: float, dynamic_pj: float, log_rate: float) -> float:
        """The objective, lower is better; ``log_rate`` sums the models' log inferences/s."""
        if self.objective == "throughput":
            return -log_rate
        if self.objective == "latency":
            return latency_ps
        energy = dynamic_pj + self.static_w * latency_ps  # W x ps = pJ
        return energy if self.objective == "energy" else energy * latency_ps

    def _cost(self, model: str, stages: list[tuple[float, float]]) -> tuple[float, float, float]:
        """:meth:`_pipeline_cost` of a list of (time, energy) stages."""
        # Added in stage order, as the segmentation DP adds them (``sum`` of floats
        # compensates rounding from Python 3.12 on).
        total_ps = bottleneck_ps = energy_pj = 0.0
        for time_ps, stage_pj in stages:
            total_ps += time_ps
            bottleneck_ps = max(bottleneck_ps, time_ps)
            energy_pj += stage_pj
        return self._pipeline_cost(model, total_ps, bottleneck_ps, energy_pj)

    def _pipeline_cost(
        self, model: str, total_ps: float, bottleneck_ps: float, energy_pj: float
    ) -> tuple[float, float, float]:
        """Latency (pipeline formula) and energy of ``rounds`` micro-batches, and the log
        of the steady-state inferences/s of the model's stream, for stages of these summed
        times, longest time and summed energy."""
        r = self.rounds[model]
        latency = total_ps + (r - 1) * bottleneck_ps
        energy = r * energy_pj
        workload = self.problem.workload(model)
        per_request = len(workload.micro_batch_sizes)
        request_ps = total_ps + (per_request - 1) * bottleneck_ps
        rate = PS_PER_S / (per_request * bottleneck_ps)  # requests/s the bottleneck allows
        in_flight = self.in_flight[model]
        if in_flight is not None:  # Little's law, no queueing
            rate = min(rate, in_flight * PS_PER_S / request_ps)
        else:  # an open stream sends no more than it offers
            rate = min(rate, self.offered_per_s[model])
        return latency, energy, math.log(rate * workload.batch)

    # --- 1. windows -----------------------------------------------------------------

    def run(self, name: str) -> Schedule:
        problem = self.problem
        if problem.mode == "stream":
            windows = [{w.name: (0, len(w.model.layers)) for w in problem.workloads}]
        else:
            n = len(self.types_of)
            weights = {t: c / n for t, c in self.type_counts.items()}
            expected = {
                m: sum(weights[t] * s.latency[t] for t in s.types) for m, s in self.stages.items()
            }
            windows = first_fit_windows(expected, self.params.n_splits + 1)
        return Schedule(name, tuple(Window(tuple(self._window(r))) for r in windows))

    # --- 2. provisioning ------------------------------------------------------------

    def _window(self, ranges: dict[str, tuple[int, int]]) -> list[Segment]:
        n_chiplets = len(self.types_of)
        if len(ranges) > n_chiplets:
            loads = {
                m: {t: float(self.stages[m].latency[t][a:b].sum()) for t in self.stages[m].types}
                for m, (a, b) in ranges.items()
            }
            return share_chiplets(self.problem, loads, range(n_chiplets), ranges)
        # Largest expected work first: it is placed first and has the most to lose.
        work = {
            m: float(
                sum(
                    c / n_chiplets * self.stages[m].latency[t][a:b].sum()
                    for t, c in self.type_counts.items()
                )
            )
            for m, (a, b) in ranges.items()
        }
        models = sorted(ranges, key=lambda m: (-work[m], m))
        proportional = allocate([work[m] for m in models], n_chiplets)
        splits = [proportional]
        n_splits = math.comb(n_chiplets - 1, len(models) - 1)
        mode = self.params.provisioning
        if mode == "exhaustive" or (mode == "auto" and n_splits <= self.params.exhaustive_limit):
            splits += [s for s in _compositions(n_chiplets, len(models)) if s != proportional]
        # The segmentation DP grows with the square of the segments allowed: it runs only
        # as far as the largest share any split gives the model.
        self.window_caps = {m: max(split[i] for split in splits) for i, m in enumerate(models)}
        self.budget = self.params.max_evaluations
        best: tuple[float, list[_Option]] = (math.inf, [])
        for split in splits:
            caps = dict(zip(models, split, strict=True))
            found = self._map(models, ranges, caps, best[0])
            if found is not None and found[0] < best[0]:
                best = found
            if self.budget <= 0:
                break
        return [Segment(option.model, a, b, c) for option in best[1] for a, b, c in option.segments]

    # --- 3. segmentation ------------------------------------------------------------

    def _candidates(self, model: str, lo: int, hi: int, cap: int) -> list[_Candidate]:
        """The ``top_k`` best type mixes of at most ``cap`` segments, best first."""
        ranked_key = (model, lo, hi, cap)
        if ranked_key in self._ranked:
            return self._ranked[ranked_key]
        # One DP per model and window serves every split: it runs to the largest share.
        most = min(self.window_caps[model], hi - lo)
        key = (model, lo, hi, most)
        if key not in self._segmentations:
            self._segmentations[key] = self._segment(model, lo, hi, most)
        best_by_mix: dict[tuple[int, ...], tuple[float, _Candidate]] = {}
        for candidate, mix, figures in self._segmentations[key]:
            if len(candidate.cuts) > cap:
                continue
            score = self._score(*self._pipeline_cost(model, *figures))
            if mix not in best_by_mix or score < best_by_mix[mix][0]:
                best_by_mix[mix] = (score, candidate)
        ranked = sorted(best_by_mix.values(), key=lambda item: item[0])
        self._ranked[ranked_key] = [candidate for _, candidate in ranked[: self.params.top_k]]
        return self._ranked[ranked_key]

    def _segment(
        self, model: str, lo: int, hi: int, cap: int
    ) -> list[tuple[_Candidate, tuple[int, ...], tuple[float, float, float]]]:
        """DP over (layers placed, segments per type): best cuts for every type mix of
        at most ``cap`` segments, each with its mix and its stages' summed time, longest
        time and summed energy (one hop between stages)."""
        stages = self.stages[model]
        types = stages.types
        n = hi - lo
        limits = [min(cap, self.type_counts[t]) for t in types]
        mixes = sorted(
            (v for v in product(*(range(k + 1) for k in limits)) if 1 <= sum(v) <= cap),
            key=sum,
        )
        transposed = stages.transposed(lo, hi)
        modes = ["max", "sum"] + (["energy"] if self.objective in ("energy", "edp") else [])
        # Row k + 1 of the tables is mixes[k], row 0 the empty mix. Mixes of one size
        # depend only on mixes one segment smaller, so each size is one batch.
        zero = tuple(0 for _ in types)
        index = {zero: 0} | {mix: k + 1 for k, mix in enumerate(mixes)}
        # shorter[row][t]: the row of that row's mix with one segment of type t less.
        shorter = [
            [index.get((*mix[:t], mix[t] - 1, *mix[t + 1 :]), -1) for t in range(len(types))]
            for mix in index
        ]
        sizes: dict[int, list[tuple[int, ...]]] = {}
        for mix in mixes:
            sizes.setdefault(sum(mix), []).append(mix)
        # Per size and type: the batch's lanes using that type, their rows, and the rows
        # of the mixes one segment of that type short; the same for every mode.
        steps: dict[int, list[tuple[int, str, np.ndarray, np.ndarray]]] = {}
        for size, batch in sizes.items():
            steps[size] = []
            for ti, ctype in enumerate(types):
                lanes = [k for k, mix in enumerate(batch) if mix[ti] > 0]
                if lanes:
                    prev = [
                        index[(*batch[k][:ti], batch[k][ti] - 1, *batch[k][ti + 1 :])]
                        for k in lanes
                    ]
                    steps[size].append((ti, ctype, np.array(lanes, np.intp), np.array(prev)))
        found: list[tuple[_Candidate, tuple[int, ...], tuple[float, float, float]]] = []
        seen: set[_Candidate] = set()
        for mode in modes:
            # figures[f, row, j]: bottleneck, sum and energy of the best way to place the
            # first j layers as that row's mix, by the mode's key.
            figures = np.full((3, len(index), n + 1), np.inf)
            figures[:, 0, 0] = 0.0
            parent_type = np.full((len(index), n + 1), -1)
            parent_cut = np.full((len(index), n + 1), -1)
            for size, batch in sizes.items():
                # The batch's rows are one contiguous block (mixes are sorted by size);
                # its figures are built in local arrays and stored once.
                first_row = index[batch[0]]
                block = slice(first_row, first_row + len(batch))
                best_key = np.full((len(batch), n + 1 - size), np.inf)
                local = figures[:, block, size:].copy()
                local_type = parent_type[block, size:].copy()
                local_cut = parent_cut[block, size:].copy()
                for ti, ctype, lanes, prev in steps[size]:
                    time_t, energy_t = transposed[ctype]
                    arg, value, c_mx, c_sm, c_en = relax(
                        mode, size, figures[:, prev], time_t, energy_t
                    )
                    better = value < best_key[lanes]
                    best_key[lanes] = np.where(better, value, best_key[lanes])
                    local[0, lanes] = np.where(better, c_mx, local[0, lanes])
                    local[1, lanes] = np.where(better, c_sm, local[1, lanes])
                    local[2, lanes] = np.where(better, c_en, local[2, lanes])
                    local_type[lanes] = np.where(better, ti, local_type[lanes])
                    local_cut[lanes] = np.where(better, arg, local_cut[lanes])
                figures[:, block, size:] = local
                parent_type[block, size:] = local_type
                parent_cut[block, size:] = local_cut
            ends = figures[:, :, n].T.tolist()
            type_rows, cut_rows = parent_type.tolist(), parent_cut.tolist()
            for mix in mixes:
                bottleneck, total, energy = ends[index[mix]]
                if not math.isfinite(bottleneck):
                    continue
                cuts, chosen = [], []
                row, j = index[mix], n
                while j > 0:
                    ti, i = type_rows[row][j], cut_rows[row][j]
                    cuts.append((lo + i, lo + j))
                    chosen.append(types[ti])
                    row = shorter[row][ti]
                    j = i
                candidate = _Candidate(tuple(cuts[::-1]), tuple(chosen[::-1]))
                if candidate not in seen:
                    seen.add(candidate)
                    found.append((candidate, mix, (total, bottleneck, energy)))
        return found

    # --- 4. mapping -----------------------------------------------------------------

    def _placements(self, types: tuple[str, ...], free: frozenset[int]) -> list[tuple[int, ...]]:
        """Up to ``max_placements`` DFS-tree placements of a type sequence on ``free``."""
        cache_key = (types, free)
        if cache_key in self._placement_lists:
            return self._placement_lists[cache_key]
        limit = self.params.max_placements
        types_of, neighbours, by_type = self.types_of, self.neighbours, self.neighbours_by_type
        masks, nearest = self.neighbour_masks, self._nearest
        roots = sorted(c for c in free if types_of[c] == types[0]) or sorted(free)
        per_root = max(1, -(-limit // len(roots)))
        found: list[tuple[int, ...]] = []
        quota = 0
        path: list[int] = []
        left = sum(1 << c for c in free)  # bit c set: chiplet c is free

        def options() -> list[int]:
            want = types[len(path)]
            untyped: list[int] = []  # the nearest tree node's free neighbours, any type
            for node in reversed(path):
                mask = masks[node]
                if mask[want] & left:
                    return [c for c in by_type[node][want] if left >> c & 1]
                if not untyped and mask[None] & left:
                    untyped = [c for c in neighbours[node] if left >> c & 1]
            return nearest(path[-1], want, left) or untyped or nearest(path[-1], None, left)

        # Depth first, the path and the free set updated in place; ``quota`` counts the
        # placements this root may still give.
        def extend() -> None:
            nonlocal quota, left
            if len(path) == len(types):
                quota -= 1
                found.append(tuple(path))
                return
            for chiplet in options():
                if quota <= 0:
                    return
                path.append(chiplet)
                left ^= 1 << chiplet
                extend()
                left ^= 1 << chiplet
                path.pop()

        for root in roots:
            if len(found) >= limit:
                break
            quota = min(per_root, limit - len(found))
            path.append(root)
            left ^= 1 << root
            extend()
            left ^= 1 << root
            path.pop()
        self._placement_lists[cache_key] = found
        return found

    def _nearest(self, chiplet: int, want: str | None, left: int) -> list[int]:
        """The chiplets set in the bit mask ``left`` (of type ``want``, if given) fewest
        hops from ``chiplet``, in id order; empty if there are none."""
        for mask, ring in self.rings[chiplet][want]:
            if mask & left:
                return [c for c in ring if left >> c & 1]
        return []

    def _options(
        self, model: str, lo: int, hi: int, cap: int, free: frozenset[int]
    ) -> list[tuple[float, _Option]]:
        """Every placed candidate of ``model`` on ``free`` with its own score, best first."""
        cache_key = (model, lo, hi, cap, free)
        if cache_key in self._option_lists:
            return self._option_lists[cache_key]
        scored = []
        for candidate in self._candidates(model, lo, hi, cap):
            # The same placement recurs on many free sets (they differ in chiplets it
            # does not use), so each candidate's placed options are kept.
            placed = self._placed_options.setdefault((model, candidate), {})
            for placement in self._placements(candidate.types, free):
                if placement not in placed:
                    placed[placement] = self._option(model, candidate, placement)
                scored.append(placed[placement])
        scored.sort(key=lambda item: item[0])
        self._option_lists[cache_key] = scored
        return scored

    def _option(
        self, model: str, candidate: _Candidate, placement: tuple[int, ...]
    ) -> tuple[float, _Option]:
        """One placed candidate with its own score."""
        # A placement's cost depends only on the types it lands on and the hops
        # between them, which many placements share.
        placed = tuple([self.types_of[c] for c in placement])
        hops = tuple([self.hops[a][b] for a, b in pairwise(placement)])
        cost_key = (model, candidate.cuts, placed, hops)
        if cost_key not in self._placed_costs:
            stages = self.stages[model]
            costs = [
                stages.stage(
                    placed[k],
                    a,
                    b,
                    hops[k - 1] if k else 1,
                    hops[k] if k < len(hops) else 1,
                )
                for k, (a, b) in enumerate(candidate.cuts)
            ]
            self._placed_costs[cost_key] = self._cost(model, costs)
        latency, energy, rate = self._placed_costs[cost_key]
        option = _Option(
            model,
            tuple([(a, b, c) for (a, b), c in zip(candidate.cuts, placement, strict=True)]),
            frozenset(placement),
            latency,
            energy,
            rate,
        )
        return self._score(latency, energy, rate), option

    def _map(
        self,
        models: list[str],
        ranges: dict[str, tuple[int, int]],
        caps: dict[str, int],
        bound: float,
    ) -> tuple[float, list[_Option]] | None:
        """Branch and bound over the models' placements; the best below ``bound``."""
        best: list[tuple[float, list[_Option]] | None] = [None]
        limit = [bound]
        everything = frozenset(range(len(self.types_of)))
        # The throughput score is not monotone in the models placed (a log rate can be
        # negative), so its bound adds, for the models still to place, the best log rate
        # each reaches with the whole package to itself.
        headroom = [0.0] * (len(models) + 1)
        if self.objective == "throughput":
            for i in range(len(models) - 1, -1, -1):
                lo, hi = ranges[models[i]]
                options = self._options(models[i], lo, hi, caps[models[i]], everything)
                headroom[i] = headroom[i + 1] + max(o.log_rate for _, o in options)

        def recurse(
            i: int, free: frozenset[int], chosen: list[_Option], lat: float, dyn: float, rate: float
        ) -> None:
            if i == len(models):
                score = self._score(lat, dyn, rate)
                if score < limit[0]:
                    limit[0] = score
                    best[0] = (score, list(chosen))
                return
            model = models[i]
            lo, hi = ranges[model]
            for _, option in self._options(model, lo, hi, caps[model], free):
                self.budget -= 1
                new_lat, new_dyn = max(lat, option.latency_ps), dyn + option.energy_pj
                new_rate = rate + option.log_rate
                # Latency and energy only grow as models are added, so a partial score
                # bounds every completion of it from below.
                if self._score(new_lat, new_dyn, new_rate + headroom[i + 1]) >= limit[0]:
                    continue
                recurse(
                    i + 1, free - option.chiplets, [*chosen, option], new_lat, new_dyn, new_rate
                )
                if self.budget <= 0:
                    return

        recurse(0, everything, [], 0.0, 0.0, 0.0)
        return best[0]


def _compositions(total: int, parts: int) -> Iterator[list[int]]:
    """Every way to write ``total`` as ``parts`` positive integers, in order."""
    for bars in combinations(range(1, total), parts - 1):
        edges = (0, *bars, total)
        yield [edges[k + 1] - edges[k] for k in range(parts)]
