"""A fast analytical estimate of a schedule's steady state, to screen search moves.

The simulator answers exactly but takes tens of milliseconds; a local search wants to
look at thousands of neighbours. :class:`Estimator` gives throughput per model, energy
per inference and mean latency in well under a millisecond, from the same segment
costs the simulator runs on:

* **Segment costs** are those of :func:`mcmsim.sim.plan.build_plans` (compute time,
  streamed and loaded weight bytes, DRAM input/output bytes, activations received from
  each earlier segment), computed from per-(model, chiplet type, micro-batch) prefix
  sums so a segment costs O(1); weight residency is decided by
  :func:`mcmsim.sim.plan.residency` itself, called on each chiplet's list of segments
  and cached by that list, so a move that changes two chiplets recomputes two.
  ``tests/test_search.py`` checks the costs against ``build_plans`` on random schedules.
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
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcmsim.metrics.tracks import dram_track, link_key, link_track
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.sim.plan import residency
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


def _prefix(values: np.ndarray, kind: type = int) -> list:
    out = np.zeros(len(values) + 1, np.float64 if kind is float else np.int64)
    np.cumsum(values, out=out[1:])
    return out.tolist()


@dataclass(frozen=True)
class _MemoProblem(SchedulingProblem):
    """The problem with its cost tables memoised by workload name.

    ``cost_table``'s own cache hashes the whole model (every layer) on each lookup,
    which dominated the time of residency calls.
    """

    memo: dict[tuple[str, str, int | None], Any] = field(default_factory=dict, compare=False)

    def costs(self, workload: Any, chiplet_type: str, batch: int | None = None) -> Any:
        name = workload if isinstance(workload, str) else workload.name
        key = (name, chiplet_type, batch)
        table = self.memo.get(key)
        if table is None:
            table = self.memo[key] = super().costs(workload, chiplet_type, batch)
        return table


@dataclass(frozen=True, slots=True)
class _Residency:
    """A segment's resident layers: the bytes and extra time they do not stream, per size."""

    saved_bytes: tuple[int, ...]
    saved_extra_ps: tuple[int, ...]
    load_bytes: int


_NO_RESIDENCY = _Residency((), (), 0)


