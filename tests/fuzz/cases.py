"""The fuzz suite's shared pieces: profiles as decorators, budgets, and case runners.

Each family of inputs has a fast test (default run) and a long one (``slow``), both
calling the same ``check_*`` function here with a drawn input.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings

from tests.conftest import ROOT
from tests.fuzz.conftest import LONG_EXAMPLES, FuzzLog
from tests.fuzz.harness import run_case
from tests.fuzz.toml_text import dumps

__all__ = [
    "FAST",
    "REQUESTS",
    "RUN_BUDGET_S",
    "VALIDATE_BUDGET_S",
    "check_run",
    "check_validate",
    "long_profile",
    "write_files",
]

F = TypeVar("F", bound=Callable[..., Any])

VALIDATE_BUDGET_S = 10.0
RUN_BUDGET_S = 30.0
REQUESTS = "20"

FAST = settings(settings.get_profile("mcmsim-fuzz-fast"))


def long_profile(share: float) -> Callable[[F], F]:
    """Mark a test slow, skip it without ``MCMSIM_FUZZ_EXAMPLES``, give it its share."""

    def decorate(test: F) -> F:
        examples = max(math.ceil(LONG_EXAMPLES * share), 1)
        test = settings(settings.get_profile("mcmsim-fuzz-long"), max_examples=examples)(test)
        test = pytest.mark.skipif(not LONG_EXAMPLES, reason="set MCMSIM_FUZZ_EXAMPLES=N")(test)
        return pytest.mark.slow(test)

    return decorate


def write_files(directory: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``name -> text or bytes`` under ``directory``."""
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _text(content: str | bytes) -> str:
    return content if isinstance(content, str) else content.decode("utf-8", "backslashreplace")


def check_validate(
    log: FuzzLog, family: str, content: str | bytes, name: str = "scenario.toml"
) -> int | None:
    """``mcmsim validate`` on ``content`` in a fresh folder; returns the exit code."""
    with tempfile.TemporaryDirectory(prefix="mcmsim-fuzz-") as folder:
        path = Path(folder) / name
        write_files(Path(folder), {name: content})
        outcome = run_case(["validate", path], VALIDATE_BUDGET_S)
    log.record(outcome, family, _text(content))
    return outcome.exit_code


def check_run(
    log: FuzzLog,
    family: str,
    document: dict[str, Any] | str | bytes,
    files: Mapping[str, str | bytes] = {},
    extra_args: tuple[str, ...] = (),
    *,
    validate_first: bool = True,
    json_paths: bool = False,
) -> int | None:
    """Validate then (if accepted) ``mcmsim run --requests 20 --json`` in a fresh folder.

    ``document`` is a scenario (dict, written as TOML, or its text); ``files`` are written
    next to it and ``extra_args`` may name them relative to the folder. Results of a run
    that exits 0 are checked against every invariant; ``json_paths`` lets errors name
    a JSON path instead of a line (the file in ``extra_args`` is JSON).
    """
    content = dumps(document) if isinstance(document, dict) else document
    shown = _text(content) + "".join(f"\n--- {n} ---\n{_text(c)[:1000]}" for n, c in files.items())
    with tempfile.TemporaryDirectory(prefix="mcmsim-fuzz-") as folder:
        here = Path(folder)
        write_files(here, {"scenario.toml": content, **files})
        if validate_first:
            outcome = run_case(["validate", here / "scenario.toml"], VALIDATE_BUDGET_S)
            log.record(outcome, family + "/validate", shown)
            if outcome.exit_code != 0:
                return outcome.exit_code
        args = [
            "run",
            here / "scenario.toml",
            "--requests",
            REQUESTS,
            "--json",
            *(str(here / a) if a in files else a for a in extra_args),
        ]
        outcome = run_case(args, RUN_BUDGET_S, results_json=True, json_paths=json_paths)
    log.record(outcome, family + "/run", shown)
    return outcome.exit_code


SCENARIO_FILES = sorted(p for p in (ROOT / "scenarios").rglob("*.toml") if "sweeps" not in p.parts)
SWEEP_FILES = sorted((ROOT / "scenarios" / "sweeps").glob("*.toml"))
