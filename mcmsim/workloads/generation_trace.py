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

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from mcmsim.units import PS_PER_S
from mcmsim.workloads.csv_records import MAX_TRACE_TIME_PS, TraceError, csv_records, shown_field

__all__ = ["MAX_TOKENS", "GenerationTrace", "TraceError", "read_generation_trace"]

#: The longest prompt or answer a trace row may give: ten million tokens, five times
#: the longest context window of 2024's models (2 M); more is a typo or garbage.
MAX_TOKENS = 10_000_000


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


def _tokens(text: str, where: str, column: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise TraceError(f"{where}: {column} {shown_field(text)} is not an integer") from None
    if value < 1:
        raise TraceError(f"{where}: {column} must be >= 1, got {value}")
    if value > MAX_TOKENS:
        raise TraceError(f"{where}: {column} must be <= {MAX_TOKENS:,}, got {value}")
    return value


def read_generation_trace(path: str | Path) -> GenerationTrace:
    """Read a generation trace in either convention (see the module docstring).

    Columns are found by header name, so extra columns (Vidur's ``request_id``) are
    ignored. Prompt and output tokens must be from 1 to :data:`MAX_TOKENS`; times at
    most ``MAX_TRACE_TIME_PS`` after the first row.

    Raises
    ------
    TraceError
        For a missing or unreadable file, a broken CSV record (see
        :func:`~mcmsim.workloads.csv_records.csv_records`), an unknown header, a missing
        column, a token count that is not an integer in range, a negative, unparsable or
        too late time, or a time earlier than the previous row; the message starts with
        ``file:line``.
    """
    path = Path(path)
    times: list[int] = []
    prompts: list[int] = []
    outputs: list[int] = []
    rows = (
        (number, row)
        for number, row in csv_records(path)
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
        raw_time = row[index[0]]
        try:
            if kind == "seconds":
                seconds = float(raw_time)
                if not math.isfinite(seconds):
                    raise ValueError
                # 1e300 s is finite but its picoseconds are not; the range check follows.
                time_ps = round(min(seconds * PS_PER_S, 2.0 * MAX_TRACE_TIME_PS))
            else:
                time_ps = _timestamp_ps(raw_time.strip())
        except ValueError:
            expected_form = "seconds" if kind == "seconds" else "YYYY-MM-DD HH:MM:SS.fff"
            raise TraceError(
                f"{where}: {labels[0]} {shown_field(raw_time)} is not a time in {expected_form}"
            ) from None
        if kind == "seconds" and time_ps < 0:
            shown = shown_field(raw_time, quoted=False)
            raise TraceError(f"{where}: {labels[0]} must be >= 0, got {shown}")
        if times and time_ps < times[-1]:
            raise TraceError(
                f"{where}: {labels[0]} {shown_field(raw_time, quoted=False)} "
                "is earlier than the row before"
            )
        start_ps = 0 if kind == "seconds" else times[0] if times else time_ps
        if time_ps - start_ps > MAX_TRACE_TIME_PS:
            raise TraceError(
                f"{where}: {labels[0]} {shown_field(raw_time, quoted=False)} is more than "
                f"{MAX_TRACE_TIME_PS // PS_PER_S:,} s (about 11.6 days) after the trace starts"
            )
        times.append(time_ps)
        prompts.append(_tokens(row[index[1]], where, labels[1]))
        outputs.append(_tokens(row[index[2]], where, labels[2]))
    # Wall-clock picoseconds overflow int64: subtract the first row as Python ints.
    first = times[0] if times and kind == "timestamp" else 0
    arrivals = np.asarray([t - first for t in times], np.int64)
    return GenerationTrace(arrivals, np.asarray(prompts, np.int64), np.asarray(outputs, np.int64))
