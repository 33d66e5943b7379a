"""SCAR's motivational study (arXiv 2405.00790, Fig. 2) on our simulator.

Run from the repository root: ``python scripts/scar_fig2_study.py`` (a few seconds).

Three layers of ResNet-50's second block and GPT-2's first feed-forward layer, batch 1,
on SCAR's 2x2 package (three NVDLA-like, one ShiDianNao-like chiplet of 4096 PEs and
10 MiB; ``scenarios/scar_fig2*.toml``). Every configuration of the figure is a
hand-written schedule in ``scenarios/scar_fig2/``, run through the simulator (batch
mode, EDP = energy x makespan, no leakage as in SCAR); ``scar`` (objective EDP) and
``exhaustive`` (EDP) are run beside them. Each row also gives the EDP of the cost model
alone: per-layer latencies and compute + SRAM energies of ``mcmsim costs``, layers of a
model one after another, models of a window side by side, windows one after another,
without the DRAM reads of inputs and writes of outputs, NoP transfers and weight loads
the simulator adds. Prints a Markdown table and writes ``OUT/scar_fig2.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path
from typing import Any

import mcmsim
from mcmsim.scenario import Scenario, build_scenario
from mcmsim.schedule.problem import SchedulingProblem

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SCHEDULES = SCENARIOS / "scar_fig2"
# GPT-2's c_fc written the other way round, W (3072 x 768) times the tokens (768 x 128):
# the 3072 output features land on the output rows the ShiDianNao-like array spreads
# (a MAESTRO-style GEMM-as-convolution with the features as Y). The weight matrix then
# enters as the layer's streamed input operand.
TRANSPOSED_FFN = {
    "name": "h0_mlp_c_fc_t",
    "op": "matmul",
    "m": 3072,
    "k": 768,
    "n": 128,
    "weights": False,
}
NNBATON = "both: NN-baton-like (each layer over the whole package, models in turn)"
NNBATON_T = "transposed GEMM: " + NNBATON

# (label, scenario file, schedule file or scheduler name, reference row label, SCAR's figure)
ROWS: tuple[tuple[str, str, str, str | None, str], ...] = (
    (
        "ResNet-50 layers on ShiDianNao-like",
        "scar_fig2_resnet.toml",
        "resnet_on_shidiannao",
        None,
        "1 (reference)",
    ),
    (
        "ResNet-50 layers on NVDLA-like",
        "scar_fig2_resnet.toml",
        "resnet_on_nvdla",
        "ResNet-50 layers on ShiDianNao-like",
        "0.78",
    ),
    (
        "ResNet-50 1x1 on ShiDianNao-like, rest on NVDLA-like",
        "scar_fig2_resnet.toml",
        "resnet_heterogeneous",
        "ResNet-50 layers on ShiDianNao-like",
        "0.52 (spread over heterogeneous chiplets)",
    ),
    (
        "ResNet-50, best of every cut and placement (exhaustive, EDP)",
        "scar_fig2_resnet.toml",
        "exhaustive",
        "ResNet-50 layers on ShiDianNao-like",
        "",
    ),
    (NNBATON, "scar_fig2_nnbaton.toml", "nn_baton", None, "1 (reference)"),
    (
        "both: one NVDLA-like chiplet, models in turn",
        "scar_fig2.toml",
        "sequential_nvdla",
        NNBATON,
        "",
    ),
    (
        "both: spatial split, ResNet-50 on NVDLA-like, GPT-2 on ShiDianNao-like",
        "scar_fig2.toml",
        "spatial_split",
        NNBATON,
        "0.30",
    ),
    (
        "both: two windows (1x1 on ShiDianNao-like + GPT-2 on NVDLA-like; then the rest)",
        "scar_fig2.toml",
        "two_windows",
        NNBATON,
        "0.28 (two-window pipeline)",
    ),
    (
        "both: spatial split on two NVDLA-like chiplets",
        "scar_fig2.toml",
        "spatial_split_ws",
        NNBATON,
        "",
    ),
    ("both: scar (objective EDP)", "scar_fig2.toml", "scar", NNBATON, ""),
    ("both: exhaustive (EDP, one window)", "scar_fig2.toml", "exhaustive", NNBATON, ""),
    (NNBATON_T, "scar_fig2_nnbaton.toml", "nn_baton", None, "1 (reference)"),
    (
        "transposed GEMM: spatial split, ResNet-50 on NVDLA-like, GPT-2 on ShiDianNao-like",
        "scar_fig2.toml",
        "spatial_split",
        NNBATON_T,
        "0.30",
    ),
    ("transposed GEMM: two windows", "scar_fig2.toml", "two_windows", NNBATON_T, "0.28"),
    (
        "transposed GEMM: spatial split on two NVDLA-like chiplets",
        "scar_fig2.toml",
        "spatial_split_ws",
        NNBATON_T,
        "",
    ),
    (
        "transposed GEMM: exhaustive (EDP, one window)",
        "scar_fig2.toml",
        "exhaustive",
        NNBATON_T,
        "",
    ),
)


def cost_model_edp(problem: SchedulingProblem, schedule: mcmsim.Schedule) -> tuple[float, float]:
    """(delay s, energy J) from the per-layer costs alone, as the module docstring says."""
    types = [c.type.name for c in problem.package.chiplets]
    delay_ps = 0.0
    energy_pj = 0.0
    for window in schedule.windows:
        per_model: dict[str, float] = {}
        for seg in window.segments:
            table = problem.costs(seg.model, types[seg.chiplet])
            per_model[seg.model] = per_model.get(seg.model, 0.0) + float(
                table.latency_ps[seg.start : seg.stop].sum()
            )
            energy_pj += float(
                (table.compute_pj[seg.start : seg.stop] + table.sram_pj[seg.start : seg.stop]).sum()
            )
        delay_ps += max(per_model.values())
    return delay_ps * 1e-12, energy_pj * 1e-12


def load(scenario_file: str, transposed: bool) -> Scenario:
    """The scenario, with GPT-2's layer written transposed when asked."""
    path = SCENARIOS / scenario_file
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if transposed:
        for workload in data["workloads"]:
            if workload["name"] == "gpt2_ffn1":
                workload["layers"] = [TRANSPOSED_FFN]
    return build_scenario(data, str(path))


