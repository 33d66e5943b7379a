"""Hypothesis profiles of the fuzz suite and the log of every case it ran.

Two profiles:

- ``mcmsim-fuzz-fast`` (default test run): few examples per test, derandomized (the same
  inputs on every run, so CI is reproducible), no example database, no shrinking.
- ``mcmsim-fuzz-long`` (tests marked ``slow``, run only when ``MCMSIM_FUZZ_EXAMPLES``
  is set): that many generated inputs over the whole suite, split among the tests by
  their share. ``MCMSIM_FUZZ_COLLECT=FILE`` records every failing case in FILE (one JSON
  object a line) instead of stopping at the first, and skips shrinking. Run it with
  ``scripts/fuzz_long.sh``; the summary prints the count and wall time.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.fuzz.harness import CaseOutcome

LONG_EXAMPLES = int(os.environ.get("MCMSIM_FUZZ_EXAMPLES", "0"))
COLLECT_PATH = os.environ.get("MCMSIM_FUZZ_COLLECT")

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
}
# No shrinking in the fast profile: a failure reports its drawn input at once.
settings.register_profile(
    "mcmsim-fuzz-fast",
    derandomize=True,
    max_examples=5,
    phases=(Phase.explicit, Phase.generate),
    **_COMMON,
)
settings.register_profile(
    "mcmsim-fuzz-long",
    derandomize=False,
    max_examples=max(LONG_EXAMPLES, 1),
    phases=(Phase.explicit, Phase.generate) if COLLECT_PATH else tuple(Phase),
    **_COMMON,
)


@dataclass
class FuzzLog:
    """Cases run this session; failures go to ``collect_path`` when it is set."""

    collect_path: Path | None
    started_s: float = field(default_factory=time.perf_counter)
    last_case_s: float = field(default_factory=time.perf_counter)
    cases: int = 0
    failures: int = 0

    def record(self, outcome: CaseOutcome, family: str, input_text: str) -> None:
        """Count the case; a failure is appended to the collect file or fails the test."""
        self.cases += 1
        self.last_case_s = time.perf_counter()
        if outcome.ok:
            return
        self.failures += 1
        report = {
            "family": family,
            "args": list(outcome.args),
            "problems": outcome.problems,
            "exit_code": outcome.exit_code,
            "stderr": outcome.stderr[-1500:],
            "exception": (outcome.exception or "")[-3000:],
            "wall_s": round(outcome.wall_s, 3),
            "input": input_text[:4000],
        }
        if self.collect_path is not None:
            with self.collect_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(report) + "\n")
            return
        pytest.fail(
            f"{family}: mcmsim {' '.join(outcome.args)}\n"
            + "\n".join(outcome.problems)
            + f"\n--- stderr ---\n{outcome.stderr[-1500:]}"
            + (f"\n--- exception ---\n{outcome.exception[-3000:]}" if outcome.exception else "")
            + f"\n--- input (first 2000 chars) ---\n{input_text[:2000]}",
            pytrace=False,
        )


_LOG_KEY = pytest.StashKey[FuzzLog]()


@pytest.fixture(scope="session")
def fuzz_log(request: pytest.FixtureRequest) -> FuzzLog:
    """The session's log of fuzz cases."""
    log = FuzzLog(Path(COLLECT_PATH) if COLLECT_PATH else None)
    request.config.stash[_LOG_KEY] = log
    return log


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    log = config.stash.get(_LOG_KEY, None)
    if log is None or not log.cases:
        return
    # From the first fuzz test to the last case, not to the end of the whole test run.
    wall_s = log.last_case_s - log.started_s
    terminalreporter.write_line(
        f"mcmsim fuzz: {log.cases} generated inputs in {wall_s:.1f} s wall, "
        f"{log.failures} failing"
        + (f" (recorded in {log.collect_path})" if log.collect_path else "")
    )
