"""Readable summary tables of a run's results (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mcmsim.metrics.generation import GenerationResults
from mcmsim.metrics.results import Results
from mcmsim.metrics.tracks import link_track

__all__ = ["print_results"]


def print_results(results: Results, console: Console) -> None:
    """Print the headline numbers, one row per model, and the busiest resources.

    Chiplets show occupancy (share of time held, DRAM stalls included) and compute
    activity (share of time the array computed); links and DRAM interfaces their busy
    share (any transfer under way) and bandwidth utilisation (bytes over capacity).
    """
    d = results.to_dict()
    console.print(
        f"[bold]{d['scenario']}[/bold] with [bold]{d['scheduler']}[/bold] "
        f"({d['mode']} mode, seed {d['seed']}): measured {d['measured_s']:.4g} s "
        f"after {d['warmup_s']:.4g} s warm-up"
    )
    table = Table()
    for col in (
        "model",
        "completed",
        "throughput /s",
        "95% CI /s",
        "latency mean ms",
        "p99 ms",
        "in system",
        "energy/inf mJ",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in d["models"].items():
        lo, hi = m["throughput_ci95_per_s"]
        table.add_row(
            name,
            str(m["completed"]),
            f"{m['throughput_per_s']:.4g}",
            f"{lo:.4g}-{hi:.4g}",
            f"{m['latency_s']['mean'] * 1e3:.4g}",
            f"{m['latency_s']['p99'] * 1e3:.4g}",
            f"{m['mean_in_system']:.3g}",
            f"{m['energy_per_inference_j'] * 1e3:.4g}",
        )
    table.add_row(
        "[bold]all[/bold]",
        str(d["requests"]["completed"]),
        f"{d['throughput_per_s']:.4g}",
        "",
        f"{d['latency_mean_s'] * 1e3:.4g}",
        "",
        "",
        f"{d['energy_per_inference_j'] * 1e3:.4g}",
    )
    console.print(table)
    for name, m in results.models.items():
        if m.generation is not None:
            console.print(_generation_line(name, m.generation))
    e = d["energy_j"]
    parts = ", ".join(
        f"{k} {v / e['total']:.0%}" for k, v in e.items() if k != "total" and e["total"]
    )
    console.print(f"energy {e['total']:.4g} J ({parts}); EDP {d['edp_j_s']:.4g} J*s")
    util = ", ".join(
        f"{cid} ({c['type']}) {c['occupancy']:.0%}/{c['compute_activity']:.0%}"
        for cid, c in d["chiplets"].items()
    )
    console.print(f"chiplets held/computing: {util}")
    busiest = sorted(
        [(link_track(k), v) for k, v in d["links"].items()] + list(d["dram"].items()),
        key=lambda kv: -kv[1]["busy_share"],
    )[:3]
    if busiest:
        console.print(
            "busiest NoP/DRAM (busy share, bandwidth used): "
            + ", ".join(
                f"{k} {v['busy_share']:.0%}, {v['bandwidth_utilization']:.0%}"
                f" (wait {v['mean_wait_s'] * 1e6:.3g} us)"
                for k, v in busiest
            )
        )


def _generation_line(name: str, g: GenerationResults) -> str:
    """One line of a generation workload's serving metrics."""
    slo = f", SLO attainment {g.slo.attainment:.0%}" if g.slo is not None else ""
    return (
        f"{name} generation: {g.output_tokens_per_s:.4g} output tokens/s, "
        f"TTFT p99 {g.ttft_s.p99 * 1e3:.4g} ms, TPOT p99 {g.tpot_s.p99 * 1e3:.4g} ms{slo}, "
        f"{g.iterations.mean_requests:.3g} requests/iteration, "
        f"{g.requests.preemptions} preemptions; limited by {g.limited_by.bound}"
    )
