"""A fast analytical estimate of a schedule's steady state, to screen search moves.

The simulator answers exactly but takes tens of milliseconds; a local search wants to
look at thousands of neighbours. :class:`Estimator` gives throughput per model, energy
per inference and mean latency in well under a millisecond, from the same segment
costs the simulator runs on:

* **Segment costs** are those of :func:`mcmsim.sim.plan.build_plans` (compute time,
  streamed and loaded weight bytes, DRAM input/output bytes, activations received from
  each earlier segment), computed from per-(model, chiplet type, micro-batch) prefix
  sums so a segment costs O(1); weight residency follows the first fit of
  :func:`mcmsim.sim.plan.residency`, walked a run of fitting layers at a time on prefix
  sums. ``tests/test_search.py`` checks the costs against ``build_plans`` on random
  schedules.
* **Incremental re-estimation**: residency is cached per chiplet content, each window's
  segments with their residency per window content, and each model's share (loads per
  window, traffic, energy, delays) per model by its segments and their residency; a
  model's pass over its windows resumes after the longest prefix of them already
  passed, and a window's peak loads are cached by the models' loads there. A move
  re-estimates only the chiplets, windows and models it changed. The arrays involved
  are small (tens of numbers), so this runs on plain Python lists and tuples, which
  the garbage collector untracks. Every sum keeps the order of a pass over the whole
  schedule, so estimates are bit-identical however warm the caches are
  (``tests/test_estimator_incremental.py``).
* **Execution time** of a segment is the engine's uncontended one: the larger of the
  layer-by-layer time (per layer ``max(compute, weight stream)``, summed; see
  :mod:`mcmsim.sim.plan`) and the segment's streamed bytes at the chiplet's
  uncontended DRAM path rate plus the DRAM latency. DRAM paths follow the package's
  DRAM policy: an interleaved transfer loads every interface and the links it crosses
  with their share of its bytes.
* **Closed streams** (a fixed number of requests in flight per model) form a closed
  multi-class queueing network: the chiplets are FIFO stations with fixed service
  times, NoP and DRAM transfers a pure delay. Each model's throughput is the larger of
  two approximations: Schweitzer's approximate mean-value analysis (with the residual
  of a fixed service for the job in service), which queues too much when services are
  fixed, and a deterministic fixed point, exact for a model alone on its chiplets
  (``min(N / cycle, 1 / bottleneck demand)``), that sees other models' jobs as MVA
  does. So the mix between models follows from the in-flight counts and how long each
  model's requests take, as in the simulator. Each micro-batch of a request is one
  customer.
* **Open streams** (every kind with an offered rate: Poisson, gamma, periodic, trace)
  offer :meth:`~mcmsim.workloads.streams.Stream.offered_rate_per_s`; utilisation of
  every station follows, waiting uses the M/G/1 formula, which assumes Poisson arrivals
  (conservative for periodic arrivals, optimistic for bursty ones such as gamma with
  ``cv > 1``), and a station above capacity scales every model down to saturation.
* **Links and DRAM interfaces** are capacity limits only: the bytes a request moves
  over each, times throughput, must fit its bandwidth, else all throughputs scale down
  by the worst overload. Contention below saturation is not modelled; it is what the
  simulator adds.
* **Batch mode**: each window lasts as long as its most loaded chiplet, link or DRAM
  interface, or its longest micro-batch pipeline ``sum(stages) + (n - 1) max(stage)``;
  the makespan is the sum over windows.

Energy per inference is exact given the estimated throughput: dynamic energy of one
request (compute, SRAM, DRAM at pJ/bit, NoP at pJ/bit/hop) plus static leakage times
the time per inference. ``tests/test_search.py`` and the search's own report measure
how well the ranking agrees with the simulator.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from operator import add, attrgetter, truediv
from typing import Any

import numpy as np

from mcmsim.metrics.tracks import dram_track, link_key, link_track
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.units import J_PER_PJ, PS_PER_S

__all__ = ["Estimate", "Estimator", "SegmentCost"]

MVA_ITERATIONS = 60
MVA_TOLERANCE = 1e-5
# The residency cache holds one entry per distinct chiplet content; clear it past this.
CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class SegmentCost:
    """One execution of one segment for one micro-batch size, as the engine runs it."""

    compute_ps: int
    layered_ps: int
    first_use_layered_ps: int
    stream_bytes: int
    load_bytes: int
    pj: float
    input_dram_bytes: int
    output_dram_bytes: int
    inbound: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Estimate:
    """The estimated steady state of a schedule (units in the field names)."""

    throughput_per_s: float
    model_throughput_per_s: dict[str, float]
    latency_mean_s: dict[str, float]
    energy_per_inference_j: float
    edp_j_s: float
    bottleneck: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "throughput_per_s": self.throughput_per_s,
            "energy_per_inference_j": self.energy_per_inference_j,
            "edp_j_s": self.edp_j_s,
            "models": {
                m: {"throughput_per_s": x, "latency_mean_s": self.latency_mean_s[m]}
                for m, x in self.model_throughput_per_s.items()
            },
            "bottleneck": self.bottleneck,
        }


class _ModelData:
    """Per-workload prefix sums, built once per estimator."""

    def __init__(self, problem: SchedulingProblem, index: int) -> None:
        workload = problem.workloads[index]
        model = workload.model
        self.name = workload.name
        self.index = index
        self.batch = workload.batch
        self.micro = workload.micro_batch
        self.sizes = sorted(Counter(workload.micro_batch_sizes).items())
        self.n_micro = sum(count for _, count in self.sizes)
        bpe = problem.scenario.simulation.precision_bytes
        self.bpe = bpe
        n = len(model.layers)
        graph = model.graph
        sources = np.zeros(n, np.int64)
        sink_elems = np.zeros(n, np.int64)
        edges = np.zeros((n, n), np.int64)
        for i, layer in enumerate(model.layers):
            if graph.in_degree(layer.name) == 0:
                sources[i] = 1
            if graph.out_degree(layer.name) == 0:
                sink_elems[i] = layer.output_elems
            for producer in graph.predecessors(layer.name):
                edges[model.index[producer], i] += graph.edges[producer, layer.name]["elems"]
        # Per layer its earliest producer (itself if none), as a range-min sparse table:
        # a segment receives activations only from segments ending after that.
        earliest = np.arange(n)
        for i, layer in enumerate(model.layers):
            for producer in graph.predecessors(layer.name):
                earliest[i] = min(earliest[i], model.index[producer])
        self.earliest = _sparse_table(-earliest)
        self.source_prefix = _prefix(sources)
        self.sink_prefix = _prefix(sink_elems)
        cum = np.zeros((n + 1, n + 1), np.int64)
        cum[1:, 1:] = edges.cumsum(0).cumsum(1)
        self.edge_cum = cum.tolist()
        self.input_bytes = model.input_elems * bpe
        # Per chiplet type and micro-batch size: prefix sums of resident latency, energy,
        # streamed bytes and of the extra time a layer takes when its weights stream
        # (``latency_streamed_ps - latency_ps``), the per-layer bytes and extra time, and
        # what a fused layer costs extra when it starts a segment (no producer there).
        self.types: dict[str, dict[int, _TypeSums]] = {}
        for type_name in problem.package.chiplet_types:
            per_size = {}
            for size, _ in self.sizes:
                table = problem.costs(workload, type_name, size)
                extra = np.asarray(table.latency_streamed_ps - table.latency_ps, np.int64)
                per_size[size] = _TypeSums(
                    _prefix(table.latency_ps),
                    _prefix(table.compute_pj + table.sram_pj, float),
                    _prefix(table.dram_stream_bytes),
                    _prefix(extra),
                    np.asarray(table.dram_stream_bytes, np.int64),
                    extra,
                    np.where(table.fused, table.unfused_latency_ps - table.latency_ps, 0).tolist(),
                    np.where(table.fused, table.unfused_sram_pj - table.sram_pj, 0.0).tolist(),
                )
            self.types[type_name] = per_size
        self.weight_bytes = np.asarray(
            problem.costs(workload, next(iter(problem.package.chiplet_types))).weight_bytes,
            np.int64,
        )
        # Per micro-batch size and chiplet of the package, the lists of the sums above that
        # a segment's cost reads, as plain tuples for the hot loop.
        sums = [
            [self.types[ch.type.name][size] for ch in problem.package.chiplets]
            for size, _ in self.sizes
        ]
        self.sum_lists = [
            [
                (s.latency, s.unfused_ps, s.stream_extra, s.stream_bytes, s.pj, s.unfused_pj)
                for s in per_chiplet
            ]
            for per_chiplet in sums
        ]
        self.fills = {
            type_name: _Fill.of(
                problem.costs(workload, type_name, self.micro),
                self.weight_bytes,
                [self.types[type_name][size] for size, _ in self.sizes],
            )
            for type_name in problem.package.chiplet_types
        }

    def crossing(self, a: tuple[int, int], b: tuple[int, int]) -> int:
        """Activation elements sent from layers ``[a0, a1)`` to layers ``[b0, b1)``."""
        c = self.edge_cum
        return c[a[1]][b[1]] - c[a[0]][b[1]] - c[a[1]][b[0]] + c[a[0]][b[0]]


@dataclass(frozen=True, slots=True)
class _TypeSums:
    latency: list[int]
    pj: list[float]
    stream_bytes: list[int]
    stream_extra: list[int]
    layer_stream_bytes: np.ndarray
    layer_stream_extra: np.ndarray
    unfused_ps: list[int]
    unfused_pj: list[float]


@dataclass(frozen=True, slots=True)
class _Kept:
    """Prefix sums over the layers whose weights are at most one threshold (and not 0).

    ``weight`` (bytes, the chiplet type's), ``load_bytes`` (the bytes a resident layer
    loads), and per micro-batch size the streamed bytes and extra time residency saves.
    """

    weight: list[int]
    load_bytes: list[int]
    saved_bytes: tuple[list[int], ...]
    saved_ps: tuple[list[int], ...]


@dataclass(frozen=True, slots=True)
class _Fill:
    """What weight residency reads of one (model, chiplet type).

    ``io_max`` is a sparse table (level ``j`` holds the max over ``2**j`` layers from
    each index) of a layer's input plus output bytes at the micro-batch; ``thresholds``
    the distinct positive weights, ascending, and ``kept[t]`` prefix sums over the
    layers with weights up to ``thresholds[t]``: the layers that can still fit when
    that is the largest weight not above the free bytes.
    """

    io_max: list[list[int]]
    thresholds: list[int]
    kept: list[_Kept]

    @classmethod
    def of(cls, table: Any, load_weight: np.ndarray, per_size: list[_TypeSums]) -> _Fill:
        weight = np.asarray(table.weight_bytes, np.int64)
        io = np.asarray(table.input_bytes, np.int64) + np.asarray(table.output_bytes, np.int64)
        thresholds = np.unique(weight[weight > 0])
        kept = []
        for limit in thresholds:
            fits = (weight > 0) & (weight <= limit)
            kept.append(
                _Kept(
                    _prefix(np.where(fits, weight, 0)),
                    _prefix(np.where(fits, load_weight, 0)),
                    tuple(_prefix(np.where(fits, s.layer_stream_bytes, 0)) for s in per_size),
                    tuple(_prefix(np.where(fits, s.layer_stream_extra, 0)) for s in per_size),
                )
            )
        return cls(_sparse_table(io), thresholds.tolist(), kept)


def _sparse_table(values: np.ndarray) -> list[list[int]]:
    levels = [values]
    while 2 ** len(levels) <= len(values):
        half = 2 ** (len(levels) - 1)
        levels.append(np.maximum(levels[-1][:-half], levels[-1][half:]))
    return [level.tolist() for level in levels]


def _prefix(values: np.ndarray, kind: type = int) -> list:
    out = np.zeros(len(values) + 1, np.float64 if kind is float else np.int64)
    np.cumsum(values, out=out[1:])
    return out.tolist()


# The caches below hold many small values: they are plain tuples of numbers and arrays,
# which the garbage collector stops tracking, so its full collections (which walk every
# tracked object, model graphs included) stay rare. Tuple subclasses stay tracked.

# A segment's resident layers, per micro-batch size the streamed bytes and extra time
# they save, and the bytes they load.
_Residency = tuple[tuple[int, ...], tuple[int, ...], int]
SAVED_BYTES, SAVED_PS, LOAD_BYTES = range(3)

# A segment as the model-level cache sees it: start, stop, chiplet and the residency its
# chiplet's content gives it; a part is a model's entries in one window.
_Entry = tuple[int, int, int, _Residency]
_Part = tuple[_Entry, ...]
_SEGMENT_FIELDS = attrgetter("model", "start", "stop", "chiplet")

# A model's loads in one window, per column (busy time on chiplet c, ps, at column c;
# bytes on resource r at column n + r), and its micro-batch pipeline length there (ps).
_Row = tuple[tuple[float, ...], float]
# A window's largest chiplet load (ps), resource load (fraction of capacity) and
# pipeline length (ps), and which chiplet and resource (first of equals) peak.
_Peaks = tuple[float, float, float, int, int]

# One model's part of an estimate: per window of the model, in order, the number of its
# row; visits per chiplet; dynamic energy (pJ) and transfer delay (ps) per request; the
# last window it keeps a chiplet busy in (-1: none).
_ModelBlock = tuple[tuple[int, ...], tuple[int, ...], float, float, int]


class Estimator:
    """Analytical steady-state estimates of schedules for one problem.

    Parameters
    ----------
    problem : SchedulingProblem
        The scenario whose schedules are estimated; cost tables are read once.
    """

    def __init__(self, problem: SchedulingProblem) -> None:
        self.problem = problem
        package = problem.package
        self.mode = problem.mode
        self.models = [_ModelData(problem, m) for m in range(len(problem.workloads))]
        self.model_index = {d.name: d.index for d in self.models}
        self.batches = [(d.name, d.batch) for d in self.models]
        self.inferences = sum(d.batch for d in self.models)
        self.chiplet_type = [ch.type.name for ch in package.chiplets]
        links = package.links
        link_index = {link: i for i, link in enumerate(links)}
        self.n_links = len(links)
        n_res = len(links) + len(package.dram)
        self.capacity = np.array(
            [package.nop.link_bandwidth_gb_per_s / 1000.0] * len(links)
            + [d.bandwidth_gb_per_s / 1000.0 for d in package.dram]
        )
        self.resource_names = [link_track(link_key(a, b)) for a, b in links] + [
            dram_track(i, d.position) for i, d in enumerate(package.dram)
        ]
        self.n_resources = n_res
        hop_ps = package.nop.hop_latency_ps
        nop_pj_per_byte = package.nop.energy_pj_per_bit * 8
        self.nop_pj_per_byte = nop_pj_per_byte
        # Per chiplet, to and from DRAM: (share of the bytes on every resource, rate
        # bytes/ps alone, latency ps, pJ per byte), under the package's DRAM policy.
        self.dram_read: list[tuple[np.ndarray, float, int, float]] = []
        self.dram_write: list[tuple[np.ndarray, float, int, float]] = []
        for ch in package.chiplets:
            for to_chiplet, target in ((True, self.dram_read), (False, self.dram_write)):
                path = package.dram_path(ch.id, to_chiplet)
                shares = np.zeros(n_res)
                pj_per_byte = 0.0
                for part in path.parts:
                    shares[len(links) + part.interface] += part.share
                    dram = package.dram[part.interface]
                    pj_per_byte += part.share * (
                        dram.energy_pj_per_bit * 8 + len(part.links) * nop_pj_per_byte
                    )
                for link, share in path.link_shares.items():
                    shares[link_index[link]] += share
                target.append((shares, path.rate_gb_per_s / 1000.0, path.latency_ps, pj_per_byte))
        n = len(package.chiplets)
        # What a model block is made of, per unit, as (column, share) pairs of its
        # non-zero shares: busy time on chiplet c is column c; bytes on resource r are
        # column n + r (a fraction of its capacity after division by ``capacity``).
        # Bytes read by c, written by c, and sent from a to b (each link of the route).
        self.read_shares = [
            tuple((n + int(r), float(x[r])) for r in np.flatnonzero(x)) for x, *_ in self.dram_read
        ]
        self.write_shares = [
            tuple((n + int(r), float(x[r])) for r in np.flatnonzero(x)) for x, *_ in self.dram_write
        ]
        self.route_shares = [
            [tuple(sorted({n + link_index[ln] for ln in package.route(a, b)})) for b in range(n)]
            for a in range(n)
        ]
        self.capacity_list = self.capacity.tolist()
        link_rate = package.nop.link_bandwidth_gb_per_s / 1000.0
        self.routes: list[list[tuple[tuple[int, ...], float, int]]] = [
            [
                (
                    tuple(link_index[ln] for ln in package.route(a, b)),
                    link_rate,
                    len(package.route(a, b)) * hop_ps,
                )
                for b in range(n)
            ]
            for a in range(n)
        ]
        self.n_chiplets = n
        self.static_w = sum(ch.type.leakage_w for ch in package.chiplets)
        # Requests/s offered by each open stream (None: closed), and closed in-flight counts.
        self.open_rate = [w.stream._offered_rate_per_s() for w in problem.workloads]
        self.in_flight = [w.stream._requests_in_flight() or 0 for w in problem.workloads]
        # Per chiplet: its SRAM bytes and, per model name, its fill and micro-batch sizes.
        self.chiplet_fill = [
            (
                ch.type.sram_bytes,
                {d.name: (d.fills[ch.type.name], len(d.sizes)) for d in self.models},
            )
            for ch in package.chiplets
        ]
        self._residency: dict[tuple, tuple[_Residency, ...]] = {}
        self._windows: dict[tuple, tuple[int, ...]] = {}
        self._part_ids: dict[_Part, int] = {}
        self._parts: list[_Part] = []
        self._blocks: list[dict[tuple[int, ...], _ModelBlock]] = [{} for _ in self.models]
        # Per model (one micro-batch size only): the state of its pass after each prefix
        # of a block key (see _model_block).
        self._prefixes: list[dict[tuple[int, ...], tuple]] = [{} for _ in self.models]
        # A model's loads in one window with its pipeline length there, numbered by
        # content, and per window (its models' numbers in model order) its peaks.
        self._row_ids: dict[_Row, int] = {}
        self._rows: list[_Row] = []
        self._peaks: dict[tuple[int, ...], _Peaks] = {}
        self.evaluations = 0

    def clear(self) -> None:
        """Forget every cached chiplet residency, window and model block.

        Estimates do not depend on what the caches hold; this frees their memory.
        """
        self._residency.clear()
        self._windows.clear()
        self._part_ids.clear()
        self._parts.clear()
        for cache in self._blocks:
            cache.clear()
        for prefixes in self._prefixes:
            prefixes.clear()
        self._row_ids.clear()
        self._rows.clear()
        self._peaks.clear()

    # --- segment costs ------------------------------------------------------------------

    def _chiplet_residency(self, segments: tuple[str | int, ...]) -> tuple[_Residency, ...]:
        """Per segment: what its resident layers do not stream, per micro size, and loads.

        ``segments`` are one chiplet's, flat: (model, start, stop, chiplet, model, ...).
        The same first fit as :func:`mcmsim.sim.plan.residency`: SRAM less the largest
        activation footprint, filled with weights in schedule order, a layer kept when
        it fits what is left. Layers heavier than the free bytes never fit again, so the
        walk takes, among the layers up to the largest weight that fits, the longest run
        that fits whole (bisection on their prefix sums); the layer that ends it is
        heavier than what is left, so each run lowers that weight limit.
        """
        hit = self._residency.get(segments)
        if hit is not None:
            return hit
        if len(self._residency) > CACHE_LIMIT:
            self._residency.clear()
        sram_bytes, fill_of = self.chiplet_fill[segments[3]]
        fields = iter(segments)
        segs = list(zip(fields, fields, fields, fields, strict=True))
        reserve = 0
        for m, a, b, _ in segs:
            # The largest input plus output bytes at [a, b), from the sparse table.
            j = (b - a).bit_length() - 1
            level = fill_of[m][0].io_max[j]
            reserve = max(reserve, level[a], level[b - (1 << j)])
        free = max(sram_bytes - reserve, 0)
        out = []
        for m, a, b, _ in segs:
            fill, n_sizes = fill_of[m]
            saved = [0] * n_sizes
            saved_ps = [0] * n_sizes
            load = 0
            pos = a
            thresholds, all_kept = fill.thresholds, fill.kept
            while pos < b:
                limit = bisect_right(thresholds, free) - 1
                if limit < 0:
                    break
                kept = all_kept[limit]
                weight = kept.weight
                end = bisect_right(weight, weight[pos] + free, pos, b + 1) - 1
                if end > pos:
                    free -= weight[end] - weight[pos]
                    load += kept.load_bytes[end] - kept.load_bytes[pos]
                    for k in range(n_sizes):
                        saved[k] += kept.saved_bytes[k][end] - kept.saved_bytes[k][pos]
                        saved_ps[k] += kept.saved_ps[k][end] - kept.saved_ps[k][pos]
                pos = end + 1
            out.append((tuple(saved), tuple(saved_ps), load))
        result = self._residency[segments] = tuple(out)
        return result

    def _segment_info(self, schedule: Schedule) -> dict[str, list[tuple[Segment, _Residency]]]:
        """Per model, its segments in execution order with their residency."""
        parts, _ = self._placed(schedule)
        return {
            data.name: [
                (Segment(data.name, a, b, c), res)
                for number in numbers
                for a, b, c, res in self._parts[number]
            ]
            for data, numbers in zip(self.models, parts, strict=True)
        }

    def segment_costs(self, schedule: Schedule) -> dict[tuple[str, int], list[SegmentCost]]:
        """Costs of every segment, keyed like ``build_plans`` by (workload, micro-batch).

        The list runs over the workload's segments in execution order (all windows).
        """
        info = self._segment_info(schedule)
        out: dict[tuple[str, int], list[SegmentCost]] = {}
        for data in self.models:
            placed = info[data.name]
            segs = [seg for seg, _ in placed]
            for k, (size, _) in enumerate(data.sizes):
                out[(data.name, size)] = [
                    self._cost(data, segs, j, res, k, size) for j, (_, res) in enumerate(placed)
                ]
        return out

    def _cost(
        self,
        data: _ModelData,
        segs: list[Segment],
        j: int,
        res: _Residency,
        k: int,
        size: int,
    ) -> SegmentCost:
        seg = segs[j]
        a, b = seg.start, seg.stop
        sums = data.types[self.chiplet_type[seg.chiplet]][size]
        lat, pj, dsb, extra = sums.latency, sums.pj, sums.stream_bytes, sums.stream_extra
        unfused_ps, unfused_pj = sums.unfused_ps, sums.unfused_pj
        inbound = []
        for i in range(j):
            elems = data.crossing((segs[i].start, segs[i].stop), (a, b))
            if elems:
                inbound.append((i, elems * data.bpe * size))
        compute = lat[b] - lat[a] + (unfused_ps[a] if b > a else 0)
        return SegmentCost(
            compute_ps=compute,
            layered_ps=compute + extra[b] - extra[a] - res[SAVED_PS][k],
            first_use_layered_ps=compute + extra[b] - extra[a],
            stream_bytes=dsb[b] - dsb[a] - res[SAVED_BYTES][k],
            load_bytes=res[LOAD_BYTES],
            pj=pj[b] - pj[a] + (unfused_pj[a] if b > a else 0.0),
            input_dram_bytes=(
                data.input_bytes * size if data.source_prefix[b] > data.source_prefix[a] else 0
            ),
            output_dram_bytes=(data.sink_prefix[b] - data.sink_prefix[a]) * data.bpe * size,
            inbound=tuple(inbound),
        )

    # --- the estimate -------------------------------------------------------------------

    def evaluate(self, schedule: Schedule) -> Estimate:
        """Estimate the steady state (stream mode) or the makespan (batch mode) of a schedule.

        The schedule is assumed valid (see :meth:`Schedule.validate`).
        """
        self.evaluations += 1
        parts, where = self._placed(schedule)
        blocks = []
        for data, numbers, cache in zip(self.models, parts, self._blocks, strict=True):
            key = tuple(numbers)
            block = cache.get(key)
            if block is None:
                block = cache[key] = self._model_block(data, key)
            blocks.append(block)
        if self.mode == "batch":
            return self._batch(blocks, where, len(schedule.windows))
        n = self.n_chiplets
        # Per model, its loads summed over its windows in order.
        totals = []
        for block in blocks:
            total = [0.0] * (n + self.n_resources)
            for number in block[0]:
                total = list(map(add, total, self._rows[number][0]))
            totals.append(total)
        per_model = np.array(totals).reshape(len(blocks), n + self.n_resources)
        return self._stream(
            per_model[:, :n],
            np.array([block[1] for block in blocks], np.float64),
            per_model[:, n:],
            [block[2] for block in blocks],
            [block[3] for block in blocks],
        )

    def _placed(self, schedule: Schedule) -> tuple[list[list[int]], list[list[int]]]:
        """Per model, its parts (by number) in each window it is in, and those windows.

        A model's parts do not say which windows they are in, so a model's cache entry
        survives other models' windows moving.
        """
        if (
            max(
                len(self._windows),
                len(self._parts),
                sum(map(len, self._blocks)),
                len(self._peaks),
                sum(map(len, self._prefixes)),
            )
            > CACHE_LIMIT
        ):
            self.clear()  # only here: cached keys hold part numbers
        parts: list[list[int]] = [[] for _ in self.models]
        where: list[list[int]] = [[] for _ in self.models]
        for w, window in enumerate(schedule.windows):
            numbered = iter(self._window(window.segments))
            for m, part in zip(numbered, numbered, strict=True):
                parts[m].append(part)
                where[m].append(w)
        return parts, where

    def _window(self, segments: tuple[Segment, ...]) -> tuple[int, ...]:
        """Per model in a window, its index and the number of its part there, flat.

        A part is the model's segments there with their residency; parts are numbered by
        content, so a model block's key is a tuple of small ints. Keys and values here
        and in :meth:`_chiplet_residency` are flat tuples (model, start, stop, chiplet,
        model, ...): one object each to allocate and, for the garbage collector, to count.
        """
        key = tuple(chain.from_iterable(map(_SEGMENT_FIELDS, segments)))
        hit = self._windows.get(key)
        if hit is not None:
            return hit
        fields = iter(key)
        segs = list(zip(fields, fields, fields, fields, strict=True))
        # Positions of each chiplet's segments, in window order.
        by_chiplet: dict[int, list[int]] = {}
        for i, seg in enumerate(segs):
            positions = by_chiplet.get(seg[3])
            if positions is None:
                by_chiplet[seg[3]] = [i]
            else:
                positions.append(i)
        res: list[Any] = [None] * len(segs)
        for positions in by_chiplet.values():
            if len(positions) == 1:
                i = positions[0]
                res[i] = self._chiplet_residency(segs[i])[0]
            else:
                chiplet_segs = tuple(chain.from_iterable([segs[i] for i in positions]))
                for i, r in zip(positions, self._chiplet_residency(chiplet_segs), strict=True):
                    res[i] = r
        per_model: dict[str, list[_Entry]] = {}
        for (m, a, b, c), r in zip(segs, res, strict=True):
            entries = per_model.get(m)
            if entries is None:
                per_model[m] = [(a, b, c, r)]
            else:
                entries.append((a, b, c, r))
        numbered: list[int] = []
        part_ids = self._part_ids
        index = self.model_index
        for name, entries in per_model.items():
            m = index[name]
            part = tuple(entries)
            number = part_ids.get(part)
            if number is None:
                number = part_ids[part] = len(self._parts)
                self._parts.append(part)
            numbered += (m, number)
        result = self._windows[key] = tuple(numbered)
        return result

    def _model_block(self, data: _ModelData, key: tuple[int, ...]) -> _ModelBlock:
        """One model's loads, traffic, energy and delays, as :meth:`segment_costs` gives them.

        ``key`` numbers the model's parts, one per window it is in. Every sum runs in the
        order of a whole-schedule pass over this model, so the numbers do not depend on
        what the cache holds. Busy time and transfers are spread over chiplets and
        resources (their non-zero shares, see :attr:`read_shares`) and added per window
        and column in that order, so a column's sum does not depend on which other
        columns a window touches. With one micro-batch size that pass runs window by
        window, and a window's row needs only the windows up to it: the pass resumes
        from the state after the longest cached prefix of ``key``.
        """
        n_windows = len(key)
        n = self.n_chiplets
        prefixes = self._prefixes[data.index] if len(data.sizes) == 1 else None
        start, state = 0, None
        if prefixes is not None:
            for i in range(n_windows - 1, 0, -1):
                state = prefixes.get(key[:i])
                if state is not None:
                    start = i
                    break
        if state is None:
            visits = [0] * n
            # Dynamic energy (pJ), transfer delay (ps) and the size's largest output delay.
            totals = [0.0, 0.0, 0.0]
            numbers: list[int] = []
            last_busy = -1
        else:
            visits_done, energy_pj, delay_ps, out_delay, numbers_done, last_busy = state
            visits = list(visits_done)
            totals = [energy_pj, delay_ps, out_delay]
            numbers = list(numbers_done)
        # The model's segments in order (the parts' own entries) and the window of each.
        entries: list[_Entry] = []
        window_of: list[int] = []
        ends = []
        for lw, number in enumerate(key):
            part = self._parts[number]
            entries += part
            window_of += [lw] * len(part)
            ends.append(len(entries))
        first_new = ends[start - 1] if start else 0
        inbound = self._inbound(data, entries, first_new)
        busy = [False] * n_windows
        stages: list[list[float]] = [[] for _ in range(n_windows)]
        columns = n + self.n_resources
        loads = [[0.0] * columns for _ in range(n_windows)]
        if prefixes is None:
            for k, (_, count) in enumerate(data.sizes):
                self._pass(
                    data,
                    k,
                    entries,
                    window_of,
                    inbound,
                    0,
                    len(entries),
                    loads,
                    stages,
                    busy,
                    visits,
                    totals,
                )
                totals[1] += count * totals[2]
                totals[2] = 0.0
            for lw in range(n_windows):
                numbers.append(self._row_number(data, loads[lw], stages[lw]))
                if busy[lw]:
                    last_busy = lw
            energy_pj, delay_ps = totals[0], totals[1]
        else:
            lo = first_new
            for lw in range(start, n_windows):
                hi = ends[lw]
                self._pass(
                    data,
                    0,
                    entries,
                    window_of,
                    inbound,
                    lo,
                    hi,
                    loads,
                    stages,
                    busy,
                    visits,
                    totals,
                )
                numbers.append(self._row_number(data, loads[lw], stages[lw]))
                if busy[lw]:
                    last_busy = lw
                prefixes[key[: lw + 1]] = (
                    tuple(visits),
                    *totals,
                    tuple(numbers),
                    last_busy,
                )
                lo = hi
            energy_pj = totals[0]
            delay_ps = totals[1] + data.sizes[0][1] * totals[2]
        return tuple(numbers), tuple(visits), energy_pj, delay_ps, last_busy

    def _inbound(
        self, data: _ModelData, entries: list[_Entry], first: int
    ) -> list[list[tuple[int, int]]]:
        """Per segment from ``first`` on: activation elements from each earlier segment on
        another chiplet, as (chiplet, elements); empty lists before ``first``.

        Only segments ending after the earliest producer of its layers can send any.
        """
        cum = data.edge_cum
        earliest = data.earliest
        inbound: list[list[tuple[int, int]]] = [[]] * first
        for j in range(first, len(entries)):
            a, b, c, _ = entries[j]
            start = j
            if b > a:
                level = (b - a).bit_length() - 1
                reach = -max(earliest[level][a], earliest[level][b - (1 << level)])
            else:
                reach = a
            while start and entries[start - 1][1] > reach:
                start -= 1
            found = []
            for i in range(start, j):
                sa, sb, src, _ = entries[i]
                if src != c:
                    to_sb, to_sa = cum[sb], cum[sa]
                    elems = to_sb[b] - to_sa[b] - to_sb[a] + to_sa[a]
                    if elems:
                        found.append((src, elems))
            inbound.append(found)
        return inbound

    def _pass(
        self,
        data: _ModelData,
        k: int,
        entries: list[_Entry],
        window_of: list[int],
        inbound: list[list[tuple[int, int]]],
        lo: int,
        hi: int,
        loads: list[list[float]],
        stages: list[list[float]],
        busy: list[bool],
        visits: list[int],
        totals: list[float],
    ) -> None:
        """Add segments ``[lo, hi)`` at micro-batch size ``k`` to the loads and totals."""
        size, count = data.sizes[k]
        main = k == 0
        energy_pj, delay_ps, out_delay = totals
        batch = self.mode == "batch"
        bpe = data.bpe
        sources, sinks = data.source_prefix, data.sink_prefix
        input_bytes = data.input_bytes
        nop_pj_per_byte = self.nop_pj_per_byte
        dram_read, dram_write = self.dram_read, self.dram_write
        read_shares, write_shares = self.read_shares, self.write_shares
        routes, route_shares = self.routes, self.route_shares
        per_chiplet = data.sum_lists[k]
        for j in range(lo, hi):
            a, b, c, res = entries[j]
            lw = window_of[j]
            latency, unfused_ps, stream_extra, stream_bytes, pj, unfused_pj = per_chiplet[c]
            compute = latency[b] - latency[a] + (unfused_ps[a] if b > a else 0)
            first_use = compute + stream_extra[b] - stream_extra[a]
            saved_bytes, saved_ps, load = res
            stream = stream_bytes[b] - stream_bytes[a] - saved_bytes[k]
            input_dram = input_bytes * size if sources[b] > sources[a] else 0
            output_dram = (sinks[b] - sinks[a]) * bpe * size
            _, rate, lat_ps, pj_per_byte = dram_read[c]
            execute = first_use - saved_ps[k]
            if stream:
                execute = max(execute, math.ceil(stream / rate) + lat_ps)
            window = loads[lw]
            amount = count * execute
            window[c] += amount
            visits[c] += count
            if execute > 0:
                busy[lw] = True
            read = stream + input_dram
            amount = count * read
            if batch and main and load:
                # One-time load of resident weights, on this segment's first use.
                loaded = math.ceil((stream + load) / rate) + lat_ps
                extra = max(first_use, loaded) - execute
                if extra > 0:
                    busy[lw] = True
                window[c] += extra
                energy_pj += load * pj_per_byte
                if read:
                    # The load's bytes, then the reads', on each resource (one pass).
                    for col, share in read_shares[c]:
                        window[col] = window[col] + load * share + amount * share
                    energy_pj += amount * pj_per_byte
                else:
                    for col, share in read_shares[c]:
                        window[col] += load * share
            elif read:
                for col, share in read_shares[c]:
                    window[col] += amount * share
                energy_pj += amount * pj_per_byte
            stage = float(execute)
            if input_dram:
                stage += input_dram / rate + lat_ps
            for src, elems in inbound[j]:
                nbytes = elems * bpe * size
                route, link_rate, hop_ps = routes[src][c]
                amount = count * nbytes
                for col in route_shares[src][c]:
                    window[col] += amount
                energy_pj += amount * len(route) * nop_pj_per_byte
                stage += nbytes / link_rate + hop_ps
            if output_dram:
                _, w_rate, w_lat, w_pj = dram_write[c]
                amount = count * output_dram
                for col, share in write_shares[c]:
                    window[col] += amount * share
                energy_pj += amount * w_pj
                out_delay = max(out_delay, output_dram / w_rate + w_lat)
            energy_pj += count * (pj[b] - pj[a] + (unfused_pj[a] if b > a else 0.0))
            delay_ps += count * (stage - execute)
            if main:
                stages[lw].append(stage)
        totals[:] = energy_pj, delay_ps, out_delay

    def _row_number(self, data: _ModelData, loads: list[float], stages: list[float]) -> int:
        """The number of a model's row in a window: its loads and pipeline length there."""
        row = (tuple(loads), sum(stages) + (data.n_micro - 1) * max(stages) if stages else 0.0)
        number = self._row_ids.get(row)
        if number is None:
            number = self._row_ids[row] = len(self._rows)
            self._rows.append(row)
        return number

    def _stream(
        self,
        demand: np.ndarray,
        visits: np.ndarray,
        traffic: np.ndarray,
        energy_pj: list[float],
        delay_ps: list[float],
    ) -> Estimate:
        n_models = len(self.models)
        n_micro = np.array([d.n_micro for d in self.models], np.float64)
        closed = np.array([r is None for r in self.open_rate])
        # Work in micro-batches: a request of n micro-batches is n customers.
        d = demand / n_micro[:, None]
        z = np.array(delay_ps) / n_micro
        service = np.divide(demand, visits, out=np.zeros_like(demand), where=visits > 0)
        v = visits / n_micro[:, None]
        rate_open = (
            np.array(
                [
                    0.0 if r is None else r * self.models[m].n_micro
                    for m, r in enumerate(self.open_rate)
                ]
            )
            / PS_PER_S
        )
        u_open = (rate_open[:, None] * d).sum(0)
        x = rate_open.copy()
        latency = np.zeros(n_models)
        if closed.any():
            population = np.array(self.in_flight, np.float64) * n_micro
            x_closed, resp = _closed(
                d[closed],
                v[closed],
                service[closed],
                z[closed],
                population[closed],
                np.minimum(u_open, 0.999),
            )
            x[closed] = x_closed
            latency[closed] = resp
        u = (x[:, None] * d).sum(0)
        if (~closed).any():
            # M/G/1 waiting with deterministic services: sum(lambda V S^2) / 2(1 - U).
            second = (x[:, None] * v * service**2).sum(0)
            wait = np.where(u < 1, second / (2 * np.maximum(1 - u, 1e-9)), np.inf)
            for m in np.flatnonzero(~closed):
                # 0 * inf would be NaN (and a RuntimeWarning) where the model never visits.
                per_visit = np.multiply(v[m], wait, out=np.zeros_like(wait), where=v[m] > 0)
                latency[m] = (d[m] + per_visit).sum() + z[m]
        over_chiplet = float(u.max()) if len(u) else 0.0
        bytes_per_ps = (x / n_micro)[:, None] * traffic
        util_res = bytes_per_ps.sum(0) / self.capacity
        worst_res = int(np.argmax(util_res)) if len(util_res) else 0
        over_res = float(util_res[worst_res]) if len(util_res) else 0.0
        scale = 1.0 / max(over_chiplet, over_res, 1.0)
        x = x * scale
        if scale < 1.0:
            latency = latency / scale
        if over_res >= over_chiplet:
            bottleneck = self.resource_names[worst_res]
        else:
            bottleneck = f"chiplet {int(np.argmax(u))}"
        requests_per_s = x / n_micro * PS_PER_S
        inferences = requests_per_s * np.array([dd.batch for dd in self.models])
        total = float(inferences.sum())
        # A request's micro-batches travel together: its latency is about one cycle.
        latency_s = latency / PS_PER_S
        dynamic_w = float((requests_per_s * np.array(energy_pj)).sum()) * J_PER_PJ
        energy = (dynamic_w + self.static_w) / total if total > 0 else math.inf
        mean_latency = (
            float((requests_per_s * latency_s).sum() / requests_per_s.sum())
            if requests_per_s.sum() > 0
            else math.inf
        )
        return Estimate(
            throughput_per_s=total,
            model_throughput_per_s={dd.name: float(inferences[dd.index]) for dd in self.models},
            latency_mean_s={dd.name: float(latency_s[dd.index]) for dd in self.models},
            energy_per_inference_j=energy,
            edp_j_s=energy * mean_latency,
            bottleneck=bottleneck,
        )

    def _batch(self, blocks: list[_ModelBlock], where: list[list[int]], windows: int) -> Estimate:
        keys: list[list[int]] = [[] for _ in range(windows)]
        for block, model_windows in zip(blocks, where, strict=True):
            for w, number in zip(model_windows, block[0], strict=True):
                keys[w].append(number)
        peaks = self._peaks
        total_ps = 0.0
        ends_ps = []
        worst_ps, worst_peaks = 0.0, None
        for key in keys:
            window_key = tuple(key)
            hit = peaks.get(window_key)
            if hit is None:
                hit = peaks[window_key] = self._window_peaks(window_key)
            length = max(hit[0], hit[1], hit[2])
            if length > worst_ps:
                worst_ps, worst_peaks = length, hit
            total_ps += length
            ends_ps.append(total_ps)
        bottleneck = ""
        if worst_peaks is not None:
            chiplet_max, resource_max, chain_ps, chiplet, resource = worst_peaks
            bottleneck = (
                f"chiplet {chiplet}"
                if chiplet_max >= max(resource_max, chain_ps)
                else self.resource_names[resource]
                if resource_max >= chain_ps
                else "pipeline latency"
            )
        seconds = total_ps / PS_PER_S
        energy_j = sum([block[2] for block in blocks]) * J_PER_PJ + self.static_w * seconds
        return Estimate(
            throughput_per_s=self.inferences / seconds if seconds > 0 else math.inf,
            model_throughput_per_s={name: b / seconds for name, b in self.batches},
            latency_mean_s={
                name: (ends_ps[model_windows[block[4]]] if block[4] >= 0 else 0.0) / PS_PER_S
                for (name, _), block, model_windows in zip(self.batches, blocks, where, strict=True)
            },
            energy_per_inference_j=energy_j / self.inferences,
            edp_j_s=energy_j * seconds,
            bottleneck=bottleneck,
        )

    def _window_peaks(self, key: tuple[int, ...]) -> _Peaks:
        """A window's most loaded chiplet and resource, and its longest pipeline.

        ``key`` numbers the rows of the models in the window, in model order; loads are
        summed in that order (as a sum over models of the whole package's loads).
        """
        n = self.n_chiplets
        loads = [0.0] * (n + self.n_resources)
        chain_ps = 0.0
        for number in key:
            row, length = self._rows[number]
            loads = list(map(add, loads, row))
            if length > chain_ps:
                chain_ps = length
        chiplets = loads[:n]
        resources = list(map(truediv, loads[n:], self.capacity_list))
        chiplet_max, resource_max = max(chiplets), max(resources)
        return (
            chiplet_max,
            resource_max,
            chain_ps,
            chiplets.index(chiplet_max),
            resources.index(resource_max),
        )