class Estimator:
    """Analytical steady-state estimates of schedules for one problem.

    Parameters
    ----------
    problem : SchedulingProblem
        The scenario whose schedules are estimated; cost tables are read once.
    """

    def __init__(self, problem: SchedulingProblem) -> None:
        self.problem = problem
        self._memo = _MemoProblem(problem.scenario)
        package = problem.package
        self.mode = problem.mode
        self.models = [_ModelData(problem, m) for m in range(len(problem.workloads))]
        self.by_name = {d.name: d for d in self.models}
        self.chiplet_type = [ch.type.name for ch in package.chiplets]
        self.type_chiplet = {}
        for ch in package.chiplets:
            self.type_chiplet.setdefault(ch.type.name, ch.id)
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
        self._residency: dict[tuple, tuple[_Residency, ...]] = {}
        self.evaluations = 0

    # --- segment costs ------------------------------------------------------------------

    def _chiplet_residency(
        self, type_name: str, segments: tuple[tuple[str, int, int], ...]
    ) -> tuple[_Residency, ...]:
        """Per segment: what its resident layers do not stream, per micro size, and loads."""
        key = (type_name, segments)
        hit = self._residency.get(key)
        if hit is not None:
            return hit
        if len(self._residency) > CACHE_LIMIT:
            self._residency.clear()
        chiplet = self.type_chiplet[type_name]
        sub = Schedule.single("estimate", [Segment(m, a, b, chiplet) for m, a, b in segments])
        _, resident = residency(self._memo, sub)
        flags = resident[0]
        out = []
        for m, a, b in segments:
            data = self.by_name[m]
            idx = [i for i in range(a, b) if flags.get((m, i))]
            per_size = data.types[type_name]
            saved = tuple(
                int(per_size[s].layer_stream_bytes[idx].sum()) if idx else 0 for s, _ in data.sizes
            )
            saved_ps = tuple(
                int(per_size[s].layer_stream_extra[idx].sum()) if idx else 0 for s, _ in data.sizes
            )
            load = int(data.weight_bytes[idx].sum()) if idx else 0
            out.append(_Residency(saved, saved_ps, load))
        result = tuple(out)
        self._residency[key] = result
        return result

    def _segment_info(self, schedule: Schedule) -> dict[str, list[tuple[Segment, int, _Residency]]]:
        """Per model, its segments in execution order with their window and residency."""
        per_model: dict[str, list[tuple[Segment, int, _Residency]]] = {
            d.name: [] for d in self.models
        }
        for w, window in enumerate(schedule.windows):
            by_chiplet: dict[int, list[int]] = {}
            for i, seg in enumerate(window.segments):
                by_chiplet.setdefault(seg.chiplet, []).append(i)
            res: list[_Residency] = [_NO_RESIDENCY] * len(window.segments)
            for chiplet, idx in by_chiplet.items():
                segs = window.segments
                found = self._chiplet_residency(
                    self.chiplet_type[chiplet],
                    tuple((segs[i].model, segs[i].start, segs[i].stop) for i in idx),
                )
                for i, r in zip(idx, found, strict=True):
                    res[i] = r
            for i, seg in enumerate(window.segments):
                per_model[seg.model].append((seg, w, res[i]))
        return per_model

    def segment_costs(self, schedule: Schedule) -> dict[tuple[str, int], list[SegmentCost]]:
        """Costs of every segment, keyed like ``build_plans`` by (workload, micro-batch).

        The list runs over the workload's segments in execution order (all windows).
        """
        info = self._segment_info(schedule)
        out: dict[tuple[str, int], list[SegmentCost]] = {}
        for data in self.models:
            placed = info[data.name]
            segs = [seg for seg, _, _ in placed]
            for k, (size, _) in enumerate(data.sizes):
                out[(data.name, size)] = [
                    self._cost(data, segs, j, res, k, size) for j, (_, _, res) in enumerate(placed)
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
            layered_ps=compute + extra[b] - extra[a] - res.saved_extra_ps[k],
            first_use_layered_ps=compute + extra[b] - extra[a],
            stream_bytes=dsb[b] - dsb[a] - res.saved_bytes[k],
            load_bytes=res.load_bytes,
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
        info = self._segment_info(schedule)
        n_models, n_chiplets = len(self.models), self.n_chiplets
        windows = len(schedule.windows)
        batch = self.mode == "batch"
        # Per model: demand and visits per chiplet, bytes per resource, dynamic pJ and
        # transfer delay per request; in batch mode all of it per window too.
        demand = np.zeros((windows, n_models, n_chiplets))
        visits = np.zeros((n_models, n_chiplets))
        traffic = np.zeros((windows, n_models, self.n_resources))
        energy_pj = [0.0] * n_models
        delay_ps = [0.0] * n_models
        chains: list[list[float]] = [[0.0] * windows for _ in range(n_models)]
        for data in self.models:
            m = data.index
            placed = info[data.name]
            segs = [seg for seg, _, _ in placed]
            per_window_stages: list[list[float]] = [[] for _ in range(windows)]
            for k, (size, count) in enumerate(data.sizes):
                main = k == 0
                out_delay = 0.0
                for j, (seg, w, res) in enumerate(placed):
                    c = seg.chiplet
                    cost = self._cost(data, segs, j, res, k, size)
                    stream = cost.stream_bytes
                    shares, rate, lat_ps, pj_per_byte = self.dram_read[c]
                    execute = cost.layered_ps
                    if stream:
                        execute = max(execute, math.ceil(stream / rate) + lat_ps)
                    demand[w, m, c] += count * execute
                    visits[m, c] += count
                    if batch and main and cost.load_bytes:
                        # One-time load of resident weights, on this segment's first use.
                        loaded = math.ceil((stream + cost.load_bytes) / rate) + lat_ps
                        demand[w, m, c] += max(cost.first_use_layered_ps, loaded) - execute
                        traffic[w, m] += cost.load_bytes * shares
                        energy_pj[m] += cost.load_bytes * pj_per_byte
                    read = stream + cost.input_dram_bytes
                    if read:
                        traffic[w, m] += count * read * shares
                        energy_pj[m] += count * read * pj_per_byte
                    stage = float(execute)
                    if cost.input_dram_bytes:
                        stage += cost.input_dram_bytes / rate + lat_ps
                    for source, nbytes in cost.inbound:
                        src = segs[source].chiplet
                        if src == c:
                            continue
                        route, link_rate, hop_ps = self.routes[src][c]
                        traffic[w, m, list(route)] += count * nbytes
                        energy_pj[m] += count * nbytes * len(route) * self.nop_pj_per_byte
                        stage += nbytes / link_rate + hop_ps
                    if cost.output_dram_bytes:
                        w_shares, w_rate, w_lat, w_pj = self.dram_write[c]
                        traffic[w, m] += count * cost.output_dram_bytes * w_shares
                        energy_pj[m] += count * cost.output_dram_bytes * w_pj
                        out_delay = max(out_delay, cost.output_dram_bytes / w_rate + w_lat)
                    energy_pj[m] += count * cost.pj
                    delay_ps[m] += count * (stage - execute)
                    if main:
                        per_window_stages[w].append(stage)
                delay_ps[m] += count * out_delay
            for w, stages in enumerate(per_window_stages):
                if stages:
                    chains[m][w] = sum(stages) + (data.n_micro - 1) * max(stages)
        if batch:
            return self._batch(demand, traffic, energy_pj, chains)
        return self._stream(demand.sum(0), visits, traffic.sum(0), energy_pj, delay_ps)

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

    def _batch(
        self,
        demand: np.ndarray,
        traffic: np.ndarray,
        energy_pj: list[float],
        chains: list[list[float]],
    ) -> Estimate:
        windows = demand.shape[0]
        total_ps = 0.0
        ends = np.zeros(len(self.models))
        worst = ("", 0.0)
        for w in range(windows):
            chiplet_load = demand[w].sum(0)
            res_load = traffic[w].sum(0) / self.capacity
            chain = max(chains[m][w] for m in range(len(self.models)))
            length = max(float(chiplet_load.max()), float(res_load.max()), chain)
            if length > worst[1]:
                c = int(np.argmax(chiplet_load))
                r = int(np.argmax(res_load))
                name = (
                    f"chiplet {c}"
                    if chiplet_load[c] >= max(res_load[r], chain)
                    else self.resource_names[r]
                    if res_load[r] >= chain
                    else "pipeline latency"
                )
                worst = (name, length)
            total_ps += length
            for m in range(len(self.models)):
                if demand[w, m].any():
                    ends[m] = total_ps
        inferences = sum(d.batch for d in self.models)
        seconds = total_ps / PS_PER_S
        energy_j = sum(energy_pj) * J_PER_PJ + self.static_w * seconds
        per_inference = energy_j / inferences
        return Estimate(
            throughput_per_s=inferences / seconds if seconds > 0 else math.inf,
            model_throughput_per_s={d.name: d.batch / seconds for d in self.models},
            latency_mean_s={d.name: float(ends[d.index]) / PS_PER_S for d in self.models},
            energy_per_inference_j=per_inference,
            edp_j_s=energy_j * seconds,
            bottleneck=worst[0],
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
