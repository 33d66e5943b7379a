"""The simulator against queueing theory, conservation laws and pipelining."""

from __future__ import annotations

import json

import pytest

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment
from tests.conftest import RESULT_KEYS, ROOT, Cli

ONE_CHIPLET = """\
[package]
layout = [["a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[dram]
latency_ns = 0
[[workloads]]
name = "fc"
layers = [{{ name = "fc", op = "matmul", m = 512, k = 1024, n = 1024 }}]
stream = {stream}
[simulation]
seed = 3
requests = {requests}
"""


def service_ps(scenario: mcmsim.Scenario) -> int:
    problem = SchedulingProblem(scenario)
    return int(problem.costs("fc", "a").latency_ps.sum())


def transfer_ps(nbytes: int, gbps: float) -> float:
    return nbytes * 1000 / gbps


@pytest.mark.slow
def test_md1_mean_latency_matches_pollaczek_khinchine() -> None:
    probe = mcmsim.parse_scenario(ONE_CHIPLET.format(stream='{kind="closed"}', requests=10))
    d_ps = service_ps(probe)
    rho = 0.7
    rate = rho / (d_ps * 1e-12)
    sc = mcmsim.parse_scenario(
        ONE_CHIPLET.format(stream=f'{{kind="poisson", rate_per_s={rate}}}', requests=40000)
    )
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    wait_ps = rho * d_ps / (2 * (1 - rho))
    # Input read and output write cross the one 64 GB/s DRAM interface outside the chiplet.
    io_ps = transfer_ps(512 * 1024, 64) + transfer_ps(512 * 1024, 64)
    expected_s = (d_ps + wait_ps + io_ps) * 1e-12
    model = results.models["fc"]
    assert model["latency_s"]["mean"] == pytest.approx(expected_s, rel=0.05)
    assert results["chiplets"]["0"]["utilization"] == pytest.approx(rho, rel=0.03)


def test_periodic_arrivals_below_capacity_see_no_queueing() -> None:
    probe = mcmsim.parse_scenario(ONE_CHIPLET.format(stream='{kind="closed"}', requests=10))
    d_ps = service_ps(probe)
    fps = 0.5 / (d_ps * 1e-12)
    sc = mcmsim.parse_scenario(
        ONE_CHIPLET.format(stream=f'{{kind="periodic", fps={fps}}}', requests=500)
    )
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    latency = results.models["fc"]["latency_s"]
    io_ps = 2 * transfer_ps(512 * 1024, 64)
    assert latency["mean"] == pytest.approx((d_ps + io_ps) * 1e-12, rel=1e-3)
    assert latency["p99"] == pytest.approx(latency["mean"], rel=0.01)
    assert results.models["fc"]["mean_in_system"] == pytest.approx(latency["mean"] * fps, rel=0.01)


PIPELINE = """\
[package]
layout = [["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[[workloads]]
name = "two"
layers = [
  { name = "big", op = "matmul", m = 512, k = 1024, n = 1024 },
  { name = "small", op = "matmul", m = 512, k = 1024, n = 512 },
]
stream = { kind = "closed", in_flight = 8 }
[simulation]
requests = 3000
"""


def test_two_stage_pipeline_runs_at_its_slowest_stage() -> None:
    sc = mcmsim.parse_scenario(PIPELINE)
    table = SchedulingProblem(sc).costs("two", "a")
    stage_ps = [int(table.latency_ps[0]), int(table.latency_ps[1])]
    schedule = Schedule.single("manual", [Segment("two", 0, 1, 0), Segment("two", 1, 2, 1)])
    results = mcmsim.simulate(sc, schedule)
    expected = 1 / (max(stage_ps) * 1e-12)
    assert results.throughput_per_s == pytest.approx(expected, rel=0.02)
    assert results.throughput_per_s > 1.2 / (sum(stage_ps) * 1e-12)
    # The activations crossed the one link between the chiplets.
    assert results["links"]["0,0->0,1"]["bytes"] > 0


