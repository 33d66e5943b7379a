"""Timeline (Gantt chart) of a run, drawn from its activity records for papers.

Each row is one resource of the package, top to bottom: every chiplet (labelled with
its type), the NoP links that carried traffic, and every DRAM interface. On a chiplet
row every *segment execution* is its own bar, outlined, so consecutive segments never
merge: colour says the model (a colour-blind-safe palette), the shade says the request
(consecutive requests of a model alternate between three shades) and, where the bar is
wide enough for it, a label gives the request id. A request that pipelines through
several chiplets is thus a staircase of bars with the same label. The part of an
execution spent waiting for streamed weights (a *DRAM stall*) is hatched and lighter,
so a row shows both when the chiplet was held and when its array computed; with
``layers=True`` thin ticks mark the layer boundaries inside each execution. Links and
DRAM interfaces share bandwidth between concurrent transfers, so their row is split
into one band per model and a band is filled while a transfer of that model is under
way. The top row marks each request's completion with a triangle in its model's
colour, and the right margin gives each resource's busy share of the window (for a
chiplet, held / computing).

A window holds up to far more executions than a figure has pixels; bars narrower than
:data:`MIN_OUTLINED_PX` pixels are drawn without outline or label, and bars of one
model less than a pixel apart merge, so a long window degrades to the busy pattern.

Windows (:class:`Window`): ``(start_ps, end_ps)`` given, the requests with ids in a
range (from the first arrival to the last completion among them), or the *steady
state* (default): the window ends at the last recorded activity and spans three times
the mean latency of the slowest model, so that each model's requests pass through the
package from arrival to completion several times within it; it never starts before
the warm-up cut, and is the whole run when no model completed a request in the
measured window.

Publication defaults: a single-column figure (3.5 in wide) with 7-point text, the
legend under the axes, vector output for ``.pdf`` and ``.svg`` (text kept as text in
SVG, fonts embedded as Type 42 in PDF), 200 dpi for ``.png``. The time axis is in s,
ms, µs or ns, whichever makes the window at least one unit long.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mcmsim.metrics.activity import Activity
from mcmsim.metrics.results import Results
from mcmsim.metrics.tracks import chiplet_track
from mcmsim.report.perfetto import activity_of, resource_tracks

__all__ = [
    "FORMATS",
    "WINDOW_LATENCIES",
    "Drawing",
    "Window",
    "default_window",
    "plot_timeline",
    "request_window",
]

WINDOW_LATENCIES = 3
FORMATS = ("png", "pdf", "svg")
WIDTH_IN = 3.5
ROW_IN = 0.16
FONT_PT = 7.0
LABEL_PT = 5.0
PNG_DPI = 200
MIN_OUTLINED_PX = 3.0
UNITS = ((1e12, "s"), (1e9, "ms"), (1e6, "µs"), (1e3, "ns"))
# Okabe and Ito's colour-blind-safe palette (without its yellow, too light on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
# Request shades: the model's colour mixed with this much white.
SHADES = (0.0, 0.3, 0.55)
STYLE = {
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT - 1,
    "ytick.labelsize": FONT_PT - 1,
    "legend.fontsize": FONT_PT - 1,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "hatch.linewidth": 0.4,
}


@dataclass(frozen=True)
class Drawing:
    """What :func:`plot_timeline` drew: the window, and per chiplet row the executions
    drawn as bars of their own (outlined; narrower ones merge into busy spans)."""

    window: Window
    bars: dict[str, int]

    @property
    def caption(self) -> str:
        return self.window.caption


@dataclass(frozen=True)
class Window:
    """The simulated time a timeline shows, and how it was chosen (its caption)."""

    start_ps: int
    end_ps: int
    caption: str

    def __post_init__(self) -> None:
        if not self.start_ps < self.end_ps:
            raise ValueError(
                f"window ({self.start_ps}, {self.end_ps}) ps: start must be before end"
            )


def _run_end_ps(activity: Activity | None) -> int:
    """End of the last recorded execution or transfer (0 without any)."""
    if activity is None:
        return 0
    ends = [int(a["end_ps"].max()) for a in (activity.executions, activity.transfers) if len(a)]
    return max(ends, default=0)


def _steady_state(activity: Activity) -> Window:
    end = _run_end_ps(activity) or int(activity.meta.get("end_ps", 0)) or 1
    latency = dict(activity.meta.get("mean_latency_ps", {}))
    slowest = max(latency, key=latency.__getitem__, default=None)
    if slowest is None or latency[slowest] <= 0:
        return Window(0, end, "whole run")
    warmup = min(int(activity.meta.get("warmup_ps", 0)), end)
    start = end - round(WINDOW_LATENCIES * latency[slowest])
    if start > warmup:
        caption = f"steady state: last {WINDOW_LATENCIES} x mean latency of {slowest}"
        return Window(start, end, caption)
    if 0 < warmup < end:
        return Window(warmup, end, "steady state: from the warm-up cut to the end")
    return Window(0, end, "whole run")


def default_window(run: Results | Activity) -> tuple[int, int]:
    """The steady-state window the timeline shows when none is given.

    Parameters
    ----------
    run : Results or Activity
        A run with activity records, or the records.

    Returns
    -------
    tuple of int
        ``(start_ps, end_ps)``: ends at the last recorded activity, spans
        ``WINDOW_LATENCIES`` times the slowest model's mean latency, starts no earlier
        than the warm-up cut; the whole run if no model has a measured latency.

    Raises
    ------
    ValueError
        If the run has no activity records.
    """
    activity = activity_of(run)
    if activity is None:
        raise ValueError("the run has no activity records (simulate with activity=True)")
    window = _steady_state(activity)
    return window.start_ps, window.end_ps


def request_window(activity: Activity, first: int, last: int) -> Window:
    """From the first arrival to the last completion of requests ``first``-``last``.

    Request ids number the run's requests in arrival order from 0 (the ``request``
    column of the records).

    Raises
    ------
    ValueError
        If no execution of those requests was recorded.
    """
    chosen = (activity.executions["request"] >= first) & (activity.executions["request"] <= last)
    if not chosen.any():
        raise ValueError(f"no recorded execution of requests {first}-{last}")
    rows = activity.executions[chosen]
    moved = activity.transfers[
        (activity.transfers["request"] >= first) & (activity.transfers["request"] <= last)
    ]
    start = int(min(rows["start_ps"].min(), moved["start_ps"].min() if len(moved) else np.inf))
    end = int(max(rows["end_ps"].max(), moved["end_ps"].max() if len(moved) else 0))
    return Window(start, max(end, start + 1), f"requests {first}-{last}")


def _merge(starts: np.ndarray, ends: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals, joining those less than ``gap`` apart."""
    if not len(starts):
        return starts, ends
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


