"""The fuzz suite's judges can fail: each invariant and message rule caught on a known case."""

from __future__ import annotations

import copy
import json
import math
import signal
import time
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.fuzz.harness import (
    CaseTimeout,
    _time_limit,
    error_line_problems,
    result_violations,
    run_case,
)

SOUND: dict[str, Any] = {
    "throughput_per_s": 100.0,
    "energy_j": {"compute": 0.1, "sram": 0.2, "nop": 0.3, "dram": 0.4, "static": 0.5, "total": 1.5},
    "requests": {"arrived": 10, "completed": 7, "in_flight": 3},
    "models": {
        "a": {
            "arrived": 10,
            "completed": 5,
            "completed_total": 7,
            "in_flight_at_end": 3,
            "throughput_per_s": 100.0,
            "throughput_ci95_per_s": [90.0, 110.0],
            "deadline": None,
        }
    },
    "chiplets": {"0": {"utilization": 1.0, "occupancy": 1.0, "compute_activity": 0.5}},
    "links": {"0,0->0,1": {"busy_share": 0.0, "bandwidth_utilization": 0.25, "bytes": 10}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    results = copy.deepcopy(SOUND)
    *parents, last = path.split(".")
    node = results
    for key in parents:
        node = node[key]
    node[last] = value
    return results


def test_sound_results_break_no_invariant() -> None:
    assert result_violations(SOUND) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("throughput_per_s", math.nan, "not finite"),
        ("throughput_per_s", math.inf, "not finite"),
        ("energy_j.sram", -0.2, "negative"),
        ("chiplets.0.occupancy", 1.0000001, "exceeds 1"),
        ("links.0,0->0,1.bandwidth_utilization", 2.0, "exceeds 1"),
        ("energy_j.total", 1.5 * (1 + 1e-6), "energy parts sum"),
        ("models.a.throughput_ci95_per_s", [-5.0, 110.0], "negative"),
        ("models.a.throughput_ci95_per_s", [101.0, 110.0], "excludes 100.0"),
        ("requests.in_flight", 4, "requests not conserved"),
        ("models.a.arrived", 11, "models arrived 11"),
    ],
)
def test_each_broken_invariant_is_reported(path: str, value: Any, expected: str) -> None:
    assert any(expected in p for p in result_violations(_with(path, value)))


def test_dropped_frames_may_leave_without_completing_only_under_a_deadline() -> None:
    # 10 arrived, 6 + 3 accounted: one frame dropped, allowed only with deadlines.
    results = _with("requests.completed", 6)
    results["models"]["a"]["completed_total"] = 6
    assert result_violations(results) != []
    results["models"]["a"]["deadline"] = {"dropped": 1}
    assert result_violations(results) == []


@pytest.mark.parametrize(
    "stderr",
    [
        "error: s.toml:6: package.chiplet_types.a.pes: Input should be greater than 0\n",
        "warning: something\nerror: s.toml:1: package: missing table [package]\n",
        "error: s.toml: not valid UTF-8 (byte 0xff at offset 3)\n",
        "error: s.toml: is a directory, not a file\n",
    ],
)
def test_errors_naming_a_line_or_a_whole_file_reason_pass(stderr: str) -> None:
    assert error_line_problems(stderr) == []


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("", "without an 'error:' line"),
        ("Usage: mcmsim validate [OPTIONS]\n╭─ Error ─╮\n", "without an 'error:' line"),
        ("error: s.toml: package: Field required\n", "names no line"),
        ("error: s.toml:3: a\nb: unknown key\n", "not one line per error"),
        ("error: s.toml:3: a\nerror: b: unknown key\n", "names no line"),
    ],
)
def test_errors_without_a_line_or_split_over_lines_are_reported(stderr: str, expected: str) -> None:
    assert any(expected in p for p in error_line_problems(stderr))


def test_a_case_past_its_budget_is_stopped_and_nothing_can_catch_it() -> None:
    start = time.perf_counter()
    with pytest.raises(CaseTimeout), _time_limit(0.2):
        try:
            time.sleep(5)
        except Exception:  # the command's own error handling must not swallow the limit
            pytest.fail("CaseTimeout was caught as an Exception")
    assert time.perf_counter() - start < 5  # interrupted, not slept through
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_sound_run_passes_the_harness_and_its_results_are_checked() -> None:
    outcome = run_case(
        ["run", ROOT / "scenarios" / "scar_fig2_resnet.toml", "--requests", "5", "--json"],
        30,
        results_json=True,
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.ok, outcome.problems
    assert json.loads(outcome.stdout)["energy_j"]["total"] > 0


def test_a_missing_file_is_reported_as_a_problem_of_the_harness_not_a_crash() -> None:
    # Whatever the wording of a missing scenario, the harness returns an outcome.
    outcome = run_case(["validate", ROOT / "no-such-scenario.toml"], 10)
    assert outcome.exit_code == 2
    assert not outcome.timed_out and outcome.exception is None


def test_a_schedule_error_may_name_a_json_path_instead_of_a_line() -> None:
    stderr = "error: s.json: windows[0].segments[3].chiplet: expected an integer, got true\n"
    assert error_line_problems(stderr, json_paths=True) == []
    assert error_line_problems(stderr) != []
    for path in (
        'windows[0].segments[1][""]',
        '["a\\nb"]',
        "windows[0].segments[0].ключ",
        "(root)",
    ):
        assert error_line_problems(f"error: s.json: {path}: unknown key\n", json_paths=True) == []
    assert (
        error_line_problems("error: malformed schedule: KeyError('stop')\n", json_paths=True) != []
    )
