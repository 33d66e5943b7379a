"""The engine-to-metrics contract: what a simulation run hands to the statistics.

The engine fills a :class:`RawRun` (the :class:`~mcmsim.metrics.collector.Collector`
of completions, cumulative counters, per-request records and, when asked for, the
:class:`~mcmsim.metrics.activity.Activity` records of every execution and transfer);
:func:`mcmsim.metrics.summary.summarize` turns it into
:class:`~mcmsim.metrics.results.Results`. The contract lives on the metrics side so the
engine depends on metrics and never the other way round.

A snapshot is one flat vector of every cumulative counter; ``RawRun.layout`` names its
slices (``"energy"``, ``"chiplet_busy"``, ``"res_busy"``...). The ``"energy"`` slice
holds dynamic energy in picojoules at the indices ``E_COMPUTE``, ``E_SRAM``, ``E_NOP``
and ``E_DRAM``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mcmsim.metrics.activity import DRAM_STALL, Activity, TraceEvent
from mcmsim.metrics.collector import Collector

if TYPE_CHECKING:
    from mcmsim.metrics.generation import GenerationLog

__all__ = [
    "DRAM_STALL",
    "DROPPED",
    "E_COMPUTE",
    "E_DRAM",
    "E_NOP",
    "E_SRAM",
    "PENDING",
    "FrameLog",
    "RawRun",
    "TraceEvent",
]

# Energy counters in the snapshot vector.
E_COMPUTE, E_SRAM, E_NOP, E_DRAM = range(4)

# A frame's end in the FrameLog while it runs, and once dropped.
PENDING = -1
DROPPED = -2


class FrameLog:
    """Arrival and outcome of every frame of the workloads that have a deadline.

    ``deadlines_ps`` and ``late_policies`` hold each model's deadline (None: none) and
    late policy. The engine calls :meth:`arrive` when a frame arrives and
    :meth:`complete` or :meth:`drop` with the index it returned; ``end_ps`` holds the
    completion time, ``PENDING`` or ``DROPPED``. Two Python ints a frame.
    """

    def __init__(self, deadlines_ps: Sequence[int | None], late_policies: Sequence[str]) -> None:
        self.deadlines_ps = tuple(deadlines_ps)
        self.late_policies = tuple(late_policies)
        self.arrival_ps: list[list[int]] = [[] for _ in self.deadlines_ps]
        self.end_ps: list[list[int]] = [[] for _ in self.deadlines_ps]

    def arrive(self, model: int, now_ps: int) -> int:
        self.arrival_ps[model].append(now_ps)
        self.end_ps[model].append(PENDING)
        return len(self.end_ps[model]) - 1

    def complete(self, model: int, index: int, now_ps: int) -> None:
        self.end_ps[model][index] = now_ps

    def drop(self, model: int, index: int) -> None:
        self.end_ps[model][index] = DROPPED


@dataclass
class RawRun:
    """What the engine measured, before statistics turn it into Results.

    ``link_names`` and ``dram_names`` are the track names of the bandwidth resources, in
    the order of the ``res_*`` counters (links first); ``frames`` logs the frames of
    workloads with a deadline; ``activity`` holds the execution and transfer records
    when the run kept them; ``generation`` holds the log of each generation workload,
    by name. ``offered_requests_per_s`` holds each open stream's offered rate (``None``
    for a closed stream), ``inferences_per_request`` each workload's batch;
    ``stop_reason`` and ``min_requests_per_model`` say how the stopping rule
    (:mod:`mcmsim.sim.stopping`) ended the run; ``overloaded`` holds the models whose
    backlog passed the bound that stopped it (unstable whatever the rule says).
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
    offered_requests_per_s: tuple[float | None, ...]
    inferences_per_request: tuple[int, ...]
    stop_reason: str
    min_requests_per_model: int | None
    records: np.ndarray | None = None
    frames: FrameLog | None = None
    activity: Activity | None = None
    overloaded: tuple[int, ...] = ()
    # Bandwidth of each link then DRAM interface, in the order of the res_* counters.
    capacity_bytes_per_ps: list[float] = field(default_factory=list)
    generation: dict[str, GenerationLog] = field(default_factory=dict)