def _shade(colour: str, amount: float) -> tuple[float, float, float]:
    """``colour`` mixed with ``amount`` of white."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


@dataclass(frozen=True)
class _Frame:
    """What every drawing step needs: the window, its scale, rows and colours."""

    start: int
    end: int
    scale: float
    pixel: float  # picoseconds per pixel
    rows: list[str]
    flows: set[str]
    models: list[str]
    colours: list[str]

    def y(self, track: str) -> int:
        """Row position of ``track``; the first row is at the top."""
        return len(self.rows) - self.rows.index(track)

    def x(self, ps: np.ndarray | float) -> Any:
        return np.asarray(ps, np.float64) / self.scale


def _covered(starts: np.ndarray, ends: np.ndarray) -> float:
    s, e = _merge(starts, ends, 0.0)
    return float((e - s).sum())


def _draw_chiplets(
    ax: Any, activity: Activity, frame: _Frame, layers: bool, bars: dict[str, int]
) -> dict[str, str]:
    """Executions on each chiplet row: outlined bars, request shades and labels, stalls.

    Counts the outlined bars of each row into ``bars``; returns each row's busy share.
    """
    ex = activity.executions
    visible = np.flatnonzero((ex["end_ps"] >= frame.start) & (ex["start_ps"] <= frame.end))
    ex_in = ex[visible]
    start = np.clip(ex_in["start_ps"], frame.start, frame.end).astype(np.float64)
    end = np.clip(ex_in["end_ps"], frame.start, frame.end).astype(np.float64)
    detail = activity.layer_intervals(visible)
    stall_start = np.clip(detail.start_ps + detail.compute_ps, frame.start, frame.end)
    stall_end = np.clip(
        detail.start_ps + detail.compute_ps + detail.stall_ps, frame.start, frame.end
    )
    compute_start = np.clip(detail.start_ps, frame.start, frame.end)
    compute_end = np.clip(detail.start_ps + detail.compute_ps, frame.start, frame.end)
    length = frame.end - frame.start
    layer_chiplet = ex_in["chiplet"][np.searchsorted(visible, detail.row)]
    shares = {}
    # Shade: the request's rank among the model's requests in the window.
    rank = np.zeros(len(ex_in), np.int64)
    for m in np.unique(ex_in["model"]):
        mine = ex_in["model"] == m
        _, rank[mine] = np.unique(ex_in["request"][mine], return_inverse=True)
    for c, track in enumerate(t for t in frame.rows if t.startswith("chiplet ")):
        on = ex_in["chiplet"] == c
        held = _covered(start[on], end[on]) / length
        chip_layers = layer_chiplet == c
        computing = _covered(compute_start[chip_layers], compute_end[chip_layers]) / length
        shares[track] = f"{_percent(held)} / {_percent(computing)}"
        y = frame.y(track)
        rows = np.flatnonzero(on)
        wide = rows[(end[rows] - start[rows]) >= MIN_OUTLINED_PX * frame.pixel]
        narrow = rows[(end[rows] - start[rows]) < MIN_OUTLINED_PX * frame.pixel]
        bars[track] = len(wide)
        for m in np.unique(ex_in["model"][narrow]):
            pick = narrow[ex_in["model"][narrow] == m]
            s, e = _merge(
                start[pick], np.maximum(end[pick], start[pick] + frame.pixel), frame.pixel
            )
            ax.broken_barh(
                np.column_stack([frame.x(s), frame.x(e - s)]),
                (y - 0.4, 0.8),
                facecolors=frame.colours[m],
                linewidth=0,
            )
        if len(wide):
            colours = [
                _shade(frame.colours[ex_in["model"][i]], SHADES[rank[i] % len(SHADES)])
                for i in wide
            ]
            ax.broken_barh(
                np.column_stack([frame.x(start[wide]), frame.x(end[wide] - start[wide])]),
                (y - 0.4, 0.8),
                facecolors=colours,
                edgecolors="black",
                linewidth=0.3,
            )
            _label_requests(ax, frame, ex_in, wide, start, end, y)
        stalled = chip_layers & (stall_end > stall_start)
        if stalled.any():
            s, e = _merge(stall_start[stalled], stall_end[stalled], frame.pixel / 2)
            ax.broken_barh(
                np.column_stack([frame.x(s), frame.x(e - s)]),
                (y - 0.4, 0.8),
                facecolors=(1, 1, 1, 0.55),
                edgecolors=(0, 0, 0, 0.6),
                hatch="//////",
                linewidth=0,
            )
        if layers:
            bounds = compute_start[chip_layers]
            bounds = bounds[(bounds > frame.start) & (bounds < frame.end)]
            if len(bounds) < 4 * (frame.end - frame.start) / frame.pixel:
                ax.vlines(frame.x(bounds), y - 0.4, y - 0.1, colors="black", linewidth=0.15)
    return shares


def _label_requests(
    ax: Any,
    frame: _Frame,
    ex_in: np.ndarray,
    rows: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    y: int,
) -> None:
    """The request id inside each bar wide enough to hold it (labels never overlap)."""
    points_per_ps = 72.0 / (frame.pixel * PNG_DPI)
    for i in rows:
        text = str(int(ex_in["request"][i]))
        needed_pt = 0.62 * LABEL_PT * len(text) + 1.5
        if (end[i] - start[i]) * points_per_ps >= needed_pt:
            ax.text(
                frame.x((start[i] + end[i]) / 2),
                y,
                text,
                ha="center",
                va="center",
                fontsize=LABEL_PT,
                clip_on=True,
            )


def _draw_flows(ax: Any, activity: Activity, frame: _Frame) -> dict[str, str]:
    """Transfers on each link and DRAM row, one band per model; each row's busy share."""
    rows_t, resources = activity.resource_transfers()
    t = activity.transfers[rows_t]
    near = (t["end_ps"] >= frame.start) & (t["start_ps"] <= frame.end)
    t, resources = t[near], resources[near]
    names = activity.resource_names
    start = np.clip(t["start_ps"], frame.start, frame.end).astype(np.float64)
    end = np.clip(t["end_ps"], frame.start, frame.end).astype(np.float64)
    shares = {}
    band = 0.8 / max(len(frame.models), 1)
    for r, name in enumerate(names):
        if name not in frame.rows:
            continue
        on = resources == r
        shares[name] = _percent(_covered(start[on], end[on]) / (frame.end - frame.start))
        for m in range(len(frame.models)):
            pick = on & (t["model"] == m)
            if not pick.any():
                continue
            s, e = _merge(
                start[pick], np.maximum(end[pick], start[pick] + frame.pixel), frame.pixel
            )
            slot = len(frame.models) - 1 - m
            ax.broken_barh(
                np.column_stack([frame.x(s), frame.x(e - s)]),
                (frame.y(name) - 0.4 + slot * band, band),
                facecolors=frame.colours[m],
                linewidth=0,
            )
    return shares


