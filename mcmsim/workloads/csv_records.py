"""CSV records of a trace file, each with the line it starts on, and errors ``file:line``.

Python's ``csv`` module hides three things a trace reader must say: a quote that is
never closed swallows every following row into one field (the rows silently vanish);
a field over the module's size limit raises a bare ``_csv.Error``; and its record
count is not the line number once a quoted field spans lines. :func:`csv_records`
reads in strict mode and reports each as a :class:`TraceError` naming the file and the
line the record starts on. No field of a trace (a time, a model name, a token count)
holds a line break, so a record that spans lines is an error too: it is the quote
opened on its first line that was not closed where the user meant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from mcmsim.inputs import (
    MAX_TRACE_BYTES,
    InputFileError,
    clipped,
    decode_utf8,
    read_input_bytes,
)
from mcmsim.ranges import SIMULATED_TIME_S
from mcmsim.units import PS_PER_S

__all__ = ["MAX_TRACE_TIME_PS", "TraceError", "csv_records", "shown_field"]

#: The latest arrival a trace may hold: the longest simulated time a scenario may
#: give (1e6 s, about 11.6 days, see :mod:`mcmsim.ranges`), in picoseconds.
MAX_TRACE_TIME_PS = round(SIMULATED_TIME_S[1] * PS_PER_S)


class TraceError(ValueError):
    """A trace file that cannot be used; the message starts with ``file:line``."""


def csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` for every record of the CSV file ``path``, blank lines included.

    Raises
    ------
    TraceError
        If the file cannot be read (see :func:`mcmsim.inputs.read_input_text`: missing,
        not a regular file, over ``MAX_TRACE_BYTES``, not UTF-8), a quote is not
        closed, a record spans lines, a field is over ``csv.field_size_limit()``
        characters, or a quote is misplaced; the message gives the file and the line.
    """
    try:
        data = read_input_bytes(path, "trace", MAX_TRACE_BYTES)
        decode_utf8(data, path)  # the whole file checked first, for a bad byte's line
    except InputFileError as exc:
        raise TraceError(str(exc)) from None
    # Decoded again line by line as read: a StringIO of the text would hold a copy at up
    # to four bytes per character (16 GiB for a trace at the 4 GiB limit).
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(lines, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TraceError(f"{path}:{start}: {_explain(exc)}") from None
        if reader.line_num > start:
            raise TraceError(
                f"{path}:{start}: a quoted field runs on to line {reader.line_num}; "
                "close the quote opened on this line"
            )
        yield start, row
        start = reader.line_num + 1


def _explain(exc: csv.Error) -> str:
    """A ``csv`` error in the words of the file's author."""
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quote opened on this line is never closed"
    if "field larger than field limit" in text:
        return (
            f"a field is longer than {csv.field_size_limit():,} characters; "
            "no time or model name is that long (is a quote not closed?)"
        )
    return f"not CSV ({text})"


def shown_field(text: str, quoted: bool = True) -> str:
    """A field for a message, cut short (a bad field may be a megabyte long)."""
    short = clipped(text.strip())
    return repr(short) if quoted else short
