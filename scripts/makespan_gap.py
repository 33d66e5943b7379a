"""Where a batch run's makespan goes: per-chiplet work, busy and idle time, against the bound.

Run from the repository root: ``python scripts/makespan_gap.py SCENARIO OUT_DIR``, where
``OUT_DIR`` holds a batch-mode run's ``results.json`` and ``schedule.json`` (as ``mcmsim
search --out`` or ``mcmsim run --out`` write them). For every chiplet it prints the
resident-weights compute time of the layers the schedule gives it (summed over each
model's micro-batches, per model), the time the simulator held it, and its idle time up
to the makespan; then the makespan lower bound's terms
(:mod:`mcmsim.search.makespan_bound`).

The makespan splits into the busiest chiplet's work, which the bound's compute term
bounds from below across all schedules (it spreads every layer fractionally over
types), and that chiplet's idle time, which comes from dependencies: a segment waits
for its model's earlier segments (pipeline fill and drain of the micro-batches) and no
other work was placed to fill the wait.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule
from mcmsim.search.makespan_bound import makespan_bound
from mcmsim.units import S_PER_PS


def chiplet_work_s(scenario: mcmsim.Scenario, schedule: Schedule) -> dict[int, dict[str, float]]:
    """Resident compute seconds per chiplet and model under ``schedule``."""
    problem = SchedulingProblem(scenario)
    workloads = {w.name: w for w in scenario.workloads}
    types = [ch.type.name for ch in scenario.package.chiplets]
    work: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for window in schedule.windows:
        for seg in window.segments:
            w = workloads[seg.model]
            for size, count in Counter(w.micro_batch_sizes).items():
                latency = problem.costs(w, types[seg.chiplet], size).latency_ps
                work[seg.chiplet][seg.model] += (
                    count * float(latency[seg.start : seg.stop].sum()) * S_PER_PS
                )
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("out_dir", type=Path, help="holds results.json and schedule.json")
    args = parser.parse_args()
    scenario = mcmsim.load_scenario(args.scenario)
    results = json.loads((args.out_dir / "results.json").read_text(encoding="utf-8"))
    schedule = Schedule.load(args.out_dir / "schedule.json")
    makespan_s = results["makespan_s"]
    work = chiplet_work_s(scenario, schedule)
    print(f"makespan {makespan_s * 1e3:.1f} ms, {len(schedule.windows)} window(s)")
    total_s = 0.0
    for c, chiplet in enumerate(scenario.package.chiplets):
        busy_s = results["chiplets"][str(c)]["utilization"] * makespan_s
        mine = sum(work[c].values())
        total_s += mine
        models = ", ".join(f"{m} {v * 1e3:.1f}" for m, v in sorted(work[c].items()))
        print(
            f"chiplet {c:2d} ({chiplet.type.name}): work {mine * 1e3:6.1f} ms, busy "
            f"{busy_s * 1e3:6.1f} ms, idle {(makespan_s - busy_s) * 1e3:6.1f} ms  [{models}]"
        )
    n = len(scenario.package.chiplets)
    busiest = max(sum(v.values()) for v in work.values())
    print(
        f"work: total {total_s * 1e3:.1f} chiplet-ms, mean {total_s / n * 1e3:.1f} ms, "
        f"busiest chiplet {busiest * 1e3:.1f} ms"
    )
    bound = makespan_bound(scenario)
    latency = max(bound.latency_s.values())
    print(
        f"bound {bound.makespan_s * 1e3:.1f} ms ({bound.binding}): compute "
        f"{bound.compute_s * 1e3:.1f}, longest latency {latency * 1e3:.1f}, dram "
        f"{bound.dram_s * 1e3:.1f}; ratio {bound.makespan_s / makespan_s:.3f}, "
        f"bound / busiest chiplet {bound.makespan_s / busiest:.3f}"
    )


if __name__ == "__main__":
    main()
