"""Numbers a user cannot misread: stability verdicts, per-model sample counts, exact
percentiles and confidence intervals that respect a rate's sign."""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pytest
from typer.testing import CliRunner

import mcmsim
from mcmsim.cli import app
from mcmsim.metrics.quantiles import nearest_rank_ps
from mcmsim.metrics.stability import judge_open_stream
from mcmsim.metrics.steady_state import MIN_CI_BATCHES, mser_truncation, rate_ci
from mcmsim.report.tables import run_warnings
from tests.test_sim import ONE_CHIPLET, service_ps


@cache
def capacity_per_s() -> float:
    """Requests per second the one chiplet of ONE_CHIPLET serves back to back."""
    probe = mcmsim.parse_scenario(ONE_CHIPLET.format(stream='{kind="closed"}', requests=10))
    return 1e12 / service_ps(probe)


def one_chiplet(stream: str, requests: int, seed: int = 3) -> mcmsim.Scenario:
    text = ONE_CHIPLET.format(stream=stream, requests=requests).replace(
        "seed = 3", f"seed = {seed}"
    )
    return mcmsim.parse_scenario(text, "one.toml")


def poisson(rho: float, requests: int = 600, seed: int = 3) -> mcmsim.Scenario:
    return one_chiplet(f'{{kind="poisson", rate_per_s={rho * capacity_per_s()}}}', requests, seed)


def simulate(scenario: mcmsim.Scenario, **kwargs) -> mcmsim.Results:
    return mcmsim.simulate(scenario, mcmsim.schedule(scenario, "standalone"), **kwargs)


# --- stability ---------------------------------------------------------------------------


def test_overloaded_poisson_stream_is_reported_unstable_with_its_rates() -> None:
    results = simulate(poisson(2.0))
    fc = results.models["fc"]
    assert results.stable is False and fc.stable is False
    assert fc.offered_per_s == pytest.approx(2.0 * capacity_per_s(), rel=1e-12)
    # The chiplet works back to back, so it serves at its capacity: half the offer.
    assert fc.served_per_s == pytest.approx(capacity_per_s(), rel=0.01)
    assert fc.steady_state is False
    assert results.run.warmup_s == 0 and results.run.warmup_rule == "none: unstable run"
    assert any("unstable: fc" in line for line in run_warnings(results))
    data = json.loads(results.to_json())
    assert data["stable"] is False and data["models"]["fc"]["stable"] is False


def test_stable_poisson_stream_is_not_flagged() -> None:
    results = simulate(poisson(0.5))
    fc = results.models["fc"]
    assert results.stable is True and fc.stable is True and fc.steady_state is True
    assert fc.offered_per_s == pytest.approx(0.5 * capacity_per_s(), rel=1e-12)
    # 600 Poisson arrivals: the served rate is within a few sqrt(600) / 600 of the offer.
    assert fc.served_per_s == pytest.approx(fc.offered_per_s, rel=4 / math.sqrt(600))
    assert run_warnings(results) == []


def test_closed_streams_have_no_verdict_and_the_run_is_stable() -> None:
    results = simulate(one_chiplet('{kind="closed", in_flight=2}', 200))
    fc = results.models["fc"]
    assert fc.stable is None and fc.offered_per_s is None
    assert results.stable is True and fc.steady_state is True


def test_batch_mode_has_no_stability_or_steady_state() -> None:
    sc = one_chiplet('{kind="closed"}', 10).with_overrides(mode="batch")
    results = simulate(sc)
    assert results.stable is None and results.models["fc"].steady_state is None
    assert results.run.stop_reason == "batch done"
    assert results.run.min_requests_per_model is None


def test_stability_rule_by_hand() -> None:
    # 10000 requests offered over the run: the allowance is 3 sqrt(10000) = 300.
    overloaded = judge_open_stream(100.0, 100.0, completed=9000, in_system_at_end=1000)
    assert not overloaded.stable and overloaded.allowance_requests == 300
    # A deficit with no backlog (arrivals ran low) and a backlog without a deficit
    # (the run ended inside a burst) are both stable.
    assert judge_open_stream(100.0, 100.0, completed=9000, in_system_at_end=5).stable
    assert judge_open_stream(100.0, 100.0, completed=10000, in_system_at_end=400).stable
    # The allowance itself is still noise; one request beyond it on both counts is not.
    assert judge_open_stream(100.0, 100.0, completed=9700, in_system_at_end=300).stable
    assert not judge_open_stream(100.0, 100.0, completed=9699, in_system_at_end=301).stable


