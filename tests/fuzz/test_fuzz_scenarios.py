"""Mutated copies of the shipped scenarios: validate answers, accepted ones run soundly."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.cases import FAST, SCENARIO_FILES, check_run, check_validate, long_profile
from tests.fuzz.conftest import FuzzLog
from tests.fuzz.mutations import mutated_bytes, mutated_document
from tests.fuzz.toml_text import dumps

DOCUMENTS: dict[Path, dict[str, Any]] = {
    p: tomllib.loads(p.read_text("utf-8")) for p in SCENARIO_FILES
}

structural_mutants = st.sampled_from(SCENARIO_FILES).flatmap(
    lambda p: mutated_document(DOCUMENTS[p])
)
raw_mutants = st.sampled_from(SCENARIO_FILES).flatmap(lambda p: mutated_bytes(p.read_bytes()))


def test_the_shipped_scenarios_are_the_fuzzers_seeds() -> None:
    # Every seed round-trips through the fuzzer's TOML writer unchanged.
    assert len(SCENARIO_FILES) >= 10
    for path, document in DOCUMENTS.items():
        assert tomllib.loads(dumps(document)) == document, path


@FAST
@given(document=structural_mutants)
def test_structural_scenario_mutants_validate_or_name_a_line(
    document: dict[str, Any], fuzz_log: FuzzLog
) -> None:
    check_validate(fuzz_log, "scenario-structural", dumps(document))


@long_profile(share=0.30)
@given(document=structural_mutants)
def test_structural_scenario_mutants_validate_or_name_a_line_long(
    document: dict[str, Any], fuzz_log: FuzzLog
) -> None:
    check_validate(fuzz_log, "scenario-structural", dumps(document))


@FAST
@given(data=raw_mutants)
def test_raw_scenario_mutants_validate_or_name_a_line(data: bytes, fuzz_log: FuzzLog) -> None:
    check_validate(fuzz_log, "scenario-raw", data)


@long_profile(share=0.20)
@given(data=raw_mutants)
def test_raw_scenario_mutants_validate_or_name_a_line_long(data: bytes, fuzz_log: FuzzLog) -> None:
    check_validate(fuzz_log, "scenario-raw", data)


@FAST
@given(document=structural_mutants)
def test_accepted_scenario_mutants_run_to_sound_results(
    document: dict[str, Any], fuzz_log: FuzzLog
) -> None:
    check_run(fuzz_log, "scenario-mutant", document)


@long_profile(share=0.15)
@given(document=structural_mutants)
def test_accepted_scenario_mutants_run_to_sound_results_long(
    document: dict[str, Any], fuzz_log: FuzzLog
) -> None:
    check_run(fuzz_log, "scenario-mutant", document)
