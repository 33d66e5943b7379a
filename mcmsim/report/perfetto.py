"""Export a run's activity as a Chrome / Perfetto trace (trace-event JSON), streamed.

The trace-event format is a JSON object whose ``traceEvents`` array holds one record
per event; https://ui.perfetto.dev and chrome://tracing both open it. The simulated
package maps onto it as follows:

* one *process* per resource kind (``chiplets``, ``NoP links``, ``DRAM``), named and
  ordered with ``process_name`` / ``process_sort_index`` metadata events (``"M"``);
* one *thread* per resource (``chiplet 2``, ``link 0,0->0,1``, ``dram0 @0,0``), named
  with ``thread_name`` metadata. Every chiplet and DRAM interface gets a thread; NoP
  links only when they carried traffic;
* one complete event (``"X"``) per interval of work: on a chiplet one per layer (its
  compute) and one per DRAM stall (``dram stall``: the layer waits for streamed
  weights); on a link or DRAM interface one per transfer (``dram read``, ``dram
  write``, ``activations 0->1``). The category and ``args.model`` give the model,
  ``args.request`` the request (numbered in arrival order), ``args.duration_ps`` the
  exact duration;
* counter events (``"C"``): each chiplet's queue length (``chiplet 2 queue``: requests
  waiting for it) whenever it changes, and each link's and DRAM interface's bandwidth
  in use (``link 0,0->0,1 GB/s``), the sum over the transfers under way of their mean
  rate (bytes over duration; the network shares bandwidth max-min fairly, so a
  transfer's instantaneous rate can differ from its mean).

Chiplets run one segment at a time, so their slices never overlap. Links and DRAM
interfaces share bandwidth between concurrent transfers, whose intervals overlap
without nesting, which the viewers cannot draw on one thread. Such a resource is
therefore split into *lanes*: the first lane keeps the resource's name, further lanes
are threads named ``<resource> (lane k)`` sorted right below it. Each transfer takes
the first lane free at its start.

Timestamps and durations are microseconds of simulated time as floats (``ps / 1e6``,
which keeps every picosecond digit for runs up to hundreds of seconds), and
``displayTimeUnit`` is ``"ns"``. Output is deterministic: metadata first, then events
sorted by time, resource and kind, one per line.

Every event of the run is written, however long the run: events are built from the
compact activity records (:mod:`mcmsim.metrics.activity`) and written to the file in
blocks as they are formatted, so memory stays that of the records. A *window*
(``window_ps``) keeps the events that overlap it instead, and ``otherData`` names the
window; ``otherData`` always records the run and the number of events written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from mcmsim.metrics.activity import DRAM_STALL, Activity
from mcmsim.metrics.results import Results
from mcmsim.metrics.tracks import chiplet_track

__all__ = ["activity_of", "resource_tracks", "trace_event_count", "write_trace"]

PS_PER_US = 1e6
# Lines formatted before they are written out.
BLOCK = 20_000

# Resource kind -> process name; the order is the order of processes in the viewer.
KINDS = {"chiplets": "chiplets", "links": "NoP links", "dram": "DRAM"}
SLICE, QUEUE, BANDWIDTH = range(3)


def activity_of(run: Results | Activity) -> Activity | None:
    """The activity records of ``run``: itself, or its results' (None when not kept)."""
    return run if isinstance(run, Activity) else run.activity


def resource_tracks(run: Results | Activity) -> dict[str, list[str]]:
    """Track names of every resource kind, in package order.

    Parameters
    ----------
    run : Results or Activity
        A run's results (with activity records) or its activity records.

    Returns
    -------
    dict of str to list of str
        ``"chiplets"``: every chiplet, ``"links"``: the NoP links with at least one
        transfer, ``"dram"``: every DRAM interface.
    """
    activity = activity_of(run)
    if activity is None:
        assert isinstance(run, Results)
        return {
            "chiplets": [chiplet_track(int(c)) for c in run.chiplets],
            "links": [],
            "dram": list(run.dram),
        }
    names = activity.resource_names
    n_links = int(activity.meta["n_links"])
    _, resources = activity.resource_transfers()
    used = set(np.unique(resources).tolist())
    return {
        "chiplets": [chiplet_track(c) for c in range(len(activity.meta["chiplet_types"]))],
        "links": [names[r] for r in range(n_links) if r in used],
        "dram": names[n_links:],
    }


