"""``mcmsim compare``: pairs, the table with ratios to the first row, CSV and PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mcmsim.report.compare import columns, parse_pairs, run_pairs, table_rows
from tests.conftest import CliResult, invoke_cli

ROOT = Path(__file__).resolve().parent.parent
HETERO = str(ROOT / "scenarios" / "gpt2_resnet.toml")
MONO = str(ROOT / "scenarios" / "gpt2_resnet_monolithic.toml")


def _invoke(*args: str) -> CliResult:
    return invoke_cli("compare", *args)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    result = _invoke(
        f"{MONO}@monolithic",
        HETERO,
        "--scheduler",
        "standalone,greedy",
        "--requests",
        "150",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    return out


def test_csv_has_one_row_per_pair_with_ratios(compared: Path) -> None:
    with open(compared / "compare.csv", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == columns()
        rows = list(reader)
    assert [(r["scenario"], r["scheduler"]) for r in rows] == [
        ("gpt2_resnet_monolithic", "monolithic"),
        ("gpt2_resnet", "standalone"),
        ("gpt2_resnet", "greedy"),
    ]
    first = rows[0]
    for row in rows:
        for key in ("throughput_per_s", "latency_p99_s", "energy_per_inference_j", "edp_j_s"):
            assert float(row[key]) > 0
            ratio = float(row[key]) / float(first[key])
            assert float(row[key + "_ratio"]) == pytest.approx(ratio)
    assert float(first["throughput_per_s_ratio"]) == 1.0
    # The heterogeneous package beats the monolithic baseline by a wide margin.
    assert float(rows[2]["throughput_per_s_ratio"]) > 2


def test_png_is_written(compared: Path) -> None:
    data = (compared / "compare.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_table_is_printed() -> None:
    result = _invoke(f"{MONO}@monolithic", "--requests", "20")
    assert result.exit_code == 0, result.output
    assert "monolithic" in result.stdout and "(1x)" in result.stdout


def test_pairs_default_to_the_scenario_scheduler() -> None:
    pairs = parse_pairs([HETERO, f"{MONO}@monolithic,standalone"])
    assert [(sc.name, name) for sc, name in pairs] == [
        ("gpt2_resnet", "scar"),  # the file's [scheduler]
        ("gpt2_resnet_monolithic", "monolithic"),
        ("gpt2_resnet_monolithic", "standalone"),
    ]
    pairs = parse_pairs([HETERO], "scar, greedy")
    assert [name for _, name in pairs] == ["scar", "greedy"]


def test_rows_compare_against_the_first() -> None:
    runs = run_pairs(parse_pairs([f"{MONO}@monolithic,standalone"]), requests=20)
    rows = table_rows(runs)
    # On a 1x1 package standalone is the same schedule as monolithic.
    assert rows[1]["throughput_per_s_ratio"] == pytest.approx(1.0)
    assert rows[1]["scheduler"] == "standalone"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((HETERO, "--scheduler", "scar,,greedy"), "--scheduler: empty scheduler name"),
        ((HETERO, "--scheduler", "scra"), "unknown scheduler 'scra'; known: "),
        (("no_such.toml",), "no_such.toml: file not found"),
        ((HETERO, "--requests", "0"), "simulation.requests: override 0: Input should be greater"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: tuple, message: str) -> None:
    result = _invoke(*args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "out").exists()
