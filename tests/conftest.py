"""Shared helpers: small inline scenarios and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Keys every results.json must have (issue 3).
RESULT_KEYS = (
    "scheduler",
    "seed",
    "mode",
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


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``mcmsim ARGS`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "mcmsim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=600,
    )


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
