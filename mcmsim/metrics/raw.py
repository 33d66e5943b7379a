"""The engine-to-metrics contract: what a simulation run hands to the statistics.

The engine fills a :class:`RawRun` (the :class:`~mcmsim.metrics.collector.Collector`
of completions, cumulative counters, per-request records and, when traced, every
:class:`TraceEvent`); :func:`mcmsim.metrics.summary.summarize` turns it into
:class:`~mcmsim.metrics.results.Results`. The contract lives on the metrics side so the
engine depends on metrics and never the other way round.

A snapshot is one flat vector of every cumulative counter; ``RawRun.layout`` names its
slices (``"energy"``, ``"chiplet_busy"``, ``"res_busy"``...). The ``"energy"`` slice
holds dynamic energy in picojoules at the indices ``E_COMPUTE``, ``E_SRAM``, ``E_NOP``
and ``E_DRAM``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mcmsim.metrics.collector import Collector

if TYPE_CHECKING:
    from mcmsim.metrics.generation import GenerationLog

__all__ = ["E_COMPUTE", "E_DRAM", "E_NOP", "E_SRAM", "RawRun", "TraceEvent"]

# Energy counters in the snapshot vector.
E_COMPUTE, E_SRAM, E_NOP, E_DRAM = range(4)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One interval on one track (see :mod:`mcmsim.metrics.tracks`), for traces and plots."""

    track: str
    name: str
    model: str
    start_ps: int
    duration_ps: int


@dataclass
class RawRun:
    """What the engine measured, before statistics turn it into Results.

    ``link_names`` and ``dram_names`` are the track names of the bandwidth resources, in
    the order of the ``res_*`` counters (links first); ``queue_samples`` are
    ``(time_ps, chiplet track, queue length)``; ``generation`` holds the log of each
    generation workload, by name.
    """

    collector: Collector
    now_ps: int
    arrived: np.ndarray
    completed: np.ndarray
    in_flight: np.ndarray
    layout: dict[str, slice]
    resident_bytes: np.ndarray
    link_names: list[str]
    dram_names: list[str]
    static_power_w: float
    events_scheduled: int
    records: np.ndarray | None = None
    events: list[TraceEvent] = field(default_factory=list)
    queue_samples: list[tuple[int, str, int]] = field(default_factory=list)
    generation: dict[str, GenerationLog] = field(default_factory=dict)
