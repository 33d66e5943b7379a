"""Reading a scenario stays linear in its size: 1 MB files with a 100,000-character line.

Run: ``python benchmarks/bench_parsing.py [--repeat 3]``.

Each file is scenarios/gpt2_resnet.toml padded to 1 MB with 80-character comment lines
and one 100,000-character line of a kind that used to make the key locator backtrack
(whitespace only: 1,500 spaces took 4 s, 4,000 hung), or a long comment, string or array.
Reports, best of ``--repeat``, the wall time of ``load_scenario`` (read, TOML parse, key
locator, validation and model building: the work of ``mcmsim validate``) and of the key
locator alone, then the locator's time on a whitespace line of 10^4..10^6 characters
(time per character flat = linear). Issue 17 asks for under a second per file.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mcmsim.scenario import ScenarioError, load_scenario, locate_keys

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = (ROOT / "scenarios" / "gpt2_resnet.toml").read_text(encoding="utf-8")
FILE_BYTES = 1_000_000
LONG_LINE = 100_000

LONG_LINES = {
    "spaces": " " * LONG_LINE,
    "comment": "#" + "=" * (LONG_LINE - 1),
    "string": 'description = "' + "x" * (LONG_LINE - 16) + '"',
    "array": "x_array = [" + "1, " * ((LONG_LINE - 12) // 3) + "]",
}


def padded(long_line: str) -> str:
    """The scenario with ``long_line`` where it is valid (a description at the top, an
    array as a scheduler parameter, the others before ``[scheduler]``), padded with
    comment lines to :data:`FILE_BYTES`."""
    if long_line.startswith("description"):
        text = long_line + "\n" + SCENARIO
    elif long_line.startswith("x_array"):
        text = SCENARIO.replace("[scheduler]\n", f"[scheduler]\n{long_line}\n")
    else:
        text = SCENARIO.replace("[scheduler]\n", f"{long_line}\n[scheduler]\n")
    filler = "# " + "-" * 77 + "\n"
    return text + filler * ((FILE_BYTES - len(text)) // len(filler))


def best_of(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def validate(path: Path) -> None:
    with contextlib.suppress(ScenarioError):  # failing fast is fine too
        load_scenario(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'long line':10} {'bytes':>9} {'validate s':>11} {'locator s':>10}")
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "plain.toml"
        plain.write_text(SCENARIO, encoding="utf-8")
        whole = best_of(args.repeat, lambda: validate(plain))
        locator = best_of(args.repeat, lambda: locate_keys(SCENARIO))
        print(f"{'(none)':10} {len(SCENARIO.encode()):>9} {whole:>11.3f} {locator:>10.3f}")
        for kind, long_line in LONG_LINES.items():
            text = padded(long_line)
            path = Path(folder) / f"{kind}.toml"
            path.write_text(text, encoding="utf-8")
            whole = best_of(args.repeat, lambda: validate(path))  # noqa: B023
            locator = best_of(args.repeat, lambda: locate_keys(text))  # noqa: B023
            print(f"{kind:10} {len(text.encode()):>9} {whole:>11.3f} {locator:>10.3f}")
    print(f"\n{'spaces':>10} {'locator s':>10} {'ns/char':>8}")
    for size in (10_000, 100_000, 1_000_000):
        text = f"a = 1\n{' ' * size}\nb = 2\n"
        seconds = best_of(args.repeat, lambda: locate_keys(text))  # noqa: B023
        print(f"{size:>10} {seconds:>10.4f} {seconds / size * 1e9:>8.1f}")


if __name__ == "__main__":
    main()
