"""The chat + camera study: GPT-2 generation next to 30 fps ResNet-50 on three packages.

Run from the repository root: ``python scripts/llm_chat_vision_study.py [--requests N]``.
``scenarios/llm_chat_vision.toml`` (Poisson chat requests served with continuous
batching, 30 fps frames) runs on three packages with the same totals (16384 PEs, 40 MiB
SRAM, 64 GB/s DRAM): the file's 2x2 checkerboard of ``ws`` and ``os`` chiplets and a
2x2 of ``ws`` chiplets, each scheduled by ``greedy`` (the file's scheduler) and by
``scar``, and one 16384-PE ``ws`` chiplet with the ``monolithic`` scheduler. It prints
a Markdown table (output tokens/s, TTFT and TPOT p99, what limits tokens/s, vision
frames served per second and the share within the 1/30 s frame period) and draws the
TTFT and TPOT distributions to ``plots/llm_chat_vision.png``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

import mcmsim
from mcmsim.metrics.results import Results
from mcmsim.sim.engine import run_engine
from mcmsim.units import S_PER_PS

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "llm_chat_vision.toml"

_CHIPLETS_2X2 = """
[package.chiplet_types.ws]
dataflow = "ws"
pes = 4096

[package.chiplet_types.os]
dataflow = "os"
pes = 4096
"""
_HETEROGENEOUS = '[package]\nlayout = [["ws", "os"], ["os", "ws"]]\n' + _CHIPLETS_2X2
_ALL_WS = '[package]\nlayout = [["ws", "ws"], ["ws", "ws"]]\n' + _CHIPLETS_2X2
_MONOLITHIC = (
    '[package]\nlayout = [["mono"]]\n[package.chiplet_types.mono]\n'
    'dataflow = "ws"\npes = 16384\nsram_mib = 40\n'
)
#: Row label -> (package TOML, scheduler).
PACKAGES = {
    "heterogeneous 2x2 WS/OS, greedy": (_HETEROGENEOUS, "greedy"),
    "heterogeneous 2x2 WS/OS, scar": (_HETEROGENEOUS, "scar"),
    "all-WS 2x2, greedy": (_ALL_WS, "greedy"),
    "all-WS 2x2, scar": (_ALL_WS, "scar"),
    "monolithic WS 1x1": (_MONOLITHIC, "monolithic"),
}


@dataclass(frozen=True)
class Run:
    """One package's results and its per-request TTFT and TPOT (seconds, window)."""

    results: Results
    ttft_s: np.ndarray
    tpot_s: np.ndarray


def scenario_on(package: str, requests: int) -> mcmsim.Scenario:
    """The study scenario's workloads and settings on ``package`` (TOML text)."""
    text = SCENARIO.read_text()
    rest = text[text.index("[[workloads]]") :]
    return mcmsim.parse_scenario(
        'name = "llm_chat_vision"\n' + package + "\n" + rest, str(SCENARIO)
    ).with_overrides(requests=requests)


def run(scenario: mcmsim.Scenario, scheduler: str) -> Run:
    """Simulate; the same run again through the engine gives the per-request log."""
    schedule = mcmsim.schedule(scenario, scheduler)
    results = mcmsim.simulate(scenario, schedule)
    log = run_engine(scenario, schedule).generation["gpt2"]
    start_ps = round(results.run.warmup_s / S_PER_PS)
    finish = np.asarray(log.finish_ps)
    window = finish >= start_ps
    first = np.asarray(log.first_token_ps)[window]
    ttft = (first - np.asarray(log.arrival_ps)[window]) * S_PER_PS
    output = np.asarray(log.output_tokens)[window]
    several = output > 1
    tpot = (finish[window] - first)[several] / (output[several] - 1) * S_PER_PS
    return Run(results, ttft, tpot)


def table(runs: dict[str, Run]) -> str:
    lines = [
        "| package | output tokens/s | TTFT p99 ms | TPOT p99 ms | chat SLO attainment "
        "| limited by | frames/s (of 30) | frames within 1/30 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        g = r.results.models["gpt2"].generation
        assert g is not None
        bound = g.limited_by
        vision = r.results.models["resnet50"]
        deadline = vision.deadline
        assert deadline is not None  # periodic frames: the deadline is the period
        on_time = deadline.on_time / deadline.frames if deadline.frames else 0.0
        slo = g.slo.attainment if g.slo is not None else float("nan")
        lines.append(
            f"| {name} | {g.output_tokens_per_s:.0f} | {g.ttft_s.p99 * 1e3:.1f} "
            f"| {g.tpot_s.p99 * 1e3:.1f} | {slo:.0%} | {bound.bound} (DRAM {bound.dram_share:.0%}"
            f" busy, compute {bound.compute_share:.0%}) "
            f"| {vision.throughput_per_s:.2f} | {on_time:.1%} |"
        )
    return "\n".join(lines)


def plot(runs: dict[str, Run], path: Path) -> None:
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    axes = figure.subplots(1, 2)
    for k, (name, r) in enumerate(runs.items()):
        # Dashes keep a curve visible when another schedule gives the same one.
        style = {"linestyle": "--", "linewidth": 2.5} if k == 0 else {"linewidth": 1.5}
        for ax, values in zip(axes, (r.ttft_s, r.tpot_s), strict=True):
            ordered = np.sort(values) * 1e3
            share = np.arange(1, len(ordered) + 1) / len(ordered)
            ax.step(ordered, share, where="post", label=name, **style)
    titles = ("time to first token", "time per output token")
    for ax, what, slo_ms in zip(axes, titles, (200.0, 50.0), strict=True):
        ax.axvline(slo_ms, color="grey", linestyle=":", linewidth=1, label=f"SLO {slo_ms:.0f} ms")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"{what} (ms, log scale)")
        ax.set_ylabel("share of requests")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    figure.suptitle("GPT-2 chat (Poisson 4/s, continuous batching) next to ResNet-50 at 30 fps")
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="completions per run")
    args = parser.parse_args()
    runs = {
        name: run(scenario_on(package, args.requests), scheduler)
        for name, (package, scheduler) in PACKAGES.items()
    }
    print(table(runs))
    plot(runs, ROOT / "plots" / "llm_chat_vision.png")


if __name__ == "__main__":
    main()
