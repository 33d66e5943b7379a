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
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcmsim.inputs import InputFileError, clipped, read_input_text

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
    """An ordered list of windows, plus the name of the scheduler that made it.

    ``source`` is the file a schedule was loaded from (None if made in memory); it
    starts the messages of :meth:`validate` and is not part of equality.
    """

    scheduler: str
    windows: tuple[Window, ...]
    source: str | None = field(default=None, compare=False, repr=False)

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
    def from_dict(cls, data: Any, source: str | None = None) -> Schedule:
        """Build a schedule from :meth:`to_dict` output.

        ``source`` (the file's name) starts every error message and is kept for the
        messages of :meth:`validate`.

        Raises
        ------
        ScheduleError
            If keys are missing, unknown or have the wrong type; the message gives the
            JSON path, e.g. ``windows[0].segments[3].chiplet``.
        """
        try:
            parsed = _ScheduleFile.model_validate(data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise ScheduleError(
                _located(source, _json_path(error["loc"]), _explain(error))
            ) from None
        windows = tuple(
            Window(tuple(Segment(s.model, s.start, s.stop, s.chiplet) for s in w.segments))
            for w in parsed.windows
        )
        return cls(parsed.scheduler, windows, source)

    @classmethod
    def load(cls, path: str | Path) -> Schedule:
        """Read a schedule saved with :meth:`to_json`.

        Raises
        ------
        ScheduleError
            If the file cannot be read (see :func:`mcmsim.inputs.read_input_text`: a
            directory, a FIFO, too large, not UTF-8), is not JSON, is nested too deep,
            or is malformed; the message names the file, and the JSON path or line of
            the problem.
        """
        path = Path(path)
        try:
            data = json.loads(read_input_text(path, "schedule"))
        except InputFileError as exc:
            raise ScheduleError(str(exc)) from None
        except json.JSONDecodeError as exc:
            raise ScheduleError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise ScheduleError(
                f"{path}: arrays or objects nested too deep for a schedule"
            ) from None
        return cls.from_dict(data, str(path))

    def validate(self, layer_counts: dict[str, int], n_chiplets: int, stream_mode: bool) -> None:
        """Check the schedule against the models' layer counts and the package size.

        Every layer of every model is mapped exactly once, in order (so every
        dependency of the fixed topological order is respected), on chiplets that exist.

        Raises
        ------
        ScheduleError
            At the first violation; the message starts with the file (for a loaded
            schedule) and the JSON path of the offending value, e.g.
            ``schedule.json: windows[0].segments[3].chiplet: ...``.
        """

        def fail(path: str, message: str) -> ScheduleError:
            return ScheduleError(_located(self.source, path, message))

        if not self.windows:
            raise fail("windows", "the schedule has no windows")
        if stream_mode and len(self.windows) > 1:
            raise fail(
                "windows",
                f"{len(self.windows)} time windows given; stream mode takes one (use batch mode)",
            )
        known = set(layer_counts)
        placed: dict[str, list[tuple[str, Segment]]] = {model: [] for model in layer_counts}
        for w, window in enumerate(self.windows):
            for i, segment in enumerate(window.segments):
                at = f"windows[{w}].segments[{i}]"
                span = f"[{segment.start}, {segment.stop})"
                if segment.model not in known:
                    raise fail(
                        f"{at}.model",
                        f"unknown model {segment.model!r}; models: {', '.join(sorted(known))}",
                    )
                if not 0 <= segment.chiplet < n_chiplets:
                    raise fail(
                        f"{at}.chiplet",
                        f"{segment.model} layers {span} on chiplet {segment.chiplet}, "
                        f"but the package has chiplets 0-{n_chiplets - 1}",
                    )
                if segment.stop <= segment.start:
                    raise fail(f"{at}.stop", f"{segment.model} segment {span} is empty")
                placed[segment.model].append((at, segment))
        for model, count in layer_counts.items():
            expected = 0
            for at, segment in placed[model]:
                if segment.start != expected:
                    what = "overlaps" if segment.start < expected else "leaves a gap before"
                    span = f"[{segment.start}, {segment.stop})"
                    raise fail(
                        f"{at}.start",
                        f"{model} segment {span} {what} layer {expected}; "
                        "every layer must be mapped exactly once, in topological order",
                    )
                expected = segment.stop
            if expected < count:
                where = f"{placed[model][-1][0]}.stop" if placed[model] else "windows"
                raise fail(
                    where, f"{model}: layers {expected}-{count - 1} of {count} are not mapped"
                )
            if expected > count:
                raise fail(
                    f"{placed[model][-1][0]}.stop",
                    f"{model}: segments reach layer {expected - 1}, model has {count} layers",
                )


# --- the file format ---------------------------------------------------------------------


# Indices end up in numpy int64 arrays; a larger one is a typo, not a layer.
_INDEX_MAX = 2**63 - 1


class _SegmentFile(BaseModel):
    """One segment as saved; strict, so ``true`` or ``1.7`` is not taken for an index."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1)
    start: int = Field(ge=0, le=_INDEX_MAX)
    stop: int = Field(ge=0, le=_INDEX_MAX)
    chiplet: int = Field(ge=0, le=_INDEX_MAX)


class _WindowFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    segments: list[_SegmentFile]


class _ScheduleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    scheduler: str = "file"
    windows: list[_WindowFile]


def _json_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a JSON path: ``windows[0].segments[3].chiplet``; the
    document itself is ``(root)``."""
    if not loc:
        return "(root)"
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():
            path += f".{part}" if path else part
        else:  # a key with spaces, newlines or quotes: spelled as JSON, and kept short
            path += f"[{_shown(part)}]"
    return path


_EXPECTED = {
    "int_type": "an integer",
    "string_type": "a string",
    "list_type": "an array",
    "model_type": "an object",
    "dict_type": "an object",
}


def _explain(error: Any) -> str:
    """One pydantic error in the words of a JSON file."""
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return "missing key"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_shown(value)}"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"expected an integer 0..{_INDEX_MAX}, got {_shown(value)}"
    if kind == "string_too_short":
        return "expected a non-empty string"
    return str(error["msg"])


def _shown(value: Any) -> str:
    """A JSON value as the file spells it; containers by kind (they may be huge or deep)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return clipped(json.dumps(value))


def _located(source: str | None, path: str, message: str) -> str:
    """``file: json.path: message``, without the file for a schedule made in memory."""
    where = ": ".join(part for part in (source, path) if part)
    return f"{where}: {message}" if where else message