def _closed(
    demand: np.ndarray,
    visits: np.ndarray,
    service: np.ndarray,
    delay: np.ndarray,
    population: np.ndarray,
    u_open: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Throughput and cycle time of closed classes at FIFO stations with fixed services.

    ``demand``, ``visits`` and ``service`` are (classes x stations) per customer cycle,
    ``delay`` the cycle's time off the stations; open load ``u_open`` stretches every
    service by ``1 / (1 - u_open)``. Two approximations bracket such a network: mean-value
    analysis (:func:`_amva`), built for exponential services, queues too much when
    services are fixed; :func:`_deterministic` is exact for a class alone on its
    stations. Each class takes the larger throughput (station capacity is enforced by
    the caller). Both iterate over the (class, station) pairs in use only: a model
    visits the few chiplets of its segments, however large the package.

    Returns
    -------
    throughput : ndarray
        Customers per picosecond, per class.
    cycle : ndarray
        Mean cycle time per class (picoseconds), delay included.
    """
    stretch = 1.0 / (1.0 - u_open)
    classes, stations = np.nonzero(demand)
    pairs = [
        (
            int(m),
            int(k),
            float(demand[m, k] * stretch[k]),
            float(visits[m, k]),
            float(service[m, k] * stretch[k]),
        )
        for m, k in zip(classes, stations, strict=True)
    ]
    n = [float(v) for v in population]
    z = [float(v) for v in delay]
    x_mva = _amva(pairs, n, z)
    x_det = _deterministic(pairs, n, z)
    x = np.maximum(np.array(x_mva), np.array(x_det))
    return x, population / x


Pair = tuple[int, int, float, float, float]  # class, station, demand, visits, service


def _amva(pairs: list[Pair], population: list[float], delay: list[float]) -> list[float]:
    """Schweitzer's approximate MVA; the job found in service costs half its service."""
    n_classes = len(population)
    present = [0] * n_classes
    for m, *_ in pairs:
        present[m] += 1
    queue = [population[m] / present[m] for m, *_ in pairs]
    x = [0.0] * n_classes
    own = [1.0 / max(p, 1.0) for p in population]
    for _ in range(MVA_ITERATIONS):
        # The jobs an arriving customer finds (itself excluded, Schweitzer), each costing
        # its service time except the one in service (probability = utilisation), which
        # costs half of it: sum_j (Q_j - U_j / 2) S_j.
        seen = [(q - 0.5 * x[m] * d) * s for q, (m, _, d, _, s) in zip(queue, pairs, strict=True)]
        total: dict[int, float] = {}
        for value, (_, k, *_) in zip(seen, pairs, strict=True):
            total[k] = total.get(k, 0.0) + value
        resp = [
            d + v * max(total[k] - own[m] * value, 0.0)
            for value, (m, k, d, v, _) in zip(seen, pairs, strict=True)
        ]
        cycle = list(delay)
        for r, (m, *_) in zip(resp, pairs, strict=True):
            cycle[m] += r
        x_new = [p / c for p, c in zip(population, cycle, strict=True)]
        queue = [x_new[m] * r for r, (m, *_) in zip(resp, pairs, strict=True)]
        change = max(abs(a - b) / a for a, b in zip(x_new, x, strict=True))
        x = x_new
        if change <= MVA_TOLERANCE:
            break
    return x


def _deterministic(pairs: list[Pair], population: list[float], delay: list[float]) -> list[float]:
    """A class's own customers queue only at its bottleneck; other classes as in MVA.

    With fixed services, ``N`` customers of one class alone on a chain of stations
    circulate at ``min(N / cycle, 1 / max demand)``. Here each class sees the other
    classes' jobs (queued ones at full service, the one in service at half) as extra
    waiting, and the capacity they leave (``1 - their utilisation``) at each station;
    customers beyond one cycle's worth wait at the class's bottleneck, which is what
    the other classes then find there. Damped fixed point.
    """
    n_classes = len(population)
    cycle0 = list(delay)
    for m, _, d, _, _ in pairs:
        cycle0[m] += d
    x = [p / c for p, c in zip(population, cycle0, strict=True)]
    queue = [x[m] * d for m, _, d, _, _ in pairs]
    for _ in range(MVA_ITERATIONS):
        util = [x[m] * d for m, _, d, _, _ in pairs]
        seen = [(q - 0.5 * u) * s for q, u, (*_, s) in zip(queue, util, pairs, strict=True)]
        total_seen: dict[int, float] = {}
        total_util: dict[int, float] = {}
        for value, u, (_, k, *_) in zip(seen, util, pairs, strict=True):
            total_seen[k] = total_seen.get(k, 0.0) + value
            total_util[k] = total_util.get(k, 0.0) + u
        cycle = list(delay)
        worst = [0.0] * n_classes
        where = [0] * n_classes
        resp = []
        for i, (m, k, d, v, _) in enumerate(pairs):
            r = d + v * max(total_seen[k] - seen[i], 0.0)
            resp.append(r)
            cycle[m] += r
            share = d / max(1.0 - (total_util[k] - util[i]), 1e-6)
            if share > worst[m]:
                worst[m], where[m] = share, i
        x_new = [min(p / c, 1.0 / w) for p, c, w in zip(population, cycle, worst, strict=True)]
        q = [x_new[m] * r for r, (m, *_) in zip(resp, pairs, strict=True)]
        for m in range(n_classes):
            q[where[m]] += max(population[m] - x_new[m] * cycle[m], 0.0)
        x_next = [0.5 * (a + b) for a, b in zip(x, x_new, strict=True)]
        queue = [0.5 * (a + b) for a, b in zip(queue, q, strict=True)]
        change = max(abs(a - b) / a for a, b in zip(x_next, x, strict=True))
        x = x_next
        if change <= MVA_TOLERANCE:
            break
    return x
