"""The 4-chiplet study against every reading of its monolithic baseline, and its leakage.

Run from the repository root: ``python scripts/baseline_readings_study.py [--requests N]``.

arXiv 2312.09401 reports up to 2.2x throughput and 1.9x energy efficiency for GPT-2 +
ResNet-50 on a 4-chiplet heterogeneous package against "a monolithic accelerator with
an optimized output-stationary dataflow". Output-stationary names a family, so this
script measures the heterogeneous packages (today's 2+2 checkerboard,
``scenarios/gpt2_resnet.toml``, and SCAR's Fig. 2 package of three NVDLA-like and one
ShiDianNao-like chiplet, ``scenarios/gpt2_resnet_3ws_1os.toml``) against a 16384-PE,
40 MiB monolithic array with each output-stationary preset (``os``, ``os-xr``,
``os-systolic``) and with ``ws``.

For each package it runs the built-in schedulers, keeps the best by the default
objective (``min_normalized_throughput``, judged on that package alone), and a local
search with a small budget. Ratios: throughput is the sum of inferences per second over
both models (the paper's measure); energy efficiency is inferences per joule; "worst
model" is the smaller of the two models' own throughput ratios, because the closed
streams let each package serve its own mix.

The second table re-simulates the same schedules under each leakage preset (leakage
changes energy, not timing, so the schedules stay the same). Writes
``OUT/baseline_readings.json`` and prints both Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcmsim
from mcmsim.scenario import Scenario, build_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
BASELINES = {
    "os (ShiDianNao-like)": "gpt2_resnet_monolithic.toml",
    "os-xr (XRBench hand-optimised)": "gpt2_resnet_monolithic_os_xr.toml",
    "os-systolic (TPU/Gemmini OS)": "gpt2_resnet_monolithic_os_systolic.toml",
    "ws (NVDLA-like)": "gpt2_resnet_monolithic_ws.toml",
}
PACKAGES = {
    "2+2 checkerboard": "gpt2_resnet.toml",
    "3 WS + 1 OS (SCAR Fig. 2)": "gpt2_resnet_3ws_1os.toml",
}
BUILTINS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("standalone", {}),
    ("homogeneous-pipeline", {}),
    ("greedy", {}),
    ("scar", {}),
    ("scar", {"objective": "throughput"}),
)
LEAKAGE = ("none", "memory-compiler", "cacti-itrs-lop", "cacti-itrs-hp")
PAPER = (2.2, 1.9)


@dataclass(frozen=True)
class Run:
    label: str
    schedule: mcmsim.Schedule
    throughput_per_s: float
    per_model_per_s: dict[str, float]
    energy_per_inference_j: float
    objective: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "throughput_per_s": self.throughput_per_s,
            "per_model_per_s": self.per_model_per_s,
            "energy_per_inference_j": self.energy_per_inference_j,
            "min_normalized_throughput": self.objective,
            "schedule": self.schedule.to_dict(),
        }


def load(file: str, requests: int, leakage: str | None = None) -> Scenario:
    """The scenario in ``scenarios/file`` with ``requests``, optionally a leakage preset."""
    path = SCENARIOS / file
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["simulation"]["requests"] = requests
    if leakage is not None:
        for chiplet_type in data["package"]["chiplet_types"].values():
            chiplet_type["leakage"] = leakage
    return build_scenario(data, str(path))


def measure(scenario: Scenario, schedule: mcmsim.Schedule, label: str) -> Run:
    results = mcmsim.simulate(scenario, schedule)
    return Run(
        label,
        schedule,
        results.throughput_per_s,
        {name: m.throughput_per_s for name, m in results.models.items()},
        results.energy_per_inference_j,
        results.objectives.values["min_normalized_throughput"],
    )


def package_runs(scenario: Scenario, budget: int) -> tuple[Run, Run]:
    """The best built-in schedule (by the default objective) and the local search's."""
    builtins = []
    for name, params in BUILTINS:
        label = name + (f" ({params['objective']})" if params else "")
        builtins.append(measure(scenario, mcmsim.schedule(scenario, name, params), label))
    best = max(builtins, key=lambda run: run.objective)
    searched = mcmsim.schedule(scenario, "local-search", {"budget": budget, "seed": 0})
    return best, measure(scenario, searched, f"local-search ({budget})")


