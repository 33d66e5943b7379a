"""Dotted paths into a scenario: ``nop.link_bandwidth_gb_per_s``, ``workloads.0.stream``.

A sweep names each value it varies by the dotted path of its key in the scenario's
data (the dictionary a scenario TOML parses to). A segment that is a non-negative
integer indexes a list, so ``workloads.1.stream.in_flight`` is the ``in_flight`` of the
second ``[[workloads]]`` entry's stream and ``package.layout.0`` the layout's first row.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PathError", "get_path", "set_path", "split_path"]


class PathError(KeyError):
    """A dotted path that does not lead to a value; ``str()`` says where it stops."""

    def __str__(self) -> str:
        return str(self.args[0])


def split_path(path: str) -> tuple[str, ...]:
    """The segments of a dotted path.

    Raises
    ------
    PathError
        If the path or one of its segments is empty.
    """
    parts = tuple(path.split("."))
    if not path or any(not p for p in parts):
        raise PathError(f"{path!r} is not a dotted path (empty segment)")
    return parts


def _step(node: Any, part: str, where: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            keys = ", ".join(map(str, node)) or "none"
            raise PathError(f"{where or 'the scenario'} has no key {part!r} (keys: {keys})")
        return node[part]
    if isinstance(node, list):
        if not part.isdigit():
            raise PathError(f"{where} is a list: index it with a number, not {part!r}")
        if int(part) >= len(node):
            raise PathError(f"{where} has {len(node)} entries; index {part} is out of range")
        return node[int(part)]
    raise PathError(f"{where} is a value ({node!r}), it has no key {part!r}")


def get_path(data: Any, path: str) -> Any:
    """The value at ``path`` in nested dicts and lists.

    Raises
    ------
    PathError
        If a key is missing, a list index is not a number or out of range, or the path
        goes through a plain value.
    """
    node = data
    walked: list[str] = []
    for part in split_path(path):
        node = _step(node, part, ".".join(walked))
        walked.append(part)
    return node


def set_path(data: Any, path: str, value: Any, *, create: bool = False) -> None:
    """Replace the value at ``path`` in place; ``create`` allows a new last key in a dict.

    Raises
    ------
    PathError
        As :func:`get_path`, for the part of the path above the last segment, or for the
        last segment itself unless ``create`` is true and its parent is a dict.
    """
    *parents, last = split_path(path)
    parent = get_path(data, ".".join(parents)) if parents else data
    if isinstance(parent, dict) and create:
        parent[last] = value
        return
    _step(parent, last, ".".join(parents))
    parent[int(last) if isinstance(parent, list) else last] = value
