"""Where SCAR's absolute makespans (Table IV) come from: our SCAR suite under MAESTRO's readings.

Run from the repository root: ``python scripts/scar_absolute_study.py [--write]``.

SCAR (arXiv 2405.00790) reports mixes 3-5 on a 3x3 package of 4096-PE chiplets taking
seconds, where a bound from MACs alone gives tens of milliseconds. This script runs
mixes 3, 4 and 5 on the all-WS package with ``standalone`` (SCAR's standalone NVDLA
column) and ``homogeneous-pipeline`` (its Simba-like NVDLA column) and on the WS-sides
package with ``scar`` (its Het-Sides column), under readings added one at a time, all
as scenario settings (no default changes):

``ours``
    the suite as it is (``scenarios/scar_N.toml``, ``scenarios/scar/scar_N_all_ws.toml``).
``+ MAESTRO mappings``
    the chiplets' dataflows written as SCAR's tools write them: the NVDLA-like chiplet
    as XRBench's ``WS.m`` (output columns across 16 clusters of 256 PEs, 16 output
    channels x 16 input channels in each), the ShiDianNao-like one as MAESTRO's ``shi``
    mappings (output rows across clusters, output columns in clusters of 8).
``+ per sample``
    every request runs one sample at a time (``micro_batch = 1``), as a MAESTRO layer
    with ``N = 1`` does: weights that are not resident stream once per sample.
``+ L2 64 B/cycle``
    ``sram_bw_bytes_per_cycle = 64``, MAESTRO's example ``NoC_BW`` (its ``accelerator_1``
    hardware file), which SCAR does not state.

``--write`` writes the variants with the two sourced readings (MAESTRO mappings, per
sample; not the unstated L2 bandwidth) to ``scenarios/scar_maestro/``. Prints a
Markdown table and writes ``OUT/scar_absolute.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import tomllib
from pathlib import Path
from typing import Any

import mcmsim
from mcmsim.scenario import build_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
MIXES = (3, 4, 5)
# SCAR Table IV makespans, seconds: standalone NVDLA, Simba-like NVDLA, Het-Sides.
SCAR_TABLE_IV = {3: (4.06, 1.36, 2.0), 4: (7.94, 8.28, 3.8), 5: (7.94, 8.28, 5.19)}
COLUMNS = (
    ("standalone NVDLA", "all_ws", "standalone"),
    ("Simba-like NVDLA", "all_ws", "homogeneous-pipeline"),
    ("Het-Sides", "ws_sides", "scar"),
)
# XRBench WS.m and MAESTRO's shi mapping in our dataflow description.
NVDLA_MAESTRO = {
    "spatial": ["Q", {"dim": "K", "size": 16}, {"dim": "C", "size": 16}],
    "stationary": "weights",
}
SHIDIANNAO_MAESTRO = {"spatial": ["P", {"dim": "Q", "size": 8}], "stationary": "outputs"}
READINGS = ("ours", "+ MAESTRO mappings", "+ per sample", "+ L2 64 B/cycle")
WRITTEN = 2  # the readings up to "+ per sample" go into scenarios/scar_maestro/
PES = 4096
FREQ_HZ = 500e6


def source(mix: int, layout: str) -> Path:
    if layout == "ws_sides":
        return SCENARIOS / f"scar_{mix}.toml"
    return SCENARIOS / "scar" / f"scar_{mix}_{layout}.toml"


def variant(data: dict[str, Any], reading: int) -> dict[str, Any]:
    """The scenario data with the first ``reading`` readings of READINGS applied."""
    data = copy.deepcopy(data)
    for chiplet_type in data["package"]["chiplet_types"].values():
        if reading >= 1:
            kind = chiplet_type["dataflow"]
            chiplet_type["dataflow"] = NVDLA_MAESTRO if kind == "ws" else SHIDIANNAO_MAESTRO
        if reading >= 3:
            chiplet_type["sram_bw_bytes_per_cycle"] = 64
    if reading >= 2:
        for workload in data["workloads"]:
            workload["micro_batch"] = 1
    return data


def toml_text(data: dict[str, Any], mix: int, layout: str) -> str:
    """A small TOML writer for the scenario shapes this script makes."""

    def value(v: Any) -> str:
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return str(v)

    lines = [
        f"# SCAR datacenter mix {mix} ({layout}) under MAESTRO's readings: XRBench's WS.m and",
        "# MAESTRO's shi mappings as inline dataflows, one sample at a time. Written by",
        "# scripts/scar_absolute_study.py --write; see README, SCAR's absolute numbers.",
        f"name = {value(data['name'] + '_maestro')}",
        "",
        "[package]",
        "layout = " + value(data["package"]["layout"]),
    ]
    for name, chiplet_type in data["package"]["chiplet_types"].items():
        lines += ["", f"[package.chiplet_types.{name}]"]
        lines += [f"{k} = {value(v)}" for k, v in chiplet_type.items()]
    for workload in data["workloads"]:
        lines += ["", "[[workloads]]"] + [f"{k} = {value(v)}" for k, v in workload.items()]
    for table in ("scheduler", "simulation"):
        lines += ["", f"[{table}]"] + [f"{k} = {value(v)}" for k, v in data[table].items()]
    return "\n".join(lines) + "\n"


def mac_bound_s(scenario: mcmsim.Scenario) -> float:
    macs = sum(w.batch * w.model.macs for w in scenario.workloads)
    return macs / (PES * len(scenario.package.chiplets) * FREQ_HZ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write scenarios/scar_maestro/")
    parser.add_argument("--out", type=Path, default=Path("out/scar_absolute"))
    args = parser.parse_args()
    start = time.perf_counter()
    measured: dict[str, Any] = {}
    rows = []
    for mix in MIXES:
        bound = None
        for r, reading in enumerate(READINGS):
            cells = []
            for label, layout, scheduler in COLUMNS:
                path = source(mix, layout)
                data = variant(tomllib.loads(path.read_text(encoding="utf-8")), r)
                scenario = build_scenario(data, str(path))
                bound = mac_bound_s(scenario)
                results = mcmsim.simulate(scenario, mcmsim.schedule(scenario, scheduler, {}))
                makespan = results.run.makespan_s
                busy = [c.compute_activity for c in results.chiplets.values()]
                measured[f"mix {mix} | {reading} | {label}"] = {
                    "makespan_s": makespan,
                    "mean_compute_activity": sum(busy) / len(busy),
                    "dram_bytes": results.energy_j.dram / 14.8e-12 / 8,
                }
                cells.append(f"{makespan:.3f}")
                if args.write and r == WRITTEN and scheduler != "homogeneous-pipeline":
                    out = SCENARIOS / "scar_maestro" / f"scar_{mix}_{layout}_maestro.toml"
                    out.parent.mkdir(exist_ok=True)
                    out.write_text(toml_text(data, mix, layout), encoding="utf-8")
            rows.append(f"| {mix} | {reading} | " + " | ".join(cells) + " |")
        scar = " | ".join(f"**{v}**" for v in SCAR_TABLE_IV[mix])
        rows.append(f"| {mix} | SCAR Table IV | {scar} |")
        rows.append(
            f"| {mix} | MAC bound (all 9 chiplets busy) | {bound:.3f} | {bound:.3f} | {bound:.3f} |"
        )
    print("| mix | reading | " + " | ".join(c[0] + " s" for c in COLUMNS) + " |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))
    wall = time.perf_counter() - start
    print(f"\n{wall:.0f} s wall")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scar_absolute.json").write_text(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main()
