"""Reading the user's input files safely: one place that says why a file cannot be read.

Every reader of a user file (scenario and sweep TOML, schedule JSON, trace CSVs, ONNX
models) comes through here, so each way a path can be unusable is a one-line
:class:`InputFileError` naming the file, never a traceback and never a hang:

- a missing file, a parent that is not a folder, a path too long for the system,
  a permission problem;
- a directory, a FIFO (named pipe), a device or a socket: the type is checked with
  ``os.stat`` before the file is opened, and it is opened non-blocking and checked
  again, so a FIFO cannot block the reader even if the path is swapped in between;
- a file larger than the reader's limit (a scenario is kilobytes; gigabytes mean the
  wrong file);
- bytes that are not UTF-8 (the message gives the line, column and byte offset).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from dataclasses import dataclass

__all__ = [
    "MAX_MODEL_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_TRACE_BYTES",
    "Diagnostic",
    "InputFileError",
    "check_input_file",
    "clipped",
    "decode_utf8",
    "display_path",
    "printable",
    "read_input_bytes",
    "read_input_text",
]

MAX_TEXT_BYTES = 64 << 20
"""Largest scenario, sweep or schedule file read (64 MiB)."""
MAX_TRACE_BYTES = 4 << 30
"""Largest trace CSV read (4 GiB)."""
MAX_MODEL_BYTES = 2 << 30
"""Largest ONNX file read (2 GiB, protobuf's own limit)."""

# Real paths (a deep project folder, a long temporary folder) are shown whole; only an
# absurd one (a 5,000-character name) is cut, so a message stays one readable line.
_SHOWN_PATH_CHARS = 240


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped as in ``repr``,
    so that a message stays on one line (a newline inside a key becomes ``\\n``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as shown in a message: printable, and shortened when over-long."""
    text = printable(os.fspath(path))
    if len(text) <= _SHOWN_PATH_CHARS:
        return text
    half = _SHOWN_PATH_CHARS // 2
    return f"{text[:half]}...{text[-half:]} ({len(text)} characters)"


def clipped(text: str, max_chars: int = 40) -> str:
    """``text`` cut to ``max_chars`` with ``...`` when longer (a bad value may be huge)."""
    return text if len(text) <= max_chars else f"{text[: max_chars - 3]}..."


@dataclass(frozen=True)
class Diagnostic:
    """One problem of a user file: where it is and what was expected.

    ``str()`` is ``file[:line]: [path: ]message`` on one line.
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        # Escaped so that one problem is one line, whatever a key or value holds.
        file, path, message = printable(self.file), printable(self.path), printable(self.message)
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {path}: {message}" if path else f"{where}: {message}"


class InputFileError(ValueError):
    """A user file that cannot be read; ``str()`` is one line, ``file[:line]: reason``.

    ``file`` is the path as shown (see :func:`display_path`), ``line`` the 1-based line
    of the problem when it has one, ``reason`` what is wrong; ``diagnostic`` is all
    three as a :class:`Diagnostic`.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, line: int | None = None):
        self.file = display_path(path)
        self.line = line
        self.reason = reason
        self.diagnostic = Diagnostic(self.file, line, "", reason)
        super().__init__(str(self.diagnostic))


def _special_kind(mode: int) -> str | None:
    """What a non-regular file is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno == errno.ENAMETOOLONG:
        return "path too long for this system"
    if exc.errno == errno.ENOTDIR:
        return "file not found (a folder in its path is a file)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return f"cannot read file: {exc.strerror or exc}"


def _a(what: str) -> str:
    """``what`` with its indefinite article ("a trace", "an ONNX")."""
    return f"{'an' if what[:1] in 'aeiouAEIOU' else 'a'} {what}"


def _checked_mode(path: str, what: str, limit_bytes: int, st: os.stat_result) -> None:
    kind = _special_kind(st.st_mode)
    if kind is not None:
        raise InputFileError(path, f"is {kind}, not {_a(what)} file")
    if st.st_size > limit_bytes:
        raise InputFileError(
            path,
            f"file is {st.st_size / (1 << 20):.0f} MiB; {_a(what)} file is at most "
            f"{limit_bytes >> 20} MiB",
        )


def check_input_file(
    path: str | os.PathLike[str], what: str, limit_bytes: int = MAX_TEXT_BYTES
) -> os.stat_result:
    """Check that ``path`` names a readable regular file of at most ``limit_bytes``,
    without opening it (for readers that open the file themselves).

    ``what`` names the kind of file in messages ("scenario", "trace", "ONNX", ...).

    Raises
    ------
    InputFileError
        For a missing or unreachable path, a special file or a file over the limit.
    """
    text = os.fspath(path)
    if "\0" in text:
        raise InputFileError(path, "path contains a NUL character")
    if not text:
        raise InputFileError("''", "empty path")
    try:
        st = os.stat(text)
    except OSError as exc:
        raise InputFileError(path, _os_reason(exc)) from None
    _checked_mode(text, what, limit_bytes, st)
    return st


def read_input_bytes(
    path: str | os.PathLike[str], what: str, limit_bytes: int = MAX_TEXT_BYTES
) -> bytes:
    """The bytes of the user's ``what`` file at ``path``, read without ever blocking.

    Raises
    ------
    InputFileError
        For a missing or unreadable path, a special file or a file over ``limit_bytes``.
    """
    check_input_file(path, what, limit_bytes)
    text = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(text, flags)
    except OSError as exc:
        raise InputFileError(path, _os_reason(exc)) from None
    try:
        # The path may have been replaced by a FIFO or device since the check.
        st = os.fstat(fd)
        _checked_mode(text, what, limit_bytes, st)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = _read_at_most(handle, limit_bytes + 1, st.st_size + 1)
    except OSError as exc:
        raise InputFileError(path, _os_reason(exc)) from None
    finally:
        os.close(fd)
    if len(data) > limit_bytes:
        raise InputFileError(path, f"{_a(what)} file is at most {limit_bytes >> 20} MiB")
    return data


def _read_at_most(handle: io.BufferedReader, limit_bytes: int, expected_bytes: int) -> bytes:
    """Up to ``limit_bytes`` from ``handle``, in pieces sized by the file, not the limit.

    ``read(n)`` allocates ``n`` bytes up front, so one read of the limit would ask for
    gigabytes to read a small file.
    """
    chunks = []
    total = 0
    piece = min(expected_bytes, limit_bytes)
    while total < limit_bytes:
        chunk = handle.read(min(piece, limit_bytes - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        piece = 1 << 16
    return b"".join(chunks)


def decode_utf8(data: bytes, path: str | os.PathLike[str]) -> str:
    """``data`` decoded as UTF-8 (a UTF-8 byte-order mark is dropped).

    Raises
    ------
    InputFileError
        For bytes that are not UTF-8, naming the line, column and byte offset.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(path, "is UTF-16 text; save it as UTF-8", line=1)
    bom = len(b"\xef\xbb\xbf") if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = data.count(b"\n", 0, offset) + 1
        column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        reason = (
            f"not UTF-8 text: byte 0x{data[offset]:02x} at column {column} "
            f"(byte offset {offset}); save the file as UTF-8"
        )
        raise InputFileError(path, reason, line=line) from None


def read_input_text(
    path: str | os.PathLike[str], what: str, limit_bytes: int = MAX_TEXT_BYTES
) -> str:
    """The UTF-8 text of the user's ``what`` file at ``path``, read without blocking.

    Raises
    ------
    InputFileError
        As :func:`read_input_bytes`, and for bytes that are not UTF-8.
    """
    return decode_utf8(read_input_bytes(path, what, limit_bytes), path)
