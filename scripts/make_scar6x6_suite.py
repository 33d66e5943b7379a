"""Write SCAR's 6x6 study: datacenter mixes 4 and 5 on four Simba-sized package layouts.

Run from the repository root: ``python scripts/make_scar6x6_suite.py``. It writes
``scenarios/scar6x6/scar6x6_N_<layout>.toml`` for mixes 4 and 5 of the SCAR datacenter
suite (the mixes of ``scripts/make_scar_suite.py``), in batch mode on a 6x6 package of
4096-PE, 10 MiB chiplets (36 chiplets, Simba's count), DRAM and NoP at their defaults
(64 GB/s in all, an interface at both ends of every row). Layouts, rows top to bottom:

* ``all_os``: Simba-like, every chiplet ShiDianNao-like (``os``);
* ``all_ws``: Simba-like, every chiplet NVDLA-like (``ws``);
* ``het_cross``: ``ws`` on the middle two rows and the middle two columns (a cross of
  20 chiplets), ``os`` in the four 2x2 corners (16 chiplets);
* ``het_sides``: ``ws`` on the two left and two right columns (24), ``os`` on the middle
  two columns (12), the 3x3 suite's Het-Sides scaled to 6x6.
"""

from __future__ import annotations

from pathlib import Path

from make_scar_suite import scenario_text

ROOT = Path(__file__).resolve().parent.parent
SIZE = 6


def _cross(row: int, col: int) -> str:
    middle = (SIZE // 2 - 1, SIZE // 2)
    return "ws" if row in middle or col in middle else "os"


def _sides(_row: int, col: int) -> str:
    return "os" if col in (SIZE // 2 - 1, SIZE // 2) else "ws"


LAYOUTS = {
    "all_os": ("all output-stationary (Simba-like, ShiDianNao-like chiplets)", lambda r, c: "os"),
    "all_ws": ("all weight-stationary (Simba-like, NVDLA-like chiplets)", lambda r, c: "ws"),
    "het_cross": (
        "Het-Cross: weight-stationary middle two rows and columns, output-stationary 2x2 corners",
        _cross,
    ),
    "het_sides": (
        "Het-Sides: weight-stationary two left and two right columns, output-stationary middle two",
        _sides,
    ),
}
STUDY_MIXES = (4, 5)


def render(mix: int, layout: str) -> str:
    description, kind = LAYOUTS[layout]
    rows = [[kind(r, c) for c in range(SIZE)] for r in range(SIZE)]
    return scenario_text(
        mix, f"scar6x6_{mix}_{layout}", "6x6", description, rows, "make_scar6x6_suite.py"
    )


def main() -> None:
    folder = ROOT / "scenarios" / "scar6x6"
    folder.mkdir(exist_ok=True)
    for mix in STUDY_MIXES:
        for layout in LAYOUTS:
            (folder / f"scar6x6_{mix}_{layout}.toml").write_text(render(mix, layout))


if __name__ == "__main__":
    main()