def ratios(het: Run, base: Run) -> tuple[float, float, float]:
    """(throughput ratio, energy-efficiency ratio, worst per-model throughput ratio)."""
    worst = min(het.per_model_per_s[m] / base.per_model_per_s[m] for m in base.per_model_per_s)
    return (
        het.throughput_per_s / base.throughput_per_s,
        base.energy_per_inference_j / het.energy_per_inference_j,
        worst,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--budget", type=int, default=100, help="local-search evaluations")
    parser.add_argument("--out", type=Path, default=Path("out/baseline_readings"))
    args = parser.parse_args()
    start = time.perf_counter()

    baselines = {}
    for label, file in BASELINES.items():
        scenario = load(file, args.requests)
        baselines[label] = measure(scenario, mcmsim.schedule(scenario, "monolithic"), label)
    packages = {
        label: package_runs(load(file, args.requests), args.budget)
        for label, file in PACKAGES.items()
    }

    lines = [
        "| package, schedule | inf/s (GPT-2 / ResNet-50) | mJ/inf | "
        + " | ".join(f"vs {b}" for b in BASELINES)
        + " |",
        "|---|---|---|" + "---|" * len(BASELINES),
    ]
    for label, run in baselines.items():
        per_model = " / ".join(f"{v:.1f}" for v in run.per_model_per_s.values())
        lines.append(
            f"| monolithic {label} | {run.throughput_per_s:.1f} ({per_model}) | "
            f"{run.energy_per_inference_j * 1e3:.2f} |" + " |" * len(BASELINES)
        )
    for package, runs in packages.items():
        for run in runs:
            per_model = " / ".join(f"{v:.1f}" for v in run.per_model_per_s.values())
            cells = []
            for base in baselines.values():
                thr, eff, worst = ratios(run, base)
                cells.append(f"{thr:.2f}x / {eff:.2f}x ({worst:.2f}x)")
            lines.append(
                f"| {package}, {run.label} | {run.throughput_per_s:.1f} ({per_model}) | "
                f"{run.energy_per_inference_j * 1e3:.2f} | " + " | ".join(cells) + " |"
            )
    lines.append(
        f"| paper (arXiv 2312.09401) | | | {PAPER[0]}x / {PAPER[1]}x against its "
        "optimised OS | | | |"
    )
    print("\n".join(lines))

    # Leakage: the same schedules re-simulated under each preset.
    leak_rows = []
    leak: dict[str, Any] = {}
    for preset in LEAKAGE:
        base_runs = {}
        for label, file in BASELINES.items():
            scenario = load(file, args.requests, preset)
            base_runs[label] = measure(scenario, baselines[label].schedule, label)
        for package, file in PACKAGES.items():
            scenario = load(file, args.requests, preset)
            run = measure(scenario, packages[package][1].schedule, packages[package][1].label)
            effs = [ratios(run, base)[1] for base in base_runs.values()]
            leak[f"{preset} | {package}"] = {
                "energy_per_inference_j": run.energy_per_inference_j,
                "baselines_j": {k: v.energy_per_inference_j for k, v in base_runs.items()},
            }
            leak_rows.append(
                f"| {preset} | {package} | {run.energy_per_inference_j * 1e3:.2f} | "
                + " | ".join(f"{e:.2f}x" for e in effs)
                + " |"
            )
    print()
    print(
        "| leakage | package (local search) | mJ/inf | "
        + " | ".join(f"vs {b}" for b in BASELINES)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(BASELINES))
    print("\n".join(leak_rows))
    wall = time.perf_counter() - start
    print(f"\n{wall:.0f} s wall")

    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "requests": args.requests,
        "budget": args.budget,
        "baselines": {k: v.as_dict() for k, v in baselines.items()},
        "packages": {k: [r.as_dict() for r in v] for k, v in packages.items()},
        "leakage": leak,
        "wall_s": wall,
    }
    (args.out / "baseline_readings.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
