"""Sweep files: a base scenario and the values to vary, validated before anything runs.

A sweep file is a TOML file::

    name = "layouts_2x2"                 # optional; default: the file's stem
    description = "..."                  # optional
    base = "../gpt2_resnet.toml"         # the base scenario, relative to this file

    [axes]                               # each key: a dotted path, quoted; each value: a list
    "nop.link_bandwidth_gb_per_s" = [25, 100, 400]
    "scheduler.name" = ["standalone", "scar"]
    "workloads.0.stream.in_flight" = [1, 4]      # a number indexes a list

    [axes."package.layout"]              # or a table of named values: the names label points
    all-ws = [["ws", "ws"], ["ws", "ws"]]
    checkerboard = [["ws", "os"], ["os", "ws"]]

    [sample]                             # optional: a seeded random sample of the grid
    n = 20
    seed = 1

    [overrides]                          # optional: set in every point, before the axes
    "simulation.requests" = 400          # ([overrides.simulation] requests = 400 is the same)

Without ``[sample]`` the sweep is the full grid (the product of all axes). An axis
value replaces the whole value at its path, so a table value (``"workloads.0.stream" =
[{kind = "poisson", rate_per_s = 50}]``) replaces the whole table; an axis given as a
table holds named values, and a dotted axis key must be quoted. Under ``[overrides]``
nested tables extend the path, and each leaf is set.

Checked here, all at once, each problem one line ``file:line: key: message`` in a
:class:`SweepError`: TOML syntax, unknown or missing keys, a base scenario that is
missing or invalid (its own lines), an axis or override path that does not exist in
the base scenario once its defaults are filled in (paths ``scheduler.<param>`` may be
new: a scheduler's parameters are checked by the scheduler, when a point runs), an
empty value list, a value whose type differs from the base value's, paths that
overlap. Then the overrides, and each axis value on its own, are built into the base
scenario exactly as a point is built, so a value the scenario rejects (a zero or
negative bandwidth, a layout naming an unknown chiplet type) is an error on its own
line before any point runs. This costs one scenario build per axis value, not per
point, and each distinct model is built once across them. What only a whole point can
reveal (two axis values valid alone but not together, a scheduler that rejects its
problem) fails that point, which is stored with its message while the others run.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcmsim.inputs import InputFileError, check_input_file, read_input_text
from mcmsim.scenario import (
    DeprecatedKeyWarning,
    Diagnostic,
    ScenarioError,
    build_scenario,
    current_key,
    deprecation_message,
    line_of,
    load_scenario,
    parse_toml,
)
from mcmsim.sweep.paths import PathError, get_path, set_path
from mcmsim.workloads.model import Model

__all__ = ["Axis", "Sample", "SweepError", "SweepSpec", "format_value", "load_sweep"]

_TOP_KEYS = ("name", "description", "base", "axes", "sample", "overrides")


class SweepError(ScenarioError):
    """A sweep that cannot be run as given; ``str()`` is one line per problem.

    It covers the sweep file, its base scenario, the output folder and the backend. A
    subclass of :class:`~mcmsim.scenario.ScenarioError`, so code (and the CLI) that
    reports bad scenarios reports bad sweeps the same way.
    """


@dataclass(frozen=True)
class Axis:
    """One varied key: its dotted path, its values, and a short label for each value."""

    path: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    """Draw ``n`` distinct grid points with a random generator seeded by ``seed``."""

    n: int
    seed: int


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep.

    ``base`` is the base scenario's data with every default filled in and the overrides
    applied: each point is this data with one value of every axis set.
    """

    file: str
    name: str
    description: str | None
    base_file: str
    base: dict[str, Any]
    axes: tuple[Axis, ...]
    overrides: dict[str, Any]
    sample: Sample | None

    @property
    def grid_size(self) -> int:
        """Number of points of the full grid."""
        return math.prod(len(axis.values) for axis in self.axes)


