"""Sweep points: the grid (or a seeded sample of it), each point a complete scenario.

Grid points are numbered in the order of :func:`itertools.product` over the axes (the
last axis varies fastest); a sample draws distinct numbers with ``random.Random(seed)``
and keeps them in grid order, so a point's number does not depend on the sample.

A point's scenario is the base data with the point's axis values set, then validated
and dumped again so every default is filled in and numbers have their canonical type
(``100`` and ``100.0`` give the same point). Its id is the SHA-256 of that data as
canonical JSON (sorted keys, no whitespace): two points that would simulate the same
scenario share one id and run once, and a stored result stays attached to exactly the
scenario that produced it. A point whose scenario does not validate keeps the raw data;
it fails when it runs and is stored with the validation message.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mcmsim.scenario import ScenarioSpec
from mcmsim.sweep.paths import set_path
from mcmsim.sweep.spec import SweepSpec

__all__ = ["Point", "canonical_json", "expand", "grid_indices", "point_id"]


@dataclass(frozen=True)
class Point:
    """One scenario of a sweep, as plain picklable data.

    Attributes
    ----------
    index
        Its number in the full grid.
    id
        SHA-256 (hex) of its scenario's canonical JSON.
    values, labels
        Axis path -> value, and axis path -> the value's label.
    scenario
        The complete scenario data, ready for :func:`mcmsim.scenario.build_scenario`.
    source
        The base scenario's file: relative paths inside the scenario resolve against it.
    """

    index: int
    id: str
    values: dict[str, Any]
    labels: dict[str, str]
    scenario: dict[str, Any]
    source: str


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def point_id(scenario: dict[str, Any]) -> str:
    """The SHA-256 hex digest of ``scenario``'s canonical JSON."""
    return hashlib.sha256(canonical_json(scenario).encode()).hexdigest()


def grid_indices(spec: SweepSpec) -> list[int]:
    """The grid numbers of the sweep's points: all of them, or the seeded sample."""
    size = spec.grid_size
    if spec.sample is None or spec.sample.n >= size:
        return list(range(size))
    return sorted(random.Random(spec.sample.seed).sample(range(size), spec.sample.n))


def _choices(index: int, sizes: list[int]) -> list[int]:
    """Mixed-radix digits of ``index``, the last axis fastest, as itertools.product."""
    digits = []
    for size in reversed(sizes):
        index, digit = divmod(index, size)
        digits.append(digit)
    return digits[::-1]


def _resolve(data: dict[str, Any]) -> dict[str, Any]:
    try:
        return ScenarioSpec.model_validate(data).model_dump(mode="json")
    except ValidationError:
        return data


def expand(spec: SweepSpec) -> Iterator[Point]:
    """The sweep's points in grid order, each distinct scenario once.

    A later grid point whose scenario equals an earlier one's (same id) is skipped.
    """
    sizes = [len(axis.values) for axis in spec.axes]
    seen: set[str] = set()
    for index in grid_indices(spec):
        data = copy.deepcopy(spec.base)
        values: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for axis, choice in zip(spec.axes, _choices(index, sizes), strict=True):
            value = axis.values[choice]
            set_path(data, axis.path, copy.deepcopy(value), create=True)
            values[axis.path] = value
            labels[axis.path] = axis.labels[choice]
        scenario = _resolve(data)
        pid = point_id(scenario)
        if pid in seen:
            continue
        seen.add(pid)
        yield Point(index, pid, values, labels, scenario, spec.base_file)
