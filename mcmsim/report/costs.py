"""The cost tables of a scenario as rows: what ``mcmsim costs`` prints and its JSON.

One row per (workload, chiplet type, layer) with the layer's latency, energy and
traffic for one execution of the workload's micro-batch (see
:mod:`mcmsim.cost.table` for what each column means), plus a description of every
chiplet type and a table of totals per workload and chiplet type.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem

__all__ = ["chiplet_type_rows", "cost_report", "cost_rows", "print_cost_totals"]


def chiplet_type_rows(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Each chiplet type's dataflow, array shape, clock and SRAM, by type name."""
    return {
        name: {
            "dataflow": t.dataflow.name,
            "dataflow_description": t.dataflow.describe(),
            "pes": t.pes,
            "rows": t.rows,
            "cols": t.cols,
            "freq_hz": t.freq_hz,
            "sram_bytes": t.sram_bytes,
            "sram_bw_bytes_per_cycle": t.sram_bw_bytes_per_cycle,
            "fusion": t.fusion,
            "leakage_w": t.leakage_w,
        }
        for name, t in scenario.package.chiplet_types.items()
    }


def cost_rows(scenario: Scenario) -> list[dict[str, Any]]:
    """One row per workload, chiplet type and layer, in that order."""
    problem = SchedulingProblem(scenario)
    rows = []
    for w in scenario.workloads:
        for type_name in scenario.package.chiplet_types:
            table = problem.costs(w, type_name)
            for i, layer in enumerate(w.model.layers):
                rows.append(
                    {
                        "model": w.name,
                        "layer": layer.name,
                        "op": layer.op.value,
                        "chiplet_type": type_name,
                        "batch": table.batch,
                        "macs": int(table.macs[i]),
                        "latency_ps": int(table.latency_ps[i]),
                        "latency_streamed_ps": int(table.latency_streamed_ps[i]),
                        "energy_pj": float(table.energy_pj[i]),
                        "compute_pj": float(table.compute_pj[i]),
                        "sram_pj": float(table.sram_pj[i]),
                        "dram_stream_pj": float(table.dram_stream_pj[i]),
                        "utilization": float(table.utilization[i]),
                        "spatial_utilization": float(table.spatial_utilization[i]),
                        "sram_bound": bool(table.sram_bound[i]),
                        "fused": bool(table.fused[i]),
                        "weight_bytes": int(table.weight_bytes[i]),
                        "dram_stream_bytes": int(table.dram_stream_bytes[i]),
                    }
                )
    return rows


def cost_report(scenario: Scenario) -> dict[str, Any]:
    """``{"chiplet_types": chiplet_type_rows(...), "rows": cost_rows(...)}``."""
    return {"chiplet_types": chiplet_type_rows(scenario), "rows": cost_rows(scenario)}


def print_cost_totals(scenario: Scenario, console: Console) -> None:
    """A table of each workload's totals on each chiplet type (one execution)."""
    problem = SchedulingProblem(scenario)
    table = Table(title=f"{scenario.name}: totals per model and chiplet type (one execution)")
    columns = ("model", "chiplet type", "batch", "GMACs", "latency ms", "energy mJ", "mean util")
    for col in (*columns, "SRAM-bound layers"):
        table.add_column(col, justify="right" if col not in ("model", "chiplet type") else "left")
    for w in scenario.workloads:
        for type_name in scenario.package.chiplet_types:
            ct = problem.costs(w, type_name)
            weights = ct.macs / max(int(ct.macs.sum()), 1)
            table.add_row(
                w.name,
                type_name,
                str(ct.batch),
                f"{ct.macs.sum() / 1e9:.2f}",
                f"{ct.latency_ps.sum() / 1e9:.3f}",
                f"{ct.energy_pj.sum() / 1e9:.3f}",
                f"{float((ct.utilization * weights).sum()):.2f}",
                f"{int(ct.sram_bound.sum())} of {len(ct)}",
            )
    console.print(table)
