"""The estimator's caches: incremental estimates equal from-scratch ones, bit for bit.

:class:`~mcmsim.search.estimate.Estimator` caches chiplet residencies, windows and
per-model blocks, so a search move re-estimates only what it changed. These tests walk
random neighbourhoods (as the local search does) and compare every estimate with one
made by an estimator whose caches were cleared, and the residency walk with the
simulator's own :func:`~mcmsim.sim.plan.build_plans` at several SRAM sizes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule
from mcmsim.search.estimate import Estimator
from mcmsim.search.moves import Neighbourhood
from mcmsim.sim.plan import build_plans

ROOT = Path(__file__).resolve().parent.parent


def _walk(problem: SchedulingProblem, start: Schedule, n: int, seed: int) -> list[Schedule]:
    """``n`` neighbours along a random walk that moves on every third one."""
    moves = Neighbourhood(problem, np.random.default_rng(seed))
    current, out = start, []
    while len(out) < n:
        proposal = moves.propose(current)
        if proposal is None:
            continue
        out.append(proposal[0])
        if len(out) % 3 == 0:
            current = proposal[0]
    return out


# (scenario, text replaced in it): batch and stream mode, six models, and micro-batch
# sizes that do not divide the batch (two sizes per request: the pass runs size by size).
CASES = {
    "batch": ("scar_2.toml", ()),
    "batch-six-models": ("scar_5.toml", ()),
    "batch-uneven-micro-batches": ("scar_3.toml", ("micro_batch = 8", "micro_batch = 6")),
    "stream": ("gpt2_resnet.toml", ()),
    "stream-uneven-micro-batches": (
        "gpt2_resnet.toml",
        ('model = "resnet50"', 'model = "resnet50"\nbatch = 5\nmicro_batch = 2'),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_incremental_estimates_equal_from_scratch(case: str) -> None:
    name, replace = CASES[case]
    text = (ROOT / "scenarios" / name).read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    sc = mcmsim.parse_scenario(text)
    problem = SchedulingProblem(sc)
    warm, cold = Estimator(problem), Estimator(problem)
    if "uneven" in case:
        assert max(len(data.sizes) for data in warm.models) == 2
    candidates = _walk(problem, mcmsim.schedule(sc, "scar"), 300, seed=3)
    # Revisit some candidates once the caches hold other models' blocks.
    for schedule in candidates + candidates[::7]:
        cold.clear()
        assert warm.evaluate(schedule) == cold.evaluate(schedule)
    assert warm.evaluations == len(candidates) + len(candidates[::7])


@pytest.mark.parametrize("sram_mib", [1, 4, 40])
def test_residency_walk_equals_build_plans(sram_mib: int) -> None:
    """First fit at SRAM sizes where few, some and most weights stay resident."""
    text = (ROOT / "scenarios" / "scar_2.toml").read_text()
    sc = mcmsim.parse_scenario(text.replace("pes = 4096", f"pes = 4096\nsram_mib = {sram_mib}"))
    problem = SchedulingProblem(sc)
    estimator = Estimator(problem)
    resident = 0
    for schedule in _walk(problem, mcmsim.schedule(sc, "greedy"), 30, seed=5):
        ours = estimator.segment_costs(schedule)
        for key, plan in build_plans(problem, schedule).items():
            theirs = [seg for window in plan.windows for seg in window]
            assert [(c.stream_bytes, c.load_bytes, c.layered_ps) for c in ours[key]] == [
                (s.stream_bytes, s.load_bytes, s.layered_ps) for s in theirs
            ]
            resident += sum(s.load_bytes > 0 for s in theirs)
    assert resident > 0
