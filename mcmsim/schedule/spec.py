"""Scheduler specs: a scheduler name with its parameters, written in one line.

The one notation everywhere a scheduler is named on the command line (``run``,
``compare``, the ``start`` list of ``local-search``) and in the search's report::

    scar[objective=throughput,top_k=8]     # bracket form, as the search report prints
    scar:objective=throughput,top_k=8      # colon form, the same thing
    scar                                   # defaults

A value is read as JSON when it parses (``top_k=8`` is an int, ``start=["greedy"]``
a list), else as a string. In a comma-separated list of specs (``compare
--scheduler``) an item without ``=`` starts the next scheduler, so
``scar:objective=energy,top_k=2,greedy`` is two schedulers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mcmsim.schedule.registry import SchedulerError

__all__ = ["SchedulerSpec", "format_scheduler_spec", "parse_scheduler_list", "parse_scheduler_spec"]


@dataclass(frozen=True)
class SchedulerSpec:
    """A scheduler name and the parameters given with it (not yet validated)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The bracket form: ``name`` or ``name[key=value,...]``."""
        return format_scheduler_spec(self.name, self.params)


def _split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split at ``separator`` outside brackets, braces and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, tables), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str], where: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SchedulerError(f"{where}: expected key=value, got {item!r}")
        params[key.strip()] = parse_value(value.strip())
    return params


def parse_scheduler_spec(text: str) -> SchedulerSpec:
    """Read ``name``, ``name[k=v,...]`` or ``name:k=v,...``.

    Raises
    ------
    SchedulerError
        If the name is empty, a bracket is not closed, or a parameter is not ``k=v``.
    """
    text = text.strip()
    if text.endswith("]") and "[" in text:
        name, _, inner = text[:-1].partition("[")
    elif "[" in text or "]" in text:
        raise SchedulerError(f"scheduler {text!r}: expected name[key=value,...]")
    else:
        name, _, inner = text.partition(":")
    name = name.strip()
    if not name:
        raise SchedulerError(f"scheduler {text!r}: empty scheduler name")
    items = _split_top_level(inner) if inner.strip() else []
    return SchedulerSpec(name, _pairs(items, f"scheduler {text!r}"))


def parse_scheduler_list(text: str) -> list[SchedulerSpec]:
    """Read comma-separated specs; an item without ``=`` starts the next scheduler.

    Raises
    ------
    SchedulerError
        If an item is empty or a spec is malformed (see :func:`parse_scheduler_spec`).
    """
    groups: list[list[str]] = []
    for item in _split_top_level(text):
        if not item:
            raise SchedulerError(f"empty scheduler name in {text!r}")
        key = item.partition("=")[0]
        continues = "=" in item and not any(c in key for c in ":[")
        if continues and groups and ":" in groups[-1][0] and "[" not in groups[-1][0]:
            groups[-1].append(item)
        else:
            groups.append([item])
    return [parse_scheduler_spec(",".join(group)) for group in groups]


def format_scheduler_spec(name: str, params: dict[str, Any] | None = None) -> str:
    """The bracket form of ``name`` with ``params`` (JSON values; bare strings)."""
    if not params:
        return name
    shown = ",".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
        for k, v in params.items()
    )
    return f"{name}[{shown}]"
