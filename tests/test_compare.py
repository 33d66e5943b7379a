"""``mcmsim compare``: pairs, the table with ratios to the first row, CSV and PNG; per-model
rows, winners per objective and ties within the confidence intervals (issue 14)."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

import mcmsim
from mcmsim.metrics.objectives import (
    OBJECTIVES,
    TIE_RELATIVE_TOLERANCE,
    common_objective_half_widths,
)
from mcmsim.report.compare import columns, parse_pairs, run_pairs, table_rows
from mcmsim.report.compare_models import MODEL_FIELDS
from mcmsim.sweep.export import tied_points
from mcmsim.sweep.store import StoredPoint
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
        assert reader.fieldnames[: len(columns())] == columns()
        rows = list(reader)
    for model in ("gpt2", "resnet50"):
        assert f"models.{model}.served_per_s" in reader.fieldnames
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


# --- per model, winners and ties (issue 14) -------------------------------------------

# Two open streams on a 1x2 package; each frame holds a chiplet for a fixed time H
# (cam: ~0.43 ms at 2000 frames/s, load ~0.86; query: ~0.30 ms at 2000/s, load ~0.6).
# ``standalone`` gives each model a chiplet; ``monolithic`` puts both on one (load ~1.5:
# overloaded). ``standalone[]`` is ``standalone`` spelt differently: the same run.
MIX = """
name = "mix"

[package]
layout = [["a", "a"]]

[package.chiplet_types.a]
dataflow = "ws"
pes = 4096

[dram]
latency_ns = 0

[[workloads]]
name = "cam"
layers = [{ name = "mm", op = "matmul", m = 512, k = 1024, n = 1024, weights = false }]
stream = { kind = "periodic", fps = 2000 }

[[workloads]]
name = "query"
layers = [{ name = "mm", op = "matmul", m = 256, k = 1024, n = 1024, weights = false }]
stream = { kind = "poisson", rate_per_s = 2000 }
slo = { latency_ms = 1, percentile = 99 }

