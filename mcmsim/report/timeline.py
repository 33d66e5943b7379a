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

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mcmsim.metrics.results import Results
from mcmsim.report.perfetto import resource_tracks
from mcmsim.sim.engine import DRAM_STALL

__all__ = ["WINDOW_LATENCIES", "default_window", "plot_timeline"]

WINDOW_LATENCIES = 3
DPI = 150
WIDTH_IN = 12.0
ROW_IN = 0.34
MIN_HEIGHT_IN = 3.0
PS_PER_S = 1e12
UNITS = ((1e12, "s"), (1e9, "ms"), (1e6, "µs"), (1e3, "ns"))


def _run_end_ps(results: Results) -> int:
    """End of the last event, or of the measured window if there are no events."""
    if results.events:
        return max(e.start_ps + e.duration_ps for e in results.events)
    data = results.to_dict()
    return round((data["warmup_s"] + data["measured_s"]) * PS_PER_S)


def _default_window(results: Results) -> tuple[int, int, str]:
    """:func:`default_window` and a caption saying how it was chosen."""
    data = results.to_dict()
    end = _run_end_ps(results)
    latency = {name: m["latency_s"]["mean"] for name, m in data["models"].items()}
    slowest = max(latency, key=latency.__getitem__, default=None)
    if slowest is None or latency[slowest] <= 0:
        return 0, end, "whole run"
    warmup = min(round(data["warmup_s"] * PS_PER_S), end)
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


def _spans(
    intervals: dict[tuple[str, str], list[tuple[int, int]]],
    track: str,
    models: list[str],
    start: int,
    end: int,
) -> dict[str, np.ndarray]:
    """Per model, its intervals on ``track`` clipped to the window."""
    return {
        m: np.clip(np.array(intervals[(track, m)], np.float64), start, end)
        for m in models
        if intervals[(track, m)]
    }


def _covered(spans: dict[str, np.ndarray]) -> float:
    """Time covered by the union of every model's intervals."""
    if not spans:
        return 0.0
    every = np.concatenate(list(spans.values()))
    s, e = _merge(every[:, 0], every[:, 1], 0.0)
    return float((e - s).sum())


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
    data = results.to_dict()
    if window_ps is None:
        start, end, how = _default_window(results)
    else:
        (start, end), how = window_ps, "given window"
    if not start < end:
        raise ValueError(f"window_ps {window_ps!r}: start must be before end")
    length = end - start
    scale, unit = _unit(length)
    pixel = length / (WIDTH_IN * 0.8 * DPI)

    tracks = resource_tracks(results)
    rows = [t for kind in tracks.values() for t in kind]
    flows = set(tracks["links"]) | set(tracks["dram"])
    models = list(data["models"])
    colours = {m: f"C{i % 10}" for i, m in enumerate(models)}

    intervals: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    stalls: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for e in results.events:
        if e.start_ps + e.duration_ps >= start and e.start_ps <= end:
            kind = stalls if e.name == DRAM_STALL else intervals
            kind[(e.track, e.model)].append((e.start_ps, e.start_ps + e.duration_ps))

    height = max(MIN_HEIGHT_IN, 1.5 + ROW_IN * (len(rows) + 1))
    fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    ax = fig.add_subplot()
    y_of = {track: len(rows) - i for i, track in enumerate(rows)}
    busy_share: dict[str, str] = {}
    for track in rows:
        spans = _spans(intervals, track, models, start, end)
        stalled = _spans(stalls, track, models, start, end)
        if not spans and not stalled:
            busy_share[track] = _percent(0.0)
            continue
        computing = _covered(spans) / length
        held = _covered({**spans, **{f"{m} stall": v for m, v in stalled.items()}}) / length
        busy_share[track] = (
            f"{_percent(held)} / {_percent(computing)}" if track not in flows else _percent(held)
        )
        band = 0.8 / len(models) if track in flows else 0.8
        for i, m in enumerate(models):
            slot = len(models) - 1 - i if track in flows else 0
            for kind, style in ((spans, {}), (stalled, {"alpha": 0.35, "hatch": "////"})):
                if m not in kind:
                    continue
                s, e = _merge(
                    kind[m][:, 0], np.maximum(kind[m][:, 1], kind[m][:, 0] + pixel), pixel
                )
                ax.broken_barh(
                    np.column_stack([s / scale, (e - s) / scale]),
                    (y_of[track] - 0.4 + slot * band, band),
                    facecolors=colours[m],
                    edgecolor=colours[m] if style else None,
                    linewidth=0,
                    **style,
                )

    top = len(rows) + 1
    if results.records is not None and len(results.records):
        done = results.records["completion_ps"]
        for i, m in enumerate(models):
            times = done[(results.records["model"] == i) & (done >= start) & (done <= end)]
            ax.plot(
                times / scale,
                np.full(len(times), top),
                "v",
                color=colours[m],
                markersize=7,
                markeredgecolor="black",
                markeredgewidth=0.4,
                clip_on=False,
            )

    chiplet_types = {f"chiplet {c}": info["type"] for c, info in data["chiplets"].items()}
    labels = [f"{t} ({chiplet_types[t]})" if t in chiplet_types else t for t in rows]
    ax.set_yticks([top, *(y_of[t] for t in rows)], ["requests done", *labels])
    ax.set_ylim(0.4, top + 0.6)
    ax.set_xlim(start / scale, end / scale)
    ax.ticklabel_format(axis="x", useOffset=False)
    for boundary in {0, len(tracks["chiplets"]), len(tracks["chiplets"]) + len(tracks["links"])}:
        ax.axhline(len(rows) - boundary + 0.5, color="0.6", linewidth=0.8)
    share_axis = ax.secondary_yaxis("right")
    share_axis.set_yticks([y_of[t] for t in rows], [busy_share[t] for t in rows])
    share_axis.set_ylabel("busy in window (chiplets: held / computing)")
    ax.grid(axis="x", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel(f"simulated time ({unit})")

    ax.set_title(
        f"{data['scenario']}: {data['scheduler']} scheduler, {data['mode']} mode\n"
        f"{start / scale:.6g}-{end / scale:.6g} {unit}, {how}",
        fontsize=11,
    )
    fig.legend(
        handles=[
            *(Patch(color=colours[m], label=m) for m in models),
            Patch(facecolor="0.5", alpha=0.35, hatch="////", label="DRAM stall"),
        ],
        loc="outside right upper",
        title="model",
        frameon=False,
    )
    fig.savefig(path, dpi=DPI, format="png")
