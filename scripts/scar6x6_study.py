"""SCAR's 6x6 study: makespan, EDP and the makespan optimality ratio of mixes 4 and 5.

Run from the repository root: ``python scripts/scar6x6_study.py [--out DIR]
[--local-search BUDGET]``. For SCAR datacenter mixes 4 and 5 on the four 6x6 layouts of
``scenarios/scar6x6/`` (``python scripts/make_scar6x6_suite.py`` writes them: Simba-like
all-ShiDianNao, Simba-like all-NVDLA, Het-Cross, Het-Sides) it schedules and simulates
each with the built-in schedulers (``scar`` aimed at EDP, SCAR's objective) in batch mode
and, with ``--local-search BUDGET``, a local search of that many evaluations aimed at
EDP. It writes ``DIR/scar6x6_study.json`` (every run: makespan, EDP, the makespan lower
bound and ratio, utilisation, weight residency, DRAM share of energy, scheduling and
simulation wall time) and ``DIR/scar6x6_study.md`` (the table beside SCAR's Fig. 13, and
the per-run figures), and prints the table and the wall time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import mcmsim

ROOT = Path(__file__).resolve().parent.parent
MIXES = (4, 5)
LAYOUTS = ("all_os", "all_ws", "het_cross", "het_sides")
LAYOUT_TITLES = {
    "all_os": "Simba-like ShiDianNao",
    "all_ws": "Simba-like NVDLA",
    "het_cross": "Het-Cross",
    "het_sides": "Het-Sides",
}
SCHEDULERS: dict[str, dict[str, Any]] = {
    "standalone": {},
    "homogeneous-pipeline": {},
    "greedy": {},
    "scar": {"objective": "edp"},
}
# SCAR (arXiv 2405.00790) Fig. 13: Het-Cross EDP is 2.3x and 1.9x lower than the
# Simba-like ShiDianNao and NVDLA packages.
SCAR_FIG13 = {"all_os": 2.3, "all_ws": 1.9}


def explain(results: mcmsim.Results) -> dict[str, float]:
    """Occupancy, compute activity, weight residency and energy shares of a run."""
    chiplets = list(results.chiplets.values())
    energy = results.energy_j
    return {
        "occupancy_mean": sum(c.occupancy for c in chiplets) / len(chiplets),
        "compute_activity_mean": sum(c.compute_activity for c in chiplets) / len(chiplets),
        "resident_weight_mib": sum(c.resident_weight_bytes for c in chiplets) / 2**20,
        "streamed_weight_mib": sum(c.streamed_weight_bytes for c in chiplets) / 2**20,
        "dram_energy_share": energy.dram / energy.total,
        "static_energy_share": energy.static / energy.total,
    }


def run_all(out: Path, schedulers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for mix in MIXES:
        for layout in LAYOUTS:
            scenario = mcmsim.load_scenario(
                ROOT / "scenarios" / "scar6x6" / f"scar6x6_{mix}_{layout}.toml"
            )
            for name, params in schedulers.items():
                started = time.perf_counter()
                schedule = mcmsim.schedule(scenario, name, params)
                scheduled = time.perf_counter()
                result = mcmsim.simulate(scenario, schedule)
                rows.append(
                    {
                        "mix": mix,
                        "layout": layout,
                        "scheduler": name,
                        "makespan_s": result.run.makespan_s,
                        "edp_j_s": result.edp_j_s,
                        "energy_j": result.energy_j.total,
                        "makespan_lower_bound_s": result["makespan_lower_bound_s"],
                        "optimality_ratio": result.bound.optimality_ratio,
                        "binding": result["bound"].binding,
                        **explain(result),
                        "schedule_wall_s": scheduled - started,
                        "simulate_wall_s": time.perf_counter() - scheduled,
                    }
                )
                print(
                    f"mix {mix} {layout:10s} {name:20s} makespan {result.run.makespan_s:.3f} s "
                    f"EDP {result.edp_j_s:.4g} J*s ratio {rows[-1]['optimality_ratio']:.3f} "
                    f"({rows[-1]['schedule_wall_s']:.1f} + {rows[-1]['simulate_wall_s']:.1f} s)",
                    flush=True,
                )
    out.mkdir(parents=True, exist_ok=True)
    (out / "scar6x6_study.json").write_text(json.dumps(rows, indent=1))
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    def best(mix: int, layout: str) -> dict[str, Any]:
        found = [r for r in rows if r["mix"] == mix and r["layout"] == layout]
        return min(found, key=lambda r: r["edp_j_s"])

    lines = [
        "| mix | layout | best EDP J·s (scheduler) | makespan ms | bound ms | ratio | "
        "EDP / Het-Cross | SCAR Fig. 13 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mix in MIXES:
        cross = best(mix, "het_cross")["edp_j_s"]
        for layout in LAYOUTS:
            r = best(mix, layout)
            scar = f"{SCAR_FIG13[layout]:.1f}x" if layout in SCAR_FIG13 else ""
            lines.append(
                f"| {mix} | {LAYOUT_TITLES[layout]} | {r['edp_j_s']:.3g} ({r['scheduler']}) | "
                f"{r['makespan_s'] * 1e3:.0f} | {r['makespan_lower_bound_s'] * 1e3:.0f} | "
                f"{r['optimality_ratio']:.2f} | {r['edp_j_s'] / cross:.2f}x | {scar} |"
            )
    lines += [
        "",
        "| mix | layout | scheduler | makespan ms | EDP J·s | ratio | occupancy | computing | "
        "resident MiB | streamed MiB | DRAM energy | static energy | schedule s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mix']} | {LAYOUT_TITLES[r['layout']]} | {r['scheduler']} | "
            f"{r['makespan_s'] * 1e3:.0f} | {r['edp_j_s']:.3g} | {r['optimality_ratio']:.2f} | "
            f"{r['occupancy_mean']:.2f} | {r['compute_activity_mean']:.2f} | "
            f"{r['resident_weight_mib']:.0f} | {r['streamed_weight_mib']:.0f} | "
            f"{r['dram_energy_share']:.2f} | {r['static_energy_share']:.2f} | "
            f"{r['schedule_wall_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "scar6x6_study")
    parser.add_argument("--local-search", type=int, default=0, metavar="BUDGET")
    parser.add_argument("--from", dest="source", action="store_true", help="reuse DIR's JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    schedulers = dict(SCHEDULERS)
    if args.local_search:
        schedulers["local-search"] = {
            "objective": "edp",
            "budget": args.local_search,
            "final_candidates": 2,
        }
    if args.source:
        rows = json.loads((args.out / "scar6x6_study.json").read_text())
    else:
        rows = run_all(args.out, schedulers)
    table = markdown(rows)
    (args.out / "scar6x6_study.md").write_text(table + "\n")
    print(table)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
