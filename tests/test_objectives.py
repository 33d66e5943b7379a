"""SLOs, goodput and the shared objectives: a starved model cannot win, one ranking everywhere."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mcmsim
from mcmsim.cli import app
from mcmsim.metrics.objectives import (
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    GameableObjectiveWarning,
    resolve_objective,
)
from mcmsim.report import compare
from mcmsim.search.objective import score_results
from mcmsim.sweep.export import best_points
from mcmsim.sweep.store import StoredPoint

# A fast and a slow model, closed (4 and 1 requests in flight), on a 1x2 package whose
# second chiplet is output-stationary: the slow GEMV runs ~36x slower there than on the
# weight-stationary one. ``standalone`` puts the slow model on it (starved: the fast
# model alone piles up inferences), ``monolithic`` shares the good chiplet.
STARVE = """
name = "starve"

[package]
layout = [["ws", "os"]]

[package.chiplet_types.ws]
dataflow = "ws"
pes = 256

[package.chiplet_types.os]
dataflow = "os"
pes = 256

[[workloads]]
name = "fast"
stream = { kind = "closed", in_flight = 4 }
layers = [{ name = "fc", op = "matmul", m = 1, k = 256, n = 256 }]

[[workloads]]
name = "slow"
stream = { kind = "closed", in_flight = 1 }
layers = [{ name = "fc", op = "matmul", m = 1, k = 2048, n = 2048 }]

[simulation]
requests = 400
"""

# One model on one chiplet; requests arrive in pairs (trace below), so in every pair
# the first waits for nothing and the second for the first: latencies S and 2S exactly.
PAIRS = """
name = "pairs"

[package]
layout = [["ws"]]

[package.chiplet_types.ws]
dataflow = "ws"
pes = 256

[[workloads]]
name = "mlp"
stream = {{ kind = "trace", file = "pairs.csv" }}
layers = [{{ name = "fc", op = "matmul", m = 4, k = 512, n = 512 }}]
{slo}

