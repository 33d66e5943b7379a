"""What one iteration of a generation workload costs on one segment, fast.

An iteration processes ``tokens`` new tokens (decode tokens plus prompt chunks) of some
requests, of which ``sampled`` produce a token. On a segment (a contiguous run of the
decoder's layers on one chiplet) it costs, with the layer kinds of
:mod:`mcmsim.workloads.decoder`:

* token layers at ``tokens`` rows: the cost table of the decoder at batch ``tokens``
  (a one-token decode build times ``tokens`` is a ``tokens``-row product in every
  dataflow), summed over the segment with prefix sums;
* sampling layers at ``sampled`` rows, the same way;
* attention, per request: ``q`` new tokens against ``c`` context tokens. Decode
  requests (``q = 1``) read one precomputed row per context length (a probe model with
  the three attention layers at every context, costed in one cost-table call);
  prompt chunks are costed per ``(q, c)`` and cached.

Every figure comes from :func:`mcmsim.cost.cost_table`, so the dataflow model is the
one the rest of mcmsim uses; costs are cached per token count, so an iteration costs a
few numpy operations whatever its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mcmsim.cost.table import cost_table
from mcmsim.hardware.chiplet import ChipletType
from mcmsim.workloads.builders import matmul, softmax
from mcmsim.workloads.decoder import ATTENTION_PARTS, Decoder
from mcmsim.workloads.model import Model, ModelBuilder

__all__ = ["IterationCost", "IterationCostModel", "attention_layers"]


@dataclass(frozen=True, slots=True)
class IterationCost:
    """Compute time (weights resident), energies and weight bytes streamed (non-resident)."""

    compute_ps: int
    compute_pj: float
    sram_pj: float
    stream_bytes: int


def attention_layers(cfg_heads: int, head_dim: int, q: int, c: int, tag: str = "") -> list:
    """The three attention layers of one block for ``q`` queries over ``c`` keys."""
    return [
        matmul(f"scores{tag}", q, head_dim, c, heads=cfg_heads, weights=False),
        softmax(f"softmax{tag}", cfg_heads * q * c),
        matmul(f"context{tag}", q, c, head_dim, heads=cfg_heads, weights=False),
    ]


def _probe(name: str, layers: list) -> Model:
    builder = ModelBuilder(name, 0)
    for layer in layers:
        builder.add(layer, inputs=())
    return builder.build()


@dataclass(frozen=True)
class _Prefix:
    """Cumulative sums over layers (length n + 1) of the masked costs at one row count,
    and per layer what it costs extra when it starts a segment unfused."""

    latency_ps: np.ndarray
    compute_pj: np.ndarray
    sram_pj: np.ndarray
    stream_bytes: np.ndarray
    first_extra_ps: np.ndarray
    first_extra_sram_pj: np.ndarray

    def span(self, start: int, stop: int) -> tuple[int, float, float, int]:
        # A fused layer that starts the segment has no producer there (as build_plans).
        return (
            int(self.latency_ps[stop] - self.latency_ps[start] + self.first_extra_ps[start]),
            float(self.compute_pj[stop] - self.compute_pj[start]),
            float(self.sram_pj[stop] - self.sram_pj[start] + self.first_extra_sram_pj[start]),
            int(self.stream_bytes[stop] - self.stream_bytes[start]),
        )


def _cumsum(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(values)])


class IterationCostModel:
    """Costs of iterations of ``model`` (a build of ``decoder``) on one chiplet type.

    Parameters
    ----------
    model : Model
        The decoder as the schedule sees it (any token count: only the layer order and
        names matter; token layers are re-costed at each iteration's token count).
    decoder : Decoder
        Its anatomy.
    chiplet : ChipletType
    resident : numpy.ndarray
        Per layer, whether its weights stay in SRAM (so are not streamed).
    bytes_per_elem : int
    dram_bandwidth_gbps, dram_energy_pj_per_bit : float
        As for :func:`mcmsim.cost.cost_table`.
    """

    def __init__(
        self,
        model: Model,
        decoder: Decoder,
        chiplet: ChipletType,
        resident: np.ndarray,
        bytes_per_elem: int,
        dram_bandwidth_gbps: float,
        dram_energy_pj_per_bit: float,
    ) -> None:
        self.model = model
        self.decoder = decoder
        self.chiplet = chiplet
        self.streamed = ~np.asarray(resident, bool)
        self.bpe = bytes_per_elem
        self.dram = (dram_bandwidth_gbps, dram_energy_pj_per_bit)
        self._rows: dict[tuple[int, int], _Prefix] = {}
        self._chunks: dict[tuple[int, int], np.ndarray] = {}

    def _table(self, model: Model, batch: int):
        return cost_table(model, self.chiplet, batch, self.bpe, *self.dram)

    def _prefix(self, kind: int, rows: int) -> _Prefix:
        key = (kind, rows)
        prefix = self._rows.get(key)
        if prefix is None:
            table = self._table(self.model, rows)
            mask = self.decoder.kind == kind
            prefix = _Prefix(
                _cumsum(np.where(mask, table.latency_ps, 0)),
                _cumsum(np.where(mask, table.compute_pj, 0.0)),
                _cumsum(np.where(mask, table.sram_pj, 0.0)),
                _cumsum(np.where(mask & self.streamed, table.dram_stream_bytes, 0)),
                np.where(mask & table.fused, table.unfused_latency_ps - table.latency_ps, 0),
                np.where(mask & table.fused, table.unfused_sram_pj - table.sram_pj, 0.0),
            )
            self._rows[key] = prefix
        return prefix

    @cached_property
    def _decode_attention(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(contexts x parts) latency, compute and SRAM energy of one query per context."""
        cfg = self.decoder.config
        contexts = range(1, self.decoder.max_context + 1)
        layers = [
            layer
            for c in contexts
            for layer in attention_layers(cfg.heads, cfg.head_dim, 1, c, f".{c}")
        ]
        table = self._table(_probe("decode-attention", layers), 1)
        shape = (len(contexts), len(ATTENTION_PARTS))
        return (
            table.latency_ps.reshape(shape),
            table.compute_pj.reshape(shape),
            table.sram_pj.reshape(shape),
        )

    def _chunk_attention(self, q: int, c: int) -> np.ndarray:
        """(3 x parts) latency, compute and SRAM energy of ``q`` queries over ``c`` keys."""
        key = (q, c)
        costs = self._chunks.get(key)
        if costs is None:
            cfg = self.decoder.config
            table = self._table(
                _probe("chunk-attention", attention_layers(cfg.heads, cfg.head_dim, q, c)), 1
            )
            costs = np.stack([table.latency_ps, table.compute_pj, table.sram_pj])
            self._chunks[key] = costs
        return costs

    def segment(
        self,
        start: int,
        stop: int,
        tokens: int,
        sampled: int,
        decode_contexts: np.ndarray,
        chunks: list[tuple[int, int]],
    ) -> IterationCost:
        """Cost of one iteration on layers ``[start, stop)``.

        Parameters
        ----------
        tokens : int
            New tokens in the iteration (>= 1).
        sampled : int
            Requests that produce a token in it.
        decode_contexts : numpy.ndarray
            Context length (cached tokens + the new one) of every decode request.
        chunks : list of (int, int)
            ``(new tokens, context after them)`` of every prompt chunk.
        """
        latency, compute, sram, stream = self._prefix(Decoder.TOKEN, tokens).span(start, stop)
        if sampled:
            s_lat, s_comp, s_sram, s_stream = self._prefix(Decoder.SAMPLING, sampled).span(
                start, stop
            )
            latency, compute, sram, stream = (
                latency + s_lat,
                compute + s_comp,
                sram + s_sram,
                stream + s_stream,
            )
        counts = self.decoder.attention_counts(start, stop)
        if counts.any():
            if len(decode_contexts):
                lat, comp, sr = self._decode_attention
                rows = np.asarray(decode_contexts, np.int64) - 1
                latency += int(lat[rows].sum(axis=0) @ counts)
                compute += float(comp[rows].sum(axis=0) @ counts)
                sram += float(sr[rows].sum(axis=0) @ counts)
            for q, c in chunks:
                costs = self._chunk_attention(q, c)
                latency += int(costs[0] @ counts)
                compute += float(costs[1] @ counts)
                sram += float(costs[2] @ counts)
        return IterationCost(latency, compute, sram, stream)
