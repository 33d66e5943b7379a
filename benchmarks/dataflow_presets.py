"""Fused vs unfused latency of ResNet-50 and GPT-2 on a 64x64 chiplet of every dataflow preset.

Run: ``python benchmarks/dataflow_presets.py`` (prints a Markdown table). Each model runs
whole on one chiplet (10 MiB, 500 MHz, default SRAM bandwidth of its dataflow), batch 1.
"""

from __future__ import annotations

import numpy as np

from mcmsim.cost.table import cost_table
from mcmsim.hardware.chiplet import ChipletType
from mcmsim.hardware.dataflow import PRESETS
from mcmsim.workloads.zoo import get_model


def chiplet(name: str, fusion: bool, rows: int = 64, cols: int = 64) -> ChipletType:
    dataflow = PRESETS[name]
    return ChipletType(
        name=f"{name}-{fusion}",
        dataflow=dataflow,
        rows=rows,
        cols=cols,
        sram_bytes=10 << 20,
        sram_bw_bytes_per_cycle=dataflow.full_rate_elems_per_cycle(rows, cols),
        freq_hz=500_000_000,
        mac_energy_pj=0.1,
        sram_energy_pj_per_bit=18.61 * 0.1 / 8,
        leakage_w=0.0,
        fusion=fusion,
    )


def main() -> None:
    models = [get_model("resnet50"), get_model("gpt2")]
    print("| dataflow | L2 B/cycle | model | unfused ms | fused ms | saved | SRAM-bound layers |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name in PRESETS:
        for model in models:
            unfused = cost_table(model, chiplet(name, False))
            fused = cost_table(model, chiplet(name, True))
            u, f = unfused.latency_ps.sum() / 1e9, fused.latency_ps.sum() / 1e9
            bound = int(np.count_nonzero(fused.sram_bound))
            bw = PRESETS[name].full_rate_elems_per_cycle(64, 64)
            print(
                f"| {name} | {bw} | {model.name} | {u:.3f} | {f:.3f} | {1 - f / u:.0%} | {bound} |"
            )


if __name__ == "__main__":
    main()
