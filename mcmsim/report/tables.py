"""Readable summary tables of a run's results (rich), and the warnings a run deserves.

A model row marks what a reader must not take at face value: an open stream that is
not keeping up shows ``(unstable)`` after its offered rate, and when the run is not in
a steady state its interval and p99 carry a ``*`` explained under the table. An
interval that could not be computed reads ``n/a (reason)``.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcmsim.metrics.generation import GenerationResults
from mcmsim.metrics.results import Results
from mcmsim.metrics.tracks import link_track

__all__ = ["print_results", "run_warnings"]

NOT_STEADY = "*"


_BUDGET_NOTES = {
    "backlog bound": (
        ": an open stream's requests in the system passed simulation.max_backlog, so it is "
        "offered more than the schedule serves and the run has no steady state"
    ),
    "stream ended": (
        ": a model below its minimum of completions has no arrivals left and nothing in "
        "the system (a trace that ended), so running longer could not meet the stopping rule"
    ),
    "event budget": (
        ": it used up simulation.max_events simulated events; raise the budget to run longer"
    ),
}


def run_warnings(results: Results) -> list[str]:
    """One line per thing that makes the run's figures unsafe to quote.

    A run that completed nothing, unstable open streams (offered and served rates,
    backlog), a run that stopped on a cap or budget before its stopping rule was met,
    and models with fewer measured completions than the rule's minimum.
    """
    d = results.to_dict()
    lines = []
    if d["requests"]["completed"] == 0:
        cause = (
            ": simulation.max_time_s is shorter than one request"
            if d["stop_reason"] == "max_time_s"
            else ""
        )
        lines.append(
            f"nothing completed: no request finished in the {d['measured_s']:.4g} s simulated "
            f"({d['requests']['arrived']} arrived){cause}; its zero throughput and latency "
            "are not measurements"
        )
    for name, m in d["models"].items():
        if m["stable"] is False:
            lines.append(
                f"unstable: {name} is offered {m['offered_per_s']:.4g}/s but served "
                f"{m['served_per_s']:.4g}/s ({m['in_flight_at_end']} requests in system at "
                "the end); its figures are not steady-state"
            )
    if d["stable"] is False:
        lines.append(
            "the run is not in a steady state: no warm-up was cut, and every interval "
            "and percentile describes this run's length, not the schedule"
        )
    if d["stop_reason"] not in ("requests", "batch done"):
        lines.append(
            f"the run stopped early ({d['stop_reason']}) after {d['measured_s']:.4g} s"
            + _BUDGET_NOTES.get(d["stop_reason"], "")
        )
    least = d["min_requests_per_model"]
    if least is not None:
        short = [f"{n} {m['completed']}" for n, m in d["models"].items() if m["completed"] < least]
        if short:
            lines.append(
                f"fewer measured completions than the minimum of {least}: " + ", ".join(short)
            )
    return lines


def _interval(m: dict[str, Any], mark: str) -> str:
    bounds = m["throughput_ci95_per_s"]
    if bounds is None:
        return f"n/a ({m['throughput_ci95_note']})"
    lo, hi = bounds
    return f"{lo:.4g}-{hi:.4g}{mark}"


def _offered(m: dict[str, Any]) -> str:
    if m["offered_per_s"] is None:
        return "closed"
    unstable = " [red](unstable)[/red]" if m["stable"] is False else ""
    return f"{m['offered_per_s']:.4g}{unstable}"


def print_results(results: Results, console: Console) -> None:
    """Print the headline numbers, one row per model, and the busiest resources.

    Chiplets show occupancy (share of time held, DRAM stalls included) and compute
    activity (share of time the array computed); links and DRAM interfaces their busy
    share (any transfer under way) and bandwidth utilisation (bytes over capacity).
    """
    d = results.to_dict()
    console.print(
        f"[bold]{escape(d['scenario'])}[/bold] with [bold]{escape(d['scheduler'])}[/bold] "
        f"({d['mode']} mode, seed {d['seed']}): measured {d['measured_s']:.4g} s "
        f"after {d['warmup_s']:.4g} s warm-up ({d['warmup_rule']})"
    )
    table = Table()
    for col in (
        "model",
        "completed",
        "offered /s",
        "served /s",
        "95% CI /s",
        "mean ms",
        "p99 ms",
        "in system",
        "energy/inf mJ",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in d["models"].items():
        mark = NOT_STEADY if m["steady_state"] is False else ""
        table.add_row(
            escape(name),
            str(m["completed"]),
            _offered(m),
            f"{m['throughput_per_s']:.4g}",
            _interval(m, mark),
            f"{m['latency_s']['mean'] * 1e3:.4g}",
            f"{m['latency_s']['p99'] * 1e3:.4g}{mark}",
            f"{m['mean_in_system']:.3g}",
            f"{m['energy_per_inference_j'] * 1e3:.4g}",
        )
    table.add_row(
        "[bold]all[/bold]",
        str(d["requests"]["completed"]),
        "",
        f"{d['throughput_per_s']:.4g}",
        "",
        f"{d['latency_mean_s'] * 1e3:.4g}",
        "",
        "",
        f"{d['energy_per_inference_j'] * 1e3:.4g}",
    )
    console.print(table)
    if d["stable"] is False:
        console.print(
            f"{NOT_STEADY} not steady-state: an open stream is unstable, so no warm-up was "
            "cut and these describe this run's length, not the schedule",
            markup=False,
        )
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
