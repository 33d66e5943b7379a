"""Streaming collection of request statistics in constant memory.

Completions are grouped in blocks of ``block_size`` requests. A block keeps, per model,
its completions, inferences, latency sum, dynamic energy, a log-spaced latency
histogram (1% bins) and the requests within the model's latency target (its SLO),
plus a snapshot of every cumulative counter of the run (busy time of each resource,
bytes, energy, time-integral of requests in system) taken when the block closes.
When the number of blocks reaches ``max_blocks`` adjacent blocks are merged and the
block size doubles, so memory stays bounded however long the run.

At the end, MSER on the block means picks the warm-up cut; everything after it is the
measured window, and differences of snapshots give every time-average in that window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mcmsim.metrics.slo import within_target

__all__ = ["Block", "Collector"]

HIST_BASE = 1.01
HIST_MIN_PS = 1_000.0
HIST_BINS = 3100


def latency_bin(latency_ps: int) -> int:
    if latency_ps <= HIST_MIN_PS:
        return 0
    return min(int(math.log(latency_ps / HIST_MIN_PS, HIST_BASE)) + 1, HIST_BINS - 1)


def bin_value_ps(index: int) -> float:
    """Representative latency of a histogram bin (its geometric centre)."""
    if index == 0:
        return HIST_MIN_PS
    return HIST_MIN_PS * HIST_BASE ** (index - 0.5)


@dataclass
class Block:
    """Statistics of consecutive completions and the counters when the block closed."""

    n_models: int
    end_ps: int = 0
    completions: np.ndarray = field(init=False)
    inferences: np.ndarray = field(init=False)
    latency_sum_ps: np.ndarray = field(init=False)
    energy_pj: np.ndarray = field(init=False)
    hist: np.ndarray = field(init=False)
    within_target: np.ndarray = field(init=False)
    snapshot: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.completions = np.zeros(self.n_models, np.int64)
        self.inferences = np.zeros(self.n_models, np.int64)
        self.latency_sum_ps = np.zeros(self.n_models, np.float64)
        self.energy_pj = np.zeros(self.n_models, np.float64)
        self.hist = np.zeros((self.n_models, HIST_BINS), np.int32)
        self.within_target = np.zeros(self.n_models, np.int64)

    @property
    def total(self) -> int:
        return int(self.completions.sum())

    def absorb(self, later: Block) -> None:
        """Merge the next block into this one."""
        self.completions += later.completions
        self.inferences += later.inferences
        self.latency_sum_ps += later.latency_sum_ps
        self.energy_pj += later.energy_pj
        self.hist += later.hist
        self.within_target += later.within_target
        self.end_ps = later.end_ps
        self.snapshot = later.snapshot


class Collector:
    """Accumulates completions into blocks; see the module docstring."""

    def __init__(
        self,
        n_models: int,
        block_size: int = 8,
        max_blocks: int = 128,
        latency_target_ps: Sequence[int | None] | None = None,
    ) -> None:
        self.n_models = n_models
        # Per model, the latency a request must meet to count as good (None: every one).
        self.latency_target_ps = list(latency_target_ps or [None] * n_models)
        self.block_size = block_size
        self.max_blocks = max_blocks
        self.blocks: list[Block] = []
        self._open = Block(n_models)

    def record(
        self, model: int, latency_ps: int, inferences: int, energy_pj: float, now_ps: int
    ) -> bool:
        """Add one completion; returns True when it closed a block (take a snapshot)."""
        block = self._open
        block.completions[model] += 1
        block.inferences[model] += inferences
        block.latency_sum_ps[model] += latency_ps
        block.energy_pj[model] += energy_pj
        block.hist[model, latency_bin(latency_ps)] += 1
        block.end_ps = now_ps
        # SLO: requests within target, counted here so they need no per-request data.
        if within_target(latency_ps, self.latency_target_ps[model]):
            block.within_target[model] += 1
        return block.total >= self.block_size

    def close_block(self, snapshot: np.ndarray) -> None:
        """Close the open block with the run's counters at this moment."""
        self._open.snapshot = snapshot
        self.blocks.append(self._open)
        self._open = Block(self.n_models)
        if len(self.blocks) >= self.max_blocks:
            merged = []
            for i in range(0, len(self.blocks) - 1, 2):
                self.blocks[i].absorb(self.blocks[i + 1])
                merged.append(self.blocks[i])
            if len(self.blocks) % 2:
                merged.append(self.blocks[-1])
            self.blocks = merged
            self.block_size *= 2

    def finish(self, snapshot: np.ndarray) -> None:
        """Close the last, partial block if it holds anything."""
        if self._open.total:
            self.close_block(snapshot)


def percentile_from_hist(hist: np.ndarray, q: float) -> float:
    """Latency (ps) at quantile ``q`` of a histogram; 0 if it is empty."""
    total = int(hist.sum())
    if total == 0:
        return 0.0
    rank = max(math.ceil(q * total), 1)
    index = int(np.searchsorted(np.cumsum(hist), rank))
    return bin_value_ps(index)
