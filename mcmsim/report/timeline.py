"""Timeline (Gantt chart) of a traced run, drawn with matplotlib to a PNG.

Each row is one resource of the package, top to bottom: every chiplet (labelled with its
type), the NoP links that carried traffic, and every DRAM interface. A bar is an
interval during which the resource worked for a model, coloured by model. Chiplets run
one segment at a time, so their bars never overlap; the part of a layer spent waiting
for streamed weights (a DRAM stall) is drawn lighter and hatched, so a chiplet row shows
both when the chiplet was held and when its array computed. Links and DRAM interfaces share
bandwidth between concurrent transfers, so their row is split into one band per model
and a band is filled while at least one transfer of that model is under way. The
figure's top row marks each request's completion with a triangle in its model's
colour, and the right margin gives each resource's busy share of the window (for a
chiplet, held / computing). Work still
under way when the run stopped was never recorded, so a row can end before the window.

A run holds far more intervals than a figure has pixels, so drawing is by pixel:
every bar is at least one pixel wide, and bars of one model on one row that are less
than a pixel apart merge into one. Busy shares are computed from the exact intervals.

The default window is the steady state near the end of the run: it ends at the last
event and spans three times the mean latency of the slowest model (the model with the
longest mean latency in ``results``), so that each model's requests pass through the
package from arrival to completion several times within it. It never starts before
the warm-up cut, and falls back to the whole run when no model completed a request in
the measured window. The time axis is in s, ms, µs or ns, whichever makes the window
at least one unit long.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mcmsim.metrics.raw import DRAM_STALL
from mcmsim.metrics.results import Results
from mcmsim.metrics.tracks import chiplet_track
from mcmsim.report.perfetto import resource_tracks
from mcmsim.units import PS_PER_S

__all__ = ["WINDOW_LATENCIES", "default_window", "plot_timeline"]

WINDOW_LATENCIES = 3
DPI = 150
WIDTH_IN = 12.0
ROW_IN = 0.34
MIN_HEIGHT_IN = 3.0
UNITS = ((1e12, "s"), (1e9, "ms"), (1e6, "µs"), (1e3, "ns"))


def _run_end_ps(results: Results) -> int:
    """End of the last event, or of the measured window if there are no events."""
    if results.events:
        return max(e.start_ps + e.duration_ps for e in results.events)
    return round((results.run.warmup_s + results.run.measured_s) * PS_PER_S)


def _default_window(results: Results) -> tuple[int, int, str]:
    """:func:`default_window` and a caption saying how it was chosen."""
    end = _run_end_ps(results)
    latency = {name: m.latency_s.mean for name, m in results.models.items()}
    slowest = max(latency, key=latency.__getitem__, default=None)
    if slowest is None or latency[slowest] <= 0:
        return 0, end, "whole run"
    warmup = min(round(results.run.warmup_s * PS_PER_S), end)
    start = end - round(WINDOW_LATENCIES * latency[slowest] * PS_PER_S)
    if start > warmup:
        return start, end, f"last {WINDOW_LATENCIES} x mean latency of {slowest} (slowest model)"
    if warmup > 0:
        return warmup, end, "from the warm-up cut to the end"
    return 0, end, "whole run"


def default_window(results: Results) -> tuple[int, int]:
    """The steady-state window the timeline shows when none is given.

    Parameters
    ----------
    results : Results
        A traced run.

    Returns
    -------
    tuple of int
        ``(start_ps, end_ps)``: ends at the last event, spans ``WINDOW_LATENCIES`` times
        the slowest model's mean latency, starts no earlier than the warm-up cut; the
        whole run if no model has a measured latency.
    """
    start, end, _ = _default_window(results)
    return start, end


def _merge(starts: np.ndarray, ends: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals, joining those less than ``gap`` apart."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.ones(len(starts), bool)
    new[1:] = starts[1:] > reach[:-1] + gap
    first = np.flatnonzero(new)
    return starts[first], np.maximum.reduceat(ends, first)


def _unit(length_ps: float) -> tuple[float, str]:
    """Largest unit in which the window is at least one unit long."""
    for scale, name in UNITS:
        if length_ps >= scale:
            return scale, name
    return 1.0, "ps"


def _percent(share: float) -> str:
    """A busy share as a whole percentage, with ``<1%`` for small but nonzero shares."""
    return "<1%" if 0 < share < 0.005 else f"{100 * share:.0f}%"


def _window(results: Results, window_ps: tuple[int, int] | None) -> tuple[int, int, str]:
    """``(start_ps, end_ps, caption)`` of the window to draw.

    Raises
    ------
    ValueError
        If ``window_ps`` does not have ``start < end``.
    """
    if window_ps is None:
        start, end, how = _default_window(results)
    else:
        (start, end), how = window_ps, "given window"
    if not start < end:
        raise ValueError(f"window_ps {window_ps!r}: start must be before end")
    return start, end, how


Intervals = dict[tuple[str, str], list[tuple[int, int]]]


def _intervals_in_window(results: Results, start: int, end: int) -> tuple[Intervals, Intervals]:
    """``(start_ps, end_ps)`` of every event touching the window, by (track, model).

    Work first, then DRAM stalls.
    """
    intervals: Intervals = defaultdict(list)
    stalls: Intervals = defaultdict(list)
    for e in results.events:
        if e.start_ps + e.duration_ps >= start and e.start_ps <= end:
            kind = stalls if e.name == DRAM_STALL else intervals
            kind[(e.track, e.model)].append((e.start_ps, e.start_ps + e.duration_ps))
    return intervals, stalls


def _spans(intervals: Intervals, track: str, frame: _Frame) -> dict[str, np.ndarray]:
    """Per model, its intervals on ``track`` clipped to the window."""
    return {
        m: np.clip(np.array(intervals[(track, m)], np.float64), frame.start, frame.end)
        for m in frame.models
        if intervals[(track, m)]
    }


def _covered(*spans: dict[str, np.ndarray]) -> float:
    """Time covered by the union of all the given intervals."""
    arrays = [a for group in spans for a in group.values()]
    if not arrays:
        return 0.0
    every = np.concatenate(arrays)
    s, e = _merge(every[:, 0], every[:, 1], 0.0)
    return float((e - s).sum())


@dataclass(frozen=True)
class _Frame:
    """What every drawing step needs: the window, its scale and the rows and colours."""

    start: int
    end: int
    scale: float
    pixel: float
    rows: list[str]
    flows: set[str]
    models: list[str]
    colours: dict[str, str]

    def y(self, track: str) -> int:
        """Row position of ``track``; the first row is at the top."""
        return len(self.rows) - self.rows.index(track)


def _draw_resources(
    ax: Any, frame: _Frame, intervals: Intervals, stalls: Intervals
) -> dict[str, str]:
    """Draw each resource row (banded by model for links and DRAM); its busy share.

    A chiplet's share reads held / computing (DRAM stalls count as held only).
    """
    models = frame.models
    length = frame.end - frame.start
    busy_share = {}
    pixel = frame.pixel
    for track in frame.rows:
        spans, stalled = _spans(intervals, track, frame), _spans(stalls, track, frame)
        banded = track in frame.flows
        held, computing = _covered(spans, stalled) / length, _covered(spans) / length
        busy_share[track] = (
            _percent(held) if banded else f"{_percent(held)} / {_percent(computing)}"
        )
        band = 0.8 / len(models) if banded else 0.8
        for i, m in enumerate(models):
            slot = len(models) - 1 - i if banded else 0
            for kind, style in ((spans, {}), (stalled, {"alpha": 0.35, "hatch": "////"})):
                if m not in kind:
                    continue
                s, e = _merge(
                    kind[m][:, 0], np.maximum(kind[m][:, 1], kind[m][:, 0] + pixel), pixel
                )
                ax.broken_barh(
                    np.column_stack([s / frame.scale, (e - s) / frame.scale]),
                    (frame.y(track) - 0.4 + slot * band, band),
                    facecolors=frame.colours[m],
                    linewidth=0,
                    **style,
                )
    return busy_share


def _draw_completions(ax: Any, results: Results, frame: _Frame, top: int) -> None:
    """A triangle on the top row for every request completed in the window."""
    if results.records is None or not len(results.records):
        return
    done = results.records["completion_ps"]
    for i, m in enumerate(frame.models):
        times = done[(results.records["model"] == i) & (done >= frame.start) & (done <= frame.end)]
        ax.plot(
            times / frame.scale,
            np.full(len(times), top),
            "v",
            color=frame.colours[m],
            markersize=7,
            markeredgecolor="black",
            markeredgewidth=0.4,
            clip_on=False,
        )


def _label_axes(
    ax: Any,
    results: Results,
    frame: _Frame,
    tracks: dict[str, list[str]],
    busy_share: dict[str, str],
    top: int,
) -> None:
    """Row labels (chiplets with their type), group separators, busy shares, time axis."""
    rows = frame.rows
    chiplet_types = {chiplet_track(int(c)): info.type for c, info in results.chiplets.items()}
    labels = [f"{t} ({chiplet_types[t]})" if t in chiplet_types else t for t in rows]
    ax.set_yticks([top, *(frame.y(t) for t in rows)], ["requests done", *labels])
    ax.set_ylim(0.4, top + 0.6)
    ax.set_xlim(frame.start / frame.scale, frame.end / frame.scale)
    ax.ticklabel_format(axis="x", useOffset=False)
    for boundary in {0, len(tracks["chiplets"]), len(tracks["chiplets"]) + len(tracks["links"])}:
        ax.axhline(len(rows) - boundary + 0.5, color="0.6", linewidth=0.8)
    share_axis = ax.secondary_yaxis("right")
    share_axis.set_yticks([frame.y(t) for t in rows], [busy_share[t] for t in rows])
    share_axis.set_ylabel("busy in window (chiplets: held / computing)")
    ax.grid(axis="x", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)


def plot_timeline(
    results: Results,
    path: str | os.PathLike[str],
    window_ps: tuple[int, int] | None = None,
) -> None:
    """Draw the Gantt chart of ``results`` and save it as a PNG.

    Parameters
    ----------
    results : Results
        A traced run (``simulate(..., trace=True)``); without events the rows are empty.
    path : str or path-like
        Output PNG file, overwritten.
    window_ps : tuple of int, optional
        ``(start_ps, end_ps)`` of simulated time to show; by default
        :func:`default_window`.

    Raises
    ------
    ValueError
        If ``window_ps`` does not have ``start < end``.
    """
    start, end, how = _window(results, window_ps)
    scale, unit = _unit(end - start)
    tracks = resource_tracks(results)
    models = list(results.models)
    frame = _Frame(
        start=start,
        end=end,
        scale=scale,
        pixel=(end - start) / (WIDTH_IN * 0.8 * DPI),
        rows=[t for kind in tracks.values() for t in kind],
        flows=set(tracks["links"]) | set(tracks["dram"]),
        models=models,
        colours={m: f"C{i % 10}" for i, m in enumerate(models)},
    )

    height = max(MIN_HEIGHT_IN, 1.5 + ROW_IN * (len(frame.rows) + 1))
    fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    ax = fig.add_subplot()
    busy_share = _draw_resources(ax, frame, *_intervals_in_window(results, start, end))
    top = len(frame.rows) + 1
    _draw_completions(ax, results, frame, top)
    _label_axes(ax, results, frame, tracks, busy_share, top)
    ax.set_xlabel(f"simulated time ({unit})")
    run = results.run
    ax.set_title(
        f"{run.scenario}: {run.scheduler} scheduler, {run.mode} mode\n"
        f"{start / scale:.6g}-{end / scale:.6g} {unit}, {how}",
        fontsize=11,
    )
    fig.legend(
        handles=[
            *(Patch(color=frame.colours[m], label=m) for m in models),
            Patch(facecolor="0.5", alpha=0.35, hatch="////", label="DRAM stall"),
        ],
        loc="outside right upper",
        title="model",
        frameon=False,
    )
    fig.savefig(path, dpi=DPI, format="png")
