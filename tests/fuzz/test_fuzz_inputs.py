"""Mutated schedules (``run --schedule``), trace CSVs and sweep files (``sweep --dry-run``)."""

from __future__ import annotations

import csv
import functools
import io
import json
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.fuzz.cases import (
    FAST,
    SWEEP_FILES,
    VALIDATE_BUDGET_S,
    check_run,
    long_profile,
    write_files,
)
from tests.fuzz.conftest import FuzzLog
from tests.fuzz.harness import run_case
from tests.fuzz.mutations import EXTREME_NUMBERS, mutated_bytes, mutated_document, nasty_values
from tests.fuzz.toml_text import dumps

# --- schedules -------------------------------------------------------------------------

_SHIPPED_SCHEDULES = {
    "scar_fig2.toml": ("nn_baton", "sequential_nvdla", "spatial_split", "two_windows"),
    "scar_fig2_resnet.toml": ("resnet_heterogeneous", "resnet_on_shidiannao"),
}


@functools.cache
def schedule_cases() -> tuple[tuple[str, str], ...]:
    """(scenario text, schedule JSON text): the shipped schedules and ones the API makes."""
    import mcmsim

    cases = [
        (
            (ROOT / "scenarios" / s).read_text("utf-8"),
            (ROOT / "scenarios/scar_fig2" / f"{j}.json").read_text("utf-8"),
        )
        for s, names in _SHIPPED_SCHEDULES.items()
        for j in names
    ]
    path = ROOT / "scenarios" / "scar_fig2.toml"
    scenario = mcmsim.load_scenario(path)
    for name in ("standalone", "greedy"):
        cases.append((path.read_text("utf-8"), mcmsim.schedule(scenario, name).to_json()))
    return tuple(cases)


@st.composite
def schedule_mutants(draw: st.DrawFn) -> tuple[str, bytes]:
    scenario, schedule = draw(st.sampled_from(schedule_cases()))
    how = draw(st.sampled_from(("structure", "structure", "raw", "deep")))
    if how == "structure":
        document = draw(mutated_document(json.loads(schedule), deep=False))
        # json writes NaN, Infinity and huge integers as Python reads them back.
        return scenario, json.dumps(document).encode()
    if how == "deep":
        depth = draw(st.sampled_from((100, 2000, 20000)))
        return scenario, ("[" * depth + "]" * depth).encode()
    return scenario, draw(mutated_bytes(schedule.encode()))


def _check_schedule(case: tuple[str, bytes], log: FuzzLog) -> None:
    scenario, schedule = case
    check_run(
        log,
        "schedule",
        scenario,
        {"schedule.json": schedule},
        ("--schedule", "schedule.json"),
        validate_first=False,
        json_paths=True,
    )


def test_the_schedule_seeds_run_as_they_are(fuzz_log: FuzzLog) -> None:
    # Unmutated, every seed schedule is accepted: the fuzz starts from valid inputs.
    for scenario, schedule in schedule_cases():
        assert (
            check_run(
                fuzz_log,
                "schedule-seed",
                scenario,
                {"schedule.json": schedule},
                ("--schedule", "schedule.json"),
            )
            == 0
        )


@FAST
@given(case=schedule_mutants())
def test_schedule_mutants_run_or_name_a_json_path(
    case: tuple[str, bytes], fuzz_log: FuzzLog
) -> None:
    _check_schedule(case, fuzz_log)


@long_profile(share=0.10)
@given(case=schedule_mutants())
def test_schedule_mutants_run_or_name_a_json_path_long(
    case: tuple[str, bytes], fuzz_log: FuzzLog
) -> None:
    _check_schedule(case, fuzz_log)


# --- trace CSVs ------------------------------------------------------------------------

TRACE_SCENARIO = """
name = "fuzz_trace"

[package]
layout = [["ws", "os"]]

[package.chiplet_types.ws]
dataflow = "ws"
pes = 256

[package.chiplet_types.os]
dataflow = "os"
pes = 256

[[workloads]]
name = "fc"
layers = [{ name = "fc", op = "matmul", m = 16, k = 256, n = 256 }]
stream = { kind = "trace", file = "arrivals.csv" }

[[workloads]]
name = "other"
layers = [{ name = "mm", op = "matmul", m = 32, k = 64, n = 64 }]
stream = { kind = "closed", in_flight = 2 }

[scheduler]
name = "standalone"

[simulation]
mode = "stream"
seed = 1
requests = 40
"""

_ROWS = (
    [["arrival_s", "model"]]
    + [[f"{0.001 * i:.6f}", "fc"] for i in range(30)]
    + [["0.0105", "other"]]
)

