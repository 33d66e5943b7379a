"""Shared fixtures: the command line run in-process, and small files under tmp_path.

``tests`` is a package, so this module imports as ``tests.conftest`` under both
``pytest`` and ``python -m pytest``, and test modules may import its constants.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent

# Keys every results.json must have (issue 3).
RESULT_KEYS = (
    "scheduler",
    "seed",
    "mode",
    "stable",
    "stop_reason",
    "min_requests_per_model",
    "warmup_rule",
    "warmup_s",
    "measured_s",
    "throughput_per_s",
    "energy_per_inference_j",
    "edp_j_s",
    "energy_j",
    "models",
    "chiplets",
    "links",
    "dram",
)


@dataclass(frozen=True)
class CliResult:
    """What a user sees from one ``mcmsim`` command: exit code, stdout and stderr."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams, for assertion messages."""
        return self.stdout + self.stderr


Cli = Callable[..., CliResult]
"""The type of the ``cli`` fixture: ``cli("run", "scenarios/x.toml") -> CliResult``."""


def invoke_cli(*args: str | Path) -> CliResult:
    """Run ``mcmsim ARGS`` in-process (for module-scoped fixtures; tests use ``cli``)."""
    from mcmsim.cli import app  # on first use, not when pytest loads this file

    result = CliRunner().invoke(app, [str(a) for a in args])
    # Run as a process, an exception that escapes the app is a traceback and exit 1;
    # in-process it would hide in result.exception, so it fails the test here.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"mcmsim {' '.join(map(str, args))} raised:\n{trace}")
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``mcmsim ARGS`` in-process from the repository root; an escaped exception fails.

    Relative paths in ARGS resolve against the repository root, as in the README.
    """
    monkeypatch.chdir(ROOT)
    return invoke_cli


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
