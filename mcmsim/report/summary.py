"""Summaries of what a scenario or a model describes (``mcmsim validate``, ``models show``).

A model's summary is plain data (layers, MACs, parameters, weight bytes, layers per
operator), the JSON of ``mcmsim models show --json``; the printers give the same facts
as a few readable lines.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from mcmsim.scenario import Scenario
from mcmsim.workloads.model import Model

__all__ = ["model_summary", "print_model_summary", "print_scenario_summary"]


def model_summary(model: Model, bytes_per_elem: int = 1) -> dict[str, Any]:
    """Name, layer count, MACs, parameters, weight bytes, input elements, layers per op."""
    return {
        "name": model.name,
        "layers": len(model.layers),
        "macs": model.macs,
        "params": model.params,
        "weight_bytes": model.weight_bytes(bytes_per_elem),
        "input_elems": model.input_elems,
        "ops": {
            op: sum(1 for layer in model.layers if layer.op == op)
            for op in sorted({layer.op.value for layer in model.layers})
        },
    }


def print_model_summary(summary: dict[str, Any], console: Console) -> None:
    """Two lines: totals (weights as int8), then the layer count of every operator."""
    gmacs, mparams = summary["macs"] / 1e9, summary["params"] / 1e6
    console.print(
        f"[bold]{summary['name']}[/bold]: {summary['layers']} layers, {gmacs:.3f} GMACs, "
        f"{mparams:.2f} M params, {summary['weight_bytes'] / 2**20:.1f} MiB weights (int8)"
    )
    console.print("  " + ", ".join(f"{op} x{n}" for op, n in summary["ops"].items()))


def print_scenario_summary(scenario: Scenario, console: Console, label: str) -> None:
    """The package, every workload, the scheduler and the simulation settings.

    ``label`` names the scenario in the first line (the file as the user gave it).
    """
    package = scenario.package
    console.print(f"[bold]{label}[/bold]: valid scenario {scenario.name!r}")
    counts = ", ".join(f"{n} x {t}" for t, n in package.type_counts().items())
    console.print(
        f"  package: {package.rows}x{package.cols} mesh ({counts}), {package.total_pes} PEs, "
        f"{len(package.dram)} DRAM interfaces, {package.dram_bandwidth_gb_per_s:g} GB/s DRAM"
    )
    for w in scenario.workloads:
        stream = w.stream.model_dump()
        console.print(
            f"  workload {w.name}: {len(w.model.layers)} layers, {w.model.macs / 1e9:.2f} GMACs, "
            f"{w.model.params / 1e6:.1f} M params, batch {w.batch} (micro-batch {w.micro_batch}), "
            f"stream {stream}"
        )
    sim = scenario.simulation
    console.print(
        f"  scheduler {scenario.spec.scheduler.name} {scenario.spec.scheduler.params or ''}; "
        f"mode {sim.mode}, seed {sim.seed}, {sim.requests} requests"
    )