def format_value(value: Any) -> str:
    """A compact label for an axis value: ``100``, ``scar``, ``[[ws,os],[os,ws]]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _type_problem(value: Any, base: Any) -> str | None:
    """Why ``value`` cannot stand where the scenario has ``base``, or None if it can."""
    if base is None:
        return None  # an optional key left unset: any type may be meant; the point checks
    if isinstance(base, bool):
        fits = isinstance(value, bool)
    elif isinstance(base, int):
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(base, float):
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        fits = isinstance(value, type(base))
    if not fits:
        expected = "a number" if isinstance(base, float) else _kind(base)
        return (
            f"expected {expected} like the base value {format_value(base)}, "
            f"got {_kind(value)} {format_value(value)}"
        )
    if isinstance(base, list) and base:
        for i, item in enumerate(value):
            problem = _type_problem(item, base[0])
            if problem:
                return f"entry {i}: {problem}"
    return None


class _Checker:
    """Collects the problems of one sweep file, each with its line."""

    def __init__(self, source: str, lines: dict[tuple[Any, ...], int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[Diagnostic] = []

    def add(self, keys: tuple[Any, ...], message: str, shown: str | None = None) -> None:
        where = shown if shown is not None else ".".join(map(str, keys))
        # A key or table the file does not have is named at line 1, with its path.
        line = line_of(self.lines, keys) or 1
        self.problems.append(Diagnostic(self.source, line, where, message))

    def current(self, table: str, path: str) -> str:
        """``path`` under its current name; a deprecated name is warned about, with its line."""
        now = current_key(path)
        if now != path:
            line = line_of(self.lines, (table, *path.split(".")))
            where = f"{self.source}:{line}" if line else self.source
            notice = deprecation_message(path)
            warnings.warn(f"{where}: {notice}", DeprecatedKeyWarning, stacklevel=4)
        return now

    def base_value(self, base: dict[str, Any], table: str, path: str) -> tuple[bool, Any]:
        """Whether ``path`` may be set in ``base``, and its current value (None if new)."""
        try:
            return True, get_path(base, path)
        except PathError as exc:
            parts = path.split(".")
            if len(parts) == 2 and parts[0] == "scheduler" and parts[1]:
                return True, None  # a scheduler parameter: the scheduler checks it
            self.add((table, *parts), f"unknown path: {exc}", f"{table}.{path}")
            return False, None


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate the sweep file at ``path`` and its base scenario.

    Raises
    ------
    SweepError
        For a missing or unreadable file, a TOML syntax error, an invalid base scenario,
        or any invalid key or value (all problems at once, one line each).
    """
    source = str(path)
    try:
        data, where = parse_toml(read_input_text(path, "sweep"), source)
    except InputFileError as exc:
        raise SweepError([exc.diagnostic]) from None
    except ScenarioError as exc:
        raise SweepError(exc.problems) from None
    return _validate(data, source, where.lines)


def _validate(data: dict[str, Any], source: str, lines: dict[tuple[Any, ...], int]) -> SweepSpec:
    check = _Checker(source, lines)
    for key in data:
        if key not in _TOP_KEYS:
            check.add((key,), f"unknown key; expected one of {', '.join(_TOP_KEYS)}")
    name = data.get("name", Path(source).stem)
    description = data.get("description")
    for key, value in (("name", name), ("description", description)):
        if value is not None and not isinstance(value, str):
            check.add((key,), f"expected a string, got {_kind(value)}")

    base_file, base = _load_base(data.get("base"), check)
    overrides = _overrides(data.get("overrides", {}), base, check)
    buildable = base is not None and _check_overrides(base, base_file, overrides, check)
    axes = _axes(data.get("axes"), base, check, base_file if buildable else None)
    sample = _sample(data.get("sample"), check)
    _check_overlaps([("overrides", p) for p in overrides] + [("axes", a.path) for a in axes], check)
    if check.problems:
        raise SweepError(check.problems)
    assert base is not None
    return SweepSpec(source, name, description, base_file, base, axes, overrides, sample)


def _load_base(value: Any, check: _Checker) -> tuple[str, dict[str, Any] | None]:
    if value is None:
        check.add(("base",), 'missing key: name the base scenario, e.g. base = "scenario.toml"')
        return "", None
    if not isinstance(value, str):
        check.add(("base",), f"expected a file name (a string), got {_kind(value)}")
        return "", None
    path = Path(value)
    if not path.is_absolute():
        path = Path(os.path.normpath(Path(check.source).parent / path))
    try:
        check_input_file(path, "scenario")
    except InputFileError as exc:  # blamed on the sweep's base key, not the base file
        check.add(("base",), f"base scenario {exc}")
        return str(path), None
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        check.problems.extend(exc.problems)
        return str(path), None
    return str(path), scenario.spec.model_dump(mode="json")


def _build_problems(
    data: dict[str, Any], base_file: str, models: dict[str, Model] | None = None
) -> list[Diagnostic]:
    """The problems of ``data`` built as a point's scenario is built (none if it builds).

    ``models`` carries the models built so far between calls (see ``build_scenario``).
    """
    try:
        build_scenario(data, base_file, models=models)
    except ScenarioError as exc:
        return exc.problems
    except Exception as exc:  # a builder crash is this value's error, as it is a point's
        return [Diagnostic(base_file, None, "", f"{type(exc).__name__}: {exc}")]
    return []


def _relative(problem: Diagnostic, path: str) -> str:
    """``problem``'s message as seen from the value set at ``path``."""
    if problem.path == path:
        return problem.message
    if problem.path.startswith(f"{path}."):
        return f"{problem.path[len(path) + 1 :]}: {problem.message}"
    return f"makes {problem.path or 'the scenario'} invalid: {problem.message}"