def poisson_reference() -> mcmsim.Scenario:
    text = (ROOT / "scenarios" / "gpt2_resnet.toml").read_text()
    text = text.replace(
        'model = "gpt2"\nseq_len = 128\nstream = { kind = "closed", in_flight = 4 }',
        'model = "gpt2"\nseq_len = 128\nstream = { kind = "poisson", rate_per_s = 40 }',
    ).replace(
        'model = "resnet50"\nstream = { kind = "closed", in_flight = 4 }',
        'model = "resnet50"\nstream = { kind = "poisson", rate_per_s = 12 }',
    )
    assert "poisson" in text
    return mcmsim.parse_scenario(text, "poisson_reference.toml").with_overrides(requests=6000)


@pytest.mark.parametrize("variant", ["closed", "poisson"])
def test_littles_law_conservation_energy_and_utilization(variant: str) -> None:
    if variant == "closed":
        sc = mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet.toml").with_overrides(
            requests=2000
        )
    else:
        sc = poisson_reference()
    results = mcmsim.simulate(sc, mcmsim.schedule(sc))
    data = results.to_dict()
    for name, model in data["models"].items():
        little = model["requests_per_s"] * model["latency_s"]["mean"]
        assert model["mean_in_system"] == pytest.approx(little, rel=0.03), name
        assert model["arrived"] == model["completed_total"] + model["in_flight_at_end"]
    requests = data["requests"]
    assert requests["arrived"] == requests["completed"] + requests["in_flight"]
    energy = data["energy_j"]
    parts = sum(v for k, v in energy.items() if k != "total")
    assert energy["total"] == pytest.approx(parts, rel=1e-12)
    assert all(v >= 0 for v in energy.values())
    for resource in [*data["chiplets"].values(), *data["links"].values(), *data["dram"].values()]:
        assert 0 <= resource["utilization"] <= 1 + 1e-9


def test_same_seed_same_results_different_seed_differs() -> None:
    sc = poisson_reference().with_overrides(requests=800)
    schedule = mcmsim.schedule(sc)
    first = mcmsim.simulate(sc, schedule).to_json()
    assert mcmsim.simulate(sc, schedule).to_json() == first
    other = mcmsim.simulate(sc.with_overrides(seed=sc.simulation.seed + 1), schedule).to_json()
    assert other != first


def test_batch_mode_runs_every_request_once() -> None:
    sc = mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet.toml").with_overrides(mode="batch")
    results = mcmsim.simulate(sc, mcmsim.schedule(sc))
    data = results.to_dict()
    assert data["requests"] == {"arrived": 2, "completed": 2, "in_flight": 0}
    assert data["makespan_s"] == pytest.approx(data["measured_s"])
    assert data["edp_j_s"] == pytest.approx(data["energy_j"]["total"] * data["makespan_s"])


def test_weights_that_fit_stay_resident() -> None:
    sc = mcmsim.parse_scenario(ONE_CHIPLET.format(stream='{kind="closed"}', requests=200))
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    chiplet = results["chiplets"]["0"]
    assert chiplet["resident_weight_bytes"] == 1024 * 1024
    # Loaded once, on first use, not at each of the 200 executions.
    assert chiplet["streamed_weight_bytes"] <= 1024 * 1024


def test_run_cli_json_is_results_alone(cli: Cli) -> None:
    result = cli("run", "scenarios/gpt2_resnet.toml", "--requests", "100", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    for key in RESULT_KEYS:
        assert key in data, key


def test_run_bad_inputs_exit_2(cli: Cli, write) -> None:
    unknown = cli("run", "scenarios/gpt2_resnet.toml", "--scheduler", "nope")
    assert unknown.exit_code == 2
    assert "unknown scheduler 'nope'; known:" in unknown.stderr and "standalone" in unknown.stderr
    bad_schedule = write(
        "schedule.json",
        json.dumps(
            {"windows": [{"segments": [{"model": "gpt2", "start": 0, "stop": 149, "chiplet": 7}]}]}
        ),
    )
    result = cli("run", "scenarios/gpt2_resnet.toml", "--schedule", str(bad_schedule))
    assert result.exit_code == 2
    assert "chiplet 7, but the package has chiplets 0-3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    not_json = write("broken.json", "{")
    result = cli("run", "scenarios/gpt2_resnet.toml", "--schedule", str(not_json))
    assert result.exit_code == 2 and "not JSON" in result.stderr
    for args in (["--requests", "0"], ["--mode", "sideways"], ["--param", "novalue"]):
        result = cli("run", "scenarios/gpt2_resnet.toml", *args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.stderr
