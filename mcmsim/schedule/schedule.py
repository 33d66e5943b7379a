"""The Schedule: which contiguous run of each model's layers runs on which chiplet.

A schedule is plain data, the only thing a scheduler hands the simulator. For every
model it lists segments: ``[start, stop)`` ranges of the model's fixed topological order,
each placed on one chiplet. Segments of one request run in order; activations that
leave a segment travel over the NoP to the chiplets of the segments that consume them.

Optional time windows (SCAR's chiplet regrouping) make a schedule an ordered list of
such mappings. Window ``w`` holds the next contiguous part of each model; in batch mode
the package moves to window ``w + 1`` when every request has finished window ``w``.
A stream-mode schedule has exactly one window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Schedule", "ScheduleError", "Segment", "Window"]


class ScheduleError(ValueError):
    """A schedule that does not fit its scenario; the message names the first violation."""


@dataclass(frozen=True, slots=True, order=True)
class Segment:
    """Layers ``[start, stop)`` of workload ``model`` on chiplet ``chiplet``."""

    model: str
    start: int
    stop: int
    chiplet: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "start": self.start,
            "stop": self.stop,
            "chiplet": self.chiplet,
        }


@dataclass(frozen=True, slots=True)
class Window:
    """One mapping of the package: every model's segments active in this window."""

    segments: tuple[Segment, ...]

    def of(self, model: str) -> tuple[Segment, ...]:
        """Segments of ``model`` in execution order."""
        return tuple(s for s in self.segments if s.model == model)


@dataclass(frozen=True)
class Schedule:
    """An ordered list of windows, plus the name of the scheduler that made it."""

    scheduler: str
    windows: tuple[Window, ...]

    @classmethod
    def single(cls, scheduler: str, segments: list[Segment] | tuple[Segment, ...]) -> Schedule:
        """A schedule with one window."""
        return cls(scheduler, (Window(tuple(segments)),))

    def segments(self, model: str) -> list[Segment]:
        """All of ``model``'s segments across windows, in execution order."""
        return [s for w in self.windows for s in w.of(model)]

    def chiplets_used(self) -> set[int]:
        return {s.chiplet for w in self.windows for s in w.segments}

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduler": self.scheduler,
            "windows": [{"segments": [s.to_dict() for s in w.segments]} for w in self.windows],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        """Build a schedule from :meth:`to_dict` output.

        Raises
        ------
        ScheduleError
            If keys are missing or have the wrong type.
        """
        try:
            windows = tuple(
                Window(
                    tuple(
                        Segment(str(s["model"]), int(s["start"]), int(s["stop"]), int(s["chiplet"]))
                        for s in w["segments"]
                    )
                )
                for w in data["windows"]
            )
            return cls(str(data.get("scheduler", "file")), windows)
        except (KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(f"malformed schedule: {exc!r}") from None

    @classmethod
    def load(cls, path: str | Path) -> Schedule:
        """Read a schedule saved with :meth:`to_json`.

        Raises
        ------
        ScheduleError
            If the file is missing, not JSON, or malformed.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ScheduleError(f"{path}: file not found") from None
        except json.JSONDecodeError as exc:
            raise ScheduleError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)

    def validate(self, layer_counts: dict[str, int], n_chiplets: int, stream_mode: bool) -> None:
        """Check the schedule against the models' layer counts and the package size.

        Every layer of every model is mapped exactly once, in order (so every
        dependency of the fixed topological order is respected), on chiplets that exist.

        Raises
        ------
        ScheduleError
            At the first violation, naming the model, window and segment.
        """
        if not self.windows:
            raise ScheduleError("schedule has no windows")
        if stream_mode and len(self.windows) > 1:
            raise ScheduleError(
                f"{len(self.windows)} time windows given; stream mode takes one (use batch mode)"
            )
        known = set(layer_counts)
        for w, window in enumerate(self.windows):
            for segment in window.segments:
                span = f"[{segment.start}, {segment.stop})"
                if segment.model not in known:
                    raise ScheduleError(
                        f"window {w}: segment for unknown model {segment.model!r}; "
                        f"models: {', '.join(sorted(known))}"
                    )
                if not 0 <= segment.chiplet < n_chiplets:
                    raise ScheduleError(
                        f"window {w}: {segment.model} layers {span} on chiplet {segment.chiplet}, "
                        f"but the package has chiplets 0-{n_chiplets - 1}"
                    )
                if segment.stop <= segment.start:
                    raise ScheduleError(f"window {w}: {segment.model} segment {span} is empty")
        for model, count in layer_counts.items():
            expected = 0
            for segment in self.segments(model):
                if segment.start != expected:
                    what = "overlaps" if segment.start < expected else "leaves a gap before"
                    span = f"[{segment.start}, {segment.stop})"
                    raise ScheduleError(
                        f"{model}: segment {span} {what} layer {expected}; "
                        "every layer must be mapped exactly once, in topological order"
                    )
                expected = segment.stop
            if expected != count:
                raise ScheduleError(
                    f"{model}: layers {expected}-{count - 1} of {count} are not mapped"
                    if expected < count
                    else f"{model}: segments reach layer {expected - 1}, model has {count} layers"
                )