_CELLS = st.one_of(
    st.sampled_from([str(v) for v in EXTREME_NUMBERS]),
    st.sampled_from(
        (
            "",
            "fc",
            "FC",
            "other",
            "1e300",
            "1e400",
            "-0",
            "0x10",
            "1_000",
            '"0.1',
            "x" * 200_000,
            "é",
            "\x00",
        )
    ),
    st.text(max_size=8),
)


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@st.composite
def trace_mutants(draw: st.DrawFn) -> bytes:
    rows = [list(r) for r in _ROWS]
    how = draw(st.sampled_from(("cells", "cells", "rows", "same_instant", "raw", "unterminated")))
    if how == "cells":
        for _ in range(draw(st.integers(1, 3))):
            r = draw(st.integers(0, len(rows) - 1))
            c = draw(st.integers(0, len(rows[r]) - 1))
            rows[r][c] = draw(_CELLS)
    elif how == "rows":
        op = draw(
            st.sampled_from(
                ("delete", "header_only", "extra_column", "short_row", "shuffle", "other_only")
            )
        )
        if op == "delete":
            del rows[draw(st.integers(0, len(rows) - 1))]
        elif op == "header_only":
            rows = rows[:1]
        elif op == "extra_column":
            rows = [[*r, "x"] for r in rows]
        elif op == "short_row":
            rows[draw(st.integers(1, len(rows) - 1))] = ["0.5"]
        elif op == "shuffle":
            rows = [rows[0], *draw(st.permutations(rows[1:]))]
        else:
            rows = [rows[0], ["0.1", "other"], ["0.2", "other"]]
    elif how == "same_instant":
        count = draw(st.sampled_from((2, 100, 1000)))
        rows = [rows[0], *([["0.001", "fc"]] * count), ["0.002", "fc"]]
    elif how == "unterminated":
        text = _csv_text(rows).splitlines()
        at = draw(st.integers(1, len(text) - 1))
        text[at] = '"' + text[at]
        return ("\n".join(text) + "\n").encode()
    else:
        return draw(mutated_bytes(_csv_text(rows).encode()))
    return _csv_text(rows).encode()


def _check_trace(trace: bytes, log: FuzzLog) -> None:
    check_run(log, "trace", TRACE_SCENARIO, {"arrivals.csv": trace})


def test_the_trace_seed_runs_as_it_is(fuzz_log: FuzzLog) -> None:
    assert (
        check_run(fuzz_log, "trace-seed", TRACE_SCENARIO, {"arrivals.csv": _csv_text(_ROWS)}) == 0
    )


@FAST
@given(trace=trace_mutants())
def test_trace_mutants_run_or_name_a_line(trace: bytes, fuzz_log: FuzzLog) -> None:
    _check_trace(trace, fuzz_log)


@long_profile(share=0.10)
@given(trace=trace_mutants())
def test_trace_mutants_run_or_name_a_line_long(trace: bytes, fuzz_log: FuzzLog) -> None:
    _check_trace(trace, fuzz_log)


# --- sweep files -----------------------------------------------------------------------


def _sweep_seed(path: Path) -> dict[str, Any]:
    """The sweep with its ``base`` made absolute, so it can be written anywhere."""
    document = tomllib.loads(path.read_text("utf-8"))
    document["base"] = str((path.parent / document["base"]).resolve())
    return document


SWEEP_SEEDS = [_sweep_seed(p) for p in SWEEP_FILES]


@st.composite
def sweep_mutants(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(SWEEP_SEEDS))
    how = draw(st.sampled_from(("structure", "structure", "axis_value", "raw")))
    if how == "raw":
        return draw(mutated_bytes(dumps(seed).encode()))
    if how == "axis_value":
        document = json.loads(json.dumps(seed))
        axis = draw(st.sampled_from(sorted(document["axes"])))
        values = document["axes"][axis]
        bad = draw(nasty_values(deep=False))
        if isinstance(values, list):
            values[draw(st.integers(0, len(values) - 1))] = bad
        else:
            values[draw(st.sampled_from(sorted(values)))] = bad
        return dumps(document).encode()
    return dumps(draw(mutated_document(seed))).encode()


def _check_sweep(data: bytes, log: FuzzLog) -> None:
    with tempfile.TemporaryDirectory(prefix="mcmsim-fuzz-") as folder:
        path = Path(folder) / "sweep.toml"
        write_files(Path(folder), {"sweep.toml": data})
        outcome = run_case(["sweep", path, "--dry-run"], VALIDATE_BUDGET_S)
    log.record(outcome, "sweep", data.decode("utf-8", "backslashreplace"))


def test_the_sweep_seeds_pass_a_dry_run(fuzz_log: FuzzLog) -> None:
    assert SWEEP_SEEDS
    for seed in SWEEP_SEEDS:
        _check_sweep(dumps(seed).encode(), fuzz_log)


@FAST
@given(data=sweep_mutants())
def test_sweep_mutants_pass_a_dry_run_or_name_a_line(data: bytes, fuzz_log: FuzzLog) -> None:
    _check_sweep(data, fuzz_log)


@long_profile(share=0.05)
@given(data=sweep_mutants())
def test_sweep_mutants_pass_a_dry_run_or_name_a_line_long(data: bytes, fuzz_log: FuzzLog) -> None:
    _check_sweep(data, fuzz_log)
