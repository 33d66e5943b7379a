"""Activity records: every segment execution and transfer of a run, in compact columns.

What a run did, resource by resource, is what timelines and traces draw. Keeping it as
one Python object per layer and per transfer (the old trace events) cost more than the
simulation itself; here the engine appends one tuple per *segment execution*, per
*transfer* and per chiplet queue change to an :class:`ActivityLog`, and
:meth:`ActivityLog.finish` turns them into numpy structured arrays (an
:class:`Activity`). Everything finer is derived on demand from small tables:

``executions``
    ``chiplet, model, request, segment, start_ps, end_ps``: one chiplet held for one
    segment of one micro-batch of request ``request`` (numbered in arrival order from
    0). ``segment`` indexes the segment table.
``segments`` and ``layers``
    Per segment plan: its model, first layer and layer count; per layer, its name, its
    compute time and its layered time (compute or weight streaming, whichever is
    longer, see :mod:`mcmsim.sim.plan`). An execution's layers are laid out as the
    engine lays them out: each takes its layered time, stretched in proportion when
    contention lengthened the execution, and the part of it beyond its compute is a
    *DRAM stall* (:func:`Activity.layer_intervals`).
``transfers``
    ``kind, model, request, route, start_ps, end_ps, bytes``: a transfer of ``bytes``
    over the resources of route ``route`` (routes table: resource indices, the share of
    the bytes each carries, a label such as ``activations 0->1``). ``kind`` is one of
    :data:`TRANSFER_KINDS`.
``queue``
    ``time_ps, chiplet, length``: a chiplet's queue length whenever it changes.

Resources are numbered as in the run's counters: NoP links first, then DRAM
interfaces (``resource_names``). :meth:`Activity.save` writes it all, with the run's
metadata, to one ``.npz`` file (``records.npz`` of ``mcmsim run --out``) and
:func:`load_activity` reads it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcmsim.metrics.tracks import chiplet_track

__all__ = [
    "DRAM_STALL",
    "EXECUTION_DTYPE",
    "QUEUE_DTYPE",
    "TRANSFER_DTYPE",
    "TRANSFER_KINDS",
    "Activity",
    "ActivityLog",
    "LayerIntervals",
    "TraceEvent",
    "load_activity",
]

# Name of a chiplet interval in which a layer waits for its streamed weights.
DRAM_STALL = "dram stall"
# Transfer kinds, by their index in the ``kind`` column.
TRANSFER_KINDS = ("activations", "input read", "weights", "output write")
ACTIVATIONS, INPUT_READ, WEIGHTS, OUTPUT_WRITE = range(4)
FORMAT_VERSION = 1

EXECUTION_DTYPE = np.dtype(
    [
        ("chiplet", np.int16),
        ("model", np.int16),
        ("request", np.int64),
        ("segment", np.int32),
        ("start_ps", np.int64),
        ("end_ps", np.int64),
    ]
)
TRANSFER_DTYPE = np.dtype(
    [
        ("kind", np.int8),
        ("model", np.int16),
        ("request", np.int64),
        ("route", np.int32),
        ("start_ps", np.int64),
        ("end_ps", np.int64),
        ("bytes", np.int64),
    ]
)
QUEUE_DTYPE = np.dtype([("time_ps", np.int64), ("chiplet", np.int16), ("length", np.int32)])
REQUEST_DTYPE = np.dtype(
    [
        ("model", np.int32),
        ("arrival_ps", np.int64),
        ("completion_ps", np.int64),
        ("inferences", np.int32),
        ("energy_pj", np.float64),
    ]
)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One interval on one track (see :mod:`mcmsim.metrics.tracks`), for traces and plots."""

    track: str
    name: str
    model: str
    start_ps: int
    duration_ps: int


@dataclass(frozen=True)
class LayerIntervals:
    """Layers of executions, one entry each: the execution's row, the layer (index into
    the layer table), its start, compute and DRAM stall in picoseconds."""

    row: np.ndarray
    layer: np.ndarray
    start_ps: np.ndarray
    compute_ps: np.ndarray
    stall_ps: np.ndarray


@dataclass(frozen=True)
class _SegmentInfo:
    model: int
    first_layer: int
    layer_names: tuple[str, ...]
    compute_ps: tuple[int, ...]
    layered_ps: tuple[int, ...]


