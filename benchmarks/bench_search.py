"""Search speed and quality on the reference scenario (scenarios/gpt2_resnet.toml).

Run: ``python benchmarks/bench_search.py [--budgets 100 1000 10000] [--jobs 2]``.

Reports

* evaluations per second of the analytical estimator on fresh neighbours, as the
  search produces them (a random walk of moves from the scar schedule; every chiplet
  content the estimator has not seen costs a ``residency()`` call), CPU time;
* evaluations per second of the simulator at the search's fidelity (300 requests) and
  at the scenario's (4000 requests) on the scar schedule;
* for each budget: the local search's wall time, simulations, best throughput,
  ``optimality_ratio`` (achieved / LP bound at the measured mix) and the estimator's
  agreement with the simulator (Spearman, mean relative error) over the search.

Targets (issue 5): the estimator at least 1,000 evaluations/s; a 1,000-evaluation
search under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import make_scheduler
from mcmsim.search.estimate import Estimator
from mcmsim.search.moves import Neighbourhood

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "gpt2_resnet.toml"


def estimator_rate(n: int = 2000) -> float:
    """Fresh-estimator evaluations per CPU second over ``n`` random-walk neighbours."""
    sc = mcmsim.load_scenario(SCENARIO)
    problem = SchedulingProblem(sc)
    moves = Neighbourhood(problem, np.random.default_rng(0))
    current = mcmsim.schedule(sc, "scar")
    candidates = []
    while len(candidates) < n:
        proposal = moves.propose(current)
        if proposal is not None:
            candidates.append(proposal[0])
            if len(candidates) % 4 == 0:
                current = proposal[0]
    estimator = Estimator(problem)
    start = time.process_time()
    for schedule in candidates:
        estimator.evaluate(schedule)
    return n / (time.process_time() - start)


def simulator_rate(requests: int, repeats: int = 3) -> float:
    sc = mcmsim.load_scenario(SCENARIO).with_overrides(requests=requests)
    schedule = mcmsim.schedule(sc, "scar")
    start = time.perf_counter()
    for _ in range(repeats):
        mcmsim.simulate(sc, schedule)
    return repeats / (time.perf_counter() - start)


def search(budget: int, jobs: int, seed: int) -> dict[str, object]:
    sc = mcmsim.load_scenario(SCENARIO)
    scheduler = make_scheduler("local-search", {"budget": budget, "jobs": jobs, "seed": seed})
    start = time.perf_counter()
    mcmsim.schedule(sc, scheduler)
    wall = time.perf_counter() - start
    results = scheduler.outcome.results
    agreement = scheduler.outcome.report["estimator_agreement"]
    return {
        "budget": budget,
        "wall_s": round(wall, 2),
        "simulations": scheduler.outcome.report["simulations"],
        "throughput_per_s": round(results.throughput_per_s, 2),
        "bound_per_s": round(results["throughput_upper_bound_per_s"], 2),
        "optimality_ratio": round(results["optimality_ratio"], 4),
        "spearman": agreement["throughput_spearman"],
        "mean_relative_error": agreement["throughput_mean_relative_error"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    report: dict[str, object] = {
        "estimator_evals_per_s": round(estimator_rate()),
        "simulator_evals_per_s_300_requests": round(simulator_rate(300), 2),
        "simulator_evals_per_s_4000_requests": round(simulator_rate(4000, 1), 2),
    }
    print(json.dumps(report), flush=True)
    for budget in args.budgets:
        print(json.dumps(search(budget, args.jobs, args.seed)), flush=True)


if __name__ == "__main__":
    main()
