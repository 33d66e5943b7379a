"""The makespan lower bound of batch mode (issue 15, item 2)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.search.bound import LP_TOLERANCE
from mcmsim.search.makespan_bound import makespan_bound
from mcmsim.units import S_PER_PS
from tests.test_search import BUILTINS

ROOT = Path(__file__).resolve().parent.parent
TOP = sorted((ROOT / "scenarios").glob("*.toml"))
NESTED = sorted(p for p in (ROOT / "scenarios").glob("*/*.toml") if p.parent.name != "sweeps")


def small_batch(path: Path) -> mcmsim.Scenario:
    """The shipped scenario in batch mode with batches of at most 4 in micro-batches of 2.

    Small batches keep the test fast while keeping several micro-batches per request, so
    the flow-shop part of the bound is exercised.
    """
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^batch = (\d+)", lambda m: f"batch = {min(int(m[1]), 4)}", text)
    text = re.sub(r"(?m)^micro_batch = (\d+)", lambda m: f"micro_batch = {min(int(m[1]), 2)}", text)
    return mcmsim.parse_scenario(text, str(path)).with_overrides(mode="batch")


def assert_sound(path: Path) -> None:
    try:
        sc = small_batch(path)
    except mcmsim.ScenarioError as exc:
        # Generation workloads are served in stream mode only; the override says so.
        assert "generation workloads" in str(exc)
        return
    bound = makespan_bound(sc).makespan_s
    for name in BUILTINS:
        data = mcmsim.simulate(sc, mcmsim.schedule(sc, name)).to_dict()
        assert data["makespan_lower_bound_s"] == bound
        assert data["makespan_s"] >= bound, (path.stem, name)
        assert 0 < data["optimality_ratio"] <= 1, (path.stem, name)
        assert data["optimality_ratio"] == pytest.approx(bound / data["makespan_s"], rel=1e-12)


@pytest.mark.parametrize("path", TOP, ids=lambda p: p.stem)
def test_makespan_bound_is_sound_for_every_builtin(path: Path) -> None:
    assert_sound(path)


@pytest.mark.slow
@pytest.mark.parametrize("path", NESTED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_makespan_bound_is_sound_on_every_shipped_layout(path: Path) -> None:
    assert_sound(path)


# A source, two parallel branches of equal work, a join: on two chiplets the branches
# overlap, so the request takes its critical path, not the sum of its layers.
BRANCHES = """
name = "branches"

[package]
layout = [["ws", "ws"]]

[package.chiplet_types.ws]
dataflow = "ws"
pes = 1024

[[workloads]]
name = "fork"
batch = BATCH
micro_batch = 1
layers = [
  { name = "src", op = "matmul", m = 1024, k = 64, n = 256 },
  { name = "left", op = "matmul", m = 1024, k = 256, n = 1024, inputs = ["src"] },
  { name = "right", op = "matmul", m = 1024, k = 256, n = 1024, inputs = ["src"] },
  { name = "join", op = "elementwise", elems = 1048576, inputs = ["left", "right"] },
]

[simulation]
mode = "batch"
"""


@cache
def branches(batch: int = 1) -> mcmsim.Scenario:
    return mcmsim.parse_scenario(BRANCHES.replace("BATCH", str(batch)), "branches.toml")


def latencies_s(sc: mcmsim.Scenario) -> np.ndarray:
    problem = SchedulingProblem(sc)
    return problem.costs("fork", "ws").latency_ps * S_PER_PS


def test_latency_term_is_the_critical_path_of_the_dag() -> None:
    src, left, right, join = latencies_s(branches())
    bound = makespan_bound(branches())
    assert bound.latency_s["fork"] == pytest.approx(src + max(left, right) + join, rel=1e-12)
    # Branches on their own chiplets overlap: the schedule beats the sum of the layers,
    # which the bound therefore must not claim.
    split = Schedule.single(
        "split",
        [
            Segment("fork", 0, 1, 0),
            Segment("fork", 1, 2, 0),
            Segment("fork", 2, 3, 1),
            Segment("fork", 3, 4, 0),
        ],
    )
    data = mcmsim.simulate(branches(), split).to_dict()
    assert data["makespan_s"] < src + left + right + join
    assert data["makespan_s"] >= bound.makespan_s


def test_latency_term_is_the_flow_shop_bound_of_the_micro_batches() -> None:
    # Four micro-batches: the first crosses the critical path, the other three queue at
    # the bottleneck layer (left or right, which share the work of the heaviest branch).
    src, left, right, join = latencies_s(branches(4))
    bound = makespan_bound(branches(4))
    expected = src + max(left, right) + join + 3 * max(src, left, right, join)
    assert bound.latency_s["fork"] == pytest.approx(expected, rel=1e-12)


def test_compute_term_spreads_the_work_over_the_chiplets() -> None:
    # One chiplet type: the LP can do no better than all work split evenly over both.
    total = float(latencies_s(branches(4)).sum()) * 4
    assert makespan_bound(branches(4)).compute_s == pytest.approx(total / 2, rel=1e-6)


def test_one_chiplet_bound_is_its_compute_time_and_monolithic_meets_it() -> None:
    sc = mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet_monolithic.toml")
    sc = sc.with_overrides(mode="batch")
    problem = SchedulingProblem(sc)
    mono = problem.package.chiplets[0].type.name
    work = sum(float(problem.costs(w, mono).latency_ps.sum()) for w in sc.workloads) * S_PER_PS
    bound = makespan_bound(sc)
    assert bound.binding == "compute"
    assert bound.makespan_s == pytest.approx(work / (1 + LP_TOLERANCE), rel=1e-6)
    data = mcmsim.simulate(sc, mcmsim.schedule(sc, "monolithic")).to_dict()
    # Both models' weights fit the 40 MiB chiplet, so monolithic only adds the DRAM
    # reads of weights, inputs and outputs to the compute: within a few percent.
    assert 0.9 < data["optimality_ratio"] <= 1


def test_ratio_is_the_throughput_lps_batch_ratio() -> None:
    # The dual view: one request per model, the LP's lambda* is makespan / bound.
    sc = branches(4)
    schedule = mcmsim.schedule(sc, "greedy")
    data = mcmsim.simulate(sc, schedule).to_dict()
    assert data["optimality_ratio"] == pytest.approx(data["bound"]["closed_ratio"], rel=1e-5)


def test_stream_mode_has_no_makespan_bound() -> None:
    sc = branches().with_overrides(mode="stream", requests=20)
    data = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone")).to_dict()
    assert "makespan_lower_bound_s" not in data
    with pytest.raises(ValueError, match="batch mode"):
        makespan_bound(sc)


@pytest.mark.parametrize("path", [TOP[0], ROOT / "scenarios" / "scar_5.toml"], ids=lambda p: p.stem)
def test_makespan_bound_is_sound_for_the_local_search(path: Path) -> None:
    sc = small_batch(path)
    params = {"budget": 16, "neighbourhood": 8, "objective": "edp"}
    data = mcmsim.simulate(sc, mcmsim.schedule(sc, "local-search", params)).to_dict()
    assert data["makespan_s"] >= makespan_bound(sc).makespan_s
