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
    data = results.to_dict()
    busy = {event.track for event in results.events}
    links = [f"link {name}" for name in data["links"]]
    return {
        "chiplets": [f"chiplet {c}" for c in data["chiplets"]],
        "links": [track for track in links if track in busy],
        "dram": list(data["dram"]),
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
    data = results.to_dict()
    tracks = resource_tracks(results)
    order = {track: i for i, track in enumerate(t for kind in tracks.values() for t in kind)}
    pid_of = {track: pid for pid, kind in enumerate(tracks, start=1) for track in tracks[kind]}

    # (time, track order, 0 for a slice or 1 for a counter, tiebreak, payload)
    timeline: list[tuple[int, int, int, tuple[Any, ...], Any]] = [
        (e.start_ps, order[e.track], 0, (e.name, e.model, e.duration_ps), e) for e in results.events
    ]
    timeline += [
        (time_ps, order[track], 1, (i,), (track, length))
        for i, (time_ps, track, length) in enumerate(results.queue_samples)
    ]
    timeline.sort(key=lambda item: item[:4])
    total = len(timeline)
    kept = timeline[:max_events]

    # Slices come in start order, so taking the first free lane packs them greedily.
    lane_ends: dict[str, list[int]] = {track: [] for track in order}
    lanes = [
        0 if is_counter else _take_lane(lane_ends[e.track], t, t + e.duration_ps)
        for t, _, is_counter, _, e in kept
    ]

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

    records = []
    for (time_ps, _, is_counter, _, payload), lane in zip(kept, lanes, strict=True):
        if is_counter:
            track, length = payload
            records.append(
                {
                    "name": track,
                    "ph": "C",
                    "pid": pid_of[track],
                    "ts": time_ps / PS_PER_US,
                    "args": {"queue": length},
                }
            )
        else:
            records.append(
                {
                    "name": payload.name,
                    "cat": payload.model,
                    "ph": "X",
                    "pid": pid_of[payload.track],
                    "tid": tid_of[(payload.track, lane)],
                    "ts": time_ps / PS_PER_US,
                    "dur": payload.duration_ps / PS_PER_US,
                    "args": {"model": payload.model, "duration_ps": payload.duration_ps},
                }
            )

    other: dict[str, Any] = {key: data[key] for key in ("scenario", "scheduler", "seed", "mode")}
    other |= {
        "time_unit": "ts and dur in microseconds of simulated time",
        "events_total": total,
        "events_written": len(kept),
        "truncated": total > len(kept),
    }
    if total > len(kept):
        complete_before_us = timeline[len(kept)][0] / PS_PER_US
        other["note"] = (
            f"truncated to the first {len(kept)} of {total} events in time order: "
            f"complete for events starting before {complete_before_us} us"
        )
        other["complete_before_us"] = complete_before_us

    lines = [json.dumps(record, separators=(",", ":")) for record in meta + records]
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"displayTimeUnit":"ns",\n"otherData":')
        out.write(json.dumps(other, separators=(",", ":")))
        out.write(',\n"traceEvents":[\n')
        out.write(",\n".join(lines))
        out.write("\n]}\n")
