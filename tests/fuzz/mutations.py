"""Hypothesis strategies that damage documents: parsed structure and raw bytes.

Structural mutations work on the parsed document (TOML or JSON) and are written back:
a key deleted, a value replaced by an extreme or mistyped one, an unknown key added, a
list emptied or an item repeated. Raw mutations work on the file's bytes: truncation,
binary garbage, a deleted or repeated line, a long whitespace line, another encoding.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.toml_text import deep_array, deep_inline_table

__all__ = ["EXTREME_NUMBERS", "mutated_bytes", "mutated_document", "nasty_values"]

EXTREME_NUMBERS: tuple[int | float, ...] = (
    0,
    -1,
    1,
    0.0,
    -0.0,
    1e-300,
    -1e-300,
    1e308,
    -1e308,
    1e-7,
    1e12,
    0.5,
    1.7,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63),
    10**30,
    math.nan,
    math.inf,
    -math.inf,
)

_STRINGS = (
    "",
    " ",
    "a\nb",
    "tab\there",
    "ünïcødé",
    "😀",
    "\u202e",
    "\x00",
    "x" * 5000,
    "../../../../etc/passwd",
    "/dev/zero",
    "/nonexistent/file.csv",
    "resnet51",
    "[[a]]",
    "a.b",
)

Path = tuple[str | int, ...]


def nasty_values(*, deep: bool = True) -> st.SearchStrategy[Any]:
    """Values no field expects: extreme numbers, odd strings, wrong types, deep nesting.

    ``deep`` allows :class:`RawToml` nesting (TOML documents only).
    """
    scalars = st.one_of(
        st.sampled_from(EXTREME_NUMBERS),
        st.sampled_from(_STRINGS),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(st.characters(codec="utf-8"), max_size=12),
    )
    containers = st.one_of(
        st.just([]),
        st.just({}),
        st.lists(scalars, max_size=3),
        st.dictionaries(
            st.text(st.characters(codec="utf-8"), min_size=1, max_size=6), scalars, max_size=2
        ),
    )
    options = [scalars, containers]
    if deep:
        depths = st.sampled_from((50, 500, 2000))
        options.append(st.one_of(depths.map(deep_array), depths.map(deep_inline_table)))
    return st.one_of(*options)


def _paths(node: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a value inside ``node`` (dict keys and list indices)."""
    out: list[Path] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(value, (*prefix, i)))
    return out


def _parent(document: Any, path: Path) -> Any:
    node = document
    for step in path[:-1]:
        node = node[step]
    return node


def _swap_type(value: Any) -> Any:
    """The same content in another type: a number as a string, a scalar in a list, ..."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"0": value[0]} if value else "[]"
    if isinstance(value, dict):
        return list(value.values())
    return None


@st.composite
def mutated_document(
    draw: st.DrawFn, document: dict[str, Any], *, deep: bool = True
) -> dict[str, Any]:
    """``document`` (not changed) with one to three structural mutations."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(doc, path), path[-1]
        op = draw(
            st.sampled_from(("delete", "replace", "replace", "swap", "add_key", "empty", "repeat"))
        )
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(nasty_values(deep=deep))
        elif op == "swap":
            parent[key] = _swap_type(parent[key])
            if parent[key] is None:
                del parent[key]
        elif op == "add_key":
            target = parent if isinstance(parent, dict) else doc
            name = draw(
                st.one_of(
                    st.sampled_from(("unknown", "a\nb", "ключ", "", "x" * 300)), st.text(max_size=8)
                )
            )
            target[name] = draw(nasty_values(deep=deep))
        elif op == "empty":
            value = parent[key]
            parent[key] = type(value)() if isinstance(value, list | dict | str) else 0
        elif op == "repeat" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
    return doc


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one raw mutation: truncation, garbage, a line changed, re-encoding."""
    op = draw(
        st.sampled_from(
            (
                "truncate",
                "insert",
                "overwrite",
                "delete_line",
                "repeat_line",
                "space_line",
                "long_line",
                "encoding",
                "crlf",
                "empty",
            )
        )
    )
    at = draw(st.integers(0, max(len(data), 0)))
    lines = data.split(b"\n")
    line = draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "truncate":
        return data[:at]
    if op == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if op == "overwrite":
        garbage = draw(st.binary(min_size=1, max_size=16))
        return data[:at] + garbage + data[at + len(garbage) :]
    if op == "delete_line":
        del lines[line]
        return b"\n".join(lines)
    if op == "repeat_line":
        lines.insert(line, lines[line])
        return b"\n".join(lines)
    if op == "space_line":
        lines.insert(line, b" " * draw(st.sampled_from((1, 100, 1500, 4000))))
        return b"\n".join(lines)
    if op == "long_line":
        lines.insert(line, b"# " + b"x" * draw(st.sampled_from((1000, 100_000))))
        return b"\n".join(lines)
    if op == "encoding":
        codec = draw(st.sampled_from(("utf-16", "utf-32", "latin-1", "utf-8-sig")))
        return data.decode("utf-8").encode(codec, errors="replace")
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    return b""