@dataclass(frozen=True)
class _Columns:
    """Every event to write, as columns in write order."""

    time_ps: np.ndarray
    kind: np.ndarray  # SLICE, QUEUE or BANDWIDTH
    track: np.ndarray  # index into the track order
    duration_ps: np.ndarray  # slices
    value: np.ndarray  # queue length, or bandwidth in GB/s
    name: np.ndarray  # index into names
    model: np.ndarray
    request: np.ndarray
    lane: np.ndarray


def _chiplet_slices(activity: Activity, n_names: int) -> dict[str, np.ndarray]:
    """One slice per layer (named by the layer) and per DRAM stall (name ``n_names``)."""
    layers = activity.layer_intervals()
    executions = activity.executions[layers.row]
    stalled = layers.stall_ps > 0
    time = np.concatenate([layers.start_ps, (layers.start_ps + layers.compute_ps)[stalled]])
    return {
        "time_ps": time,
        "track": np.concatenate([executions["chiplet"], executions["chiplet"][stalled]]),
        "duration_ps": np.concatenate([layers.compute_ps, layers.stall_ps[stalled]]),
        "name": np.concatenate([layers.layer, np.full(int(stalled.sum()), n_names, np.int64)]),
        "model": np.concatenate([executions["model"], executions["model"][stalled]]),
        "request": np.concatenate([executions["request"], executions["request"][stalled]]),
    }


def _transfer_slices(
    activity: Activity,
    rows: np.ndarray,
    resources: np.ndarray,
    track_of: np.ndarray,
    name_offset: int,
) -> dict[str, np.ndarray]:
    """One slice per transfer per resource (``activity.resource_transfers()``), named by
    its route's label."""
    t = activity.transfers[rows]
    return {
        "time_ps": t["start_ps"],
        "track": track_of[resources],
        "duration_ps": t["end_ps"] - t["start_ps"],
        "name": t["route"].astype(np.int64) + name_offset,
        "model": t["model"],
        "request": t["request"],
    }


def _bandwidth_counters(
    activity: Activity, rows: np.ndarray, resources: np.ndarray, track_of: np.ndarray
) -> dict[str, np.ndarray]:
    """Per resource, the bandwidth in use (GB/s) at every start and end of a transfer
    (``rows`` and ``resources``: ``activity.resource_transfers()``)."""
    t = activity.transfers[rows]
    route_start = activity.route_offsets[t["route"]]
    # The share of the transfer's bytes on this resource: position within the route.
    order = np.arange(len(rows))
    first_of_row = np.searchsorted(rows, rows)
    shares = activity.route_shares[route_start + (order - first_of_row)]
    duration = np.maximum(t["end_ps"] - t["start_ps"], 1)
    gb_per_s = t["bytes"] * shares / duration * 1000.0  # bytes/ps -> GB/s
    time = np.concatenate([t["start_ps"], t["end_ps"]])
    resource = np.concatenate([resources, resources])
    delta = np.concatenate([gb_per_s, -gb_per_s])
    order = np.lexsort((time, resource))
    time, resource, delta = time[order], resource[order], delta[order]
    level = np.zeros(len(delta))
    for r in np.unique(resource):
        mask = resource == r
        level[mask] = np.cumsum(delta[mask])
    # One sample per (resource, time): the level after every change at that time.
    last = np.ones(len(time), bool)
    last[:-1] = (time[1:] != time[:-1]) | (resource[1:] != resource[:-1])
    level = np.where(np.abs(level) < 1e-9, 0.0, level)
    return {"time_ps": time[last], "track": track_of[resource[last]], "value": level[last]}