def test_cli_run_says_unstable_on_stderr_and_exits_0(write) -> None:
    stream = f'{{kind="poisson", rate_per_s={3 * capacity_per_s()}}}'
    path = write("over.toml", ONE_CHIPLET.format(stream=stream, requests=400))
    result = CliRunner().invoke(app, ["run", str(path), "--scheduler", "standalone"])
    assert result.exit_code == 0, result.output
    assert "warning: unstable: fc is offered" in result.stderr
    assert "(unstable)" in result.stdout and "not steady-state" in result.stdout


# --- enough samples per model ------------------------------------------------------------

MIX = """\
[package]
layout = [["a", "a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[[workloads]]
name = "slow"
layers = [{{ name = "fc", op = "matmul", m = 512, k = 1024, n = 1024 }}]
stream = {{ kind = "closed" }}
[[workloads]]
name = "medium"
layers = [{{ name = "fc", op = "matmul", m = 256, k = 1024, n = 1024 }}]
stream = {{ kind = "closed" }}
[[workloads]]
name = "fast"
layers = [{{ name = "fc", op = "matmul", m = 64, k = 1024, n = 1024 }}]
stream = {{ kind = "{fast}" {fast_keys} }}
[simulation]
requests = 300
{extra}
"""


def test_every_model_gets_its_minimum_of_measured_completions() -> None:
    sc = mcmsim.parse_scenario(
        MIX.format(fast="closed", fast_keys="", extra="min_requests_per_model = 40"), "mix.toml"
    )
    results = simulate(sc)
    counts = {name: m.completed for name, m in results.models.items()}
    rates = {name: m.throughput_per_s for name, m in results.models.items()}
    assert rates["fast"] > 5 * rates["slow"]  # the mix is lopsided, so the rule matters
    assert min(counts.values()) >= 40
    assert results.run.stop_reason == "requests" and results.run.min_requests_per_model == 40
    assert sum(m.completed_total for m in results.models.values()) >= 300
    assert run_warnings(results) == []


def test_default_minimum_is_the_smaller_of_200_and_a_fair_half_share() -> None:
    sc = mcmsim.parse_scenario(MIX.format(fast="closed", fast_keys="", extra=""), "mix.toml")
    assert simulate(sc).run.min_requests_per_model == math.ceil(300 / 6)
    big = sc.with_overrides(requests=3000, max_time_s=1e-6)
    assert simulate(big).run.min_requests_per_model == 200


def test_a_model_whose_trace_ends_below_its_minimum_ends_the_run(write) -> None:
    write("arrivals.csv", "arrival_s,model\n0.0001,fast\n0.0002,fast\n0.0003,fast\n")
    text = MIX.format(
        fast="trace", fast_keys=', file = "arrivals.csv"', extra="min_requests_per_model = 40"
    )
    results = simulate(mcmsim.load_scenario(write("starved.toml", text)))
    assert results.run.stop_reason == "stream ended"
    assert results.models["fast"].completed_total == 3
    warnings = run_warnings(results)
    assert any("stopped early (stream ended)" in line for line in warnings)
    assert any("minimum of 40: fast 3" in line for line in warnings)


def test_a_model_too_slow_for_its_minimum_does_not_hang_the_run() -> None:
    # One arrival per simulated second: the closed models reach the total in well under
    # 0.1 s, so the fast model cannot have 40 completions by 10x that time.
    text = MIX.format(fast="periodic", fast_keys=", fps = 1", extra="min_requests_per_model = 40")
    results = simulate(mcmsim.parse_scenario(text, "slow.toml"))
    assert results.run.stop_reason == "starvation cap"
    assert results.models["fast"].completed_total < 40
    assert any("starvation cap" in line for line in run_warnings(results))


def test_max_time_caps_the_run_and_is_reported() -> None:
    sc = poisson(0.5, requests=10_000).with_overrides(max_time_s=0.05)
    results = simulate(sc)
    assert results.run.stop_reason == "max_time_s"
    assert results.run.warmup_s + results.run.measured_s == pytest.approx(0.05, rel=1e-9)
    assert any("stopped early (max_time_s)" in line for line in run_warnings(results))


def test_a_trace_that_ends_stops_the_run_instead_of_crashing(write) -> None:
    write("arrivals.csv", "arrival_s,model\n0.001,fc\n0.002,fc\n0.003,fc\n")
    text = ONE_CHIPLET.format(stream='{ kind = "trace", file = "arrivals.csv" }', requests=10)
    results = simulate(mcmsim.load_scenario(write("trace.toml", text)))
    assert results.run.stop_reason == "arrivals ended"
    assert results.models["fc"].completed_total == 3


