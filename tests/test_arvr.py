"""AR/VR workloads: cascade streams, XRBench suites, frame deadlines and late policies,
checked against binomial statistics and the hand arithmetic of a periodic queue."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import mcmsim
from mcmsim.metrics.deadlines import realtime_score
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.search.estimate import Estimator

ROOT = Path(__file__).resolve().parent.parent

# One matmul without weights (nothing to load or stream): a frame holds its chiplet for
# the layer's compute time H; its input read and output write take a few percent of it.
FRAMES = """\
[package]
layout = [["a", "a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[dram]
latency_ns = 0
{workloads}
[simulation]
seed = {seed}
requests = {requests}
warmup = "none"
"""

WORKLOAD = """\
[[workloads]]
name = "{name}"
layers = [{{ name = "mm", op = "matmul", m = 512, k = 1024, n = 1024, weights = false }}]
stream = {stream}
{extra}
"""


def scenario(*workloads: str, requests: int = 2000, seed: int = 1) -> mcmsim.Scenario:
    text = FRAMES.format(workloads="".join(workloads), seed=seed, requests=requests)
    return mcmsim.parse_scenario(text, "arvr.toml")


def workload(name: str, stream: str, extra: str = "") -> str:
    return WORKLOAD.format(name=name, stream=stream, extra=extra)


@cache
def hold_ps() -> int:
    """H: the chiplet time of one frame, from the cost model."""
    sc = scenario(workload("f", '{kind = "periodic", fps = 1}'))
    return int(SchedulingProblem(sc).costs("f", "a").latency_ps.sum())


def run(sc: mcmsim.Scenario, records: bool = False) -> mcmsim.Results:
    return mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"), records=records)


# --- cascades ------------------------------------------------------------------------


def test_cascade_fires_with_its_probability_within_three_standard_errors() -> None:
    fps = 0.3 / (hold_ps() * 1e-12)
    sc = scenario(
        workload("up", f'{{kind = "periodic", fps = {fps}}}'),
        workload("down", '{kind = "cascade", upstream = "up", probability = 0.5}'),
        requests=3000,
    )
    results = run(sc)
    triggers = results.models["up"].completed_total
    fired = results.models["down"].arrived
    # The completion that ends the run triggers nothing: n is triggers or triggers - 1.
    n = triggers - 0.5
    assert abs(fired - 0.5 * n) <= 3 * math.sqrt(n * 0.25) + 0.5
    assert triggers > 1900


def test_cascade_offers_the_upstream_rate_times_its_probability() -> None:
    sc = scenario(
        workload("up", '{kind = "periodic", fps = 40}'),
        workload("down", '{kind = "cascade", upstream = "up", probability = 0.25}'),
    )
    up, down = sc.workloads
    assert down.stream.offered_rate_per_s() == pytest.approx(10.0)
    # The estimator asks the stream, so it loads the chiplet with 10 frames per second.
    estimate = Estimator(SchedulingProblem(sc)).evaluate(mcmsim.schedule(sc, "standalone"))
    assert estimate.model_throughput_per_s["down"] == pytest.approx(10.0)
    # A cascaded frame's default deadline is its upstream's frame period.
    assert down.deadline_ps == up.deadline_ps == round(1e12 / 40)


def test_two_level_cascade_chain_triggers_each_level_on_completion() -> None:
    fps = 0.2 / (hold_ps() * 1e-12)
    sc = scenario(
        workload("a", f'{{kind = "periodic", fps = {fps}}}'),
        workload("b", '{kind = "cascade", upstream = "a"}'),
        workload("c", '{kind = "cascade", upstream = "b"}'),
        requests=600,
    )
    assert sc.workloads[2].stream.offered_rate_per_s() == pytest.approx(fps)
    results = run(sc, records=True)
    records = results.records
    names = [w.name for w in sc.workloads]
    done = {n: records["completion_ps"][records["model"] == i] for i, n in enumerate(names)}
    arrived = {n: records["arrival_ps"][records["model"] == i] for i, n in enumerate(names)}
    # Every b frame arrives the instant an a frame completes, and c likewise after b.
    assert set(arrived["b"]) <= set(done["a"])
    assert set(arrived["c"]) <= set(done["b"])
    assert len(arrived["c"]) >= 0.95 * len(arrived["a"])
    assert results.models["c"].arrived >= results.models["b"].completed_total - 1


def test_cascade_errors_name_the_key() -> None:
    with pytest.raises(mcmsim.ScenarioError, match=r"workloads.1.stream.upstream: no workload"):
        scenario(
            workload("up", '{kind = "periodic", fps = 40}'),
            workload("down", '{kind = "cascade", upstream = "nope"}'),
        )
    with pytest.raises(mcmsim.ScenarioError, match="cascade cycle"):
        scenario(
            workload("x", '{kind = "cascade", upstream = "y"}'),
            workload("y", '{kind = "cascade", upstream = "x"}'),
        )
    with pytest.raises(mcmsim.ScenarioError, match="closed stream"):
        scenario(
            workload("up", '{kind = "closed"}'),
            workload("down", '{kind = "cascade", upstream = "up"}'),
        )


# --- deadlines -----------------------------------------------------------------------


def periodic(load: float, extra: str = "", requests: int = 2000) -> mcmsim.Scenario:
    fps = load / (hold_ps() * 1e-12)
    return scenario(workload("f", f'{{kind = "periodic", fps = {fps}}}', extra), requests=requests)


def test_periodic_stream_below_capacity_misses_no_deadline() -> None:
    sc = periodic(0.6)
    results = run(sc, records=True)
    deadline = results.models["f"].deadline
    assert deadline.frames > 1900
    assert deadline.on_time == deadline.frames
    assert deadline.miss_rate == 0.0 and deadline.dropped == 0
    # No queueing: every frame takes the same S and finishes S - T before its deadline.
    latency_ps = results.records["completion_ps"] - results.records["arrival_ps"]
    assert latency_ps.min() == latency_ps.max()
    slack_ms = (latency_ps[0] - sc.workloads[0].deadline_ps) * 1e-9
    assert deadline.realtime_score == pytest.approx(1 / (1 + math.exp(15 * slack_ms)))


@pytest.mark.parametrize("policy", ["queue", "drop"])
def test_overload_misses_every_frame_with_the_default_deadline(policy: str) -> None:
    # Period T = H / 1.2 < H: no frame can finish within one period of its arrival.
    deadline = run(periodic(1.2, f'late_policy = "{policy}"')).models["f"].deadline
    assert deadline.miss_rate == 1.0
    # Frames late by a fraction of a millisecond still score a little.
    assert deadline.realtime_score < 0.05


def test_overload_with_queue_policy_misses_all_but_the_first_frames() -> None:
    """Frame k waits k (H - T) more than frame 0: on time while S + k (H - T) <= D."""
    period_ps = hold_ps() / 1.2
    deadline_ms = 3 * period_ps * 1e-9
    sc = periodic(1.2, f"deadline_ms = {deadline_ms}")
    results = run(sc, records=True)
    first_latency_ps = int(results.records["completion_ps"][0] - results.records["arrival_ps"][0])
    on_time = math.floor((3 * period_ps - first_latency_ps) / (hold_ps() - period_ps)) + 1
    deadline = results.models["f"].deadline
    assert deadline.on_time == pytest.approx(on_time, abs=1)
    assert deadline.late == deadline.frames - deadline.on_time
    # The backlog grows linearly, so the miss rate tends to 1 as the run lengthens.
    assert deadline.miss_rate == pytest.approx(1 - on_time / deadline.frames, abs=1e-3)
    assert deadline.late_latency_s["p99"] > deadline.late_latency_s["p50"] > deadline_ms / 1e3


def test_overload_with_drop_policy_serves_capacity_over_offered() -> None:
    """The chiplet never idles; a frame is served if it starts before the next arrives,
    so served / offered = T / H = 1 / 1.2 and the rest are dropped. A served frame waits
    under one period, so with D = 3 T none is late: misses are exactly the drops."""
    period_ps = hold_ps() / 1.2
    extra = f'late_policy = "drop"\ndeadline_ms = {3 * period_ps * 1e-9}'
    deadline = run(periodic(1.2, extra, requests=4000)).models["f"].deadline
    assert deadline.late == 0
    assert deadline.drop_rate == pytest.approx(1 - 1 / 1.2, abs=3 / deadline.frames)
    assert deadline.miss_rate == deadline.drop_rate
    # XRBench: mean frame score (drops 0) times (1 - drop rate).
    assert deadline.realtime_score == pytest.approx((1 / 1.2) ** 2, abs=0.01)


def test_realtime_score_is_xrbench_sigmoid() -> None:
    ms = 10**9
    assert realtime_score(np.array([0]))[0] == 0.5
    assert realtime_score(np.array([ms // 10]))[0] == pytest.approx(1 / (1 + math.exp(1.5)))
    assert realtime_score(np.array([-ms]))[0] == pytest.approx(1 / (1 + math.exp(-15)))
    assert realtime_score(np.array([10**15]))[0] == 0.0


def test_drop_policy_needs_a_deadline() -> None:
    with pytest.raises(mcmsim.ScenarioError, match="late_policy"):
        scenario(workload("f", '{kind = "poisson", rate_per_s = 5}', 'late_policy = "drop"'))


# --- suites and the shipped scenarios ------------------------------------------------

SUITE = """\
[package]
layout = [["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 256
[[workloads]]
{suite}
"""


def suite(text: str) -> mcmsim.Scenario:
    return mcmsim.parse_scenario(SUITE.format(suite=text), "suite.toml")


def test_suite_expands_every_network_with_its_fps_and_cascades() -> None:
    sc = suite('suite = "xrbench:AR_Assistant"')
    streams = {w.name: w.stream for w in sc.workloads}
    assert list(streams) == [
        "KD_res8_narrow",
        "ASR_EM_24L",
        "SS_HRViT_b1",
        "DE_midas_v21_small",
        "PD_Plane_RCNN_Quarter",
        "OD_D2go_FasterRCNN",
    ]
    assert streams["DE_midas_v21_small"].fps == 30
    assert streams["ASR_EM_24L"].upstream == "KD_res8_narrow"
    assert streams["ASR_EM_24L"].offered_rate_per_s() == pytest.approx(3 * 0.5)


def test_suite_subset_and_overrides() -> None:
    sc = suite(
        'suite = "xrbench:AR_gaming"\nnetworks = ["DE_midas_v21_small"]\n'
        "[workloads.overrides.DE_midas_v21_small]\nfps = 15\ndeadline_ms = 50"
    )
    (w,) = sc.workloads
    assert w.stream.fps == 15 and w.deadline_ps == 50 * 10**9
    with pytest.raises(mcmsim.ScenarioError, match=r"suite.toml:\d+: workloads.0.networks: "):
        suite('suite = "xrbench:AR_Assistant"\nnetworks = ["ASR_EM_24L"]')
    with pytest.raises(mcmsim.ScenarioError, match=r"workloads.0.networks: 'nope' not in"):
        suite('suite = "xrbench:AR_gaming"\nnetworks = ["nope"]')
    with pytest.raises(mcmsim.ScenarioError, match=r"workloads.0.suite: no XRBench scenario"):
        suite('suite = "xrbench:nope"')


SCAR_FPS = {
    6: {
        "OD_D2go_FasterRCNN": 10,
        "PD_Plane_RCNN_Quarter": 15,
        "DE_midas_v21_small": 30,
        "ASR_EM_24L": 3,
        "SS_HRViT_b1": 10,
    },
    7: {"PD_Plane_RCNN_Quarter": 15, "HT_hand_graph_cnn_half": 45, "DE_midas_v21_small": 30},
    8: {"D2go_FastRCNN": 30, "ASR_EM_24L": 3},
    9: {"ES_RITNet": 60, "HT_hand_graph_cnn_half": 30, "DR_RGBd_200": 30},
    10: {"ES_RITNet": 60, "HT_hand_graph_cnn_half": 45},
}


def test_xrbench_scenario_files_load_with_scars_mixes() -> None:
    files = sorted((ROOT / "scenarios" / "xrbench").glob("*.toml"))
    assert len(files) >= 20
    for path in files:
        sc = mcmsim.load_scenario(path)
        number = int(path.stem.split("_")[1])
        rates = {w.name: w.stream.offered_rate_per_s() for w in sc.workloads}
        assert rates == SCAR_FPS[number], path.name
        assert len(sc.package.chiplets) == 9
        assert {c.type.rows * c.type.cols for c in sc.package.chiplets} == {256}


def test_same_seed_same_results_and_the_seed_drives_cascades() -> None:
    fps = 0.3 / (hold_ps() * 1e-12)
    ws = (
        workload("up", f'{{kind = "periodic", fps = {fps}}}'),
        workload("down", '{kind = "cascade", upstream = "up", probability = 0.5}'),
    )
    first = run(scenario(*ws, requests=500, seed=4)).to_json()
    assert run(scenario(*ws, requests=500, seed=4)).to_json() == first
    assert run(scenario(*ws, requests=500, seed=5)).to_json() != first