def _draw_completions(ax: Any, activity: Activity, frame: _Frame, top: int) -> None:
    """A triangle on the top row for every request completed in the window."""
    done = activity.requests["completion_ps"]
    for m, colour in enumerate(frame.colours):
        pick = (activity.requests["model"] == m) & (done >= frame.start) & (done <= frame.end)
        ax.plot(
            frame.x(done[pick]),
            np.full(int(pick.sum()), top),
            "v",
            color=colour,
            markersize=3.5,
            markeredgecolor="black",
            markeredgewidth=0.3,
            clip_on=False,
        )


def _label_axes(
    ax: Any,
    activity: Activity,
    frame: _Frame,
    tracks: dict[str, list[str]],
    shares: dict[str, str],
    top: int,
) -> None:
    """Row labels (chiplets with their type), group separators, busy shares, time axis."""
    rows = frame.rows
    types = activity.meta.get("chiplet_types", [])
    chiplet_types = {chiplet_track(c): kind for c, kind in enumerate(types)}
    labels = [f"{t} ({chiplet_types[t]})" if t in chiplet_types else t for t in rows]
    ax.set_yticks([top, *(frame.y(t) for t in rows)], ["requests done", *labels])
    ax.set_ylim(0.4, top + 0.6)
    ax.set_xlim(frame.x(frame.start), frame.x(frame.end))
    ax.ticklabel_format(axis="x", useOffset=False)
    for boundary in {0, len(tracks["chiplets"]), len(tracks["chiplets"]) + len(tracks["links"])}:
        ax.axhline(len(rows) - boundary + 0.5, color="0.6", linewidth=0.5)
    share_axis = ax.secondary_yaxis("right")
    share_axis.set_yticks(
        [top, *(frame.y(t) for t in rows)],
        ["held/comp.", *(shares.get(t, "0%") for t in rows)],
    )
    ax.grid(axis="x", color="0.88", linewidth=0.4)
    ax.set_axisbelow(True)