class ActivityLog:
    """The engine's recorder: appends rows, interns segments and routes.

    Appending a tuple to a list is the cheapest record Python offers; the columns are
    built once, at :meth:`finish`.
    """

    def __init__(self) -> None:
        self.executions: list[tuple[int, int, int, int, int, int]] = []
        self.transfers: list[tuple[int, int, int, int, int, int, int]] = []
        self.queue: list[tuple[int, int, int]] = []
        self._segments: dict[int, int] = {}
        self._segment_info: list[_SegmentInfo] = []
        self._keep: list[Any] = []  # keeps interned objects alive, so their ids stay unique
        self._routes: dict[tuple[str, tuple[int, ...]], int] = {}
        self._route_info: list[tuple[str, tuple[int, ...], tuple[float, ...]]] = []

    def segment(self, plan: Any, model: int) -> int:
        """Id of a segment plan (a :class:`~mcmsim.sim.plan.SegmentPlan`), interned."""
        key = id(plan)
        found = self._segments.get(key)
        if found is None:
            found = self._segments[key] = len(self._segment_info)
            self._keep.append(plan)
            self._segment_info.append(
                _SegmentInfo(
                    model,
                    plan.segment.start,
                    tuple(plan.layer_names),
                    tuple(int(x) for x in plan.layer_ps),
                    tuple(int(x) for x in plan.layer_streamed_ps),
                )
            )
        return found

    def route(self, label: str, resources: tuple[int, ...], shares: tuple[float, ...]) -> int:
        """Id of a route: its label, resource indices and share of the bytes on each."""
        key = (label, resources)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = len(self._route_info)
            self._route_info.append((label, resources, shares))
        return found

    def finish(self, requests: np.ndarray | None, meta: dict[str, Any], end_ps: int) -> Activity:
        """The columns, with ``requests`` (per-request records) and the run's ``meta``."""
        info = self._segment_info
        layer_counts = np.array([len(s.layer_names) for s in info], np.int32)
        routes = self._route_info
        return Activity(
            executions=np.array(self.executions, EXECUTION_DTYPE),
            transfers=np.array(self.transfers, TRANSFER_DTYPE),
            queue=np.array(self.queue, QUEUE_DTYPE),
            requests=(
                np.array(requests, REQUEST_DTYPE)
                if requests is not None
                else np.zeros(0, REQUEST_DTYPE)
            ),
            segment_model=np.array([s.model for s in info], np.int32),
            segment_first_layer=np.array([s.first_layer for s in info], np.int32),
            segment_layers=np.concatenate([[0], np.cumsum(layer_counts)]).astype(np.int64),
            layer_names=np.array([n for s in info for n in s.layer_names], dtype=str),
            layer_compute_ps=np.array([x for s in info for x in s.compute_ps], np.int64),
            layer_layered_ps=np.array([x for s in info for x in s.layered_ps], np.int64),
            route_labels=np.array([r[0] for r in routes], dtype=str),
            route_offsets=np.concatenate([[0], np.cumsum([len(r[1]) for r in routes])]).astype(
                np.int64
            ),
            route_resources=np.array([x for r in routes for x in r[1]], np.int32),
            route_shares=np.array([x for r in routes for x in r[2]], np.float64),
            meta={**meta, "end_ps": int(end_ps)},
        )


