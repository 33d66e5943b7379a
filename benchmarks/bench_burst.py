"""Time a trace whose K arrivals all come at t = 0 (issue 17): the work is linear in K.

Each arrival reads its input from DRAM at once, so K transfers share the interface.
``max_backlog`` is raised so that the backlog bound does not end the run first.

    PYTHONPATH=$PWD python benchmarks/bench_burst.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import mcmsim

SCENARIO = """\
[package]
layout = [["a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[[workloads]]
name = "fc"
layers = [{ name = "fc", op = "matmul", m = 512, k = 1024, n = 1024 }]
stream = { kind = "trace", file = "t.csv" }
[simulation]
requests = 50
max_backlog = 100000
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "s.toml").write_text(SCENARIO)
        for burst in (1000, 2000, 4000, 8000):
            rows = ["arrival_s,model", *(["0.0,fc"] * burst), "1.0,fc"]
            (folder / "t.csv").write_text("\n".join(rows) + "\n")
            scenario = mcmsim.load_scenario(folder / "s.toml")
            schedule = mcmsim.schedule(scenario, "standalone")
            start = time.perf_counter()
            results = mcmsim.simulate(scenario, schedule)
            seconds = time.perf_counter() - start
            events = results["simulated_events"]
            print(f"{burst:5d} arrivals at t=0: {seconds:6.2f} s, {events} events")


if __name__ == "__main__":
    main()
