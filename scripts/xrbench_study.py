"""SCAR's AR/VR study: EDP of scenarios 6-10 per layout and scheduler, with deadline misses.

Run from the repository root: ``python scripts/xrbench_study.py [--out DIR]``. For each
of SCAR's AR/VR scenarios (``scenarios/xrbench/xrbench_N_<layout>.toml``) on the all-WS
(NVDLA-like), Het-Sides (WS sides, OS centre) and checkerboard 3x3 packages it runs every
built-in scheduler and a short local search, twice:

* **EDP, one second of frames** (batch mode): every network runs as many frames as its
  frame rate, all released at t = 0 and pipelined frame by frame (``micro_batch = 1``);
  EDP is the energy of that second's work times its makespan, so every schedule does
  the same work. A makespan above 1 s means the package cannot keep up.
* **Deadlines** (stream mode, the scenario file as written): periodic frames, deadline
  one period, late frames dropped when the next arrives; the miss rate per model and
  XRBench's real-time score.

It writes ``DIR/xrbench_study.json`` (every run) and ``DIR/xrbench_study.md`` (the
table: EDP normalised to standalone on all-WS beside SCAR's Table V, plus the figures
that explain it) and prints the table and the wall time.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path
from typing import Any

import mcmsim
from mcmsim.scenario import build_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (6, 7, 8, 9, 10)
LAYOUTS = ("all_ws", "ws_sides", "checkerboard")
LAYOUT_TITLES = {"all_ws": "all-WS", "ws_sides": "Het-Sides", "checkerboard": "checkerboard"}
SCHEDULERS: dict[str, dict[str, Any]] = {
    "standalone": {},
    "homogeneous-pipeline": {},
    "greedy": {},
    "scar": {"objective": "edp"},
    "local-search": {"objective": "edp", "budget": 24, "final_candidates": 2},
}
# SCAR (arXiv 2405.00790) Table V: Het-Sides EDP over standalone NVDLA, scenarios 6-10.
SCAR_TABLE_V = {6: 1.05, 7: 1.03, 8: 0.83, 9: 0.45, 10: 0.79}
STREAM_REQUESTS = 400


def one_second_of_frames(path: Path) -> mcmsim.Scenario:
    """The scenario's networks as batch workloads of ``fps`` frames each."""
    stream = mcmsim.load_scenario(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    suite = data["workloads"][0]["suite"]
    data["workloads"] = [
        {
            "model": f"{suite}#{w.name}",
            "batch": round(w.stream.offered_rate_per_s()),
            "micro_batch": 1,
        }
        for w in stream.workloads
    ]
    data["simulation"] = {"mode": "batch", "seed": 1}
    return build_scenario(data, str(path))


def explain(results: mcmsim.Results) -> dict[str, float]:
    """Utilisation, weight residency and DRAM share of energy of a run."""
    chiplets = list(results.chiplets.values())
    resident = sum(c.resident_weight_bytes for c in chiplets)
    streamed = sum(c.streamed_weight_bytes for c in chiplets)
    energy = results.energy_j
    return {
        "utilization_mean": sum(c.utilization for c in chiplets) / len(chiplets),
        "resident_weight_mib": resident / 2**20,
        "streamed_weight_mib": streamed / 2**20,
        "dram_energy_share": energy.dram / energy.total if energy.total else 0.0,
        "static_energy_share": energy.static / energy.total if energy.total else 0.0,
    }


def run_all(out: Path) -> list[dict[str, Any]]:
    rows = []
    for number in SCENARIOS:
        for layout in LAYOUTS:
            path = ROOT / "scenarios" / "xrbench" / f"xrbench_{number}_{layout}.toml"
            batch = one_second_of_frames(path)
            stream = mcmsim.load_scenario(path).with_overrides(requests=STREAM_REQUESTS)
            for name, params in SCHEDULERS.items():
                started = time.perf_counter()
                result = mcmsim.simulate(batch, mcmsim.schedule(batch, name, params))
                timed = mcmsim.simulate(stream, mcmsim.schedule(stream, name, params))
                misses = {
                    m: part.deadline.miss_rate
                    for m, part in timed.models.items()
                    if part.deadline is not None
                }
                rows.append(
                    {
                        "scenario": number,
                        "layout": layout,
                        "scheduler": name,
                        "edp_j_s": result.edp_j_s,
                        "makespan_s": result.run.makespan_s,
                        "energy_j": result.energy_j.total,
                        **explain(result),
                        "miss_rate": misses,
                        "realtime_score": timed.realtime_score,
                        "wall_s": time.perf_counter() - started,
                    }
                )
                print(
                    f"scenario {number} {layout:12s} {name:20s} EDP {result.edp_j_s:.4g} J*s "
                    f"makespan {result.run.makespan_s:.3f} s  ({rows[-1]['wall_s']:.1f} s)",
                    flush=True,
                )
    out.mkdir(parents=True, exist_ok=True)
    (out / "xrbench_study.json").write_text(json.dumps(rows, indent=1))
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    def cell(number: int, layout: str, scheduler: str | None = None) -> dict[str, Any]:
        found = [
            r
            for r in rows
            if r["scenario"] == number
            and r["layout"] == layout
            and (scheduler is None or r["scheduler"] == scheduler)
        ]
        return min(found, key=lambda r: r["edp_j_s"])

    lines = [
        "| scenario | SCAR Table V (Het-Sides) | Het-Sides / standalone all-WS | "
        "Het-Sides / best all-WS | checkerboard / best all-WS | "
        "all-WS homogeneous-pipeline / standalone | best makespan s (1 s of frames) | "
        "deadline misses of the best |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number in SCENARIOS:
        base = cell(number, "all_ws", "standalone")
        best_ws = cell(number, "all_ws")
        simba = cell(number, "all_ws", "homogeneous-pipeline")
        het = cell(number, "ws_sides")
        board = cell(number, "checkerboard")
        best = min((het, board, best_ws), key=lambda r: r["edp_j_s"])
        late = [m for m, rate in best["miss_rate"].items() if rate > 0]
        misses = ", ".join(f"{m} {best['miss_rate'][m]:.2f}" for m in late) or "none"

        def ratio(r: dict[str, Any], to: dict[str, Any]) -> str:
            return f"{r['edp_j_s'] / to['edp_j_s']:.2f} ({r['scheduler']})"

        lines.append(
            f"| {number} | {SCAR_TABLE_V[number]:.2f} | {ratio(het, base)} | "
            f"{ratio(het, best_ws)} | {ratio(board, best_ws)} | {ratio(simba, base)} | "
            f"{best['makespan_s']:.2f} ({LAYOUT_TITLES[best['layout']]}, "
            f"{best['scheduler']}) | {misses} |"
        )
    lines += [
        "",
        "| scenario | layout | scheduler | EDP / base | makespan s | utilisation | "
        "resident MiB | streamed MiB | DRAM energy share | worst miss rate |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number in SCENARIOS:
        base = cell(number, "all_ws", "standalone")["edp_j_s"]
        for layout in LAYOUTS:
            for r in [r for r in rows if r["scenario"] == number and r["layout"] == layout]:
                lines.append(
                    f"| {number} | {LAYOUT_TITLES[layout]} | {r['scheduler']} | "
                    f"{r['edp_j_s'] / base:.2f} | {r['makespan_s']:.2f} | "
                    f"{r['utilization_mean']:.2f} | {r['resident_weight_mib']:.1f} | "
                    f"{r['streamed_weight_mib']:.0f} | {r['dram_energy_share']:.2f} | "
                    f"{max(r['miss_rate'].values()):.2f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "xrbench_study")
    parser.add_argument("--from", dest="source", action="store_true", help="reuse DIR's JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.source:
        rows = json.loads((args.out / "xrbench_study.json").read_text())
    else:
        rows = run_all(args.out)
    table = markdown(rows)
    (args.out / "xrbench_study.md").write_text(table + "\n")
    print(table)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