def _check_overrides(
    base: dict[str, Any], base_file: str, overrides: dict[str, Any], check: _Checker
) -> bool:
    """Build the base with its overrides; add each problem at its override; True if none."""
    if not overrides:
        return True  # the base as loaded: load_scenario has just built it
    problems = _build_problems(base, base_file)
    for problem in problems:
        owner = next(
            (p for p in overrides if problem.path == p or problem.path.startswith(f"{p}.")),
            None,
        )
        if owner is None:
            check.add(("overrides",), _relative(problem, ""), "overrides")
        else:
            keys = ("overrides", *owner.split("."))
            check.add(keys, _relative(problem, owner), f"overrides.{owner}")
    return not problems


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"simulation": {"requests": 400}}`` -> ``[("simulation.requests", 400)]``."""
    leaves: list[tuple[str, Any]] = []
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        leaves.extend(_flatten(value, path) if isinstance(value, dict) else [(path, value)])
    return leaves


def _overrides(table: Any, base: dict[str, Any] | None, check: _Checker) -> dict[str, Any]:
    """Check the overrides and apply them to ``base`` in place.

    Nested tables extend the path, so ``[overrides.simulation]`` with ``requests = 400``
    and ``"simulation.requests" = 400`` under ``[overrides]`` mean the same.
    """
    if not isinstance(table, dict):
        check.add(("overrides",), f"expected a table of dotted paths, got {_kind(table)}")
        return {}
    if base is None:
        return {}
    overrides: dict[str, Any] = {}
    for written, value in _flatten(table):
        path = check.current("overrides", written)
        exists, current = check.base_value(base, "overrides", path)
        if not exists:
            continue
        problem = _type_problem(value, current)
        if problem:
            check.add(("overrides", *written.split(".")), problem, f"overrides.{written}")
            continue
        overrides[path] = value
    for path, value in overrides.items():
        set_path(base, path, copy.deepcopy(value), create=True)
    return overrides


def _axes(
    table: Any, base: dict[str, Any] | None, check: _Checker, base_file: str | None
) -> tuple[Axis, ...]:
    """Check the axes; with ``base_file`` (the base builds), build each value into it."""
    if table is None:
        check.add(
            ("axes",),
            'missing table: give at least one axis, e.g. "nop.link_bandwidth_gb_per_s" = [50, 100]',
        )
        return ()
    if not isinstance(table, dict) or not table:
        check.add(("axes",), "expected a table with at least one axis")
        return ()
    axes: list[Axis] = []
    models: dict[str, Model] = {}  # an axis of 10,000 seeds builds each model once
    for path, given in table.items():
        keys = ("axes", *path.split("."))
        shown = f"axes.{path}"
        if isinstance(given, list):
            values, labels = given, [format_value(v) for v in given]
        elif isinstance(given, dict):
            values, labels = list(given.values()), list(given)
        else:
            check.add(
                keys,
                f"expected a list of values or a table of named values, got {_kind(given)}",
                shown,
            )
            continue
        if not values:
            check.add(keys, "empty value list: give at least one value", shown)
            continue
        if base is None:
            continue
        meant = _unquoted(base, path, given) if isinstance(given, dict) else None
        if meant:
            hint = f'quote a dotted axis path: "{meant}" = [...]'
            check.add(("axes", *meant.split(".")), hint, shown)
            continue
        path = check.current("axes", path)
        exists, current = check.base_value(base, "axes", path)
        if not exists:
            continue
        bad = False
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            where = f"{shown}.{label}" if isinstance(given, dict) else f"{shown}[{i}]"
            problem = _type_problem(value, current)
            if problem:
                check.add((*keys, label), problem, where)
                bad = True
                continue
            if base_file is None:
                continue
            data = copy.deepcopy(base)
            set_path(data, path, copy.deepcopy(value), create=True)
            for built in _build_problems(data, base_file, models):
                check.add((*keys, label), _relative(built, path), where)
                bad = True
        if not bad:
            axes.append(Axis(path, tuple(values), tuple(labels)))
    return tuple(axes)


def _unquoted(base: dict[str, Any], path: str, given: dict[str, Any]) -> str | None:
    """The path meant, when an unquoted ``nop.hop_latency_ns = [...]`` parsed as a table."""
    for key, value in given.items():
        sub = f"{path}.{key}"
        try:
            get_path(base, sub)
        except PathError:
            continue
        if isinstance(value, list):
            return sub
        if isinstance(value, dict) and (found := _unquoted(base, sub, value)):
            return found
    return None


def _sample(table: Any, check: _Checker) -> Sample | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        check.add(("sample",), f"expected a table with n and seed, got {_kind(table)}")
        return None
    for key in table:
        if key not in ("n", "seed"):
            check.add(("sample", key), "unknown key; expected n or seed")
    n, seed = table.get("n"), table.get("seed", 0)
    ok = True
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        check.add(("sample", "n"), f"expected a positive integer, got {format_value(n)}")
        ok = False
    if not isinstance(seed, int) or isinstance(seed, bool):
        check.add(("sample", "seed"), f"expected an integer, got {format_value(seed)}")
        ok = False
    return Sample(n, seed) if ok else None


def _check_overlaps(paths: list[tuple[str, str]], check: _Checker) -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []
    for table, path in paths:
        parts = tuple(path.split("."))
        for other_table, other in seen:
            shorter = min(len(parts), len(other))
            if parts[:shorter] == other[:shorter]:
                check.add(
                    (table, *parts),
                    f"overlaps {other_table}.{'.'.join(other)}: a path may not lie inside another",
                    f"{table}.{path}",
                )
        seen.append((table, parts))
