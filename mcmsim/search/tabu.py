"""Tabu search over schedules, screened by the estimator and scored by the simulator.

**Why tabu search, not simulated annealing.** Annealing proposes one move at a time and
accepts or rejects it before the next: a sequential chain that cannot use more than one
core without changing its answer. Tabu search looks at a *set* of neighbours each step
and moves to the best one it has not visited, even when that is worse than where it
stands. That set is a natural batch: the analytical estimator screens all of it in
microseconds, the few most promising go to the simulator together — in parallel
processes when ``jobs > 1``, evaluated in a fixed order so the result does not depend
on ``jobs`` — and the step is decided by simulated values only. The tabu memory is the
set of every schedule already evaluated (hashed), so the search never cycles and never
pays twice for one schedule; after ``patience`` steps without a new best it returns to
the elite schedules found so far (intensification).

One step:

1. draw up to ``neighbourhood`` new neighbours of the current schedule
   (:mod:`mcmsim.search.moves`); each costs one *evaluation* of the budget and is
   estimated (:mod:`mcmsim.search.estimate`);
2. simulate the ``simulate_per_step`` best by estimate, with ``search_requests``
   requests per run (fewer than the scenario's, for speed);
3. move to the best simulated one; record a new best.

The search starts from the best of the built-in schedulers (``greedy`` and ``scar``,
and the baselines), so it is never worse than they are. At the end the start schedules
and the ``final_candidates`` best found are simulated with the scenario's own settings
and the best of them is the answer, so the answer's score is exactly what
``mcmsim.simulate`` reports for it.

Ranking is that of :mod:`mcmsim.search.objective` (feasible first, then the smaller
latency violation, then the objective). The report records how well the estimator
agreed with the simulator over every simulated schedule: Spearman's rank correlation
and the mean relative error, of the objective and of throughput and energy.

``strategy = "evolve"`` replaces the tabu walk by the population-based search of
:mod:`mcmsim.search.evolve`; the starts, the ranking, the final re-scoring and the
report are the same.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from mcmsim.metrics.objectives import (
    DEFAULT_OBJECTIVE,
    ObjectiveContext,
    objective_spec,
    resolve_objective,
)
from mcmsim.metrics.results import ReadOnlyMap, Results
from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import SchedulerError, make_scheduler, run_scheduler
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.schedule.spec import format_scheduler_spec, parse_scheduler_spec
from mcmsim.search.bound import min_request_latency_s
from mcmsim.search.estimate import Estimate, Estimator
from mcmsim.search.evolve import evolve
from mcmsim.search.moves import Neighbourhood, canonical
from mcmsim.search.objective import (
    LatencyConstraint,
    Objective,
    Score,
    estimate_objectives,
    score_estimate,
    score_results,
)
from mcmsim.search.pool import SimulationPool
from mcmsim.search.reference import objective_context

__all__ = [
    "DEFAULT_START",
    "HistoryRow",
    "SearchConfig",
    "SearchOutcome",
    "SearchState",
    "Strategy",
    "run_search",
]

DEFAULT_START = ("greedy", "scar", "homogeneous-pipeline", "standalone", "monolithic")
# Proposals tried per wanted neighbour before a neighbourhood counts as exhausted.
ATTEMPTS_PER_NEIGHBOUR = 40
ELITE = 5
# Start schedules more than this fraction behind the best at search fidelity are not
# re-scored at full fidelity (fidelity changes values by a few percent at most).
START_MARGIN = 0.1

Progress = Callable[[int, int, float | None], None]
Strategy = Literal["tabu", "evolve"]


@dataclass(frozen=True)
class SearchConfig:
    """Parameters of one search (documented on the ``local-search`` scheduler's Params)."""

    objective: Objective = DEFAULT_OBJECTIVE
    budget: int = 1000
    time_limit_s: float | None = None
    seed: int = 0
    constraints: dict[str, LatencyConstraint] = field(default_factory=dict)
    jobs: int = 1
    neighbourhood: int = 16
    simulate_per_step: int = 2
    search_requests: int | None = 300
    final_candidates: int = 4
    patience: int = 8
    start: tuple[str, ...] = DEFAULT_START
    name: str = "local-search"
    strategy: Strategy = "tabu"
    population: int = 8
    offspring: int = 16


@dataclass
class HistoryRow:
    """One evaluated schedule: estimated and (if simulated) simulated objective."""

    evaluation: int
    step: int
    move: str
    estimated: float
    simulated: float | None = None
    feasible: bool | None = None
    best: float | None = None


@dataclass(frozen=True)
class SearchOutcome:
    """The answer, its results (with the ``search`` report) and the search history."""

    schedule: Schedule
    results: Results
    report: Mapping[str, Any]
    history: list[HistoryRow]


# --- the search ------------------------------------------------------------------------


@dataclass(eq=False)
class _Point:
    schedule: Schedule
    estimate: Estimate
    estimated: Score
    simulated: Score | None = None
    results: Results | None = None
    row: HistoryRow | None = None


def _start_schedules(
    problem: SchedulingProblem, names: tuple[str, ...], objective: str
) -> tuple[dict[str, Schedule], dict[str, str]]:
    schedules: dict[str, Schedule] = {}
    skipped: dict[str, str] = {}
    variants = list(names)
    if "scar" in names:
        # scar can aim at the search's objective too (its default is EDP); its
        # throughput aim maximises the product of the models' rates, a fair start for
        # the normalised objectives.
        aim = objective if objective in ("energy", "edp") else "throughput"
        variants.append(format_scheduler_spec("scar", {"objective": aim}))
    for label in variants:
        try:
            spec = parse_scheduler_spec(label)
            scheduler = make_scheduler(spec.name, spec.params)
            schedules[label] = run_scheduler(scheduler, problem)
        except SchedulerError as exc:
            skipped[label] = str(exc)
    if not schedules:
        # Every model whole on one chiplet, round-robin: valid on any package.
        schedules["standalone"] = Schedule.single(
            "standalone",
            [
                Segment(w.name, 0, len(w.model.layers), i % problem.n_chiplets)
                for i, w in enumerate(problem.workloads)
            ],
        )
    return schedules, skipped


def _within(score: Score, leader: Score, margin: float) -> bool:
    """Whether ``score`` is at most ``margin`` (relative) worse than ``leader``."""
    if score.violation > leader.violation:
        return score.violation <= leader.violation * (1 + margin) + 1e-12
    if not (math.isfinite(score.value) and math.isfinite(leader.value)):
        return True
    if score.higher_is_better:
        return score.value >= leader.value * (1 - margin)
    return score.value <= leader.value * (1 + margin)


def _agreement(
    points: list[_Point], objective: Objective, context: ObjectiveContext
) -> dict[str, Any]:
    """Rank correlation and mean relative error of estimate vs simulation."""
    out: dict[str, Any] = {"pairs": 0}
    simulated = [p for p in points if p.results is not None]
    out["pairs"] = len(simulated)
    estimated = [estimate_objectives(p.estimate, context) for p in simulated]
    for label, name in (
        ("objective", objective),
        ("throughput", "throughput"),
        ("energy", "energy"),
    ):
        est = np.array([values[name] for values in estimated], np.float64)
        sim = np.array([p.results.objectives.values[name] for p in simulated], np.float64)
        ok = np.isfinite(est) & np.isfinite(sim) & (sim != 0)
        est, sim = est[ok], sim[ok]
        rho = None
        if len(est) >= 3 and np.ptp(est) > 0 and np.ptp(sim) > 0:
            from scipy import stats  # slow to import; only this report needs it

            rho = float(stats.spearmanr(est, sim).statistic)
        out[f"{label}_spearman"] = rho
        out[f"{label}_mean_relative_error"] = (
            float(np.mean(np.abs(est - sim) / np.abs(sim))) if len(est) else None
        )
    return out


def _constraint_report(
    scenario: Scenario, results: Results, constraints: dict[str, LatencyConstraint]
) -> dict[str, dict[str, Any]]:
    """Limit, simulated p99, whether met, and the least latency any schedule allows."""
    least = min_request_latency_s(scenario)
    report = {}
    for model, limit in constraints.items():
        p99_s = results.models[model].latency_s.p99
        report[model] = {
            "p99_ms": limit.p99_ms,
            "achieved_p99_ms": p99_s * 1e3,
            "met": p99_s <= limit.p99_ms * 1e-3,
            "least_possible_ms": least[model] * 1e3,
        }
    return report


def _unmet_note(report: dict[str, dict[str, Any]], violation: float) -> str:
    unmet = [m for m, c in report.items() if not c["met"]]
    note = (
        f"latency constraint not met for {', '.join(unmet)} by any schedule found "
        f"(best violation {violation:.3g})"
    )
    provably = [m for m in unmet if report[m]["least_possible_ms"] > report[m]["p99_ms"]]
    if provably:
        note += f"; unreachable for {', '.join(provably)}: below the least possible latency"
    return note


class SearchState:
    """The search's state: every evaluated point, the history and the best point so far.

    Shared by the tabu walk (:meth:`walk`) and the evolutionary search
    (:func:`mcmsim.search.evolve.evolve`).
    """

    def __init__(
        self, problem: SchedulingProblem, config: SearchConfig, simulator: SimulationPool
    ) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        self.estimator = Estimator(problem)
        self.context = objective_context(problem.scenario)
        self.neighbourhood = Neighbourhood(problem, rng)
        self.simulator = simulator
        self.points: dict[Any, _Point] = {}
        self.history: list[HistoryRow] = []
        self.best: _Point | None = None
        self.steps = 0

    def evaluate(self, schedule: Schedule, step: int, move: str) -> _Point:
        """Estimate ``schedule``: one evaluation of the budget, one history row."""
        estimate = self.estimator.evaluate(schedule)
        config = self.config
        score = score_estimate(estimate, config.objective, config.constraints, self.context)
        point = _Point(schedule, estimate, score)
        point.row = HistoryRow(len(self.history) + 1, step, move, point.estimated.value)
        self.history.append(point.row)
        self.points[canonical(schedule)] = point
        return point

    def simulate(self, batch: list[_Point]) -> None:
        """Simulate ``batch`` at search fidelity, in order, updating the best point."""
        config = self.config
        for point, results in zip(
            batch, self.simulator.run([p.schedule for p in batch], "search"), strict=True
        ):
            point.results = results
            point.simulated = score_results(results, config.objective, config.constraints)
            if self.best is None or point.simulated.key > self.best.simulated.key:
                self.best = point
            point.row.simulated = point.simulated.value
            point.row.feasible = point.simulated.feasible
            point.row.best = self.best.simulated.value

    def add_starts(self, starts: dict[str, Schedule]) -> dict[str, _Point]:
        """Evaluate and simulate the start schedules (each distinct schedule once)."""
        start_points: dict[str, _Point] = {}
        for name, schedule in starts.items():
            key = canonical(schedule)
            start_points[name] = (
                self.points[key]
                if key in self.points
                else self.evaluate(schedule, 0, f"start:{name}")
            )
        self.simulate([p for p in dict.fromkeys(start_points.values()) if p.results is None])
        return start_points

    def _neighbours(self, schedule: Schedule) -> list[_Point]:
        """Up to ``neighbourhood`` new neighbours of ``schedule``, evaluated; [] if none."""
        config = self.config
        fresh: list[_Point] = []
        attempts = 0
        wanted = min(config.neighbourhood, config.budget - len(self.history))
        while len(fresh) < wanted and attempts < ATTEMPTS_PER_NEIGHBOUR * config.neighbourhood:
            attempts += 1
            proposal = self.neighbourhood.propose(schedule)
            if proposal is None:
                continue
            candidate, move = proposal
            if canonical(candidate) in self.points:
                continue
            fresh.append(self.evaluate(candidate, self.steps, move))
        return fresh

    def walk(self, began: float, progress: Progress | None) -> str:
        """Take steps from the best start until the budget is spent; say why it stopped."""
        config = self.config
        assert self.best is not None
        if progress is not None:
            progress(len(self.history), config.budget, self.best.simulated.value)
        current = self.best
        elites: list[_Point] = [self.best]
        exhausted: set[Any] = set()
        since_best = 0
        while len(self.history) < config.budget:
            if (
                config.time_limit_s is not None
                and time.perf_counter() - began > config.time_limit_s
            ):
                return "time limit"
            self.steps += 1
            fresh = self._neighbours(current.schedule)
            if not fresh:
                exhausted.add(canonical(current.schedule))
                options = [p for p in elites if canonical(p.schedule) not in exhausted]
                if not options:
                    return "search space exhausted"
                current = options[0]
                continue
            fresh.sort(key=lambda p: p.estimated.key, reverse=True)
            chosen = fresh[: config.simulate_per_step]
            before = self.best
            self.simulate(chosen)
            current = max(chosen, key=lambda p: p.simulated.key)
            elites = sorted(
                dict.fromkeys([*elites, *chosen]), key=lambda p: p.simulated.key, reverse=True
            )[:ELITE]
            since_best = 0 if self.best is not before else since_best + 1
            if since_best >= config.patience:
                # Intensify: go back to an elite that still has unexplored neighbours.
                since_best = 0
                options = [p for p in elites if canonical(p.schedule) not in exhausted]
                current = options[self.steps % len(options)] if options else self.best
            if progress is not None:
                progress(len(self.history), config.budget, self.best.simulated.value)
        return "budget"

    def finalists(self, start_points: dict[str, _Point]) -> list[_Point]:
        """The ``final_candidates`` best simulated points and the start points close to them."""
        ranked = sorted(
            (p for p in self.points.values() if p.simulated is not None),
            key=lambda p: p.simulated.key,
            reverse=True,
        )
        leader = ranked[0].simulated
        # Start schedules stay finalists unless far behind, so the answer is never worse
        # than a built-in even where search and final fidelity rank them differently.
        close = [
            p
            for p in start_points.values()
            if p.simulated.feasible >= leader.feasible
            and _within(p.simulated, leader, START_MARGIN)
        ]
        return list(dict.fromkeys([*ranked[: self.config.final_candidates], *close]))


def _check_constraints(problem: SchedulingProblem, config: SearchConfig) -> None:
    names = [w.name for w in problem.workloads]
    unknown = sorted(set(config.constraints) - set(names))
    if unknown:
        raise SchedulerError(
            f"scheduler {config.name!r}: latency constraint for unknown model "
            f"{', '.join(map(repr, unknown))}; models: {', '.join(names)}"
        )


def _search_scenario(problem: SchedulingProblem, config: SearchConfig) -> Scenario:
    """The scenario the search simulates: fewer requests than the scenario's, for speed."""
    scenario = problem.scenario
    requests = scenario.simulation.requests
    if problem.mode == "stream" and config.search_requests and config.search_requests < requests:
        return scenario.with_overrides(requests=config.search_requests)
    return scenario


def _improvement(winner: Score, start: Score) -> float | None:
    """Winner over best start at search fidelity; > 1 is better for every objective."""
    if not (start.value and winner.value and math.isfinite(start.value)):
        return None
    return winner.value / start.value if winner.higher_is_better else start.value / winner.value


def _report(
    tabu: SearchState,
    *,
    stopped: str,
    wall_s: float,
    search_requests: int,
    start_points: dict[str, _Point],
    skipped: dict[str, str],
    winner: _Point,
    final: Score,
    constraints: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The ``search`` section of results.json."""
    config = tabu.config
    # Starts compared at search fidelity, where all of them were simulated.
    start_scores = {name: p.simulated for name, p in start_points.items()}
    best_start = max(start_scores, key=lambda n: start_scores[n].key)
    report: dict[str, Any] = {
        "algorithm": config.strategy,
        "objective": config.objective,
        "objective_unit": objective_spec(config.objective).unit,
        "seed": config.seed,
        "jobs": config.jobs,
        "budget_evaluations": config.budget,
        "evaluations": len(tabu.history),
        "simulations": tabu.simulator.runs,
        "steps": tabu.steps,
        "stopped": stopped,
        "wall_s": wall_s,
        "search_requests": search_requests,
        "start": {name: s.value for name, s in start_scores.items()},
        "start_skipped": skipped,
        "start_best": best_start,
        "best_objective": final.value,
        "improvement_over_start": _improvement(winner.simulated, start_scores[best_start]),
        "constraints": constraints,
        "feasible": final.feasible,
        "best_violation": final.violation,
        "estimator_agreement": _agreement(
            list(tabu.points.values()), config.objective, tabu.context
        ),
    }
    if config.constraints and not final.feasible:
        report["note"] = _unmet_note(constraints, final.violation)
    return report


def run_search(
    problem: SchedulingProblem, config: SearchConfig, progress: Progress | None = None
) -> SearchOutcome:
    """Search for the best schedule of ``problem`` under ``config``.

    Parameters
    ----------
    problem : SchedulingProblem
        The scenario to schedule; its simulation settings score the final answer.
    config : SearchConfig
        Objective, constraints, budget, seed, parallelism.
    progress : callable, optional
        Called after every step as ``progress(evaluations, budget, best_objective)``.

    Returns
    -------
    SearchOutcome

    Raises
    ------
    SchedulerError
        If a constraint names a model that is not in the scenario.
    """
    _check_constraints(problem, config)
    resolve_objective(config.objective)
    began = time.perf_counter()
    scenario = problem.scenario
    search_scenario = _search_scenario(problem, config)
    objective, constraints = config.objective, config.constraints
    simulator = SimulationPool({"search": search_scenario, "final": scenario}, config.jobs)
    tabu = SearchState(problem, config, simulator)
    try:
        starts, skipped = _start_schedules(problem, config.start, objective)
        start_points = tabu.add_starts(starts)
        if config.strategy == "evolve":
            stopped = evolve(tabu, began, progress)
        else:
            stopped = tabu.walk(began, progress)
        # Final: the starts and the best found, scored with the scenario's own settings.
        finalists = tabu.finalists(start_points)
        if search_scenario is scenario:
            final_results = [p.results for p in finalists]
        else:
            final_results = simulator.run([p.schedule for p in finalists], "final")
        final_scores = [score_results(r, objective, constraints) for r in final_results]
    finally:
        simulator.close()
    winner_index = max(range(len(finalists)), key=lambda i: final_scores[i].key)
    winner = finalists[winner_index]
    winner_results = final_results[winner_index]
    constraint_report = _constraint_report(scenario, winner_results, constraints)
    report = ReadOnlyMap(
        _report(
            tabu,
            stopped=stopped,
            wall_s=time.perf_counter() - began,
            search_requests=search_scenario.simulation.requests,
            start_points=start_points,
            skipped=skipped,
            winner=winner,
            final=final_scores[winner_index],
            constraints=constraint_report,
        )
    )
    results = replace(
        winner_results,
        run=replace(winner_results.run, scheduler=config.name),
        search=report,
    )
    return SearchOutcome(
        Schedule(config.name, winner.schedule.windows), results, report, tabu.history
    )
