"""Neighbourhood moves: small changes to a schedule that keep it valid.

A move takes a schedule and a random generator and returns a new schedule (or ``None``
when it does not apply, e.g. merging a model that has one segment). Every move keeps
each model's layers mapped exactly once and in order, so the result always validates.

* ``shift``: move a cut point between two consecutive segments of a model by one layer
  or by up to half a segment;
* ``split``: cut a segment in two (anywhere, at equal compute time, or peeling a few
  layers off one end) and put one part on another chiplet — a neighbour with
  probability :data:`NEIGHBOUR_BIAS` (the model gets one more chiplet when it is new);
* ``merge``: join two consecutive segments of a model onto one of their chiplets;
* ``move``: put a segment on another chiplet, preferring neighbours of its own and of
  the chiplets of the segments next to it (shorter activation routes);
* ``swap``: exchange the chiplets of two segments;
* ``rechip``: give a model one chiplet more or fewer in a window and re-cut it so each
  chiplet gets an equal share of its compute time (on that chiplet's type);
* ``priority``: move a segment ahead of other models' segments in its window, so its
  weights claim SRAM first (residency fills in schedule order);
* batch mode only — ``window-shift``: move a model's boundary segment into the
  neighbouring window; ``window-swap``: exchange two adjacent windows when no model
  spans both; ``window-split`` / ``window-merge``: regroup the package (new time windows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment, Window

__all__ = ["MOVES", "Neighbourhood", "canonical"]

NEIGHBOUR_BIAS = 0.7

Windows = list[list[Segment]]


def canonical(schedule: Schedule) -> tuple[tuple[tuple[str, int, int, int], ...], ...]:
    """A hashable identity of a schedule's mapping (its scheduler name left out)."""
    return tuple(
        tuple((s.model, s.start, s.stop, s.chiplet) for s in w.segments) for w in schedule.windows
    )


