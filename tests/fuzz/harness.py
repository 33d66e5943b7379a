"""Run one fuzz case in-process under a time and memory budget and judge what it did.

A case is one ``mcmsim`` command line. Whatever the input, the command must end within
its budget, exit 0 or exit 2, never raise, and when it exits 2 every ``error:`` line must
name ``file:line`` (or the file with a reason why there is no line). When a ``run``
exits 0, its results must obey the invariants of :func:`result_violations`.

The time limit is ``SIGALRM`` raising :class:`CaseTimeout`, a ``BaseException`` so that
neither the command's error handling nor ``CliRunner`` swallows it; a hard
``faulthandler`` backstop kills the process if the case is stuck in C code. The memory
limit is ``RLIMIT_AS`` (address space) a few GiB above what the process already maps,
so an absurd size fails the case with ``MemoryError`` instead of the machine.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import math
import re
import resource
import signal
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

__all__ = [
    "CaseOutcome",
    "CaseTimeout",
    "error_line_problems",
    "result_violations",
    "run_case",
]

EXTRA_ADDRESS_SPACE_BYTES = 3 * 1024**3
ENERGY_PARTS = ("compute", "sram", "nop", "dram", "static")
ENERGY_REL_TOL = 1e-9
# Shares of time or bandwidth: each must lie in [0, 1].
SHARE_KEYS = frozenset(
    {
        "utilization",
        "occupancy",
        "compute_activity",
        "busy_share",
        "bandwidth_utilization",
    }
)
# An error without a line must say why it has none: the file as a whole is the problem.
WHOLE_FILE_REASONS = re.compile(
    r"no line|not found|does not exist|no such file|is a directory|not a regular file|"
    r"special file|fifo|device|cannot read|cannot be read|could not read|unreadable|"
    r"not readable|permission|decode|utf-8|encoding|binary|too large|too big|too long|"
    r"too deep|nested|empty|end of (the )?(document|file)|whole file|"
    r"as a whole|no rows|no header",
    re.IGNORECASE,
)

# ``file.json: windows[0].segments[3].chiplet: ...``, ``file.json: ["a\\nb"]: ...`` or
# ``file.json: (root): ...``.
_JSON_PATH_ERROR = re.compile(
    r'[^:]*\.json: (\(root\)|\$|(\.?[^\s:.\["]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])+): '
)


class CaseTimeout(BaseException):
    """A fuzz case ran past its time budget (a ``BaseException``: nothing may catch it)."""


@dataclass(frozen=True)
class CaseOutcome:
    """What one command did: exit code, streams, an escaped exception, wall time."""

    args: tuple[str, ...]
    exit_code: int | None
    stdout: str
    stderr: str
    exception: str | None
    timed_out: bool
    wall_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def _expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    # Code stuck in C never returns to the handler: stop the whole run, with stacks.
    faulthandler.dump_traceback_later(seconds * 4 + 30, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


def _mapped_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def _memory_limit(extra_bytes: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _mapped_bytes() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def error_line_problems(stderr: str, *, json_paths: bool = False) -> list[str]:
    """Why the ``error:`` lines of an exit-2 run fall short of ``file:line: ...``.

    Every ``error:`` line must name a file and a line (``error: path:12: ...``), or the
    file and a reason there is no line (``error: path: not valid UTF-8``, see
    :data:`WHOLE_FILE_REASONS`). ``json_paths``: a JSON input (a schedule) may instead
    name the file and the JSON path (``error: s.json: windows[0].segments[3].chiplet:
    ...``). Lines not starting with ``error:`` or ``warning:`` are the tail of a message
    split over lines (or a usage box), which is a problem too.
    """
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if not errors:
        return [f"exit 2 without an 'error:' line: {stderr[:300]!r}"]
    problems = [
        f"not one line per error: {line[:200]!r}"
        for line in lines
        if not line.startswith(("error: ", "warning: "))
    ]
    for line in errors:
        message = line.removeprefix("error: ")
        if re.match(r"[^\s:]?[^:]*:\d+(:|$)", message):
            continue
        if WHOLE_FILE_REASONS.search(message):
            continue
        if json_paths and _JSON_PATH_ERROR.match(message):
            continue
        problems.append(f"error names no line and no reason: {line[:200]!r}")
    return problems


def _walk_numbers(node: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return
    if isinstance(node, int | float):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk_numbers(value, f"{path}[{i}]")


def result_violations(results: dict[str, Any]) -> list[str]:
    """Every invariant a results document breaks (empty when it is sound).

    - every number is finite and non-negative;
    - every share of time or bandwidth (:data:`SHARE_KEYS`) lies in [0, 1];
    - the energy parts sum to ``energy_j.total`` (relative :data:`ENERGY_REL_TOL`);
    - a model's ``throughput_ci95_per_s`` is ``[low, high]`` with
      ``0 <= low <= throughput <= high``;
    - requests are conserved: arrived = completed + in flight, overall and per model
      (a model's arrivals are its ``completed_total`` plus ``in_flight_at_end``; a model
      with deadlines may also have dropped frames), and the models' arrivals add up to
      the total.
    """
    problems: list[str] = []
    for path, value in _walk_numbers(results, ""):
        if not math.isfinite(value):
            problems.append(f"{path} = {value} is not finite")
        elif value < 0:
            problems.append(f"{path} = {value} is negative")
        elif path.rsplit(".", 1)[-1] in SHARE_KEYS and value > 1:
            problems.append(f"{path} = {value} exceeds 1")

    energy = results.get("energy_j") or {}
    parts = [energy.get(p) for p in ENERGY_PARTS]
    total = energy.get("total")
    if all(isinstance(p, int | float) for p in [*parts, total]):
        summed = math.fsum(parts)
        if not math.isclose(summed, total, rel_tol=ENERGY_REL_TOL, abs_tol=1e-300):
            problems.append(f"energy parts sum to {summed!r}, total is {total!r}")
    else:
        problems.append(f"energy_j lacks a part or the total: {energy!r}")

    for name, model in (results.get("models") or {}).items():
        interval = model.get("throughput_ci95_per_s")
        rate = model.get("throughput_per_s")
        if interval is not None:
            low, high = interval
            if not (0 <= low <= high):
                problems.append(
                    f"models.{name}.throughput_ci95_per_s = {interval} is not 0 <= low <= high"
                )
            elif isinstance(rate, int | float) and not (
                low <= rate * (1 + 1e-12) and rate <= high * (1 + 1e-12)
            ):
                problems.append(f"models.{name}.throughput_ci95_per_s = {interval} excludes {rate}")

    requests = results.get("requests")
    models = results.get("models") or {}
    # Frames dropped under late_policy = "drop" leave without completing; only models
    # with deadlines can drop, and results count their drops in the window only.
    may_drop = any(m.get("deadline") is not None for m in models.values())
    if requests is not None:
        accounted = requests["completed"] + requests["in_flight"]
        if accounted > requests["arrived"] or (not may_drop and accounted != requests["arrived"]):
            problems.append(f"requests not conserved: {requests}")
        arrived = sum(m.get("arrived", 0) for m in models.values())
        if models and arrived != requests["arrived"]:
            problems.append(f"models arrived {arrived} != requests.arrived {requests['arrived']}")
    for name, m in models.items():
        if "completed_total" not in m or "in_flight_at_end" not in m:
            continue
        accounted = m["completed_total"] + m["in_flight_at_end"]
        if accounted > m["arrived"] or (m.get("deadline") is None and accounted != m["arrived"]):
            problems.append(
                f"models.{name}: arrived {m['arrived']} vs completed_total "
                f"{m['completed_total']} + in_flight_at_end {m['in_flight_at_end']}"
            )
    return problems


def _reject_constant(name: str) -> float:
    raise ValueError(f"results JSON holds {name}, which JSON does not allow")


def run_case(
    args: Sequence[str | Path],
    budget_s: float,
    *,
    results_json: bool = False,
    json_paths: bool = False,
) -> CaseOutcome:
    """Run ``mcmsim ARGS`` in-process within ``budget_s`` and list what went wrong.

    ``results_json``: the command prints a results document (``run --json``), whose
    invariants are checked when it exits 0. ``json_paths``: errors may name a JSON path
    instead of a line (see :func:`error_line_problems`).
    """
    from mcmsim.cli import app

    argv = tuple(str(a) for a in args)
    start = time.perf_counter()
    timed_out = False
    exception = None
    exit_code: int | None = None
    stdout = stderr = ""
    try:
        with _memory_limit(EXTRA_ADDRESS_SPACE_BYTES), _time_limit(budget_s):
            result = CliRunner().invoke(app, list(argv))
        exit_code, stdout, stderr = result.exit_code, result.stdout, result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exception = "".join(traceback.format_exception(result.exception))
    except CaseTimeout as exc:
        timed_out = True
        exception = f"CaseTimeout: {exc}"
    wall_s = time.perf_counter() - start

    problems: list[str] = []
    if timed_out:
        problems.append(f"hang: no end within {budget_s:g} s")
    elif exception is not None:
        last = exception.strip().splitlines()[-1]
        problems.append(f"traceback: {last}")
    elif "Traceback (most recent call last)" in stdout + stderr:
        problems.append("traceback printed")
    elif exit_code == 2:
        problems.extend(error_line_problems(stderr, json_paths=json_paths))
    elif exit_code != 0:
        problems.append(f"exit {exit_code}: {(stderr or stdout)[-300:]!r}")
    elif results_json:
        try:
            results = json.loads(stdout, parse_constant=_reject_constant)
        except ValueError as exc:
            problems.append(f"results are not JSON: {exc}")
        else:
            problems.extend(f"invariant: {p}" for p in result_violations(results))
    return CaseOutcome(argv, exit_code, stdout, stderr, exception, timed_out, wall_s, problems)
