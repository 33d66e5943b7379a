"""Hints for a misspelt name: the valid names at that place and the closest one.

Every "unknown X" message (a scenario key, a scheduler, a scheduler parameter) ends
with the same hint, so a user never needs the source to find the right spelling.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "valid_names_hint"]


def closest(word: str, valid: Iterable[str]) -> str | None:
    """The valid name most similar to ``word`` (difflib ratio >= 0.6), else the one
    valid name that starts with ``word`` (``rate`` for ``rate_per_s``), or None."""
    names = list(valid)
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    extended = [name for name in names if word and name.startswith(word)]
    return extended[0] if len(extended) == 1 else None


def valid_names_hint(word: str, valid: Iterable[str], what: str = "valid") -> str:
    """``"valid: a, b, c (did you mean 'b'?)"``; without a close match, only the list."""
    names = sorted(valid)
    if not names:
        return f"{what}: none"
    hint = f"{what}: {', '.join(names)}"
    guess = closest(word, names)
    return f"{hint} (did you mean {guess!r}?)" if guess else hint
