"""Random valid scenarios over every scheduler, stream kind and mode run to sound results."""

from __future__ import annotations

from hypothesis import given

from tests.fuzz.cases import FAST, check_run, long_profile
from tests.fuzz.conftest import FuzzLog
from tests.fuzz.valid_scenarios import ValidScenario, valid_scenarios


def _check(case: ValidScenario, log: FuzzLog) -> None:
    # A valid scenario must be accepted: exit 2 here is a finding like any other.
    code = check_run(log, "valid-scenario", case.document, case.files)
    if code == 2 and log.collect_path is None:
        raise AssertionError(f"a valid scenario was rejected: {case.document}")


@FAST
@given(case=valid_scenarios())
def test_random_valid_scenarios_run_to_sound_results(
    case: ValidScenario, fuzz_log: FuzzLog
) -> None:
    _check(case, fuzz_log)


@long_profile(share=0.10)
@given(case=valid_scenarios())
def test_random_valid_scenarios_run_to_sound_results_long(
    case: ValidScenario, fuzz_log: FuzzLog
) -> None:
    _check(case, fuzz_log)
