"""How each dataflow unrolls a layer's loop nest over a PE array, vectorised over layers.

The mapping follows MAESTRO's descriptions of the three classic dataflows. Each one
puts some loop dimensions on the array's rows and columns (spatial, ``ceil``-folded
when larger than the array) and iterates the rest in time:

=========  ===========================  ==========================  =============
dataflow   rows                         cols                        temporal
=========  ===========================  ==========================  =============
``ws``     C (input channels)           G*K (output channels)       N*P*Q*R*S
``os``     N*P*Q output positions folded over the whole array       G*K*C*R*S
``rs``     R*C (filter rows x chans)    G*K*N*P (filters x rows)    Q*S
=========  ===========================  ==========================  =============

The stationary operand is read from L2 once; the others are re-streamed once per fold
of a spatial axis they do not depend on (``ws``: inputs once per fold of their group's
output channels; ``os``: weights once per fold of output positions; ``rs``: weights once
per fold of output rows, inputs once per set of filters processed together, a PE
interleaving as many filters as its 224-entry filter scratchpad holds, as in Eyeriss),
and partial sums spill once per fold of a reduction axis (``2*f - 1`` accesses). Those
re-reads are what make one dataflow cheaper than another in SRAM traffic, on top of the
utilisation lost to ``ceil`` edge effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mcmsim.hardware.chiplet import ChipletType, Dataflow

__all__ = ["LayerArrays", "Mapping", "map_layers"]

Int = np.ndarray

# Filter scratchpad entries per PE in Eyeriss (Chen et al., JSSC 2017: 224 x 16 bit).
EYERISS_FILTER_SPAD = 224


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


@dataclass(frozen=True)
class Mapping:
    """Per-layer result of mapping one execution of ``batch`` inferences."""

    compute_cycles: Int
    fill_cycles: Int
    sram_elems: Int


def _ceil_div(a: Int, b: Int | int) -> Int:
    return -(-a // b)


@dataclass(frozen=True)
class _Unrolling:
    """What one dataflow does with a layer: folds, time steps, L2 reads, PEs used."""

    fold_rows: Int
    fold_cols: Int
    temporal: Int
    weight_reads: Int
    input_reads: Int
    output_accesses: Int
    used_rows: Int
    used_cols: Int


def _weight_stationary(
    layers: LayerArrays, chiplet: ChipletType, n: int, weights: Int, inputs: Int, outputs: Int
) -> _Unrolling:
    rows, cols = chiplet.rows, chiplet.cols
    g, k, c, p, q, r, s = layers.g, layers.k, layers.c, layers.p, layers.q, layers.r, layers.s
    fold_rows = _ceil_div(c, rows)
    # An input is re-streamed once per fold of its own group's output channels.
    i_refetch = _ceil_div(k, cols)
    return _Unrolling(
        fold_rows=fold_rows,
        fold_cols=_ceil_div(g * k, cols),
        temporal=n * p * q * r * s,
        weight_reads=weights,
        input_reads=inputs * i_refetch,
        output_accesses=outputs * (2 * fold_rows - 1),
        used_rows=np.minimum(c, rows),
        used_cols=np.minimum(g * k, cols),
    )


def _output_stationary(
    layers: LayerArrays, chiplet: ChipletType, n: int, weights: Int, inputs: Int, outputs: Int
) -> _Unrolling:
    pes, cols = chiplet.pes, chiplet.cols
    g, k, c, p, q, r, s = layers.g, layers.k, layers.c, layers.p, layers.q, layers.r, layers.s
    fold_rows = _ceil_div(n * p * q, pes)
    # Outputs occupy the most compact block of PEs the array allows.
    used = np.minimum(n * p * q, pes)
    used_cols = np.minimum(np.ceil(np.sqrt(used)).astype(np.int64), cols)
    return _Unrolling(
        fold_rows=fold_rows,
        fold_cols=np.ones_like(fold_rows),
        temporal=g * k * c * r * s,
        weight_reads=weights * fold_rows,
        input_reads=inputs,
        output_accesses=outputs,
        used_rows=_ceil_div(used, used_cols),
        used_cols=used_cols,
    )


def _row_stationary(
    layers: LayerArrays, chiplet: ChipletType, n: int, weights: Int, inputs: Int, outputs: Int
) -> _Unrolling:
    rows, cols = chiplet.rows, chiplet.cols
    g, k, c, p, q, r, s = layers.g, layers.k, layers.c, layers.p, layers.q, layers.r, layers.s
    fold_rows = _ceil_div(r * c, rows)
    # Weights are re-streamed once per fold of output rows; inputs once per set of
    # filters processed together (columns left over by the output rows, times the
    # filters a PE interleaves in its filter scratchpad).
    out_rows = n * p
    filters_together = (cols // np.minimum(out_rows, cols)) * np.maximum(
        EYERISS_FILTER_SPAD // s, 1
    )
    return _Unrolling(
        fold_rows=fold_rows,
        fold_cols=_ceil_div(g * k * n * p, cols),
        temporal=q * s,
        weight_reads=weights * _ceil_div(out_rows, cols),
        input_reads=inputs * _ceil_div(g * k, filters_together),
        output_accesses=outputs * (2 * fold_rows - 1),
        used_rows=np.minimum(r * c, rows),
        used_cols=np.minimum(g * k * n * p, cols),
    )


_UNROLLINGS: dict[Dataflow, Callable[..., _Unrolling]] = {
    Dataflow.WS: _weight_stationary,
    Dataflow.OS: _output_stationary,
    Dataflow.RS: _row_stationary,
}
# A dataflow without a cost function must fail at import, not cost as another one.
_missing = set(Dataflow) - set(_UNROLLINGS)
if _missing:
    raise ImportError(f"dataflows without a cost function: {sorted(_missing)}")


def map_layers(layers: LayerArrays, chiplet: ChipletType, batch: int) -> Mapping:
    """Cycles and L2 element accesses of every layer on ``chiplet`` at ``batch``."""
    n = batch
    weights = np.where(layers.is_embedding, n * layers.output_elems, layers.weight_elems)
    inputs = n * layers.input_elems
    outputs = n * layers.output_elems
    u = _UNROLLINGS[chiplet.dataflow](layers, chiplet, n, weights, inputs, outputs)

    mac_cycles = u.fold_rows * u.fold_cols * u.temporal
    # Layers without MACs (elementwise, pooling, norms) run on the array as a vector unit.
    vector_cycles = _ceil_div(n * layers.vector_ops, chiplet.pes)
    compute_cycles = np.where(layers.has_macs, mac_cycles, vector_cycles)
    sram_elems = np.where(
        layers.has_macs,
        u.weight_reads + u.input_reads + u.output_accesses,
        weights + inputs + outputs,
    )
    # One pipeline fill and drain per layer, across the part of the array the layer uses
    # (so a larger array never adds fill time to a layer that cannot use it).
    fill_cycles = np.where(
        layers.has_macs, u.used_rows + u.used_cols, np.where(compute_cycles > 0, 1, 0)
    )
    return Mapping(compute_cycles, fill_cycles, sram_elems)