[simulation]
seed = 1
requests = 400
"""
MIX_SCHEDULERS = "standalone,monolithic,standalone[]"


@pytest.fixture(scope="module")
def mix_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mix") / "mix.toml"
    path.write_text(MIX, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mix_json(mix_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("mix_out")
    result = _invoke(str(mix_file), "-s", MIX_SCHEDULERS, "--json", "--out", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    document["out"] = str(out)
    return document


def test_every_run_has_each_model_with_offered_and_served(mix_json: dict) -> None:
    runs = mix_json["runs"]
    assert [r["label"] for r in runs] == ["standalone #1", "monolithic", "standalone #3"]
    for run in runs:
        assert set(run["models"]) == {"cam", "query"}
        for name, model in run["models"].items():
            # Both streams offer 2000 requests/s of one inference each.
            assert model["offered_per_s"] == pytest.approx(2000)
            assert model["served_per_s"] > 0
            assert model["served_share_of_offered"] == pytest.approx(
                model["served_per_s"] / model["offered_per_s"]
            )
            assert model["latency_p99_s"] > 0, name
        # Only the query declares an SLO, only the periodic camera has frame deadlines.
        assert runs[0]["models"]["query"]["slo_latency_s"] == pytest.approx(1e-3)
        assert run["models"]["cam"]["slo_met"] is None
        assert 0 <= run["models"]["cam"]["deadline_miss_rate"] <= 1
        assert run["models"]["query"]["deadline_miss_rate"] is None
    # One chiplet cannot carry both streams (load ~1.5): the camera misses its
    # deadlines far more often than on a chiplet of its own (load ~0.86).
    alone, shared = runs[0]["models"]["cam"], runs[1]["models"]["cam"]
    assert shared["deadline_miss_rate"] > 0.5 > alone["deadline_miss_rate"]
    assert shared["served_per_s"] < 0.9 * alone["served_per_s"]
    # Overloaded, the shared chiplet's backlog grows: unstable, and its numbers carry no
    # interval; each model alone on a chiplet is stable.
    assert False in {m["stable"] for m in runs[1]["models"].values()}
    assert all(m["served_ci95_low_per_s"] is None for m in runs[1]["models"].values())
    assert all(m["stable"] for m in runs[0]["models"].values())


def test_winner_per_objective_matches_a_hand_check(mix_json: dict) -> None:
    runs = mix_json["runs"]
    assert set(mix_json["winners"]) == set(OBJECTIVES)
    for name, spec in OBJECTIVES.items():
        verdict = mix_json["winners"][name]
        values = [r[spec.column] for r in runs]
        best = (max if spec.higher_is_better else min)(values)
        assert verdict["value"] == best and values[verdict["best"]] == best, name
        halves = [r.get(spec.column + "_ci95_half_width") for r in runs]
        for i, value in enumerate(values):
            gap = abs(value - best)
            within = gap <= TIE_RELATIVE_TOLERANCE * abs(best)
            if halves[i] is not None and halves[verdict["best"]] is not None:
                within = within or gap <= halves[i] + halves[verdict["best"]]
            assert (i in verdict["tied"]) == within, (name, i)
        assert verdict["tie"] == (len(verdict["tied"]) > 1)
        # The same schedule under two spellings is always on the same side.
        assert (0 in verdict["tied"]) == (2 in verdict["tied"]), name


def test_identical_schedules_are_called_a_tie(mix_json: dict, mix_file: Path) -> None:
    # Energy has no interval, and monolithic's differs by more than 1%: a clean tie of
    # the two spellings of standalone.
    energy = mix_json["winners"]["energy"]
    assert energy["tied"] == [0, 2] and energy["tie"] is True
    result = _invoke(str(mix_file), "-s", MIX_SCHEDULERS)
    assert result.exit_code == 0, result.output
    assert "tie: standalone #1, standalone #3" in result.stdout


def test_each_model_names_who_serves_it_best_and_why(mix_json: dict) -> None:
    cam = mix_json["models"]["cam"]
    assert cam["runs"] == [0, 1, 2]
    assert cam["best"] == 0 and cam["tied_on_served"] == [0, 2]
    assert cam["why"].startswith("cam: served best by standalone #1, ")
    assert "of 2000/s offered" in cam["why"] and "busiest of its chiplets: 0 " in cam["why"]
    assert mix_json["models"]["query"]["why"].startswith("query: served best by ")


def test_csv_and_png_have_the_per_model_fields(mix_json: dict) -> None:
    out = Path(mix_json["out"])
    with open(out / "compare.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for model in ("cam", "query"):
        for field in MODEL_FIELDS:
            assert f"models.{model}.{field}" in rows[0]
    for row, run in zip(rows, mix_json["runs"], strict=True):
        served = float(row["models.cam.served_per_s"])
        assert served == pytest.approx(run["models"]["cam"]["served_per_s"])
    assert rows[0]["models.query.deadline_miss_rate"] == ""
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_json_flag_prints_json_and_bad_objective_exits_2(mix_file: Path) -> None:
    bad = _invoke(str(mix_file), "--objective", "fastest", "--json")
    assert bad.exit_code == 2 and not bad.stdout
    assert "fastest" in bad.stderr and "min_normalized_throughput" in bad.stderr
    closed = _invoke(f"{MONO}@monolithic", "--requests", "20", "--json")
    assert closed.exit_code == 0, closed.output
    models = json.loads(closed.stdout)["runs"][0]["models"]
    # Closed streams offer no rate; a single run is the best for every model.
    assert all(m["offered_per_s"] is None for m in models.values())


def test_half_widths_of_the_normalised_objectives_by_hand() -> None:
    def run(rate_a: float, ci_a: tuple, rate_b: float, ci_b: tuple) -> dict:
        models = {
            "a": {"throughput_per_s": rate_a, "throughput_ci95_per_s": ci_a, "slo": None},
            "b": {"throughput_per_s": rate_b, "throughput_ci95_per_s": ci_b, "slo": None},
        }
        refs = {
            "a": {"reference_rate_per_s": 100.0, "reference": "offered", "weight": 1.0},
            "b": {"reference_rate_per_s": 50.0, "reference": "offered", "weight": 3.0},
        }
        return {"models": models, "objectives": {"models": refs}}

    first, second = common_objective_half_widths(
        [run(80, (78, 82), 45, (44, 46)), run(90, (80, 100), 40, None)]
    )
    # a is the worst served (0.8 of 100 vs 0.9 of 50): its half-width 2 over 100.
    assert first["min_normalized_throughput"] == pytest.approx(0.02)
    # Weighted mean of the normalised half-widths: (1 * 2/100 + 3 * 1/50) / 4.
    assert first["weighted_throughput"] == pytest.approx((0.02 + 0.06) / 4)
    assert first["energy"] is None and first["edp"] is None
    # b has no interval: nothing that depends on it has one.
    assert second["min_normalized_throughput"] is None
    assert second["weighted_throughput"] is None


def test_sweep_best_points_tie_within_the_intervals(mix_json: dict) -> None:
    # Point 1 serves every model 3% less than point 0: beyond the 1% tolerance, so it
    # is a tie only when the intervals are wide enough to overlap.
    metrics = mcmsim.simulate(
        sc := mcmsim.parse_scenario(MIX, "mix.toml"), mcmsim.schedule(sc, "standalone")
    ).to_dict()

    def point(i: int, scale: float, ci_share: float) -> StoredPoint:
        data = copy.deepcopy(metrics)
        for model in data["models"].values():
            model["throughput_per_s"] *= scale
            rate = model["throughput_per_s"]
            model["throughput_ci95_per_s"] = [rate * (1 - ci_share), rate * (1 + ci_share)]
            model["steady_state"] = True
        return StoredPoint(str(i), i, {}, {"p": str(i)}, {}, "ok", data, None, 0, "w", "t")

    wide = tied_points([point(0, 1.0, 0.05), point(1, 0.97, 0.05)])
    narrow = tied_points([point(0, 1.0, 0.001), point(1, 0.97, 0.001)])
    assert [p.id for p in wide["min_normalized_throughput"]] == ["0", "1"]
    assert [p.id for p in narrow["min_normalized_throughput"]] == ["0"]
