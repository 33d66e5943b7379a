"""Issue 17, item 2: every run ends, and says so when it ends early or measured nothing.

Regression tests for the run-time cases: an offered load far above capacity (the backlog
bound), the event budget, ``max_time_s`` shorter than one request, a burst of trace
arrivals at one instant (linear work), trace arrivals past the clock, ``--out`` that
cannot be a folder, and the throughput interval's lower bound.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import mcmsim
from mcmsim.metrics.steady_state import rate_ci
from mcmsim.sim import network
from mcmsim.sim.stopping import MIN_BACKLOG_BOUND
from tests.conftest import Cli

Write = Callable[[str, str], Path]

ONE_CHIPLET = """\
[package]
layout = [["a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[[workloads]]
name = "fc"
layers = [{{ name = "fc", op = "matmul", m = 512, k = 1024, n = 1024 }}]
stream = {stream}
[simulation]
seed = 3
requests = {requests}
{extra}
"""


def scenario(write: Write, stream: str, requests: int = 20, extra: str = "") -> Path:
    return write("s.toml", ONE_CHIPLET.format(stream=stream, requests=requests, extra=extra))


def run_json(cli: Cli, path: Path, *args: str) -> tuple[dict, str]:
    result = cli("run", path, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


# --- (a) a run always ends ------------------------------------------------------------


def test_an_offered_load_far_above_capacity_stops_at_the_backlog_bound(
    cli: Cli, write: Write
) -> None:
    # The chiplet serves a few thousand requests/s; 1e9/s is a million times that.
    d, err = run_json(cli, scenario(write, '{kind = "poisson", rate_per_s = 1e9}'))
    fc = d["models"]["fc"]
    assert d["stop_reason"] == "backlog bound"
    assert d["stable"] is False and fc["stable"] is False
    # The default bound is max(requests, 1000): the run stops at the arrival past it.
    assert fc["in_flight_at_end"] == max(20, MIN_BACKLOG_BOUND) + 1
    assert "simulation.max_backlog" in err
    assert "nothing completed" in err


def test_the_backlog_bound_is_configurable_and_ignores_closed_streams(
    cli: Cli, write: Write
) -> None:
    d, _ = run_json(
        cli, scenario(write, '{kind = "poisson", rate_per_s = 1e8}', extra="max_backlog = 50")
    )
    assert d["stop_reason"] == "backlog bound"
    assert d["models"]["fc"]["in_flight_at_end"] == 51
    # A closed stream holds its in_flight requests whatever the bound.
    d, _ = run_json(
        cli,
        scenario(write, '{kind = "closed", in_flight = 8}', requests=30, extra="max_backlog = 2"),
    )
    assert d["stop_reason"] == "requests"


@pytest.mark.parametrize("mode", ["stream", "batch"])
def test_the_event_budget_ends_a_run(cli: Cli, write: Write, mode: str) -> None:
    extra = f'max_events = 300\nmode = "{mode}"'
    # A batch of 256 runs as 256 micro-batches: far more than 300 events in batch mode.
    stream = '{kind = "closed", in_flight = 4}\nbatch = 256\nmicro_batch = 1'
    path = scenario(write, stream, requests=10_000, extra=extra)
    result = cli("run", path, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["stop_reason"] == "event budget"
    # It stops within the step that used the budget up.
    assert 300 <= d["simulated_events"] < 300 + 20
    assert "simulation.max_events" in result.stderr


def test_the_budgets_leave_a_shipped_scenario_alone(cli: Cli) -> None:
    d, err = run_json(cli, Path("scenarios/gpt2_resnet.toml"), "--requests", "100")
    assert d["stop_reason"] == "requests"
    assert "budget" not in err and "backlog" not in err


def test_budgets_must_be_positive(cli: Cli, write: Write) -> None:
    for key in ("max_events", "max_backlog"):
        path = scenario(write, '{kind = "closed"}', extra=f"{key} = 0")
        result = cli("validate", path)
        assert result.exit_code == 2
        assert f"s.toml:13: simulation.{key}" in result.stderr


# --- (b) max_time_s shorter than one request --------------------------------------------


def test_max_time_shorter_than_a_request_warns_that_nothing_completed(
    cli: Cli, write: Write
) -> None:
    path = scenario(write, '{kind = "closed"}', extra="max_time_s = 1e-9")
    d, err = run_json(cli, path)
    assert d["requests"]["completed"] == 0
    assert d["stop_reason"] == "max_time_s"
    lines = [line for line in err.splitlines() if "nothing completed" in line]
    assert len(lines) == 1
    assert lines[0].startswith("warning: ")
    assert "max_time_s is shorter than one request" in lines[0]


# --- (c) a burst of trace arrivals at one instant costs linear work ---------------------


def flow_visits_for_burst(write: Write, burst: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Flows the network looks at while ``burst`` trace arrivals at t=0 are served."""
    rows = ["arrival_s,model", *(["0.0,fc"] * burst), "1.0,fc"]
    write("t.csv", "\n".join(rows) + "\n")
    path = scenario(write, '{kind = "trace", file = "t.csv"}', requests=5)
    visits = [0]
    cls = network.FlowNetwork
    full_filling, advance, timer = cls._assign_rates, cls._advance, cls._schedule_timer

    def count_filling(self: network.FlowNetwork) -> None:
        visits[0] += len(self._flows)
        full_filling(self)

    def count_advance(self: network.FlowNetwork) -> None:
        if self.env.now > self._last_ps:
            visits[0] += len(self._flows)
        advance(self)

    def count_timer(self: network.FlowNetwork) -> None:
        if self._uniform_rate is None:
            visits[0] += len(self._flows)
        timer(self)

    with monkeypatch.context() as patch:
        patch.setattr(cls, "_assign_rates", count_filling)
        patch.setattr(cls, "_advance", count_advance)
        patch.setattr(cls, "_schedule_timer", count_timer)
        sc = mcmsim.load_scenario(path)
        results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    assert results["requests"]["arrived"] == burst  # it stops before the arrival at 1 s
    return visits[0]


def test_simultaneous_trace_arrivals_cost_linear_work(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each arrival reads its input from DRAM at once: `burst` concurrent flows. Looking
    # at every flow whenever one joins would be burst^2 / 2 visits.
    small, large = (flow_visits_for_burst(write, k, monkeypatch) for k in (200, 400))
    assert large < 2.5 * small
    assert large < 10 * 400


# --- (d) trace files the clock cannot hold, or without the workload ---------------------


def test_a_trace_arrival_past_the_clock_is_an_error_with_its_line(cli: Cli, write: Write) -> None:
    write("t.csv", "arrival_s,model\n0.0,fc\n1e300,fc\n")
    result = cli("run", scenario(write, '{kind = "trace", file = "t.csv"}'))
    assert result.exit_code == 2
    assert "t.csv:3: arrival_s must be a time from 0 to" in result.stderr
    assert result.stderr.rstrip().endswith("got 1e300")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("rows", ["", "0.0,other\n1.0,other\n"])
def test_a_trace_without_rows_of_the_workload_is_an_error(
    cli: Cli, write: Write, rows: str
) -> None:
    write("t.csv", "arrival_s,model\n" + rows)
    result = cli("run", scenario(write, '{kind = "trace", file = "t.csv"}'))
    assert result.exit_code == 2
    assert "t.csv has 0 arrivals of 'fc'" in result.stderr


# --- (e) --out that cannot be a folder ------------------------------------------------


@pytest.mark.parametrize("command", ["run", "search"])
def test_out_naming_a_file_fails_before_the_work(cli: Cli, tmp_path: Path, command: str) -> None:
    taken = tmp_path / "taken"
    taken.write_text("keep me\n")
    for out, problem in ((taken, "is a file"), (taken / "sub", "cannot be created")):
        result = cli(command, "scenarios/scar_fig2.toml", "--requests", "5", "--out", out)
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors == [f"error: --out {out}: {problem}" + errors[0].split(problem, 1)[1]]
        assert taken.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


# --- (f) the throughput interval never goes below zero ----------------------------------


def test_the_throughput_interval_is_positive_and_holds_the_estimate() -> None:
    rng = np.random.default_rng(17)
    for _ in range(2000):
        n = int(rng.integers(10, 60))
        counts = rng.integers(0, 40, n).astype(float)
        counts[rng.random(n) < 0.3] = 0  # bursty: many empty batches
        durations = rng.exponential(1.0, n) * 10 ** rng.uniform(-9, 2)
        if counts.sum() == 0:
            continue
        rate = counts.sum() / durations.sum()
        low, high = rate_ci(counts, durations, rate).bounds
        assert math.isfinite(low) and math.isfinite(high)
        assert 0 < low <= rate <= high


def test_an_overloaded_runs_intervals_are_not_negative(cli: Cli, write: Write) -> None:
    stream = '{kind = "gamma", rate_per_s = 20000, cv = 4}'
    d, _ = run_json(cli, scenario(write, stream, requests=300))
    interval = d["models"]["fc"]["throughput_ci95_per_s"]
    assert interval is not None
    assert interval[0] >= 0