def run_row(scenario_file: str, how: str, transposed: bool) -> dict[str, Any]:
    scenario = load(scenario_file, transposed)
    if (SCHEDULES / f"{how}.json").exists():
        schedule = mcmsim.Schedule.load(SCHEDULES / f"{how}.json")
    else:
        schedule = mcmsim.schedule(scenario, how, {"objective": "edp"})
    results = mcmsim.simulate(scenario, schedule)
    delay_s, energy_j = cost_model_edp(SchedulingProblem(scenario), schedule)
    return {
        "schedule": schedule.to_dict(),
        "makespan_s": results.run.makespan_s,
        "energy_j": results.energy_j.total,
        "energy_parts_j": results.energy_j.to_dict(),
        "edp_j_s": results.edp_j_s,
        "cost_model_delay_s": delay_s,
        "cost_model_energy_j": energy_j,
        "cost_model_edp_j_s": delay_s * energy_j,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/scar_fig2"))
    args = parser.parse_args()
    start = time.perf_counter()
    measured = {
        label: run_row(file, how, label.startswith("transposed")) for label, file, how, _, _ in ROWS
    }
    print(
        "| configuration | makespan us | energy uJ (DRAM) | EDP ratio, simulated | "
        "EDP ratio, cost model alone | SCAR |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for label, _, _, reference, scar in ROWS:
        row = measured[label]
        ref = measured[reference] if reference else row
        sim = row["edp_j_s"] / ref["edp_j_s"]
        cost = row["cost_model_edp_j_s"] / ref["cost_model_edp_j_s"]
        print(
            f"| {label} | {row['makespan_s'] * 1e6:.1f} | {row['energy_j'] * 1e6:.0f} "
            f"({row['energy_parts_j']['dram'] * 1e6:.0f}) | {sim:.2f} | {cost:.2f} | {scar} |"
        )
    print(f"\n{time.perf_counter() - start:.1f} s wall")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scar_fig2.json").write_text(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main()