[simulation]
requests = 200
warmup = "none"
"""


def _pairs(tmp_path: Path, slo: str = "") -> mcmsim.Scenario:
    rows = ["arrival_s,model"]
    for i in range(120):  # one pair per millisecond, far below capacity
        rows += [f"{i * 1e-3:.6f},mlp"] * 2
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = tmp_path / "pairs.toml"
    path.write_text(PAIRS.format(slo=slo), encoding="utf-8")
    return mcmsim.load_scenario(path)


@pytest.fixture(scope="module")
def starve_runs() -> list[compare.Run]:
    scenario = mcmsim.parse_scenario(STARVE, "starve.toml")
    return compare.run_pairs([(scenario, "standalone"), (scenario, "monolithic")])


def test_a_schedule_that_starves_a_model_cannot_win_the_default_objective(
    starve_runs: list[compare.Run],
) -> None:
    starving, sharing = (run.results for run in starve_runs)
    # The premise: the raw sum prefers starving the slow model (on the os chiplet it gets
    # under 3% of what it gets sharing the ws one)...
    assert starving.models["slow"].throughput_per_s < 0.05 * sharing.models["slow"].throughput_per_s
    assert starving.throughput_per_s > 10 * sharing.throughput_per_s
    # ...and the default objective does not: it is the worst model's share.
    for results in (starving, sharing):
        shares = [m.normalized_throughput for m in results.objectives.models.values()]
        assert results.objectives[DEFAULT_OBJECTIVE] == pytest.approx(min(shares))
    assert starving.objectives[DEFAULT_OBJECTIVE] < sharing.objectives[DEFAULT_OBJECTIVE]
    assert compare.winner(compare.table_rows(starve_runs)) == 1


def test_reference_rates_bound_closed_models(starve_runs: list[compare.Run]) -> None:
    # A closed model's reference is its isolated LP bound: no schedule serves it more.
    for run in starve_runs:
        for name, model in run.results.objectives.models.items():
            assert model.reference == "isolated bound"
            assert model.normalized_throughput <= 1.0 + 1e-9, name


def test_compare_sweep_and_search_agree_on_the_winner(starve_runs: list[compare.Run]) -> None:
    rows = compare.table_rows(starve_runs)
    datas = [run.results.to_dict() for run in starve_runs]
    points = [
        StoredPoint(str(i), i, {}, {"s": run.schedule.scheduler}, {}, "ok", data, None, 0, "w", "t")
        for i, (run, data) in enumerate(zip(starve_runs, datas, strict=True))
    ]
    best = best_points(points)
    for objective in OBJECTIVES:
        by_compare = compare.winner(rows, objective)
        by_sweep = int(best[objective].id)
        keys = [score_results(run.results, objective, {}).key for run in starve_runs]
        by_search = max(range(len(keys)), key=keys.__getitem__)
        assert by_compare == by_sweep == by_search, objective


def test_slo_attainment_is_the_hand_computed_share(tmp_path: Path) -> None:
    plain = mcmsim.simulate(scenario := _pairs(tmp_path), mcmsim.schedule(scenario))
    latency = plain.models["mlp"].latency_s
    assert plain.models["mlp"].slo is None
    # Latencies S and 2S alternate: the mean, 1.5 S, has exactly half of them within.
    target_ms = latency.mean * 1e3
    for percentile, met in ((99, False), (50, True)):
        slo = f"slo = {{ latency_ms = {target_ms!r}, percentile = {percentile} }}"
        scenario = _pairs(tmp_path, slo)
        model = mcmsim.simulate(scenario, mcmsim.schedule(scenario)).models["mlp"]
        assert model.completed % 2 == 0
        assert model.slo.within_target == model.completed // 2
        assert model.slo.attainment == 0.5
        assert model.slo.met is met
        assert model.slo.goodput_per_s == pytest.approx(0.5 * model.throughput_per_s)


def test_goodput_never_exceeds_throughput(tmp_path: Path) -> None:
    for target_ms in (1e-6, 0.01, 1.0, 1e3):
        scenario = _pairs(tmp_path, f"slo = {{ latency_ms = {target_ms} }}")
        results = mcmsim.simulate(scenario, mcmsim.schedule(scenario))
        model = results.models["mlp"]
        assert 0.0 <= model.slo.goodput_per_s <= model.throughput_per_s
        objectives = results.objectives
        assert objectives["slo_goodput"] <= objectives[DEFAULT_OBJECTIVE] + 1e-12
    assert model.slo.attainment == 1.0  # 1 s is far above any latency here


def test_raw_sum_is_kept_under_a_name_that_says_so(starve_runs: list[compare.Run]) -> None:
    data = starve_runs[0].results.to_dict()
    assert data["throughput_sum_all_models_per_s"] == data["throughput_per_s"]
    assert data["objectives"]["throughput"] == pytest.approx(data["throughput_per_s"])


def test_legacy_throughput_objective_warns_and_unknown_is_an_error() -> None:
    with pytest.warns(GameableObjectiveWarning, match="starves a model"):
        resolve_objective("throughput")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_objective(DEFAULT_OBJECTIVE)
    with pytest.raises(ValueError, match="unknown objective 'fastest'"):
        resolve_objective("fastest")


def test_compare_names_the_winner_and_rejects_unknown_objectives(tmp_path: Path) -> None:
    path = tmp_path / "starve.toml"
    path.write_text(STARVE, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["compare", f"{path}@standalone,monolithic", "--requests", "100"])
    assert result.exit_code == 0, result.output
    assert "winner by min_normalized_throughput: monolithic (" in result.stdout
    result = runner.invoke(app, ["compare", str(path), "--objective", "fastest"])
    assert result.exit_code == 2
    assert "--objective: unknown objective 'fastest'" in result.stderr


BAD_SLO = {
    "negative target": ("slo = { latency_ms = -5 }", "workloads.0.slo.latency_ms"),
    "percentile above 100": (
        "slo = { latency_ms = 5, percentile = 120 }",
        "workloads.0.slo.percentile",
    ),
    "unknown key": ("slo = { target_ms = 5 }", "workloads.0.slo.target_ms: unknown key"),
    "missing target": ("slo = { percentile = 99 }", "workloads.0.slo.latency_ms"),
    "zero weight": ("weight = 0", "workloads.0.weight"),
}


@pytest.mark.parametrize("case", BAD_SLO, ids=list(BAD_SLO))
def test_bad_slo_keys_give_file_line_errors(tmp_path: Path, case: str) -> None:
    line, expected = BAD_SLO[case]
    text = STARVE.replace(
        'stream = { kind = "closed", in_flight = 4 }\nlayers = [{ name = "fc", op = "matmul", '
        "m = 1, k = 256",
        f'stream = {{ kind = "closed", in_flight = 4 }}\n{line}\nlayers = [{{ name = "fc", '
        'op = "matmul", m = 1, k = 256',
    )
    assert line in text
    number = text.splitlines().index(line) + 1
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{number}: {expected}" in result.stderr
    assert "Traceback" not in result.output
