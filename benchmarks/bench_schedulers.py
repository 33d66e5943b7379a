"""How long each built-in scheduler takes to produce a schedule.

Run: ``python benchmarks/bench_schedulers.py [--repeat 3] [--mode stream|batch|both]
[--size 2x2|3x3|6x6|all]``.

Three problems: the reference scenario (scenarios/gpt2_resnet.toml: GPT-2 + ResNet-50 on
a 2x2 ws/os package); a 3x3 ws/os checkerboard serving GPT-2 large, BERT-large and
ResNet-50; and a Simba-sized 6x6 ws/os checkerboard serving five models of SCAR's
datacenter mix 5 (GPT-2 large, BERT-large, U-Net, ResNet-50 and BERT-base at its batch
sizes, four micro-batches each). Cost tables are built once up front and timed on their
own (every scheduler and the simulator share them through a cache), so the scheduler
times are the schedulers' own work: the median of ``--repeat`` calls of ``schedule()``
on a fresh scheduler object, in CPU seconds of this process (the schedulers are single
threaded, so on an idle machine this is the wall time; on a shared one it is steadier).
Every scheduler is loaded once before timing, so no import lands in a timed call.
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
# SCAR's datacenter mix 5 without GoogLeNet, on a 6x6 checkerboard (36 chiplets).
PACKAGE_6X6 = (
    """
name = "scar5_6x6"
[package]
layout = [
"""
    + ",\n".join(
        "[" + ", ".join('"ws"' if (r + c) % 2 == 0 else '"os"' for c in range(6)) + "]"
        for r in range(6)
    )
    + """]
[package.chiplet_types.ws]
dataflow = "ws"
pes = 4096
[package.chiplet_types.os]
dataflow = "os"
pes = 4096
"""
    + "".join(
        f"""[[workloads]]
model = "{model}"
{extra}batch = {batch}
micro_batch = {batch // 4 or 1}
"""
        for model, extra, batch in [
            ("gpt2-large", "seq_len = 128\n", 8),
            ("bert-large", "seq_len = 128\n", 24),
            ("unet", "", 1),
            ("resnet50", "", 32),
            ("bert-base", "seq_len = 128\n", 24),
        ]
    )
)


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
        start = time.process_time()
        schedule = run_scheduler(scheduler, problem)
        times.append(time.process_time() - start)
    return statistics.median(times), len(schedule.windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mode", choices=["stream", "batch", "both"], default="both")
    parser.add_argument("--size", choices=["2x2", "3x3", "6x6", "all"], default="all")
    args = parser.parse_args()
    scenarios = {
        "2x2": mcmsim.load_scenario(ROOT / "scenarios" / "gpt2_resnet.toml"),
        "3x3": mcmsim.parse_scenario(PACKAGE_3X3, "gpt2l_bertl_resnet_3x3"),
        "6x6": mcmsim.parse_scenario(PACKAGE_6X6, "scar5_6x6"),
    }
    sizes = list(scenarios) if args.size == "all" else [args.size]
    for name in SCHEDULERS:
        make_scheduler(name)
    modes = ["stream", "batch"] if args.mode == "both" else [args.mode]
    print(f"{'scenario':24} {'mode':6} {'scheduler':22} {'schedule() CPU ms':>18} {'windows':>8}")
    for base in (scenarios[size] for size in sizes):
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
                print(f"{base.name:24} {mode:6} {name:22} {seconds * 1e3:18.1f} {windows:8d}")


if __name__ == "__main__":
    main()
