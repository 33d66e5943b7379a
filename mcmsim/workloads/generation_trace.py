"""Generation traces: when each request arrived and how long its prompt and answer are.

Two conventions users already have are read, told apart by their header (columns are
found by name, so extra columns such as Vidur's ``request_id`` are ignored):

* ``arrived_at,num_prefill_tokens,num_decode_tokens``: seconds, as in Vidur's and
  Splitwise's processed traces;
* ``TIMESTAMP,ContextTokens,GeneratedTokens``: wall-clock timestamps, as in the public
  Azure LLM inference traces; times are taken relative to the first row.

Rows must be in time order; token counts are integers >= 1. The arrivals are replayed by
the ``generation_trace`` stream kind (:mod:`mcmsim.workloads.streams`); the lengths feed
the generation workload (:mod:`mcmsim.workloads.generation`).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from mcmsim.units import PS_PER_S

__all__ = ["GenerationTrace", "TraceError", "read_generation_trace"]


class TraceError(ValueError):
    """A generation trace that cannot be used; the message starts with ``file:line``."""


@dataclass(frozen=True)
class GenerationTrace:
    """Requests of a trace: arrival (ps from the first row), prompt and output tokens."""

    arrivals_ps: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.arrivals_ps)


# Header names (lower case) of the two conventions: (time, prompt, output, time kind).
_CONVENTIONS = {
    ("arrived_at", "num_prefill_tokens", "num_decode_tokens"): "seconds",
    ("timestamp", "contexttokens", "generatedtokens"): "timestamp",
}
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.(\d{1,12}))?$")


def _timestamp_ps(text: str) -> int:
    """Picoseconds since the epoch of ``YYYY-MM-DD HH:MM:SS[.fraction]`` (no time zone)."""
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError
    whole = datetime.fromisoformat(match.group(1).replace("T", " "))
    epoch_s = int((whole - datetime(1970, 1, 1)).total_seconds())
    fraction = (match.group(2) or "").ljust(12, "0")
    return epoch_s * PS_PER_S + int(fraction)


def _tokens(text: str, where: str, column: str, minimum: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise TraceError(f"{where}: {column} {text.strip()!r} is not an integer") from None
    if value < minimum:
        raise TraceError(f"{where}: {column} must be >= {minimum}, got {value}")
    return value


def read_generation_trace(path: str | Path) -> GenerationTrace:
    """Read a generation trace in either convention (see the module docstring).

    Columns are found by header name, so extra columns (Vidur's ``request_id``) are
    ignored. Output tokens must be >= 1 and prompt tokens >= 1.

    Raises
    ------
    TraceError
        For a missing file, an unknown header, a missing column, a non-integer token
        count, a negative or unparsable time, or a time earlier than the previous row;
        the message starts with ``file:line``.
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError:
        raise TraceError(f"{path}: trace file not found") from None
    times: list[int] = []
    prompts: list[int] = []
    outputs: list[int] = []
    with handle:
        rows = (
            (number, row)
            for number, row in enumerate(csv.reader(handle), start=1)
            if row and not row[0].lstrip().startswith("#")
        )
        header_line, header = next(rows, (1, []))
        names = [h.strip().lower() for h in header]
        found = [(c, k) for c, k in _CONVENTIONS.items() if all(n in names for n in c)]
        if not found:
            expected = " or ".join(",".join(c) for c in _CONVENTIONS)
            raise TraceError(f"{path}:{header_line}: header must name the columns {expected}")
        columns, kind = found[0]
        index = [names.index(c) for c in columns]
        labels = [header[i].strip() for i in index]
        for number, row in rows:
            where = f"{path}:{number}"
            if len(row) <= max(index):
                raise TraceError(
                    f"{where}: expected {len(header)} columns ({','.join(labels)}), got {len(row)}"
                )
            raw_time = row[index[0]].strip()
            try:
                if kind == "seconds":
                    seconds = float(raw_time)
                    if not math.isfinite(seconds):
                        raise ValueError
                    time_ps = round(seconds * PS_PER_S)
                else:
                    time_ps = _timestamp_ps(raw_time)
            except ValueError:
                expected_form = "seconds" if kind == "seconds" else "YYYY-MM-DD HH:MM:SS.fff"
                raise TraceError(
                    f"{where}: {labels[0]} {raw_time!r} is not a time in {expected_form}"
                ) from None
            if kind == "seconds" and time_ps < 0:
                raise TraceError(f"{where}: {labels[0]} must be >= 0, got {raw_time}")
            if times and time_ps < times[-1]:
                raise TraceError(f"{where}: {labels[0]} {raw_time} is earlier than the row before")
            times.append(time_ps)
            prompts.append(_tokens(row[index[1]], where, labels[1], 1))
            outputs.append(_tokens(row[index[2]], where, labels[2], 1))
    # Wall-clock picoseconds overflow int64: subtract the first row as Python ints.
    first = times[0] if times and kind == "timestamp" else 0
    arrivals = np.asarray([t - first for t in times], np.int64)
    return GenerationTrace(arrivals, np.asarray(prompts, np.int64), np.asarray(outputs, np.int64))
