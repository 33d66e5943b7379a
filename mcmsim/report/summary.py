"""Summaries of what a scenario or a model describes (``mcmsim validate``, ``models show``).

A model's summary is plain data (layers, MACs, parameters, weight bytes, layers per
operator), the JSON of ``mcmsim models show --json``; the printers give the same facts
as a few readable lines. :func:`layer_rows` is the per-layer view (``models show
--layers``): each layer's operator, its loop-nest dimensions (see
:mod:`mcmsim.workloads.layer`), MACs, parameters and weight bytes. Counts print with
the SI prefix that suits them (22.7 k params, 3.5 M params), never as "0.0 M".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console

from mcmsim.scenario import Scenario
from mcmsim.workloads.model import Model

__all__ = [
    "layer_rows",
    "model_summary",
    "print_layer_table",
    "print_model_summary",
    "print_scenario_summary",
    "si",
]

_DIMS = ("g", "k", "c", "p", "q", "r", "s")


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix and ``digits`` significant digits: ``22.7 k``, ``1.2 G``."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}".rstrip()


def layer_rows(model: Model, bytes_per_elem: int = 1) -> list[dict[str, Any]]:
    """One row per layer in model order: name, op, inputs, dimensions, MACs, weights.

    ``dims`` is the loop nest ``g k c p q r s`` and ``stride``; ``weight_bytes`` is
    what one execution reads at ``bytes_per_elem``.
    """
    return [
        {
            "name": layer.name,
            "op": layer.op.value,
            "inputs": model.predecessors(layer.name),
            "dims": {d: getattr(layer, d) for d in (*_DIMS, "stride")},
            "macs": layer.macs,
            "params": layer.param_elems,
            "weight_bytes": layer.weight_access_elems * bytes_per_elem,
            "output_elems": layer.output_elems,
        }
        for layer in model.layers
    ]


def _dims_label(dims: dict[str, int]) -> str:
    """The loop-nest dimensions other than 1, e.g. ``k64 c3 p112 q112 r7 s7 /2``."""
    shown = " ".join(f"{d}{dims[d]}" for d in _DIMS if dims[d] != 1)
    if dims["stride"] != 1:
        shown += f" /{dims['stride']}"
    return shown or "-"


def print_layer_table(rows: list[dict[str, Any]], console: Console) -> None:
    """The per-layer table of :func:`layer_rows`."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, title_justify="left")
    for column, justify in (
        ("#", "right"),
        ("layer", "left"),
        ("op", "left"),
        ("dims (g k c p q r s /stride)", "left"),
        ("MACs", "right"),
        ("weights (int8)", "right"),
        ("output", "right"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for i, row in enumerate(rows):
        table.add_row(
            str(i),
            row["name"],
            row["op"],
            _dims_label(row["dims"]),
            si(row["macs"]) if row["macs"] else "-",
            si(row["weight_bytes"], "B") if row["weight_bytes"] else "-",
            si(row["output_elems"]),
        )
    console.print(table)


def model_summary(model: Model, bytes_per_elem: int = 1) -> dict[str, Any]:
    """Name, layer count, MACs, parameters, weight bytes, input elements, layers per op."""
    return {
        "name": model.name,
        "layers": len(model.layers),
        "macs": model.macs,
        "params": model.params,
        "weight_bytes": model.weight_bytes(bytes_per_elem),
        "input_elems": model.input_elems,
        "ops": dict(sorted(Counter(layer.op.value for layer in model.layers).items())),
    }


def print_model_summary(summary: dict[str, Any], console: Console) -> None:
    """Two lines: totals (weights as int8), then the layer count of every operator."""
    console.print(
        f"[bold]{summary['name']}[/bold]: {summary['layers']} layers, "
        f"{si(summary['macs'], 'MACs')}, {si(summary['params'])} params, "
        f"{si(summary['weight_bytes'], 'B')} weights (int8)"
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
            f"  workload {w.name}: {len(w.model.layers)} layers, {si(w.model.macs, 'MACs')}, "
            f"{si(w.model.params)} params, batch {w.batch} (micro-batch {w.micro_batch}), "
            f"stream {stream}"
        )
    sim = scenario.simulation
    console.print(
        f"  scheduler {scenario.spec.scheduler.name} {scenario.spec.scheduler.params or ''}; "
        f"mode {sim.mode}, seed {sim.seed}, {sim.requests} requests"
    )
