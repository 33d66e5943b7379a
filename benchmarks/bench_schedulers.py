"""How long each built-in scheduler takes to produce a schedule.

Run: ``python benchmarks/bench_schedulers.py [--repeat 3] [--mode stream|batch|both]``.

Two problems: the reference scenario (scenarios/gpt2_resnet.toml: GPT-2 + ResNet-50 on a
2x2 ws/os package) and a 3x3 ws/os checkerboard serving GPT-2 large, BERT-large and
ResNet-50. Cost tables are built once up front and timed on their own (every scheduler
and the simulator share them through a cache), so the scheduler times are the
schedulers' own work: the median of ``--repeat`` calls of ``schedule()`` on a fresh
scheduler object.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import make_scheduler, run_scheduler

ROOT = Path(__file__).resolve().parent.parent
SCHEDULERS = ["monolithic", "standalone", "homogeneous-pipeline", "greedy", "scar"]
PACKAGE_3X3 = """
name = "gpt2l_bertl_resnet_3x3"
[package]
layout = [["ws", "os", "ws"], ["os", "ws", "os"], ["ws", "os", "ws"]]
[package.chiplet_types.ws]
dataflow = "ws"
pes = 4096
[package.chiplet_types.os]
dataflow = "os"
pes = 4096
[[workloads]]
model = "gpt2-large"
seq_len = 128
[[workloads]]
model = "bert-large"
seq_len = 128
[[workloads]]
model = "resnet50"
"""


def build_cost_tables(problem: SchedulingProblem) -> float:
    """Seconds to build every (workload, chiplet type) cost table."""
    start = time.perf_counter()
    for workload in problem.workloads:
        for chiplet_type in problem.package.chiplet_types:
            problem.costs(workload, chiplet_type)
    return time.perf_counter() - start


def time_scheduler(name: str, problem: SchedulingProblem, repeat: int) -> tuple[float, int]:
    """Median seconds of ``schedule()`` and the number of windows it made."""
    times = []
    for _ in range(repeat):
        scheduler = make_scheduler(name)
        start = time.perf_counter()
        schedule = run_scheduler(scheduler, problem)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(schedule.windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mode", choices=["stream", "batch", "both"], default="both")
    args = parser.parse_args()
    scenarios = [
        mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet.toml"),
        mcmsim.parse_scenario(PACKAGE_3X3, "gpt2l_bertl_resnet_3x3"),
    ]
    modes = ["stream", "batch"] if args.mode == "both" else [args.mode]
    print(f"{'scenario':24} {'mode':6} {'scheduler':22} {'schedule() ms':>14} {'windows':>8}")
    for base in scenarios:
        tables_s = build_cost_tables(SchedulingProblem(base))
        package = base.package
        print(
            f"{base.name:24} {package.rows}x{package.cols}, "
            f"{sum(len(w.model.layers) for w in base.workloads)} layers: "
            f"cost tables {tables_s * 1e3:.0f} ms"
        )
        for mode in modes:
            problem = SchedulingProblem(base.with_overrides(mode=mode))
            for name in SCHEDULERS:
                seconds, windows = time_scheduler(name, problem, args.repeat)
                print(f"{base.name:24} {mode:6} {name:22} {seconds * 1e3:14.1f} {windows:8d}")


if __name__ == "__main__":
    main()
