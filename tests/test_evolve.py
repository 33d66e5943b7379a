"""The evolutionary strategy of local-search (issue 15, item 3)."""

from __future__ import annotations

import pytest

import mcmsim
from mcmsim.metrics.objectives import DEFAULT_OBJECTIVE
from mcmsim.schedule.schedule import Schedule, Segment, Window
from mcmsim.search.evolve import crossover
from mcmsim.search.makespan_bound import makespan_bound
from tests.test_makespan_bound import ROOT, small_batch
from tests.test_search import BUILTINS, comparable, local_search, tiny, tiny_optimum

LAYERS = {"a": 6, "b": 4, "c": 3}


def test_crossover_takes_each_model_whole_from_its_parent() -> None:
    first = Schedule.single(
        "x",
        [
            Segment("a", 0, 6, 0),
            Segment("b", 0, 2, 1),
            Segment("b", 2, 4, 2),
            Segment("c", 0, 3, 3),
        ],
    )
    second = Schedule.single(
        "y",
        [
            Segment("c", 0, 1, 0),
            Segment("a", 0, 3, 1),
            Segment("a", 3, 6, 2),
            Segment("c", 1, 3, 1),
        ],
    )
    child = crossover(first, second, {"a"})
    child.validate(LAYERS, 4, stream_mode=True)
    assert child.segments("a") == second.segments("a")
    assert child.segments("b") == first.segments("b")
    assert child.segments("c") == first.segments("c")
    # Segments sit at their relative position in their parent's window: b's pieces at
    # 3/8 and 5/8 of first's, a's at 3/8 and 5/8 of second's (ties: first's first), c's
    # at 7/8.
    assert [s.model for s in child.windows[0].segments] == ["b", "a", "b", "a", "c"]


def test_crossover_keeps_windows_and_drops_empty_ones() -> None:
    first = Schedule(
        "x",
        (
            Window((Segment("a", 0, 6, 0),)),
            Window((Segment("b", 0, 4, 1), Segment("c", 0, 3, 2))),
        ),
    )
    second = Schedule(
        "y",
        (
            Window((Segment("b", 0, 2, 0), Segment("c", 0, 3, 1))),
            Window((Segment("b", 2, 4, 0),)),
            Window((Segment("a", 0, 6, 3),)),
        ),
    )
    child = crossover(first, second, {"a", "b"})
    child.validate(LAYERS, 4, stream_mode=False)
    # b's two windows and a's third window from second; c's second window from first.
    assert child.windows == (
        Window((Segment("b", 0, 2, 0),)),
        Window((Segment("b", 2, 4, 0), Segment("c", 0, 3, 2))),
        Window((Segment("a", 0, 6, 3),)),
    )
    # Taking only a from second leaves first's window 0 empty of others: it is dropped
    # only when nothing lands there.
    only_a = crossover(first, second, {"a"})
    assert only_a.windows == (
        Window((Segment("b", 0, 4, 1), Segment("c", 0, 3, 2))),
        Window((Segment("a", 0, 6, 3),)),
    )


@pytest.mark.slow
def test_evolve_answer_does_not_depend_on_jobs() -> None:
    params = {"budget": 96, "seed": 5, "strategy": "evolve", "offspring": 12}
    one, a = local_search(tiny(), **params)
    two, b = local_search(tiny(), **params, jobs=2)
    assert one == two
    assert comparable(a) == comparable(b)
    assert [vars(r) for r in a.history] == [vars(r) for r in b.history]
    assert a.report["algorithm"] == "evolve"
    assert len(a.history) == 96
    # Crossover is used, and each generation simulates simulate_per_step children.
    assert any(r.move.startswith("crossover") for r in a.history)
    assert a.report["simulations"] >= a.report["steps"] * 2


@pytest.mark.slow
def test_evolve_finds_the_tiny_optimum() -> None:
    optimum = tiny_optimum()["objectives"][DEFAULT_OBJECTIVE]
    for seed in range(5):
        _, outcome = local_search(
            tiny(), budget=150, seed=seed, start=["greedy", "scar"], strategy="evolve", offspring=16
        )
        assert max(outcome.report["start"].values()) < optimum
        assert outcome.results["objectives"][DEFAULT_OBJECTIVE] >= optimum * (1 - 1e-12), seed


@pytest.mark.slow
def test_evolve_in_batch_mode_is_sound_and_at_least_every_builtin() -> None:
    sc = small_batch(ROOT / "scenarios" / "scar_5.toml")
    _, outcome = local_search(sc, budget=16, offspring=8, strategy="evolve")
    data = outcome.results.to_dict()
    assert data["makespan_s"] >= makespan_bound(sc).makespan_s
    for name in BUILTINS:
        other = mcmsim.simulate(sc, mcmsim.schedule(sc, name)).to_dict()
        assert data["makespan_s"] <= other["makespan_s"], name
