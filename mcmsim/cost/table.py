"""Cost tables: latency, energy and traffic of every layer of a model on one chiplet type.

A :class:`CostTable` holds numpy arrays indexed like ``model.layers``, for one
execution that covers ``batch`` inferences:

* ``latency_ps`` with the layer's weights resident in the chiplet's SRAM:
  ``max(compute, SRAM bandwidth) + fill``;
* ``latency_streamed_ps`` when the weights are streamed from DRAM at
  ``dram_bandwidth_gbps`` (the package's weight-streaming bandwidth, see
  :meth:`mcmsim.schedule.SchedulingProblem.costs`): ``max(compute, SRAM, DRAM) + fill``;
  the simulator charges a streamed layer this, layer by layer;
* energy split into MAC (``compute_pj``), L2 SRAM (``sram_pj``) and, when streamed,
  DRAM (``dram_stream_pj``); NoP and static energy belong to the simulator;
* ``utilization``: achieved MACs over the array's peak during ``latency_ps``;
  ``spatial_utilization``: the same over the compute cycles only (no fill, no SRAM stall);
* ``sram_bound``: the layer waits on L2 bandwidth rather than on its MACs.

Operator fusion: on a chiplet type with ``fusion`` on, an elementwise or normalisation
layer whose only producer is the layer just before it (a MAC layer or another fused
layer, whose output nothing else reads) runs on that producer's output path: its vector
cycles remain, its fill and its SRAM pass go (only operands other than the producer's
output, such as a residual, are read). ``latency_ps`` and ``sram_pj`` hold those fused
costs; a fused layer that starts a segment has no producer on its chiplet, and
:meth:`CostTable.segment_latency_ps` and :meth:`CostTable.segment_sram_pj` give it its
``unfused_*`` cost.

Tables are cached per (model, chiplet type, batch, precision, DRAM parameters), so
every scheduler and the simulator share one computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mcmsim.cost.dataflow import LayerArrays, map_layers
from mcmsim.hardware.chiplet import ChipletType
from mcmsim.workloads.layer import OpKind
from mcmsim.workloads.model import Model

__all__ = ["CostTable", "cost_table", "layer_arrays"]

PS_PER_S = 10**12


@dataclass(frozen=True)
class CostTable:
    """Per-layer costs of ``model`` on ``chiplet`` for executions of ``batch`` inferences."""

    model: str
    chiplet_type: str
    batch: int
    macs: np.ndarray
    latency_ps: np.ndarray
    latency_streamed_ps: np.ndarray
    compute_pj: np.ndarray
    sram_pj: np.ndarray
    dram_stream_pj: np.ndarray
    utilization: np.ndarray
    weight_bytes: np.ndarray
    dram_stream_bytes: np.ndarray
    input_bytes: np.ndarray
    output_bytes: np.ndarray
    spatial_utilization: np.ndarray
    sram_bound: np.ndarray
    fused: np.ndarray
    unfused_latency_ps: np.ndarray
    unfused_sram_pj: np.ndarray

    def __len__(self) -> int:
        return len(self.latency_ps)

    def segment_latency_ps(self, start: int, stop: int) -> np.ndarray:
        """Latencies of layers ``start:stop`` run in that order on one chiplet."""
        return self._segment(self.latency_ps, self.unfused_latency_ps, start, stop)

    def segment_sram_pj(self, start: int, stop: int) -> np.ndarray:
        """L2 energies of layers ``start:stop`` run in that order on one chiplet."""
        return self._segment(self.sram_pj, self.unfused_sram_pj, start, stop)

    def _segment(self, fused: np.ndarray, unfused: np.ndarray, start: int, stop: int):
        part = fused[start:stop].copy()
        # The first layer has no producer on this chiplet to fuse into.
        if stop > start and self.fused[start]:
            part[0] = unfused[start]
        return part

    @property
    def energy_pj(self) -> np.ndarray:
        """Energy with weights resident (MAC + SRAM)."""
        return self.compute_pj + self.sram_pj


@lru_cache(maxsize=256)
def layer_arrays(model: Model) -> LayerArrays:
    """The model's layer dimensions as int64 arrays (cached per model)."""
    layers = model.layers

    def column(attr: str) -> np.ndarray:
        return np.fromiter((getattr(layer, attr) for layer in layers), np.int64, len(layers))

    return LayerArrays(
        g=column("g"),
        k=column("k"),
        c=column("c"),
        p=column("p"),
        q=column("q"),
        r=column("r"),
        s=column("s"),
        has_macs=np.fromiter((layer.op.has_macs for layer in layers), bool, len(layers)),
        is_embedding=np.fromiter(
            (layer.op is OpKind.EMBEDDING for layer in layers), bool, len(layers)
        ),
        weight_elems=column("weight_elems"),
        input_elems=column("input_elems"),
        output_elems=column("output_elems"),
        vector_ops=column("vector_ops"),
        fusable=_fusable(model),
    )


_FUSABLE_OPS = (OpKind.ELEMENTWISE, OpKind.NORM)


