"""The SCAR datacenter suite study: makespan and EDP per mix, layout and scheduler.

Run from the repository root: ``python scripts/scar_suite_study.py [--from DIR]``.
For each of the five mixes it runs ``mcmsim compare`` over the four layouts
(``scenarios/scar_N.toml`` and ``scenarios/scar/scar_N_*.toml``) with the built-in
schedulers, writing ``DIR/mixN/compare.csv`` (``--from`` reuses existing CSVs), then draws
``plots/scar_suite.png`` and prints a Markdown table of the best makespan and EDP per
layout.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = ("all_ws", "all_os", "checkerboard", "ws_sides")
SCHEDULERS = "standalone,homogeneous-pipeline,greedy,scar"


def run(out: Path) -> None:
    for mix in range(1, 6):
        scenarios = [str(ROOT / "scenarios" / f"scar_{mix}.toml")] + [
            str(ROOT / "scenarios" / "scar" / f"scar_{mix}_{layout}.toml") for layout in LAYOUTS[:3]
        ]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mcmsim.cli",
                "compare",
                *scenarios,
                "--scheduler",
                SCHEDULERS,
                "--out",
                str(out / f"mix{mix}"),
            ],
            check=True,
        )


def load(out: Path) -> dict[int, dict[str, dict[str, tuple[float, float]]]]:
    """mix -> layout -> scheduler -> (makespan_s, edp_j_s)."""
    table: dict[int, dict[str, dict[str, tuple[float, float]]]] = {}
    for mix in range(1, 6):
        with open(out / f"mix{mix}" / "compare.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                layout = row["scenario"].split("_", 2)[2]
                table.setdefault(mix, {}).setdefault(layout, {})[row["scheduler"]] = (
                    float(row["makespan_s"]),
                    float(row["edp_j_s"]),
                )
    return table


def plot(table: dict[int, dict[str, dict[str, tuple[float, float]]]], path: Path) -> None:
    figure = Figure(figsize=(11, 7), layout="constrained")
    axes = figure.subplots(2, 1)
    width = 0.2
    x = np.arange(1, 6)
    for ax, index, label in ((axes[0], 0, "makespan (s)"), (axes[1], 1, "EDP (J·s)")):
        for i, layout in enumerate(LAYOUTS):
            best = [min(v[index] for v in table[mix][layout].values()) for mix in x]
            ax.bar(x + (i - 1.5) * width, best, width, label=layout.replace("_", " "))
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xticks(x, [f"scenario {m}" for m in x])
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(title="layout (best of the built-in schedulers)", ncols=4, fontsize=8)
    figure.suptitle("SCAR datacenter suite on a 3x3 package of 4096-PE chiplets (lower is better)")
    figure.savefig(path, dpi=120)


def markdown(table: dict[int, dict[str, dict[str, tuple[float, float]]]]) -> str:
    lines = [
        "| mix | "
        + " | ".join(f"{layout} makespan ms / EDP J·s (best scheduler)" for layout in LAYOUTS)
        + " |",
        "|---|" + "---|" * len(LAYOUTS),
    ]
    for mix, layouts in table.items():
        cells = []
        for layout in LAYOUTS:
            name, (makespan, edp) = min(layouts[layout].items(), key=lambda kv: kv[1][1])
            cells.append(f"{makespan * 1e3:.0f} / {edp:.3g} ({name})")
        lines.append(f"| {mix} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("out/scar_suite"))
    args = parser.parse_args()
    out = args.source or args.out
    if args.source is None:
        run(out)
    table = load(out)
    plot(table, ROOT / "plots" / "scar_suite.png")
    print(markdown(table))


if __name__ == "__main__":
    main()