def _columns(activity: Activity, tracks: dict[str, list[str]]) -> _Columns:
    """Slices and counters of the whole run, sorted by time, track and kind."""
    order = {track: i for i, track in enumerate(t for kind in tracks.values() for t in kind)}
    track_of = np.array([order.get(name, -1) for name in activity.resource_names], np.int64)
    chips = _chiplet_slices(activity, len(activity.layer_names))
    rows, resources = activity.resource_transfers()
    flows = _transfer_slices(activity, rows, resources, track_of, len(activity.layer_names) + 1)
    bandwidth = _bandwidth_counters(activity, rows, resources, track_of)
    queue = activity.queue
    parts: list[tuple[int, dict[str, np.ndarray]]] = [
        (SLICE, chips),
        (SLICE, flows),
        (QUEUE, {"time_ps": queue["time_ps"], "track": queue["chiplet"], "value": queue["length"]}),
        (BANDWIDTH, bandwidth),
    ]
    columns: dict[str, list[np.ndarray]] = {k: [] for k in _Columns.__dataclass_fields__}
    for kind, part in parts:
        n = len(part["time_ps"])
        columns["kind"].append(np.full(n, kind, np.int8))
        for key in ("time_ps", "track", "duration_ps", "value", "name", "model", "request"):
            default = np.zeros(n, np.float64 if key == "value" else np.int64)
            columns[key].append(np.asarray(part.get(key, default)))
    merged = {k: np.concatenate(v) for k, v in columns.items() if k != "lane"}
    merged["track"] = merged["track"].astype(np.int64)
    rank = np.lexsort((merged["name"], merged["kind"], merged["track"], merged["time_ps"]))
    merged = {k: v[rank] for k, v in merged.items()}
    return _Columns(**merged, lane=_lanes(merged))


