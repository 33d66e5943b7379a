"""One sweep at a time per output folder: an advisory lock on ``OUT/sweep.lock``.

Two sweeps writing into one folder would both run every point neither had stored yet,
and race to insert the same rows. A running sweep therefore holds an exclusive
``flock`` on the folder's lock file, with its pid written inside; a second sweep on the
same folder fails at once, naming that pid, and computes nothing. The kernel drops the
lock when the holder dies, however it dies (even ``kill -9``), so a crash never leaves a
stale lock to clean up by hand. The file itself stays: removing it could let a third
sweep lock a new file while the second still holds the old one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcmsim.scenario import Diagnostic
from mcmsim.sweep.spec import SweepError

__all__ = ["LOCK_NAME", "folder_lock"]

LOCK_NAME = "sweep.lock"


def _error(out: Path, message: str) -> SweepError:
    return SweepError([Diagnostic(str(out), None, "", message)])


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold the sweep lock of the existing folder ``out`` for the ``with`` block.

    Raises
    ------
    SweepError
        If another process holds it (the message names its pid), or the lock file
        cannot be opened (an unwritable folder).
    """
    path = out / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _error(out, f"cannot write the lock file {LOCK_NAME}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise _error(
                out,
                f"another sweep is writing to this folder (pid {holder}); wait for it to "
                "finish, or choose another --out",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            # Forked workers share the descriptor: unlock explicitly, not only by closing.
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
