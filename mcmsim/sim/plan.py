"""Execution plans: what each segment of a schedule costs, precomputed once per run.

The simulator never looks at layers while it runs. Before the first event, every
segment of the schedule becomes a :class:`SegmentPlan`: the chiplet, the summed compute
time of its layers with weights resident, the weight bytes it must stream from DRAM at
every execution (those that did not fit in the chiplet's SRAM), the bytes it loads once
on first use (those that did fit), the activation bytes it receives from each earlier
segment, and what it reads from and writes to DRAM.

Weight streaming is layer-granular. A layer whose weights are not resident streams
them while it computes, tile by tile (the next tile arrives while the current one is
used, double-buffered), so the layer takes ``max(compute, stream)``: the cost table's
``latency_streamed_ps``, at the package's weight-streaming bandwidth
(:attr:`~mcmsim.hardware.package.Package.dram_stream_bandwidth_gb_per_s`). Layers run one
after another, so a segment's uncontended time is the sum over its layers,
``layered_ps``: a DRAM-bound layer no longer hides behind the compute of its
neighbours. ``first_use_layered_ps`` is the same with resident weights loaded on
first use. The engine adds contention on top (see :mod:`mcmsim.sim.engine`).

Weight residency: a chiplet keeps an activation reserve as large as the largest
input-plus-output footprint of the layers mapped to it (one layer's working set) and fills the
rest of its SRAM with weights in schedule order (window, then segment, then layer);
a layer's weights are resident only if they fit whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mcmsim.cost.table import CostTable
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment

__all__ = ["ChipletResidency", "SegmentPlan", "WorkloadPlan", "build_plans", "residency"]


@dataclass(frozen=True)
class ChipletResidency:
    """Weights one chiplet holds in one window, and what it must stream."""

    resident_weight_bytes: int
    streamed_weight_bytes: int
    activation_reserve_bytes: int


@dataclass(frozen=True)
class SegmentPlan:
    """Costs of one execution of one segment (one micro-batch)."""

    segment: Segment
    chiplet: int
    compute_ps: int
    stream_bytes: int
    load_bytes: int
    compute_pj: float
    sram_pj: float
    input_dram_bytes: int
    output_dram_bytes: int
    inbound: tuple[tuple[int, int], ...]
    layer_names: tuple[str, ...]
    layer_ps: tuple[int, ...]
    layer_streamed_ps: tuple[int, ...]
    first_use_layered_ps: int

    @property
    def layered_ps(self) -> int:
        """Uncontended time of one execution: per layer ``max(compute, weight stream)``."""
        return sum(self.layer_streamed_ps)


@dataclass(frozen=True)
class WorkloadPlan:
    """A workload's segments per window for one micro-batch size.

    Segments are numbered in execution-list order over all windows (``segments``);
    ``SegmentPlan.inbound`` and :attr:`consumers` use those numbers, and together they
    are the segment DAG the engine walks.
    """

    workload: str
    micro_batch: int
    windows: tuple[tuple[SegmentPlan, ...], ...]

    @cached_property
    def segments(self) -> tuple[SegmentPlan, ...]:
        return tuple(seg for window in self.windows for seg in window)

    @cached_property
    def segment_windows(self) -> tuple[int, ...]:
        return tuple(w for w, window in enumerate(self.windows) for _ in window)

    @cached_property
    def input_counts(self) -> tuple[int, ...]:
        """Per segment, the inputs it waits for: producer segments, plus the model input."""
        return tuple(len(seg.inbound) + (seg.input_dram_bytes > 0) for seg in self.segments)

    @cached_property
    def input_reads(self) -> int:
        return sum(seg.input_dram_bytes > 0 for seg in self.segments)

    @cached_property
    def output_writes(self) -> int:
        return sum(seg.output_dram_bytes > 0 for seg in self.segments)

    @cached_property
    def consumers(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per segment, the later segments that consume its activations, with the bytes."""
        table: list[list[tuple[int, int]]] = [[] for _ in self.segments]
        for j, seg in enumerate(self.segments):
            for source, nbytes in seg.inbound:
                table[source].append((j, nbytes))
        return tuple(tuple(row) for row in table)


def _tables(problem: SchedulingProblem, schedule: Schedule, micro_batch: dict[str, int]) -> dict:
    chiplets = problem.package.chiplets
    return {
        (seg.model, seg.chiplet): problem.costs(
            seg.model, chiplets[seg.chiplet].type.name, micro_batch[seg.model]
        )
        for window in schedule.windows
        for seg in window.segments
    }


