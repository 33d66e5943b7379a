"""Export a traced run as a Chrome / Perfetto trace (trace-event JSON).

The trace-event format is a JSON object whose ``traceEvents`` array holds one record
per event; https://ui.perfetto.dev and chrome://tracing both open it. The simulated
package maps onto it as follows:

* one *process* per resource kind (``chiplets``, ``NoP links``, ``DRAM``), named and
  ordered with ``process_name`` / ``process_sort_index`` metadata events (``"M"``);
* one *thread* per resource (``chiplet 2``, ``link 0,0->0,1``, ``dram0 @0,0``), named
  with ``thread_name`` metadata. Every chiplet and DRAM interface gets a thread; NoP
  links only when they carried traffic;
* one complete event (``"X"``) per interval of work: chiplet events are named by layer,
  link and DRAM events by transfer (``dram read``, ``activations 0->1``); the category
  and ``args.model`` give the model, ``args.duration_ps`` the exact duration;
* counter events (``"C"``) on the chiplets process give each chiplet's queue length
  (requests waiting for it) whenever it changes.

Chiplets run one segment at a time, so their slices never overlap. Links and DRAM
interfaces share bandwidth between concurrent transfers, whose intervals overlap
without nesting, which the viewers cannot draw on one thread. Such a resource is
therefore split into *lanes*: the first lane keeps the resource's name, further lanes
are threads named ``<resource> (lane k)`` sorted right below it. Each transfer takes
the first lane free at its start.

Timestamps and durations are microseconds of simulated time as floats (``ps / 1e6``,
which keeps every picosecond digit for runs up to hundreds of seconds), and
``displayTimeUnit`` is ``"ns"``. Output is deterministic: metadata first, then events
sorted by time, resource and name, one per line.

A long run produces millions of events. At most ``max_events`` (default 200 000)
slice and counter events are written: the first ones in time order. ``otherData``, the
trace's metadata block, always records the totals, and when events were dropped it
says so and gives the time before which every event is present.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mcmsim.metrics.results import Results
from mcmsim.metrics.tracks import chiplet_track, link_track

__all__ = ["MAX_EVENTS", "resource_tracks", "write_trace"]

MAX_EVENTS = 200_000
PS_PER_US = 1e6

# Resource kind -> process name; the order is the order of processes in the viewer.
KINDS = {"chiplets": "chiplets", "links": "NoP links", "dram": "DRAM"}


def resource_tracks(results: Results) -> dict[str, list[str]]:
    """Track names of every resource kind, in package order.

    Parameters
    ----------
    results : Results
        A run's results; its events decide which links carried traffic.

    Returns
    -------
    dict of str to list of str
        ``"chiplets"``: every chiplet, ``"links"``: the NoP links with at least one
        transfer in ``results.events``, ``"dram"``: every DRAM interface.
    """
    busy = {event.track for event in results.events}
    links = [link_track(key) for key in results.links]
    return {
        "chiplets": [chiplet_track(int(c)) for c in results.chiplets],
        "links": [track for track in links if track in busy],
        "dram": list(results.dram),
    }


def _take_lane(lane_end: list[int], start_ps: int, end_ps: int) -> int:
    """First lane free at ``start_ps`` (a new one if none is), now busy until ``end_ps``."""
    for lane, end in enumerate(lane_end):
        if end <= start_ps:
            lane_end[lane] = end_ps
            return lane
    lane_end.append(end_ps)
    return len(lane_end) - 1


def _metadata(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


# (time, track order, 0 for a slice or 1 for a counter, tiebreak, payload)
_Item = tuple[int, int, int, tuple[Any, ...], Any]


def _time_ordered(results: Results, order: dict[str, int]) -> list[_Item]:
    """Slices and queue-length counters sorted by time, resource and name."""
    timeline: list[_Item] = [
        (e.start_ps, order[e.track], 0, (e.name, e.model, e.duration_ps), e) for e in results.events
    ]
    timeline += [
        (time_ps, order[track], 1, (i,), (track, length))
        for i, (time_ps, track, length) in enumerate(results.queue_samples)
    ]
    timeline.sort(key=lambda item: item[:4])
    return timeline


def _lanes(kept: list[_Item], tracks: list[str]) -> tuple[list[int], dict[str, list[int]]]:
    """Lane of each item (0 for counters) and, per track, when each of its lanes frees."""
    # Slices come in start order, so taking the first free lane packs them greedily.
    lane_ends: dict[str, list[int]] = {track: [] for track in tracks}
    lanes = [
        0 if is_counter else _take_lane(lane_ends[e.track], t, t + e.duration_ps)
        for t, _, is_counter, _, e in kept
    ]
    return lanes, lane_ends


def _thread_metadata(
    tracks: dict[str, list[str]], lane_ends: dict[str, list[int]]
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], int]]:
    """Process and thread names and order; the thread id of each (track, lane)."""
    meta = []
    tid_of: dict[tuple[str, int], int] = {}
    for pid, (kind, process) in enumerate(KINDS.items(), start=1):
        meta.append(_metadata("process_name", pid, 0, {"name": process}))
        meta.append(_metadata("process_sort_index", pid, 0, {"sort_index": pid}))
        for track in tracks[kind]:
            for lane in range(max(len(lane_ends[track]), 1)):
                tid = len(tid_of) + 1
                tid_of[(track, lane)] = tid
                name = track if lane == 0 else f"{track} (lane {lane + 1})"
                meta.append(_metadata("thread_name", pid, tid, {"name": name}))
                meta.append(_metadata("thread_sort_index", pid, tid, {"sort_index": tid}))
    return meta, tid_of


def _event_record(
    item: _Item, lane: int, pid_of: dict[str, int], tid_of: dict[tuple[str, int], int]
) -> dict[str, Any]:
    """The trace-event record of one slice ("X") or queue-length counter ("C")."""
    time_ps, _, is_counter, _, payload = item
    if is_counter:
        track, length = payload
        return {
            "name": track,
            "ph": "C",
            "pid": pid_of[track],
            "ts": time_ps / PS_PER_US,
            "args": {"queue": length},
        }
    return {
        "name": payload.name,
        "cat": payload.model,
        "ph": "X",
        "pid": pid_of[payload.track],
        "tid": tid_of[(payload.track, lane)],
        "ts": time_ps / PS_PER_US,
        "dur": payload.duration_ps / PS_PER_US,
        "args": {"model": payload.model, "duration_ps": payload.duration_ps},
    }


def _other_data(results: Results, timeline: list[_Item], written: int) -> dict[str, Any]:
    """The trace's metadata block: the run, the event totals and any truncation."""
    run = results.run
    total = len(timeline)
    other: dict[str, Any] = {
        "scenario": run.scenario,
        "scheduler": run.scheduler,
        "seed": run.seed,
        "mode": run.mode,
        "time_unit": "ts and dur in microseconds of simulated time",
        "events_total": total,
        "events_written": written,
        "truncated": total > written,
    }
    if total > written:
        complete_before_us = timeline[written][0] / PS_PER_US
        other["note"] = (
            f"truncated to the first {written} of {total} events in time order: "
            f"complete for events starting before {complete_before_us} us"
        )
        other["complete_before_us"] = complete_before_us
    return other


