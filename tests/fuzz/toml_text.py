"""A small TOML writer for fuzzed documents (``tomli_w`` is not a dependency).

It writes what the fuzzer builds, including what TOML's grammar allows but a scenario
must reject: ``inf``, ``nan``, integers beyond 64 bits (Python's ``tomllib`` reads
them), any unicode in keys and strings. :class:`RawToml` values are written verbatim,
for nesting deeper than this writer's recursion could follow.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["RawToml", "deep_array", "deep_inline_table", "dumps"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class RawToml:
    """A value written as this exact TOML text."""

    text: str


def deep_array(depth: int) -> RawToml:
    """``[[[...1...]]]`` nested ``depth`` deep."""
    return RawToml("[" * depth + "1" + "]" * depth)


def deep_inline_table(depth: int) -> RawToml:
    """``{ a = { a = ... 1 } }`` nested ``depth`` deep."""
    return RawToml("{ a = " * depth + "1" + " }" * depth)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, RawToml):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(node: dict[str, Any], path: list[str], out: list[str]) -> None:
    for key, value in node.items():
        if not isinstance(value, dict) and not _is_table_array(value):
            out.append(f"{_key(key)} = {_value(value)}")
    for key, value in node.items():
        sub = [*path, _key(key)]
        if isinstance(value, dict):
            out.append(f"\n[{'.'.join(sub)}]")
            _table(value, sub, out)
        elif _is_table_array(value):
            for item in value:
                out.append(f"\n[[{'.'.join(sub)}]]")
                _table(item, sub, out)


def dumps(document: dict[str, Any]) -> str:
    """The TOML text of ``document`` (tables as headers, arrays of tables as ``[[...]]``)."""
    out: list[str] = []
    _table(document, [], out)
    return "\n".join(out) + "\n"
