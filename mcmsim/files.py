"""Output files that are never half-written.

Every file mcmsim writes goes through a temporary file in the same folder and is then
renamed into place, so an error or an interrupt leaves either the old file or the new
one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["folder_problem", "write_atomically", "write_text"]


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be, or be created as, a folder to write into; None if it can.

    Checked before a long run, so that a bad ``--out`` fails at once, not after it.
    """
    try:
        probe = path
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            what = "is a file" if probe == path else f"cannot be created: {probe} is a file"
            return f"{what}, not a folder"
        if not os.access(probe, os.W_OK | os.X_OK):
            return f"{probe} is not writable"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    # mkstemp creates 0600; give the file the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
