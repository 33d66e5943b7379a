"""Built-in schedulers: valid schedules everywhere, the expected ranking, their helpers."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import SchedulerError, make_scheduler, run_scheduler
from mcmsim.schedulers._pipeline import StageModel, allocate, partition_path, snake_order
from mcmsim.schedulers.homogeneous import equal_work_cuts
from mcmsim.schedulers.scar import first_fit_windows

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))
BUILTINS = ["monolithic", "standalone", "homogeneous-pipeline", "greedy", "scar"]

PACKAGE_3X3 = """
[package]
layout = [["ws", "os", "ws"], ["os", "ws", "os"], ["ws", "os", "ws"]]
[package.chiplet_types.ws]
dataflow = "ws"
pes = 1024
[package.chiplet_types.os]
dataflow = "os"
pes = 1024
"""
# More models than chiplets: three models on a 1x2 package.
PACKAGE_1X2 = """
[package]
layout = [["ws", "os"]]
[package.chiplet_types.ws]
dataflow = "ws"
pes = 1024
[package.chiplet_types.os]
dataflow = "os"
pes = 1024
"""
WORKLOADS = """
[[workloads]]
model = "resnet50"
[[workloads]]
model = "mobilenet-v2"
[[workloads]]
model = "gpt2"
seq_len = 32
batch = 4
micro_batch = 2
"""
INLINE = {
    "inline_3x3": PACKAGE_3X3 + WORKLOADS,
    "inline_more_models": PACKAGE_1X2 + WORKLOADS,
}


def _scenarios() -> list:
    cases = [pytest.param(path, id=path.stem) for path in SHIPPED]
    cases += [pytest.param(name, id=name) for name in INLINE]
    return cases


def _load(case: Path | str) -> mcmsim.Scenario:
    if isinstance(case, Path):
        return mcmsim.load_scenario(case)
    return mcmsim.parse_scenario(f'name = "{case}"\n' + INLINE[case], case)


@pytest.mark.parametrize("scheduler", BUILTINS)
@pytest.mark.parametrize("case", _scenarios())
def test_builtin_gives_valid_schedule(case: Path | str, scheduler: str) -> None:
    scenario = _load(case)
    # Generation workloads are served in stream mode only (a batch override is refused).
    generates = any(w.generation is not None for w in scenario.workloads)
    for mode in ("stream",) if generates else ("stream", "batch"):
        sc = scenario.with_overrides(mode=mode)
        problem = SchedulingProblem(sc)
        schedule = run_scheduler(make_scheduler(scheduler), problem)  # validates
        assert schedule.scheduler == scheduler
        if mode == "stream":
            assert len(schedule.windows) == 1


def test_scar_uses_windows_in_batch_mode_only() -> None:
    scenario = _load("inline_3x3")
    batch = mcmsim.schedule(scenario.with_overrides(mode="batch"), "scar", {"n_splits": 3})
    assert 1 < len(batch.windows) <= 4
    stream = mcmsim.schedule(scenario, "scar", {"n_splits": 3})
    assert len(stream.windows) == 1


@pytest.fixture(scope="module")
def reference_results() -> dict[str, mcmsim.Results]:
    scenario = mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet.toml")
    scenario = scenario.with_overrides(requests=300)
    runs = {
        name: mcmsim.simulate(scenario, mcmsim.schedule(scenario, name))
        for name in ("standalone", "homogeneous-pipeline", "greedy", "scar")
    }
    fair = mcmsim.schedule(scenario, "scar", {"objective": "throughput"})
    runs["scar-throughput"] = mcmsim.simulate(scenario, fair)
    return runs


@pytest.mark.parametrize("winner", ["scar", "greedy"])
@pytest.mark.parametrize("baseline", ["standalone", "homogeneous-pipeline"])
def test_heterogeneity_aware_beats_baselines(
    reference_results: dict[str, mcmsim.Results], winner: str, baseline: str
) -> None:
    assert (
        reference_results[winner].throughput_per_s
        > 1.5 * reference_results[baseline].throughput_per_s
    )


def test_scar_throughput_objective_speeds_up_without_starving(
    reference_results: dict[str, mcmsim.Results],
) -> None:
    fair, default = reference_results["scar-throughput"], reference_results["scar"]
    assert fair.throughput_per_s > 1.5 * default.throughput_per_s
    for name, model in default.models.items():
        assert fair.models[name]["throughput_per_s"] > 0.8 * model["throughput_per_s"]


def test_analytical_bottleneck_matches_simulation(
    reference_results: dict[str, mcmsim.Results],
) -> None:
    """The stage model the schedulers optimise predicts the simulated throughput."""
    scenario = mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet.toml")
    problem = SchedulingProblem(scenario)
    schedule = mcmsim.schedule(scenario, "greedy")
    for workload in scenario.workloads:
        stages = StageModel(problem, workload)
        times = [
            stages.stage(scenario.package.chiplets[s.chiplet].type.name, s.start, s.stop)[0]
            for s in schedule.segments(workload.name)
        ]
        predicted = 1e12 / max(times)
        measured = reference_results["greedy"].models[workload.name]["throughput_per_s"]
        assert measured == pytest.approx(predicted, rel=0.1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"objective": "speed"}, "parameter objective"),
        ({"top_k": 0}, "parameter top_k"),
        ({"n_split": 2}, "parameter n_split: unknown parameter"),
    ],
)
def test_scar_rejects_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(SchedulerError, match=message):
        make_scheduler("scar", params)


@pytest.mark.parametrize("name", ["homogeneous-pipeline", "greedy"])
def test_parameterless_schedulers_reject_parameters(name: str) -> None:
    with pytest.raises(SchedulerError, match="unknown parameter"):
        make_scheduler(name, {"anything": 1})


@pytest.mark.parametrize("objective", ["latency", "energy", "edp", "throughput"])
def test_scar_objectives_give_valid_schedules(objective: str) -> None:
    scenario = _load("inline_3x3")
    schedule = mcmsim.schedule(
        scenario, "scar", {"objective": objective, "provisioning": "proportional"}
    )
    assert schedule.chiplets_used()


def test_allocate_is_proportional_with_one_each() -> None:
    assert allocate([16.0, 4.0], 4) == [3, 1]
    assert allocate([100.0, 1.0, 1.0], 5) == [3, 1, 1]
    assert allocate([0.0, 0.0], 3) in ([2, 1], [1, 2])
    for weights in ([1.0, 2.0, 3.0], [5.0, 0.1, 0.1, 0.1], [1.0] * 9):
        for n in range(len(weights), 12):
            counts = allocate(weights, n)
            assert sum(counts) == n and min(counts) >= 1
    with pytest.raises(ValueError, match="at least one"):
        allocate([1.0, 1.0, 1.0], 2)


def test_equal_work_cuts() -> None:
    macs = np.array([10, 10, 10, 10, 0, 40], np.float64)
    assert equal_work_cuts(macs, 2) == [0, 4, 6]
    assert equal_work_cuts(macs, 1) == [0, 6]
    cuts = equal_work_cuts(np.ones(3), 5)  # more parts than layers
    assert cuts == [0, 1, 2, 3]
    cuts = equal_work_cuts(np.array([0, 0, 0, 0, 100.0]), 3)  # nonempty segments
    assert all(b > a for a, b in itertools.pairwise(cuts))


def test_snake_order_walks_neighbours() -> None:
    package = _load("inline_3x3").package
    order = snake_order(package)
    assert sorted(order) == list(range(9))
    assert all(package.hops(a, b) == 1 for a, b in itertools.pairwise(order))


def test_first_fit_windows_keep_layer_order() -> None:
    expected = {"a": np.array([1.0, 1, 1, 1, 1, 1, 1, 1]), "b": np.array([3.0, 1])}
    windows = first_fit_windows(expected, 4)
    assert windows[0] == {"a": (0, 2), "b": (0, 1)}
    for model, latencies in expected.items():
        spans = [w[model] for w in windows if model in w]
        assert spans[0][0] == 0 and spans[-1][1] == len(latencies)
        assert all(x[1] == y[0] for x, y in itertools.pairwise(spans))


def test_partition_path_is_optimal_on_a_small_model() -> None:
    scenario = _load("inline_3x3")
    problem = SchedulingProblem(scenario)
    workload = scenario.workloads[0]
    stages = StageModel(problem, workload)
    lo, hi = 0, 12
    types = ("os", "ws", "os")
    segments = partition_path(stages, lo, hi, types)
    got = max(stages.stage(types[p], a, b)[0] for a, b, p in segments)
    best = np.inf
    # Every way to give positions 0..2 a (possibly empty) contiguous run of layers.
    for c1, c2 in itertools.combinations_with_replacement(range(lo, hi + 1), 2):
        runs = [(lo, c1, 0), (c1, c2, 1), (c2, hi, 2)]
        times = [stages.stage(types[p], a, b)[0] for a, b, p in runs if b > a]
        best = min(best, max(times))
    assert got == pytest.approx(best)


def test_scheduler_table_keys_apply_when_its_name_carries_inline_parameters(tmp_path) -> None:
    text = Path("scenarios/gpt2_resnet.toml").read_text()
    start = text.index("[scheduler]")
    end = text.find("\n[", start + 1)
    table = '[scheduler]\nname = "scar[objective=latency]"\ntop_k = 2\n'
    path = tmp_path / "inline.toml"
    path.write_text(text[:start] + table + (text[end:] if end != -1 else ""))
    params = mcmsim.scheduler_params(mcmsim.load_scenario(path), "scar")
    assert params["top_k"] == 2