@dataclass
class Neighbourhood:
    """Draws random neighbours of schedules of one problem.

    Parameters
    ----------
    problem : SchedulingProblem
        Gives the package (chiplets, neighbours), models and cost tables.
    rng : numpy.random.Generator
        The only source of randomness, so a seed fixes the sequence of proposals.
    """

    problem: SchedulingProblem
    rng: np.random.Generator

    def __post_init__(self) -> None:
        package = self.problem.package
        self.n_chiplets = len(package.chiplets)
        self.neighbours = [package.neighbours(c) for c in range(self.n_chiplets)]
        self.models = [w.name for w in self.problem.workloads]
        self.batch = self.problem.mode == "batch"
        # Cumulative resident latency per model and chiplet type, to cut by compute time.
        self.cum: dict[tuple[str, str], np.ndarray] = {}
        for w in self.problem.workloads:
            for t in package.chiplet_types:
                lat = self.problem.costs(w, t).latency_ps.astype(np.float64)
                self.cum[(w.name, t)] = np.concatenate([[0.0], np.cumsum(lat)])
        self.types = [ch.type.name for ch in package.chiplets]
        names = [name for name, _ in MOVES if self.batch or not name.startswith("window")]
        weights = np.array([w for name, w in MOVES if name in names], np.float64)
        self.move_names = names
        self.move_p = weights / weights.sum()

    # --- helpers -------------------------------------------------------------------------

    def _other_chiplet(self, near: list[int], avoid: int) -> int:
        """A chiplet other than ``avoid``: a neighbour of ``near`` if possible, else any."""
        if self.n_chiplets < 2:
            return avoid
        if self.rng.random() < NEIGHBOUR_BIAS:
            pool = sorted({n for c in near for n in self.neighbours[c]} - {avoid})
            if pool:
                return int(pool[self.rng.integers(len(pool))])
        choice = int(self.rng.integers(self.n_chiplets - 1))
        return choice if choice < avoid else choice + 1

    def _model_positions(self, windows: Windows, model: str) -> list[tuple[int, int]]:
        """(window, index in window) of ``model``'s segments in execution order."""
        return [
            (w, i) for w, segs in enumerate(windows) for i, s in enumerate(segs) if s.model == model
        ]

    def _pick_model(self, windows: Windows, min_segments: int = 1) -> str | None:
        names = [m for m in self.models if len(self._model_positions(windows, m)) >= min_segments]
        return names[self.rng.integers(len(names))] if names else None

    # --- moves ---------------------------------------------------------------------------

    def shift(self, windows: Windows) -> Windows | None:
        model = self._pick_model(windows, 2)
        if model is None:
            return None
        pos = self._model_positions(windows, model)
        k = int(self.rng.integers(len(pos) - 1))
        (wa, ia), (wb, ib) = pos[k], pos[k + 1]
        a, b = windows[wa][ia], windows[wb][ib]
        if self.rng.random() < 0.5:
            delta = 1
        else:
            span = max((a.stop - a.start) // 2, (b.stop - b.start) // 2, 1)
            delta = int(self.rng.integers(1, span + 1))
        cut = a.stop + (delta if self.rng.random() < 0.5 else -delta)
        if not a.start < cut < b.stop:
            return None
        windows[wa][ia] = Segment(model, a.start, cut, a.chiplet)
        windows[wb][ib] = Segment(model, cut, b.stop, b.chiplet)
        return windows

    def split(self, windows: Windows) -> Windows | None:
        candidates = [
            (w, i)
            for w, segs in enumerate(windows)
            for i, s in enumerate(segs)
            if s.stop - s.start >= 2
        ]
        if not candidates or self.n_chiplets < 2:
            return None
        w, i = candidates[self.rng.integers(len(candidates))]
        seg = windows[w][i]
        target = self._other_chiplet([seg.chiplet], seg.chiplet)
        head_moves = self.rng.random() < 0.5  # which side goes to the new chiplet
        kind = self.rng.random()
        length = seg.stop - seg.start
        if kind < 1 / 3:
            cut = int(self.rng.integers(seg.start + 1, seg.stop))
        elif kind < 2 / 3:
            order = [target, seg.chiplet] if head_moves else [seg.chiplet, target]
            cut = self._balanced_cuts(seg.model, seg.start, seg.stop, order)[0]
        else:
            # Peel a few layers off one end: a slower chiplet type often suits only those.
            piece = min(int(self.rng.geometric(0.3)), length - 1)
            cut = seg.start + piece if head_moves else seg.stop - piece
        head, tail = (target, seg.chiplet) if head_moves else (seg.chiplet, target)
        windows[w][i : i + 1] = [
            Segment(seg.model, seg.start, cut, head),
            Segment(seg.model, cut, seg.stop, tail),
        ]
        return windows

    def merge(self, windows: Windows) -> Windows | None:
        pairs = [
            (w, i)
            for w, segs in enumerate(windows)
            for i in range(len(segs) - 1)
            if any(s.model == segs[i].model and s.start == segs[i].stop for s in segs[i + 1 :])
        ]
        if not pairs:
            return None
        w, i = pairs[self.rng.integers(len(pairs))]
        a = windows[w][i]
        j = next(j for j in range(i + 1, len(windows[w])) if windows[w][j].model == a.model)
        b = windows[w][j]
        chiplet = a.chiplet if self.rng.random() < 0.5 else b.chiplet
        del windows[w][j]
        windows[w][i] = Segment(a.model, a.start, b.stop, chiplet)
        return windows

    def move(self, windows: Windows) -> Windows | None:
        if self.n_chiplets < 2:
            return None
        flat = [(w, i) for w, segs in enumerate(windows) for i in range(len(segs))]
        w, i = flat[self.rng.integers(len(flat))]
        seg = windows[w][i]
        near = [seg.chiplet] + [
            s.chiplet
            for s in windows[w]
            if s.model == seg.model and (s.stop == seg.start or s.start == seg.stop)
        ]
        target = self._other_chiplet(near, seg.chiplet)
        windows[w][i] = Segment(seg.model, seg.start, seg.stop, target)
        return windows

    def swap(self, windows: Windows) -> Windows | None:
        w = int(self.rng.integers(len(windows)))
        segs = windows[w]
        pairs = [
            (i, j)
            for i in range(len(segs))
            for j in range(i + 1, len(segs))
            if segs[i].chiplet != segs[j].chiplet
        ]
        if not pairs:
            return None
        i, j = pairs[self.rng.integers(len(pairs))]
        a, b = segs[i], segs[j]
        segs[i] = Segment(a.model, a.start, a.stop, b.chiplet)
        segs[j] = Segment(b.model, b.start, b.stop, a.chiplet)
        return windows

    def rechip(self, windows: Windows) -> Windows | None:
        w = int(self.rng.integers(len(windows)))
        present = [m for m in self.models if any(s.model == m for s in windows[w])]
        model = present[self.rng.integers(len(present))]
        idx = [i for i, s in enumerate(windows[w]) if s.model == model]
        segs = [windows[w][i] for i in idx]
        start, stop = segs[0].start, segs[-1].stop
        chiplets = list(dict.fromkeys(s.chiplet for s in segs))
        if self.rng.random() < 0.5 and len(chiplets) > 1:
            chiplets.pop(int(self.rng.integers(len(chiplets))))
        else:
            used = {s.chiplet for s in windows[w]}
            near = {n for c in chiplets for n in self.neighbours[c]} - set(chiplets)
            pool = (
                sorted(near - used)
                or sorted(near)
                or sorted(set(range(self.n_chiplets)) - set(chiplets))
            )
            if not pool:
                return None
            extra = int(pool[self.rng.integers(len(pool))])
            # Place the new chiplet next to the one it neighbours, keeping a path.
            at = next(
                (k + 1 for k, c in enumerate(chiplets) if extra in self.neighbours[c]),
                len(chiplets),
            )
            chiplets.insert(at, extra)
        chiplets = chiplets[: stop - start]
        cuts = [start, *self._balanced_cuts(model, start, stop, chiplets), stop]
        new = [Segment(model, cuts[k], cuts[k + 1], c) for k, c in enumerate(chiplets)]
        first = idx[0]
        rest = [s for i, s in enumerate(windows[w]) if i not in set(idx)]
        insert_at = sum(1 for i in range(first) if i not in set(idx))
        windows[w] = rest[:insert_at] + new + rest[insert_at:]
        return windows

    def priority(self, windows: Windows) -> Windows | None:
        w = int(self.rng.integers(len(windows)))
        if len(windows[w]) < 2:
            return None
        i = int(self.rng.integers(1, len(windows[w])))
        seg = windows[w][i]
        # As early as possible without passing the model's own earlier segments.
        at = 1 + max((j for j in range(i) if windows[w][j].model == seg.model), default=-1)
        if at == i:
            return None
        windows[w].insert(at, windows[w].pop(i))
        return windows

    def window_shift(self, windows: Windows) -> Windows | None:
        if len(windows) < 2:
            return self.window_split(windows)
        w = int(self.rng.integers(len(windows) - 1))
        forward = self.rng.random() < 0.5
        models = [
            m for m in self.models if any(s.model == m for s in windows[w if forward else w + 1])
        ]
        if not models:
            return None
        model = models[self.rng.integers(len(models))]
        if forward:  # the model's last segment of window w opens window w + 1
            i = max(i for i, s in enumerate(windows[w]) if s.model == model)
            seg = windows[w].pop(i)
            windows[w + 1].insert(0, seg)
        else:  # its first segment of window w + 1 closes window w
            i = min(i for i, s in enumerate(windows[w + 1]) if s.model == model)
            seg = windows[w + 1].pop(i)
            windows[w].append(seg)
        return [segs for segs in windows if segs]

    def window_swap(self, windows: Windows) -> Windows | None:
        if len(windows) < 2:
            return None
        w = int(self.rng.integers(len(windows) - 1))
        if {s.model for s in windows[w]} & {s.model for s in windows[w + 1]}:
            return None
        windows[w], windows[w + 1] = windows[w + 1], windows[w]
        return windows

    def window_split(self, windows: Windows) -> Windows | None:
        w = int(self.rng.integers(len(windows)))
        later: list[Segment] = []
        keep: list[Segment] = []
        for model in self.models:
            segs = [s for s in windows[w] if s.model == model]
            k = int(self.rng.integers(len(segs) + 1)) if segs else 0
            keep += segs[:k]
            later += segs[k:]
        if not keep or not later:
            return None
        order = {s: i for i, s in enumerate(windows[w])}
        windows[w : w + 1] = [sorted(keep, key=order.get), sorted(later, key=order.get)]
        return windows

    def window_merge(self, windows: Windows) -> Windows | None:
        if len(windows) < 2:
            return None
        w = int(self.rng.integers(len(windows) - 1))
        windows[w : w + 2] = [windows[w] + windows[w + 1]]
        return windows

    def _balanced_cuts(self, model: str, start: int, stop: int, chiplets: list[int]) -> list[int]:
        """Cut points giving each chiplet about an equal share of compute time on its type."""
        k = len(chiplets)
        # Share of the range each chiplet can take in equal time: inversely proportional to
        # its time for the whole range.
        times = [
            self.cum[(model, self.types[c])][stop] - self.cum[(model, self.types[c])][start]
            for c in chiplets
        ]
        speed = [1.0 / t if t > 0 else 1.0 for t in times]
        cuts: list[int] = []
        prev = start
        done = 0.0
        for j in range(k - 1):
            done += speed[j] / sum(speed)
            cum = self.cum[(model, self.types[chiplets[j]])]
            target = cum[start] + done * times[j]
            cut = int(np.searchsorted(cum, target, side="left"))
            cut = min(max(cut, prev + 1), stop - (k - 1 - j))
            cuts.append(cut)
            prev = cut
        return cuts

    # --- entry point ---------------------------------------------------------------------

    def propose(self, schedule: Schedule) -> tuple[Schedule, str] | None:
        """One random neighbour of ``schedule`` and the move's name, or None if it failed."""
        name = self.move_names[int(self.rng.choice(len(self.move_names), p=self.move_p))]
        windows = [list(w.segments) for w in schedule.windows]
        result = _DISPATCH[name](self, windows)
        if result is None:
            return None
        return Schedule(schedule.scheduler, tuple(Window(tuple(s)) for s in result)), name


MOVES: tuple[tuple[str, float], ...] = (
    ("shift", 0.26),
    ("split", 0.11),
    ("merge", 0.11),
    ("move", 0.14),
    ("swap", 0.1),
    ("rechip", 0.1),
    ("priority", 0.04),
    ("window-shift", 0.07),
    ("window-swap", 0.03),
    ("window-split", 0.02),
    ("window-merge", 0.02),
)
_DISPATCH: dict[str, Callable[[Neighbourhood, Windows], Windows | None]] = {
    "shift": Neighbourhood.shift,
    "split": Neighbourhood.split,
    "merge": Neighbourhood.merge,
    "move": Neighbourhood.move,
    "swap": Neighbourhood.swap,
    "rechip": Neighbourhood.rechip,
    "priority": Neighbourhood.priority,
    "window-shift": Neighbourhood.window_shift,
    "window-swap": Neighbourhood.window_swap,
    "window-split": Neighbourhood.window_split,
    "window-merge": Neighbourhood.window_merge,
}