def residency(
    problem: SchedulingProblem, schedule: Schedule
) -> tuple[list[dict[int, ChipletResidency]], list[dict[tuple[str, int], bool]]]:
    """Which layers' weights stay in SRAM, per window.

    Returns
    -------
    per_chiplet : list of dict
        For each window, chiplet id -> :class:`ChipletResidency`.
    resident : list of dict
        For each window, (model, layer index) -> whether its weights are resident.
    """
    micro = {w.name: w.micro_batch for w in problem.workloads}
    tables = _tables(problem, schedule, micro)
    per_chiplet: list[dict[int, ChipletResidency]] = []
    resident: list[dict[tuple[str, int], bool]] = []
    for window in schedule.windows:
        by_chiplet: dict[int, list[Segment]] = {}
        for seg in window.segments:
            by_chiplet.setdefault(seg.chiplet, []).append(seg)
        window_chiplets: dict[int, ChipletResidency] = {}
        window_resident: dict[tuple[str, int], bool] = {}
        for chiplet_id, segments in by_chiplet.items():
            sram = problem.package.chiplets[chiplet_id].type.sram_bytes
            reserve = max(
                int(
                    np.max(
                        tables[(s.model, chiplet_id)].input_bytes[s.start : s.stop]
                        + tables[(s.model, chiplet_id)].output_bytes[s.start : s.stop]
                    )
                )
                for s in segments
            )
            free = max(sram - reserve, 0)
            kept = streamed = 0
            for seg in segments:
                table = tables[(seg.model, chiplet_id)]
                for i in range(seg.start, seg.stop):
                    weight = int(table.weight_bytes[i])
                    fits = 0 < weight <= free
                    if fits:
                        free -= weight
                        kept += weight
                    elif weight:
                        streamed += int(table.dram_stream_bytes[i])
                    window_resident[(seg.model, i)] = fits
            window_chiplets[chiplet_id] = ChipletResidency(kept, streamed, reserve)
        per_chiplet.append(window_chiplets)
        resident.append(window_resident)
    return per_chiplet, resident


def _segment_plan(
    seg: Segment,
    table: CostTable,
    resident: dict[tuple[str, int], bool],
    owner: dict[int, int],
    index_in_model: int,
    problem: SchedulingProblem,
    micro_batch: int,
) -> SegmentPlan:
    workload = problem.workload(seg.model)
    model = workload.model
    graph = model.graph
    bpe = problem.scenario.simulation.precision_bytes
    stream = load = 0
    inbound: dict[int, int] = {}
    input_bytes = output_bytes = 0
    # What streaming its weights adds to a layer: max(compute, stream) - compute.
    all_extra = table.latency_streamed_ps - table.latency_ps
    stream_extra: list[int] = []
    for i in range(seg.start, seg.stop):
        if resident.get((seg.model, i)):
            load += int(table.weight_bytes[i])
            stream_extra.append(0)
        else:
            stream += int(table.dram_stream_bytes[i])
            stream_extra.append(int(all_extra[i]))
        name = model.layers[i].name
        predecessors = list(graph.predecessors(name))
        if not predecessors:
            input_bytes = model.input_elems * bpe * micro_batch
        for producer in predecessors:
            source = owner[model.index[producer]]
            if source != index_in_model:
                elems = graph.edges[producer, name]["elems"]
                inbound[source] = inbound.get(source, 0) + elems * bpe * micro_batch
        if graph.out_degree(name) == 0:
            output_bytes += int(table.output_bytes[i])
    span = slice(seg.start, seg.stop)
    # A layer fused into its producer is charged its fused cost only within one segment.
    layer_ps = table.segment_latency_ps(seg.start, seg.stop)
    return SegmentPlan(
        segment=seg,
        chiplet=seg.chiplet,
        compute_ps=int(layer_ps.sum()),
        stream_bytes=stream,
        load_bytes=load,
        compute_pj=float(table.compute_pj[span].sum()),
        sram_pj=float(table.segment_sram_pj(seg.start, seg.stop).sum()),
        input_dram_bytes=input_bytes,
        output_dram_bytes=output_bytes,
        inbound=tuple(sorted(inbound.items())),
        layer_names=tuple(layer.name for layer in model.layers[span]),
        layer_ps=tuple(int(x) for x in layer_ps),
        layer_streamed_ps=tuple(
            int(x) + extra for x, extra in zip(layer_ps, stream_extra, strict=True)
        ),
        first_use_layered_ps=int(layer_ps.sum() + all_extra[span].sum()),
    )


def build_plans(
    problem: SchedulingProblem, schedule: Schedule
) -> dict[tuple[str, int], WorkloadPlan]:
    """Plans for every workload and every micro-batch size it uses.

    Keys are ``(workload, micro_batch)``; a batch that does not divide evenly adds a
    plan for its last, smaller micro-batch.
    """
    _, resident = residency(problem, schedule)
    plans: dict[tuple[str, int], WorkloadPlan] = {}
    for workload in problem.workloads:
        segments = schedule.segments(workload.name)
        owner: dict[int, int] = {}
        for index, seg in enumerate(segments):
            for i in range(seg.start, seg.stop):
                owner[i] = index
        for size in sorted(set(workload.micro_batch_sizes)):
            windows = []
            index = 0
            for w, window in enumerate(schedule.windows):
                plans_in_window = []
                for seg in window.of(workload.name):
                    chiplet_type = problem.package.chiplets[seg.chiplet].type.name
                    table = problem.costs(workload, chiplet_type, size)
                    plans_in_window.append(
                        _segment_plan(seg, table, resident[w], owner, index, problem, size)
                    )
                    index += 1
                windows.append(tuple(plans_in_window))
            plans[(workload.name, size)] = WorkloadPlan(workload.name, size, tuple(windows))
    return plans
