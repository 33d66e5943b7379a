"""The smaller points of the figures issue: help text, units, warnings, ties, pareto marks."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import mcmsim
from mcmsim.metrics.objectives import TIE_RELATIVE_TOLERANCE, tied_with_best
from mcmsim.report.summary import si
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.search.estimate import Estimator
from mcmsim.sweep.pareto import _draw_points
from mcmsim.sweep.store import StoredPoint
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [("run",), ("models", "show"), ("schedulers",), ("costs",)])
def test_flags_show_no_value_placeholder(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "--json" in result.stdout and "<bool>" not in result.stdout


def test_counts_use_the_prefix_that_suits_them() -> None:
    assert si(22_700) == "22.7 k"
    assert si(3_504_872) == "3.5 M"
    assert si(16_114_089_984, "MACs") == "16.1 GMACs"
    assert si(512) == "512"


# An inline model of 22 656 weights: a 3x3 conv 16 -> 16 (2304), a 1x1 conv 16 -> 248
# (3968) and a 128 x 128 matmul (16 384).
TINY = """
[package]
layout = [["a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 256
[[workloads]]
name = "tiny"
layers = [
  { name = "c1", op = "conv2d", c_in = 16, c_out = 16, h_in = 8, w_in = 8, kernel = 3 },
  { name = "c2", op = "conv2d", c_in = 16, c_out = 248, h_in = 8, w_in = 8, kernel = 1 },
  { name = "fc", op = "matmul", m = 1, k = 128, n = 128 },
]
"""


def test_validate_prints_a_small_model_in_thousands(cli: Cli, write) -> None:
    result = cli("validate", write("tiny.toml", TINY))
    assert result.exit_code == 0, result.output
    scenario = mcmsim.load_scenario(write("tiny2.toml", TINY))
    count = scenario.workloads[0].model.params
    assert 1_000 <= count < 1_000_000
    assert f"{si(count)} params" in result.stdout
    assert "0.0 M params" not in result.stdout


OVERLOADED = (ROOT / "scenarios" / "gpt2_resnet.toml").read_text(encoding="utf-8")
OVERLOADED = OVERLOADED.replace(
    'model = "resnet50"\nstream = { kind = "closed", in_flight = 4 }',
    'model = "resnet50"\nstream = { kind = "poisson", rate_per_s = 3000 }',
)


def test_estimator_of_an_overloaded_open_stream_warns_nothing(write) -> None:
    assert "poisson" in OVERLOADED
    scenario = mcmsim.load_scenario(write("open.toml", OVERLOADED))
    # standalone puts each model on its own chiplet, so the open model never visits
    # the closed model's chiplets, where the M/G/1 wait is infinite.
    schedule = mcmsim.schedule(scenario, "standalone")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        estimate = Estimator(SchedulingProblem(scenario)).evaluate(schedule)
    assert estimate.throughput_per_s > 0


def test_values_within_the_tolerance_or_the_intervals_are_tied() -> None:
    top = 100.0
    close = top * (1 - TIE_RELATIVE_TOLERANCE / 2)
    far = top * (1 - 3 * TIE_RELATIVE_TOLERANCE)
    assert tied_with_best([far, top, close], "min_normalized_throughput") == [1, 2]
    # Lower is better for energy: the best is the smallest.
    assert tied_with_best([2.0, 1.0, 1.001], "energy") == [1, 2]
    # Intervals: 97 +- 2 and 100 +- 2 overlap; 90 +- 1 does not.
    widths = [2.0, 2.0, 1.0]
    assert tied_with_best([97.0, 100.0, 90.0], "weighted_throughput", widths) == [1, 0]
    assert tied_with_best([None, 5.0], "energy") == [1]
    assert tied_with_best([], "energy") == []


def _point(pid: str, energy: float, served: float, **labels: str) -> StoredPoint:
    metrics = {
        "energy_per_inference_j": energy,
        "objectives": {"min_normalized_throughput": served},
    }
    return StoredPoint(pid, 0, {}, labels, {}, "ok", metrics, None, 0.0, "w", "t")


def test_pareto_marks_every_varying_axis() -> None:
    from matplotlib.figure import Figure

    points = [
        _point(f"p{i}", 1.0 + i, 0.5, s=s, bw=bw, layout=lay)
        for i, (s, bw, lay) in enumerate(
            (s, bw, lay) for s in ("greedy", "scar") for bw in ("25", "100") for lay in ("a", "b")
        )
    ]
    ax = Figure().add_subplot()
    encodings = _draw_points(ax, points, ["s", "bw", "layout"])
    assert [axis for axis, _, _ in encodings] == ["s", "bw", "layout"]
    # Each axis changes a different property of the markers.
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    sizes = {float(c.get_sizes()[0]) for c in ax.collections}
    assert len(colours) == 2 and len(sizes) == 2 and len(ax.collections) == 8