def test_mser_never_cuts_past_the_given_limit() -> None:
    # A long initial transient: MSER alone cuts all of it.
    means = np.r_[np.full(10, 100.0), np.full(30, 1.0)]
    assert mser_truncation(means) == 10
    assert mser_truncation(means, max_cut=4) == 4
    assert mser_truncation(means, max_cut=0) == 0


# --- exact percentiles ------------------------------------------------------------------


def test_deterministic_latencies_give_percentiles_equal_to_the_mean() -> None:
    # Periodic arrivals at half the capacity never queue: every request takes the same time.
    results = simulate(one_chiplet(f'{{kind="periodic", fps={0.5 * capacity_per_s()}}}', 300))
    latency = results.models["fc"].latency_s
    assert latency.p50 == latency.p95 == latency.p99 == latency.max == latency.mean
    assert latency.mean > 0


def test_percentiles_are_the_nearest_rank_of_the_measured_window() -> None:
    results = simulate(poisson(0.8, requests=1000), records=True)
    fc = results.models["fc"]
    records = results.records
    mine = records[records["model"] == 0]
    window = (mine["completion_ps"] - mine["arrival_ps"])[-fc.completed :]
    latency = fc.latency_s
    for q, value in ((50, latency.p50), (95, latency.p95), (99, latency.p99)):
        expected = np.percentile(window, q, method="inverted_cdf")
        assert value == pytest.approx(expected * 1e-12, rel=1e-12)
    assert latency.max == pytest.approx(window.max() * 1e-12, rel=1e-12)
    assert latency.mean == pytest.approx(window.mean() * 1e-12, rel=1e-12)


def test_nearest_rank_by_hand() -> None:
    values = np.arange(1, 201)  # 1..200
    assert nearest_rank_ps(values, 50) == 100
    assert nearest_rank_ps(values, 95) == 190  # 0.95 * 200 is 190 exactly, not 191
    assert nearest_rank_ps(values, 99) == 198
    assert nearest_rank_ps(np.array([7]), 99) == 7
    assert nearest_rank_ps(np.array([], np.int64), 50) == 0


# --- confidence intervals and orderings on random runs -----------------------------------

RANDOM_STREAMS = (
    '{kind="poisson", rate_per_s=RATE}',
    '{kind="gamma", rate_per_s=RATE, cv=3.0}',
    '{kind="poisson", rate_per_s=OVER}',
    '{kind="closed", in_flight=3}',
)


@pytest.mark.parametrize("stream", RANDOM_STREAMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_negative_bound_and_ordered_percentiles(stream: str, seed: int) -> None:
    text = stream.replace("RATE", str(0.85 * capacity_per_s())).replace(
        "OVER", str(1.3 * capacity_per_s())
    )
    results = simulate(one_chiplet(text, 400, seed))
    for m in results.models.values():
        if m.throughput_ci95_per_s is None:
            assert m.throughput_ci95_note
        else:
            lo, hi = m.throughput_ci95_per_s
            assert 0 <= lo <= m.throughput_per_s <= hi
        lat = m.latency_s
        assert 0 < lat.p50 <= lat.p95 <= lat.p99 <= lat.max
        assert lat.mean <= lat.max


def test_too_few_batches_give_no_interval_and_say_so() -> None:
    results = simulate(one_chiplet('{kind="closed"}', 20))
    fc = results.models["fc"]
    assert fc.throughput_ci95_per_s is None and fc.throughput_ci95_note.endswith("batches")
    interval = rate_ci(np.ones(MIN_CI_BATCHES - 1), np.ones(MIN_CI_BATCHES - 1), 1.0)
    assert interval.bounds is None and interval.note == f"{MIN_CI_BATCHES - 1} batches"


def test_rate_interval_is_positive_even_for_wild_batches() -> None:
    # Twelve batches, most empty: a symmetric t interval would go far below zero.
    counts = np.r_[np.zeros(11), 120.0]
    interval = rate_ci(counts, np.ones(12), 10.0)
    lo, hi = interval.bounds
    assert 0 < lo < 10.0 < hi


@pytest.mark.slow
def test_rate_interval_covers_the_offered_rate_most_of_the_time() -> None:
    covered = 0
    seeds = range(20)
    for seed in seeds:
        fc = simulate(poisson(0.6, requests=1500, seed=seed)).models["fc"]
        lo, hi = fc.throughput_ci95_per_s
        covered += lo <= fc.offered_per_s <= hi
    # A 95% interval misses about one run in twenty; five misses would be a bad method.
    assert covered >= 16
