"""Why an input file cannot be read, said in words before it is opened.

Opening a FIFO blocks for ever and opening a directory or an over-long path raises an
``OSError`` whose message names no file; readers of schedules, traces and ONNX files ask
:func:`unreadable_reason` first and turn its answer into their own one-line error.
"""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = ["undecodable_reason", "unreadable_reason"]


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` is not a regular file mcmsim can read, or None when it is one."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:  # a name too long, a permission, a loop of links
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    except ValueError as exc:  # a NUL byte in the path
        return f"cannot be read ({exc})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device)"
    return None


def undecodable_reason(exc: UnicodeDecodeError) -> str:
    """``exc`` in words: which byte at which offset is not UTF-8."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return f"is not UTF-8 text (byte 0x{byte} at offset {exc.start}); save it as UTF-8"