def _resolve_window(
    activity: Activity,
    window_ps: tuple[int, int] | None,
    requests: tuple[int, int] | None,
) -> Window:
    if window_ps is not None and requests is not None:
        raise ValueError("give a time window or a range of requests, not both")
    if requests is not None:
        return request_window(activity, *requests)
    if window_ps is not None:
        return Window(int(window_ps[0]), int(window_ps[1]), "given window")
    return _steady_state(activity)


def plot_timeline(
    run: Results | Activity,
    path: str | os.PathLike[str],
    window_ps: tuple[int, int] | None = None,
    *,
    requests: tuple[int, int] | None = None,
    layers: bool = False,
    fmt: str | None = None,
    width_in: float = WIDTH_IN,
) -> Drawing:
    """Draw the timeline of a run and save it as PNG, PDF or SVG.

    Parameters
    ----------
    run : Results or Activity
        A run with activity records (``simulate(..., activity=True)``), or the records
        (:func:`~mcmsim.metrics.activity.load_activity`); without records the rows
        are empty.
    path : str or path-like
        Output file, overwritten.
    window_ps : tuple of int, optional
        ``(start_ps, end_ps)`` of simulated time to show.
    requests : tuple of int, optional
        ``(first, last)`` request ids: the window from the first's arrival to the
        last completion among them. By default (neither given) the steady state.
    layers : bool
        Mark layer boundaries inside each execution.
    fmt : str, optional
        ``png``, ``pdf`` or ``svg``; by default the file's suffix (else ``png``).
    width_in : float
        Figure width in inches (3.5: one column; about 7: the full text width).

    Returns
    -------
    Drawing
        The window drawn and the number of execution bars per chiplet row.

    Raises
    ------
    ValueError
        If the window does not have ``start < end``, both a window and requests are
        given, no execution of the requests was recorded, or the format is unknown.
    """
    fmt = (fmt or Path(path).suffix.lstrip(".") or "png").lower()
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    activity = activity_of(run)
    if activity is None:
        if window_ps is not None:
            Window(*window_ps, "given window")
        return _empty(run, path, fmt, width_in)
    window = _resolve_window(activity, window_ps, requests)
    tracks = resource_tracks(activity)
    models = activity.models
    rows = [t for kind in tracks.values() for t in kind]
    # Fixed margins (inches) rather than a layout engine: as good for one row label
    # width, and a third of the drawing time.
    label_in = 0.18 + 0.043 * (FONT_PT - 1) / 6 * max(len(r) + 5 for r in rows)
    left, right = min(label_in / width_in, 0.45), 1 - 0.75 / width_in
    plot_width = width_in * (right - left)
    scale, unit = _unit(window.end_ps - window.start_ps)
    frame = _Frame(
        start=window.start_ps,
        end=window.end_ps,
        scale=scale,
        pixel=(window.end_ps - window.start_ps) / (plot_width * PNG_DPI),
        rows=rows,
        flows=set(tracks["links"]) | set(tracks["dram"]),
        models=models,
        colours=[PALETTE[i % len(PALETTE)] for i in range(len(models))],
    )
    from matplotlib import rc_context

    with rc_context(STYLE):
        height = 1.3 + ROW_IN * (len(frame.rows) + 1)
        fig = Figure(figsize=(width_in, height))
        fig.subplots_adjust(
            left=left,
            right=right,
            bottom=0.62 / height,
            top=1 - 0.36 / height,
        )
        ax = fig.add_subplot()
        bars: dict[str, int] = {}
        shares = _draw_chiplets(ax, activity, frame, layers, bars)
        shares.update(_draw_flows(ax, activity, frame))
        top = len(frame.rows) + 1
        _draw_completions(ax, activity, frame, top)
        _label_axes(ax, activity, frame, tracks, shares, top)
        ax.set_xlabel(f"simulated time ({unit})")
        meta = activity.meta
        fig.suptitle(
            f"{meta.get('scenario', '')}: {meta.get('scheduler', '')}, {meta.get('mode', '')}"
            f" mode\n{frame.x(window.start_ps):.6g}-{frame.x(window.end_ps):.6g} {unit},"
            f" {window.caption}",
            x=0.02,
            y=0.995,
            ha="left",
            va="top",
            fontsize=FONT_PT,
        )
        handles = [
            Patch(facecolor=c, edgecolor="black", linewidth=0.3, label=m)
            for m, c in zip(models, frame.colours, strict=True)
        ]
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="0.3",
                hatch="//////",
                linewidth=0.3,
                label="DRAM stall",
            )
        )
        fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.0),
            ncols=min(len(handles), 4),
            frameon=False,
            handlelength=1.2,
            columnspacing=1.0,
        )
        fig.savefig(path, format=fmt, dpi=PNG_DPI if fmt == "png" else "figure")
    return Drawing(window, bars)


def _empty(
    run: Results | Activity, path: str | os.PathLike[str], fmt: str, width: float
) -> Drawing:
    """A figure saying the run kept no records (the rows are the run's resources)."""
    from matplotlib import rc_context

    with rc_context(STYLE):
        fig = Figure(figsize=(width, 1.5), layout="constrained")
        ax = fig.add_subplot()
        ax.text(
            0.5,
            0.5,
            "no activity records (simulate with activity=True)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        fig.savefig(path, format=fmt, dpi=PNG_DPI if fmt == "png" else "figure")
    return Drawing(Window(0, 1, "no records"), {})
