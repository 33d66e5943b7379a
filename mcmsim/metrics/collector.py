"""Collection of request statistics: blocks of completions and every latency.

Completions are grouped in blocks of ``block_size`` requests. A block keeps, per model,
its completions, inferences, latency sum, dynamic energy and the requests within the
model's latency target (its SLO), plus a snapshot of every cumulative counter of the run
(busy time of each resource, bytes, energy, time-integral of requests in system) taken
when the block closes. When the number of blocks reaches ``max_blocks`` adjacent blocks
are merged and the block size doubles, so the blocks take constant memory however long
the run.

Each model's request latencies are also kept, in completion order, as integer
picoseconds in a growable int64 buffer (8 bytes a request: 80 MB for 10^7 requests), so
quantiles are exact (:mod:`mcmsim.metrics.quantiles`). A model's first ``k`` latencies
are the ones its completions in the first blocks account for, so a warm-up cut at a block
boundary is a slice.

At the end, MSER on the block means picks the warm-up cut; everything after it is the
measured window, and differences of snapshots give every time-average in that window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mcmsim.metrics.slo import within_target

__all__ = ["Block", "Collector", "LatencyBuffer"]


@dataclass
class Block:
    """Statistics of consecutive completions and the counters when the block closed."""

    n_models: int
    end_ps: int = 0
    completions: np.ndarray = field(init=False)
    inferences: np.ndarray = field(init=False)
    latency_sum_ps: np.ndarray = field(init=False)
    energy_pj: np.ndarray = field(init=False)
    within_target: np.ndarray = field(init=False)
    snapshot: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.completions = np.zeros(self.n_models, np.int64)
        self.inferences = np.zeros(self.n_models, np.int64)
        self.latency_sum_ps = np.zeros(self.n_models, np.float64)
        self.energy_pj = np.zeros(self.n_models, np.float64)
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
        self.within_target += later.within_target
        self.end_ps = later.end_ps
        self.snapshot = later.snapshot


class LatencyBuffer:
    """A growable int64 array of one model's latencies (ps), in completion order."""

    __slots__ = ("_data", "_size")

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, np.int64)
        self._size = 0

    def append(self, latency_ps: int) -> None:
        if self._size == len(self._data):
            # Doubling keeps appends amortised O(1).
            grown = np.empty(2 * len(self._data), np.int64)
            grown[: self._size] = self._data
            self._data = grown
        self._data[self._size] = latency_ps
        self._size += 1

    def __len__(self) -> int:
        return self._size

    def values(self) -> np.ndarray:
        """The latencies so far (a read-only view)."""
        view = self._data[: self._size]
        view.flags.writeable = False
        return view


class Collector:
    """Accumulates completions into blocks and latency buffers; see the module docstring."""

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
        self.latencies = [LatencyBuffer() for _ in range(n_models)]
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
        block.end_ps = now_ps
        self.latencies[model].append(latency_ps)
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