@dataclass(frozen=True, eq=False)
class Activity:
    """A run's activity records (see the module docstring) and its metadata.

    ``meta`` holds ``models`` (names, by model index), ``chiplet_types`` (by chiplet),
    ``resource_names`` (links, then DRAM interfaces), ``n_links``,
    ``capacity_bytes_per_ps`` (by resource), ``scenario``, ``scheduler``, ``mode``,
    ``warmup_ps``, ``mean_latency_ps`` (by model name, in the measured window) and
    ``end_ps`` (when the run stopped).
    """

    executions: np.ndarray
    transfers: np.ndarray
    queue: np.ndarray
    requests: np.ndarray
    segment_model: np.ndarray
    segment_first_layer: np.ndarray
    segment_layers: np.ndarray
    layer_names: np.ndarray
    layer_compute_ps: np.ndarray
    layer_layered_ps: np.ndarray
    route_labels: np.ndarray
    route_offsets: np.ndarray
    route_resources: np.ndarray
    route_shares: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    # --- derived views ------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        return list(self.meta["models"])

    @property
    def resource_names(self) -> list[str]:
        return list(self.meta["resource_names"])

    def route(self, route: int) -> tuple[str, np.ndarray, np.ndarray]:
        """Label, resource indices and byte shares of route ``route``."""
        lo, hi = self.route_offsets[route], self.route_offsets[route + 1]
        return str(self.route_labels[route]), self.route_resources[lo:hi], self.route_shares[lo:hi]

    def layer_intervals(self, rows: np.ndarray | None = None) -> LayerIntervals:
        """Every layer of the executions ``rows`` (default: all), laid out as the engine
        lays them out.

        Each layer takes its layered time, stretched in proportion when contention
        lengthened the execution (picoseconds, rounded down); its compute comes first
        and the rest of its time is a DRAM stall.
        """
        rows = np.arange(len(self.executions)) if rows is None else np.asarray(rows, np.int64)
        executions = self.executions[rows]
        seg = executions["segment"].astype(np.int64)
        first, counts = self.segment_layers[seg], np.diff(self.segment_layers)[seg]
        n = int(counts.sum())
        group_start = np.cumsum(counts) - counts
        layer = np.repeat(first, counts) + (np.arange(n) - np.repeat(group_start, counts))
        layered = self.layer_layered_ps[layer]
        per_segment = (
            np.add.reduceat(self.layer_layered_ps, self.segment_layers[:-1])
            if len(self.segment_layers) > 1
            else np.zeros(0, np.int64)
        )
        total = np.maximum(np.repeat(per_segment[seg], counts), 1)
        duration = np.repeat(executions["end_ps"] - executions["start_ps"], counts)
        # In floating point: layered x duration overflows int64 for long segments, and a
        # picosecond of rounding does not show on any plot.
        length = np.floor(layered * (duration / total)).astype(np.int64)
        offset = np.cumsum(length) - length
        offset -= np.repeat(offset[group_start], counts) if n else offset
        start = np.repeat(executions["start_ps"], counts) + offset
        busy = np.minimum(self.layer_compute_ps[layer], length)
        return LayerIntervals(np.repeat(rows, counts), layer, start, busy, length - busy)

    def trace_events(self) -> list[TraceEvent]:
        """Every interval as a :class:`TraceEvent`: on chiplets one per layer (its
        compute) and one per DRAM stall, on links and DRAM one per transfer per resource.

        Memory grows with the number of layers executed: for plots of a window and
        small runs; traces stream from the records instead (:mod:`mcmsim.report.perfetto`).
        """
        models = self.models
        events: list[TraceEvent] = []
        executions = self.executions
        layers = self.layer_intervals()
        for row, k, start, busy, stall in zip(
            layers.row.tolist(),
            layers.layer.tolist(),
            layers.start_ps.tolist(),
            layers.compute_ps.tolist(),
            layers.stall_ps.tolist(),
            strict=True,
        ):
            e = executions[row]
            track = chiplet_track(int(e["chiplet"]))
            model = models[int(e["model"])]
            events.append(TraceEvent(track, str(self.layer_names[k]), model, start, busy))
            if stall:
                events.append(TraceEvent(track, DRAM_STALL, model, start + busy, stall))
        names = self.resource_names
        for t in self.transfers:
            label, resources, _ = self.route(int(t["route"]))
            start, duration = int(t["start_ps"]), int(t["end_ps"] - t["start_ps"])
            for r in resources:
                events.append(TraceEvent(names[r], label, models[int(t["model"])], start, duration))
        return events

    def queue_samples(self) -> list[tuple[int, str, int]]:
        """``(time_ps, chiplet track, queue length)`` whenever a queue changed."""
        return [
            (int(q["time_ps"]), chiplet_track(int(q["chiplet"])), int(q["length"]))
            for q in self.queue
        ]

    def resource_transfers(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (transfer, resource) pair: transfer row indices and resource indices."""
        counts = np.diff(self.route_offsets)[self.transfers["route"]]
        rows = np.repeat(np.arange(len(self.transfers)), counts)
        starts = self.route_offsets[self.transfers["route"]]
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.route_resources[np.repeat(starts, counts) + within]

    # --- files --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the records and metadata to ``path`` as a compressed ``.npz`` file."""
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        meta = json.dumps({**self.meta, "format_version": FORMAT_VERSION})
        with open(path, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(meta), **arrays)


_ARRAYS = (
    "executions",
    "transfers",
    "queue",
    "requests",
    "segment_model",
    "segment_first_layer",
    "segment_layers",
    "layer_names",
    "layer_compute_ps",
    "layer_layered_ps",
    "route_labels",
    "route_offsets",
    "route_resources",
    "route_shares",
)


def load_activity(path: str | os.PathLike[str]) -> Activity:
    """Read what :meth:`Activity.save` wrote.

    Raises
    ------
    ValueError
        If the file is not an activity file of a known format version.
    OSError
        If it cannot be read.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in _ARRAYS}
    except (KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not an mcmsim records file ({exc})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: records format {meta.get('format_version')!r} is not supported")
    return Activity(**arrays, meta=meta)