def write_trace(
    results: Results, path: str | os.PathLike[str], max_events: int = MAX_EVENTS
) -> None:
    """Write ``results``' events as trace-event JSON to ``path``.

    Parameters
    ----------
    results : Results
        A traced run (``simulate(..., trace=True)``); without events the trace holds
        only the resource threads.
    path : str or path-like
        Output file, overwritten.
    max_events : int, optional
        Most slice plus counter events to write; the earliest are kept.
    """
    tracks = resource_tracks(results)
    order = {track: i for i, track in enumerate(t for kind in tracks.values() for t in kind)}
    pid_of = {track: pid for pid, kind in enumerate(tracks, start=1) for track in tracks[kind]}
    timeline = _time_ordered(results, order)
    kept = timeline[:max_events]
    lanes, lane_ends = _lanes(kept, list(order))
    meta, tid_of = _thread_metadata(tracks, lane_ends)
    records = [
        _event_record(item, lane, pid_of, tid_of) for item, lane in zip(kept, lanes, strict=True)
    ]
    other = _other_data(results, timeline, len(kept))

    lines = [json.dumps(record, separators=(",", ":")) for record in meta + records]
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"displayTimeUnit":"ns",\n"otherData":')
        out.write(json.dumps(other, separators=(",", ":")))
        out.write(',\n"traceEvents":[\n')
        out.write(",\n".join(lines))
        out.write("\n]}\n")
