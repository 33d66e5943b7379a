"""``local-search``: tabu search that closes the loop with the simulator.

Starts from the best of the built-in schedulers (``greedy``, ``scar`` and the
baselines), proposes neighbouring schedules (shift a cut, split or merge segments,
move or swap segments between chiplets, give a model more or fewer chiplets, regroup
time windows in batch mode), screens them with the analytical estimator and simulates
the most promising. See :mod:`mcmsim.search.tabu` for the algorithm and why it is tabu
search rather than simulated annealing.

Objectives are those of :mod:`mcmsim.metrics.objectives`: ``min_normalized_throughput``
(the default: the worst-served model's share of its reference rate),
``weighted_throughput``, ``slo_goodput``, ``energy`` (J per inference), ``edp``, and
the legacy ``throughput`` (the raw sum over models, with a warning); optional p99
latency constraints per model, e.g. in a scenario::

    [scheduler]
    name = "local-search"
    objective = "min_normalized_throughput"
    budget = 1000
    constraints = { resnet50 = { p99_ms = 5 } }

A constraint no schedule found meets is reported (``search.feasible``,
``search.best_violation``, a ``search.note``, and per model the simulated p99 against
the least latency any schedule allows); the schedule returned is then the one closest
to it. After :meth:`LocalSearchScheduler.schedule`, ``scheduler.outcome`` holds the
final results with the ``search`` report and the history of every evaluation.

The ``search`` report: objective and unit, seed, budget, evaluations, simulations,
steps, why it stopped, wall time, the requests per search simulation, each start
schedule's objective (at search fidelity), ``best_objective`` (at the scenario's
fidelity), ``improvement_over_start`` (> 1 is better), constraints, ``feasible``,
``best_violation`` and ``estimator_agreement`` (Spearman and mean relative error of
estimate against simulation, over every simulated schedule).

``strategy = "evolve"`` runs a (mu + lambda) evolutionary search instead of the tabu
walk, as SCAR does for 6x6 packages (:mod:`mcmsim.search.evolve`): ``population``
schedules survive each generation, ``offspring`` children are bred (tournament,
crossover of whole models, mutation by the same moves) and estimated, and the
``simulate_per_step`` best of them are simulated together (in parallel on ``jobs``);
the report's ``algorithm`` is then ``"evolve"`` and its ``steps`` count generations.

Cost: ``budget`` estimator evaluations (well under a millisecond each) plus about
``budget * simulate_per_step / neighbourhood`` simulations of ``search_requests``
requests, plus the start schedulers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from mcmsim.metrics.objectives import DEFAULT_OBJECTIVE, ObjectiveName
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import BaseScheduler
from mcmsim.schedule.schedule import Schedule
from mcmsim.search.objective import LatencyConstraint
from mcmsim.search.tabu import (
    DEFAULT_START,
    Progress,
    SearchConfig,
    SearchOutcome,
    Strategy,
    run_search,
)

__all__ = ["LocalSearchScheduler"]


class LocalSearchParams(BaseModel):
    """Parameters of ``local-search``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    objective: ObjectiveName = Field(
        DEFAULT_OBJECTIVE, description="what the search optimises (mcmsim.metrics.objectives)"
    )
    budget: PositiveInt = Field(1000, description="candidate schedules evaluated (estimated)")
    time_limit_s: PositiveFloat | None = Field(
        None,
        description="stop the search loop after this wall time; the start schedulers and "
        "final scoring come on top, and the answer then depends on the machine",
    )
    seed: int = Field(0, description="random seed of the moves; same seed, same answer")
    constraints: dict[str, LatencyConstraint] = Field(
        default_factory=dict, description="per-model p99 bounds, e.g. {resnet50={p99_ms=5}}"
    )
    jobs: PositiveInt = Field(1, description="simulator processes; the answer does not change")
    neighbourhood: PositiveInt = Field(16, description="neighbours estimated per step")
    simulate_per_step: PositiveInt = Field(2, description="best-estimated neighbours simulated")
    search_requests: PositiveInt | None = Field(
        300, description="requests per simulation during the search (None: the scenario's)"
    )
    final_candidates: PositiveInt = Field(4, description="best found re-scored at full fidelity")
    patience: PositiveInt = Field(8, description="steps without a new best before a restart")
    start: tuple[str, ...] = Field(DEFAULT_START, description="schedulers to start from")
    strategy: Strategy = Field(
        "tabu", description="tabu (walk of neighbours) or evolve (mu + lambda evolution)"
    )
    population: PositiveInt = Field(8, description="evolve: schedules kept per generation")
    offspring: PositiveInt = Field(16, description="evolve: children estimated per generation")


class LocalSearchScheduler(BaseScheduler):
    name = "local-search"
    description = "tabu search from greedy/scar, estimator-screened, simulator-scored"
    Params = LocalSearchParams

    def __init__(self, params: LocalSearchParams | None = None) -> None:
        super().__init__(params)
        self.outcome: SearchOutcome | None = None
        self.progress: Progress | None = None

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        """Search; the answer is also in ``self.outcome`` with its results and report.

        Raises
        ------
        SchedulerError
            If a latency constraint names a model the scenario does not have.
        """
        p = self.params
        config = SearchConfig(
            objective=p.objective,
            budget=p.budget,
            time_limit_s=p.time_limit_s,
            seed=p.seed,
            constraints=dict(p.constraints),
            jobs=p.jobs,
            neighbourhood=p.neighbourhood,
            simulate_per_step=p.simulate_per_step,
            search_requests=p.search_requests,
            final_candidates=p.final_candidates,
            patience=p.patience,
            start=tuple(s for s in p.start if s != self.name),
            name=self.name,
            strategy=p.strategy,
            population=p.population,
            offspring=p.offspring,
        )
        self.outcome = run_search(problem, config, self.progress)
        return self.outcome.schedule