def _lanes(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Lane of each slice on its track (0 for counters): the first lane free at its start."""
    lanes = np.zeros(len(columns["time_ps"]), np.int64)
    lane_end: dict[int, list[int]] = {}
    slices = np.flatnonzero(columns["kind"] == SLICE)
    for i, start, end, track in zip(
        slices.tolist(),
        columns["time_ps"][slices].tolist(),
        (columns["time_ps"] + columns["duration_ps"])[slices].tolist(),
        columns["track"][slices].tolist(),
        strict=True,
    ):
        ends = lane_end.setdefault(track, [])
        for lane, busy_until in enumerate(ends):
            if busy_until <= start:
                ends[lane] = end
                lanes[i] = lane
                break
        else:
            ends.append(end)
            lanes[i] = len(ends) - 1
    return lanes


def _metadata(name: str, pid: int, tid: int, args: dict[str, Any]) -> str:
    record = {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}
    return json.dumps(record, separators=(",", ":"))


def _thread_metadata(
    tracks: dict[str, list[str]], lanes_per_track: dict[int, int]
) -> tuple[list[str], dict[tuple[int, int], int], list[int]]:
    """Process and thread names; the thread id of each (track, lane); pid per track."""
    meta = []
    tid_of: dict[tuple[int, int], int] = {}
    pid_of: list[int] = []
    index = 0
    for pid, (kind, process) in enumerate(KINDS.items(), start=1):
        meta.append(_metadata("process_name", pid, 0, {"name": process}))
        meta.append(_metadata("process_sort_index", pid, 0, {"sort_index": pid}))
        for track in tracks[kind]:
            pid_of.append(pid)
            for lane in range(max(lanes_per_track.get(index, 1), 1)):
                tid = len(tid_of) + 1
                tid_of[(index, lane)] = tid
                name = track if lane == 0 else f"{track} (lane {lane + 1})"
                meta.append(_metadata("thread_name", pid, tid, {"name": name}))
                meta.append(_metadata("thread_sort_index", pid, tid, {"sort_index": tid}))
            index += 1
    return meta, tid_of, pid_of


def _in_window(columns: _Columns, window_ps: tuple[int, int] | None) -> np.ndarray:
    """Rows to write: all, or those overlapping the window."""
    if window_ps is None:
        return np.arange(len(columns.time_ps))
    start, end = window_ps
    finish = columns.time_ps + np.where(columns.kind == SLICE, columns.duration_ps, 0)
    return np.flatnonzero((finish >= start) & (columns.time_ps <= end))


def _write_events(
    out: IO[str],
    columns: _Columns,
    rows: np.ndarray,
    quoted: list[str],
    models: list[str],
    track_names: list[str],
    pid_of: list[int],
    tid_of: dict[tuple[int, int], int],
) -> None:
    """Format and write the events ``rows`` in blocks of :data:`BLOCK` lines.

    ``quoted`` and ``models`` are the JSON strings of the event names and the models.
    """
    for lo in range(0, len(rows), BLOCK):
        block = rows[lo : lo + BLOCK]
        lines = []
        for kind, t, track, dur, value, name, model, request, lane in zip(
            columns.kind[block].tolist(),
            columns.time_ps[block].tolist(),
            columns.track[block].tolist(),
            columns.duration_ps[block].tolist(),
            columns.value[block].tolist(),
            columns.name[block].tolist(),
            columns.model[block].tolist(),
            columns.request[block].tolist(),
            columns.lane[block].tolist(),
            strict=True,
        ):
            pid = pid_of[track]
            if kind == SLICE:
                m = models[model]
                lines.append(
                    f'{{"name":{quoted[name]},"cat":{m},"ph":"X","pid":{pid},'
                    f'"tid":{tid_of[(track, lane)]},"ts":{t / PS_PER_US!r},'
                    f'"dur":{dur / PS_PER_US!r},"args":{{"model":{m},"request":{request},'
                    f'"duration_ps":{dur}}}}}'
                )
            elif kind == QUEUE:
                lines.append(
                    f'{{"name":{json.dumps(track_names[track] + " queue")},"ph":"C",'
                    f'"pid":{pid},"ts":{t / PS_PER_US!r},"args":{{"queue":{int(value)}}}}}'
                )
            else:
                lines.append(
                    f'{{"name":{json.dumps(track_names[track] + " GB/s")},"ph":"C",'
                    f'"pid":{pid},"ts":{t / PS_PER_US!r},"args":{{"GB/s":{round(value, 6)!r}}}}}'
                )
        out.write(",\n" + ",\n".join(lines))


def trace_event_count(run: Results | Activity) -> dict[str, int]:
    """Slices and counter events a full trace of ``run`` holds (what :func:`write_trace`
    writes without a window): ``{"slices": ..., "counters": ...}``."""
    activity = activity_of(run)
    if activity is None:
        return {"slices": 0, "counters": 0}
    tracks = resource_tracks(activity)
    columns = _columns(activity, tracks)
    slices = int((columns.kind == SLICE).sum())
    return {"slices": slices, "counters": len(columns.kind) - slices}


def write_trace(
    run: Results | Activity,
    path: str | os.PathLike[str],
    window_ps: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Write the run's activity as trace-event JSON to ``path``, streamed.

    Parameters
    ----------
    run : Results or Activity
        A run with activity records (``simulate(..., activity=True)``) or the records
        themselves; without them the trace holds only the resource threads.
    path : str or path-like
        Output file, overwritten.
    window_ps : tuple of int, optional
        ``(start_ps, end_ps)``: write only the events that overlap this window, and
        name it in ``otherData``; by default every event of the run.

    Returns
    -------
    dict
        The trace's ``otherData`` block (event counts, the window).

    Raises
    ------
    ValueError
        If ``window_ps`` does not have ``start < end``.
    """
    if window_ps is not None and not window_ps[0] < window_ps[1]:
        raise ValueError(f"window_ps {window_ps!r}: start must be before end")
    activity = activity_of(run)
    tracks = resource_tracks(run)
    track_names = [t for kind in tracks.values() for t in kind]
    other: dict[str, Any] = {"time_unit": "ts and dur in microseconds of simulated time"}
    if activity is None:
        meta, _, _ = _thread_metadata(tracks, {})
        rows_written = 0
        columns = None
    else:
        other = {
            **{k: activity.meta.get(k) for k in ("scenario", "scheduler", "mode")},
            **other,
        }
        columns = _columns(activity, tracks)
        lanes: dict[int, int] = {}
        for track, lane in zip(columns.track.tolist(), columns.lane.tolist(), strict=True):
            lanes[track] = max(lanes.get(track, 1), lane + 1)
        meta, tid_of, pid_of = _thread_metadata(tracks, lanes)
        rows = _in_window(columns, window_ps)
        rows_written = len(rows)
        total = len(columns.time_ps)
        other["events_total"] = total
        if window_ps is not None:
            other["window_us"] = [window_ps[0] / PS_PER_US, window_ps[1] / PS_PER_US]
            other["note"] = (
                f"events overlapping the window {window_ps[0] / PS_PER_US:g}-"
                f"{window_ps[1] / PS_PER_US:g} us only: {rows_written} of {total}"
            )
    other["events_written"] = rows_written
    other["truncated"] = False
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"displayTimeUnit":"ns",\n"otherData":')
        out.write(json.dumps(other, separators=(",", ":")))
        out.write(',\n"traceEvents":[\n')
        out.write(",\n".join(meta))
        if activity is not None and columns is not None:
            names = [
                *(json.dumps(str(n)) for n in activity.layer_names),
                json.dumps(DRAM_STALL),
                *(json.dumps(str(n)) for n in activity.route_labels),
            ]
            models = [json.dumps(m) for m in activity.models]
            _write_events(out, columns, rows, names, models, track_names, pid_of, tid_of)
        out.write("\n]}\n")
    return other
