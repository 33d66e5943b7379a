"""The SCAR datacenter suite: every mix validates and runs to the end with every built-in."""

from __future__ import annotations

import pytest

import mcmsim
from tests.conftest import ROOT

MIXES = [ROOT / "scenarios" / f"scar_{n}.toml" for n in range(1, 6)]
BUILTINS = ["monolithic", "standalone", "homogeneous-pipeline", "greedy", "scar"]
# Published mixes (SCAR, arXiv 2405.00790): model -> batch.
EXPECTED = {
    1: {"gpt2-large": 1, "bert-large": 3},
    2: {"gpt2-large": 1, "bert-large": 3, "resnet50": 1},
    3: {"gpt2-large": 1, "bert-large": 3, "resnet50": 32},
    4: {"gpt2-large": 8, "bert-large": 24, "unet": 1, "resnet50": 32},
    5: {
        "gpt2-large": 8,
        "bert-large": 24,
        "unet": 1,
        "resnet50": 32,
        "bert-base": 24,
        "googlenet": 32,
    },
}


@pytest.mark.parametrize("mix", range(1, 6))
def test_mix_matches_the_paper(mix: int) -> None:
    sc = mcmsim.load_scenario(MIXES[mix - 1])
    assert {w.name: w.batch for w in sc.workloads} == EXPECTED[mix]
    assert (sc.package.rows, sc.package.cols) == (3, 3)
    assert all(ch.type.pes == 4096 for ch in sc.package.chiplets)
    assert sc.simulation.mode == "batch"
    for layout in ("all_ws", "all_os", "checkerboard"):
        variant = mcmsim.load_scenario(ROOT / "scenarios" / "scar" / f"scar_{mix}_{layout}.toml")
        assert {w.name: w.batch for w in variant.workloads} == EXPECTED[mix]


@pytest.mark.parametrize("scheduler", BUILTINS)
@pytest.mark.parametrize("path", MIXES, ids=lambda p: p.stem)
def test_runs_to_the_end(path, scheduler: str) -> None:
    sc = mcmsim.load_scenario(path)
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, scheduler)).to_dict()
    assert results["requests"]["in_flight"] == 0
    for name, model in results["models"].items():
        assert model["inferences"] == next(w.batch for w in sc.workloads if w.name == name)
    assert results["makespan_s"] > 0
    assert results["edp_j_s"] == pytest.approx(results["energy_j"]["total"] * results["makespan_s"])