def _fusable(model: Model) -> np.ndarray:
    """Layers that can run on the output path of the layer just before them."""
    layers, graph = model.layers, model.graph
    fusable = np.zeros(len(layers), bool)
    for i in range(1, len(layers)):
        producer, layer = layers[i - 1], layers[i]
        fusable[i] = (
            layer.op in _FUSABLE_OPS
            and graph.has_edge(producer.name, layer.name)
            and graph.out_degree(producer.name) == 1
            and (producer.op.has_macs or bool(fusable[i - 1]))
        )
    return fusable


def _cycles_to_ps(cycles: np.ndarray, freq_hz: int) -> np.ndarray:
    # cycles * 10**12 would overflow int64 beyond ~9e6 cycles: scale by the period instead.
    if PS_PER_S % freq_hz == 0:
        return cycles * (PS_PER_S // freq_hz)
    return np.ceil(cycles * (PS_PER_S / freq_hz)).astype(np.int64)


@lru_cache(maxsize=1024)
def cost_table(
    model: Model,
    chiplet: ChipletType,
    batch: int = 1,
    bytes_per_elem: int = 1,
    dram_bandwidth_gbps: float = 64.0,
    dram_energy_pj_per_bit: float = 14.8,
) -> CostTable:
    """Cost of every layer of ``model`` on ``chiplet`` for one execution of ``batch`` inferences.

    Raises
    ------
    ValueError
        If ``batch`` or ``bytes_per_elem`` is not positive.
    """
    if batch < 1 or bytes_per_elem < 1:
        raise ValueError("batch and bytes_per_elem must be >= 1")
    arrays = layer_arrays(model)
    mapping = map_layers(arrays, chiplet, batch)
    macs = batch * np.fromiter((layer.macs for layer in model.layers), np.int64, len(model.layers))
    bandwidth = chiplet.sram_bw_bytes_per_cycle

    sram_bytes = mapping.sram_elems * bytes_per_elem
    sram_cycles = -(-sram_bytes // bandwidth)
    unfused_cycles = np.maximum(mapping.compute_cycles, sram_cycles) + mapping.fill_cycles

    fused = arrays.fusable & chiplet.fusion
    # A fused layer reads only the operands its producer does not hand it (a residual).
    producer_out = np.concatenate(([0], arrays.output_elems[:-1]))
    fused_sram_bytes = batch * np.maximum(arrays.input_elems - producer_out, 0) * bytes_per_elem
    fused_cycles = np.maximum(mapping.compute_cycles, -(-fused_sram_bytes // bandwidth))
    busy_cycles = np.where(fused, fused_cycles, unfused_cycles)
    latency_ps = _cycles_to_ps(busy_cycles, chiplet.freq_hz)
    fill_ps = _cycles_to_ps(np.where(fused, 0, mapping.fill_cycles), chiplet.freq_hz)
    sram_bound = np.where(fused, False, sram_cycles > mapping.compute_cycles)
    sram_pj_per_byte = 8 * chiplet.sram_energy_pj_per_bit
    unfused_sram_pj = sram_bytes * sram_pj_per_byte

    stream_elems = np.where(arrays.is_embedding, batch * arrays.output_elems, arrays.weight_elems)
    dram_stream_bytes = stream_elems * bytes_per_elem
    # 1 GB/s moves one byte per nanosecond, i.e. 1000 ps per byte per GB/s.
    dram_ps = np.ceil(dram_stream_bytes * 1000.0 / dram_bandwidth_gbps).astype(np.int64)
    latency_streamed_ps = np.maximum(latency_ps, dram_ps + fill_ps)

    work = np.where(arrays.has_macs, macs, batch * arrays.vector_ops).astype(np.float64)
    peak_macs = chiplet.pes * (latency_ps.astype(np.float64) * chiplet.freq_hz / PS_PER_S)
    utilization = np.divide(work, peak_macs, out=np.zeros_like(work), where=peak_macs > 0)
    compute_slots = (mapping.compute_cycles * chiplet.pes).astype(np.float64)
    spatial_utilization = np.divide(
        work, compute_slots, out=np.zeros_like(work), where=compute_slots > 0
    )

    table = CostTable(
        model=model.name,
        chiplet_type=chiplet.name,
        batch=batch,
        macs=macs,
        latency_ps=latency_ps,
        latency_streamed_ps=latency_streamed_ps,
        compute_pj=(macs + batch * arrays.vector_ops) * chiplet.mac_energy_pj,
        sram_pj=np.where(fused, fused_sram_bytes * sram_pj_per_byte, unfused_sram_pj),
        dram_stream_pj=dram_stream_bytes * 8 * dram_energy_pj_per_bit,
        utilization=utilization,
        weight_bytes=arrays.weight_elems * bytes_per_elem,
        dram_stream_bytes=dram_stream_bytes,
        input_bytes=batch * arrays.input_elems * bytes_per_elem,
        output_bytes=batch * arrays.output_elems * bytes_per_elem,
        spatial_utilization=spatial_utilization,
        sram_bound=sram_bound,
        fused=fused,
        unfused_latency_ps=_cycles_to_ps(unfused_cycles, chiplet.freq_hz),
        unfused_sram_pj=unfused_sram_pj,
    )
    # Cached and shared by every scheduler and simulation in the process: read-only.
    for value in vars(table).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return table
