"""One cost function for every dataflow description, vectorised over layers.

A :class:`~mcmsim.hardware.dataflow.Dataflow` lists the loop dimensions unrolled on each
array axis; everything else is iterated in time. For each axis, plain entries are
flattened and ``ceil``-folded over what the clusters leave of the axis, and a cluster of
``size`` folds its dimension by ``ceil(D / size)``. Compute cycles are the product of the
folds and the temporal loop counts; the PEs in use per axis set utilisation and fill.

L2 traffic follows one re-read rule: an operand is streamed again once per fold of a
spatial dimension it does not depend on (inputs do not depend on ``K``, weights not on
``N, P, Q``, outputs not on the reductions ``C, R, S``). On a flattened axis that count
is ``ceil(D_irrelevant / (axis // D_relevant_inner))``, the folds that contain the same
element. Outputs that see ``f`` such folds spill and re-read partial sums, ``2f - 1``
accesses. The stationary operand stays in the PEs across the folds it does not depend
on and is read once (stationary outputs never spill partial sums); ``rows`` (Eyeriss)
keeps nothing across folds. Within a fold, every operand is read from L2 once (the PEs'
registers and local buffers capture the temporal reuse). A per-PE filter scratchpad
(``pe_buffer``) interleaves that many output channels, dividing input re-reads over
``K``.

Fill: a ``broadcast`` array fills and drains once per layer over the rows and columns it
uses; a ``systolic`` one pays that once per fold (a fold costs about
``T + rows + cols`` cycles, as SCALE-Sim counts). The flat layout (``spatial``) puts
its PEs in the most compact rectangle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcmsim.hardware.chiplet import ChipletType
from mcmsim.hardware.dataflow import DIMS, OPERAND_DIMS, Dataflow, Unroll

__all__ = ["LayerArrays", "Mapping", "map_layers"]

Int = np.ndarray


@dataclass(frozen=True)
class LayerArrays:
    """Loop dimensions and element counts of a model's layers as int64 arrays."""

    g: Int
    k: Int
    c: Int
    p: Int
    q: Int
    r: Int
    s: Int
    has_macs: np.ndarray
    is_embedding: np.ndarray
    weight_elems: Int
    input_elems: Int
    output_elems: Int
    vector_ops: Int
    fusable: np.ndarray


@dataclass(frozen=True)
class Mapping:
    """Per-layer result of mapping one execution of ``batch`` inferences."""

    compute_cycles: Int
    fill_cycles: Int
    sram_elems: Int
    active_pes: Int


def _ceil_div(a: Int, b: Int | int) -> Int:
    return -(-a // b)


def _prod(arrays: list[Int], like: Int) -> Int:
    out = np.ones_like(like)
    for a in arrays:
        out = out * a
    return out


@dataclass(frozen=True)
class _Axis:
    """One array axis applied to every layer: folds, PEs used, per-operand re-streams."""

    folds: Int
    used: Int
    refetch: dict[str, Int]


def _axis(
    unrolls: tuple[Unroll, ...],
    extent: int,
    dims: dict[str, Int],
    interleave: Int,
) -> _Axis:
    like = dims["K"]
    clusters = [u for u in unrolls if u.size is not None]
    free = [u.dim for u in unrolls if u.size is None]
    capacity = max(extent // math.prod(u.size for u in clusters if u.size), 1)
    free_size = _prod([dims[d] for d in free], like)
    folds = _ceil_div(free_size, capacity)
    used = np.minimum(free_size, capacity)
    for u in clusters:
        folds = folds * _ceil_div(dims[u.dim], u.size)
        used = used * np.minimum(dims[u.dim], u.size)
    refetch = {}
    for operand, relevant in OPERAND_DIMS.items():
        count = _prod(
            [_ceil_div(dims[u.dim], u.size) for u in clusters if u.dim not in relevant], like
        )
        irrelevant = [d for d in free if d not in relevant]
        if irrelevant:
            first = free.index(irrelevant[0])
            inner = _prod([dims[d] for d in free[first + 1 :] if d in relevant], like)
            together = np.maximum(capacity // np.minimum(inner, capacity), 1)
            if operand == "inputs" and "K" in irrelevant:
                together = together * interleave
            count = count * _ceil_div(_prod([dims[d] for d in irrelevant], like), together)
        refetch[operand] = count
    return _Axis(folds, used, refetch)


def map_layers(layers: LayerArrays, chiplet: ChipletType, batch: int) -> Mapping:
    """Cycles, L2 element accesses and PEs in use of every layer on ``chiplet`` at ``batch``."""
    dataflow: Dataflow = chiplet.dataflow
    n = batch
    dims = {
        "N": np.full_like(layers.k, n),
        "G": layers.g,
        "K": layers.k,
        "C": layers.c,
        "P": layers.p,
        "Q": layers.q,
        "R": layers.r,
        "S": layers.s,
    }
    weights = np.where(layers.is_embedding, n * layers.output_elems, layers.weight_elems)
    inputs = n * layers.input_elems
    outputs = n * layers.output_elems

    spatial = dataflow.spatial_dims()
    temporal_dims = [d for d in DIMS if d not in spatial]
    temporal = _prod([dims[d] for d in temporal_dims], layers.k)
    # A filter row is what a PE holds of the weights per output channel.
    filter_row = _prod(
        [dims[d] for d in temporal_dims if d in OPERAND_DIMS["weights"] and d not in "GK"],
        layers.k,
    )
    interleave = np.maximum((dataflow.pe_buffer or 1) // filter_row, 1)

    axes = [
        _axis(u, extent, dims, interleave)
        for u, extent in dataflow.axes(chiplet.rows, chiplet.cols)
    ]
    folds = _prod([a.folds for a in axes], layers.k)
    refetch = {op: _prod([a.refetch[op] for a in axes], layers.k) for op in OPERAND_DIMS}
    if dataflow.stationary in refetch:
        refetch[dataflow.stationary] = np.ones_like(layers.k)
    if len(axes) == 2:
        used_rows, used_cols = axes[0].used, axes[1].used
        active = used_rows * used_cols
    else:
        # One list of PEs: the ones in use form the most compact rectangle.
        active = axes[0].used
        used_cols = np.minimum(np.ceil(np.sqrt(active)).astype(np.int64), chiplet.cols)
        used_rows = _ceil_div(active, used_cols)

    mac_cycles = folds * temporal
    # Layers without MACs (elementwise, pooling, norms) run on the array as a vector unit.
    vector_cycles = _ceil_div(n * layers.vector_ops, chiplet.pes)
    compute_cycles = np.where(layers.has_macs, mac_cycles, vector_cycles)
    mac_sram = weights * refetch["weights"] + inputs * refetch["inputs"]
    mac_sram = mac_sram + outputs * (2 * refetch["outputs"] - 1)
    sram_elems = np.where(layers.has_macs, mac_sram, weights + inputs + outputs)
    # A broadcast array fills and drains once per layer, across the part of the array
    # the layer uses (so a larger array never adds fill to a layer that cannot use it);
    # a systolic one once per fold.
    edge_cycles = used_rows + used_cols
    if dataflow.feed == "systolic":
        edge_cycles = edge_cycles * folds
    fill_cycles = np.where(layers.has_macs, edge_cycles, np.where(compute_cycles > 0, 1, 0))
    active_pes = np.where(layers.has_macs, active, np.minimum(n * layers.vector_ops, chiplet.pes))
    return Mapping(compute_cycles, fill_cycles, sram_elems, active_pes)
