"""A (mu + lambda) evolutionary search over schedules, like SCAR's for large packages.

The population is the ``population`` best schedules simulated so far (at first the
start schedules). Each *generation*:

1. breeds ``offspring`` new children. A child picks a parent by binary tournament
   (the better simulated of two drawn at random); with probability :data:`CROSSOVER`
   it takes a second parent the same way and inherits each model's whole segment list
   from one parent or the other (:func:`crossover`); then it is mutated by one or more
   of the neighbourhood moves (:mod:`mcmsim.search.moves`). Each child costs one
   *evaluation* of the budget and is estimated (:mod:`mcmsim.search.estimate`);
   children already evaluated are redrawn;
2. simulates the ``simulate_per_step`` best children by estimate, as one batch, at the
   search's fidelity (in parallel when ``jobs > 1``);
3. keeps the ``population`` best of parents and simulated children (plus selection:
   a good parent survives until something better replaces it).

**Same answer for any ``jobs``.** Child ``i`` of generation ``g`` draws all its random
numbers from its own generator, seeded by ``(seed, g, i)``, so it does not depend on
how many children came before it or where they were evaluated; the simulator returns
a batch's results in the order given; selection sorts by score and breaks ties by
order of evaluation. The search is therefore a function of ``seed`` and the budget.

**Why crossover by whole models.** A model's segments are its cuts and chiplets
together; mixing the segment lists of one model from two parents would produce cuts
that overlap or leave gaps. Taking each model whole from one parent always gives a
valid schedule, and combines a parent that placed GPT-2 well with one that placed the
CNNs well. In batch mode each model's segments keep their window index, windows are
merged position by position, and empty windows are dropped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from mcmsim.schedule.schedule import Schedule, Segment, Window
from mcmsim.search.moves import canonical

if TYPE_CHECKING:
    from mcmsim.search.tabu import Progress, SearchState, _Point

__all__ = ["CROSSOVER", "crossover", "evolve"]

CROSSOVER = 0.5
TOURNAMENT = 2
# Chance of each further move after the first (1, 2, 3... moves, geometrically).
MORE_MOVES = 0.3
MAX_MOVES = 4
# Draws per child before it counts as impossible (every draw a duplicate or a failed move).
ATTEMPTS_PER_CHILD = 40


def crossover(
    first: Schedule, second: Schedule, from_second: set[str], scheduler: str = ""
) -> Schedule:
    """A child with the segments of ``from_second``'s models from ``second``, the rest from
    ``first``.

    Each segment keeps its window index; within a window, segments are ordered by their
    relative position in their parent's window (ties: ``first``'s before ``second``'s),
    which keeps each model's own order and roughly each parent's SRAM priority.
    """
    n_windows = max(len(first.windows), len(second.windows))
    slots: list[list[tuple[float, int, Segment]]] = [[] for _ in range(n_windows)]
    for rank, parent in enumerate((first, second)):
        for w, window in enumerate(parent.windows):
            n = len(window.segments)
            for i, segment in enumerate(window.segments):
                if (segment.model in from_second) == (rank == 1):
                    slots[w].append(((i + 0.5) / n, rank, segment))
    windows = tuple(
        Window(tuple(s for _, _, s in sorted(slot, key=lambda x: (x[0], x[1]))))
        for slot in slots
        if slot
    )
    return Schedule(scheduler or first.scheduler, windows)


def _tournament(population: list[_Point], rng: np.random.Generator) -> _Point:
    """The best simulated of ``TOURNAMENT`` points drawn with replacement (population sorted)."""
    return population[int(rng.integers(len(population), size=TOURNAMENT).min())]


def _child(
    state: SearchState, population: list[_Point], rng: np.random.Generator
) -> tuple[Schedule, str] | None:
    """One new child (not yet evaluated) and how it was made, or None if none was found."""
    models = state.neighbourhood.models
    # The moves draw from the child's own generator.
    state.neighbourhood.rng = rng
    for _ in range(ATTEMPTS_PER_CHILD):
        parent = _tournament(population, rng)
        schedule, how = parent.schedule, []
        if len(population) > 1 and len(models) > 1 and rng.random() < CROSSOVER:
            other = _tournament(population, rng)
            if other is not parent:
                # A non-empty proper subset of the models comes from the other parent.
                k = int(rng.integers(1, len(models)))
                chosen = rng.choice(len(models), size=k, replace=False)
                schedule = crossover(schedule, other.schedule, {models[j] for j in chosen})
                how.append("crossover")
        moves = min(MAX_MOVES, int(rng.geometric(1 - MORE_MOVES)))
        for _ in range(moves):
            proposal = state.neighbourhood.propose(schedule)
            if proposal is not None:
                schedule, move = proposal
                how.append(move)
        if how and canonical(schedule) not in state.points:
            return schedule, "+".join(how)
    return None


def evolve(state: SearchState, began: float, progress: Progress | None) -> str:
    """Breed generations from the simulated points until the budget is spent; say why it stopped.

    ``state`` holds the simulated start schedules; the population is drawn from them.
    """
    config = state.config
    assert state.best is not None
    simulated = [p for p in state.points.values() if p.simulated is not None]
    population = sorted(simulated, key=lambda p: p.simulated.key, reverse=True)
    population = population[: config.population]
    if progress is not None:
        progress(len(state.history), config.budget, state.best.simulated.value)
    while len(state.history) < config.budget:
        if config.time_limit_s is not None and time.perf_counter() - began > config.time_limit_s:
            return "time limit"
        state.steps += 1
        children: list[_Point] = []
        wanted = min(config.offspring, config.budget - len(state.history))
        for i in range(wanted):
            rng = np.random.default_rng([config.seed, state.steps, i])
            made = _child(state, population, rng)
            if made is not None:
                children.append(state.evaluate(made[0], state.steps, made[1]))
        if not children:
            return "search space exhausted"
        # Stable sorts: ties keep evaluation order, so selection is deterministic.
        children.sort(key=lambda p: p.estimated.key, reverse=True)
        chosen = children[: config.simulate_per_step]
        state.simulate(chosen)
        population = sorted([*population, *chosen], key=lambda p: p.simulated.key, reverse=True)[
            : config.population
        ]
        if progress is not None:
            progress(len(state.history), config.budget, state.best.simulated.value)
    return "budget"
