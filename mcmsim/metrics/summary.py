"""Summary: the measured window of a run turned into the numbers users quote.

Stream mode first judges every open stream's stability over the whole run
(:mod:`mcmsim.metrics.stability`). When all are stable it cuts the warm-up by MSER on
block means of latency (each model's latency normalised by its own mean so models of
different speed pool fairly; never leaving a model fewer completions than the stopping
rule's minimum); when one is not, it cuts nothing and marks every model's interval and
quantiles as not steady-state. It then reports throughput with a 95% batch-means
interval (:mod:`mcmsim.metrics.steady_state`), exact latency quantiles
(:mod:`mcmsim.metrics.quantiles`), time-average requests in system, utilisation and
traffic of every resource, and energy split into compute, SRAM, NoP, DRAM and static
(leakage x measured time). Batch mode measures the whole run: throughput is inferences
over the makespan and EDP is scenario energy x makespan.

:func:`summarize` runs these steps in order: judge stability (:func:`_stability`), find
the window (:func:`_measured_window`), add up its blocks (:class:`_Totals`), then the
energy split, one part per model, the headline numbers and one part per resource.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mcmsim.metrics.collector import Block
from mcmsim.metrics.deadlines import deadline_results, overall_realtime_score
from mcmsim.metrics.generation import generation_results
from mcmsim.metrics.quantiles import latency_summary
from mcmsim.metrics.raw import E_COMPUTE, E_DRAM, E_NOP, E_SRAM, RawRun
from mcmsim.metrics.results import (
    ChipletResults,
    EnergyBreakdown,
    ModelResults,
    ReadOnlyMap,
    RequestCounts,
    ResourceResults,
    Results,
    RunInfo,
    SloResults,
)
from mcmsim.metrics.stability import StabilityVerdict, judge_open_stream
from mcmsim.metrics.steady_state import mser_truncation, rate_ci
from mcmsim.metrics.tracks import link_key_of_track
from mcmsim.units import J_PER_PJ, S_PER_PS

__all__ = ["summarize"]

CI_BATCHES = 20


def _normalised_block_means(blocks: list[Block]) -> np.ndarray:
    latency = np.array([b.latency_sum_ps for b in blocks])
    count = np.array([b.completions for b in blocks])
    per_model_mean = latency.sum(axis=0) / np.maximum(count.sum(axis=0), 1)
    scaled = latency / np.where(per_model_mean > 0, per_model_mean, 1.0)
    return scaled.sum(axis=1) / np.maximum(count.sum(axis=1), 1)


def _ci_batches(blocks: list[Block], start_ps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-model inferences (batches x models) and durations (s) of up to CI_BATCHES
    consecutive groups of blocks."""
    if not blocks:
        return np.zeros((0, 0)), np.zeros(0)
    groups = np.array_split(np.arange(len(blocks)), min(CI_BATCHES, len(blocks)))
    counts, durations = [], []
    begin = start_ps
    for group in groups:
        end = blocks[group[-1]].end_ps
        if end > begin:
            counts.append(sum(blocks[i].inferences for i in group))
            durations.append((end - begin) * S_PER_PS)
        begin = end
    return np.array(counts, np.float64), np.array(durations, np.float64)


def _stability(raw: RawRun, mode: str) -> list[StabilityVerdict | None]:
    """Each open stream's verdict over the whole run; None for closed streams or batch.

    A stream whose backlog passed the bound that stopped the run is unstable: the run
    was too short for the rule to see it (a stream offered far more than a picosecond
    grid carries arrives at one request per ps, not at its nominal rate).
    """
    span_s = raw.now_ps * S_PER_PS
    verdicts: list[StabilityVerdict | None] = []
    for m, rate in enumerate(raw.offered_requests_per_s):
        if rate is None or mode != "stream":
            verdicts.append(None)
            continue
        verdict = judge_open_stream(rate, span_s, int(raw.completed[m]), int(raw.in_flight[m]))
        if m in raw.overloaded:
            verdict = replace(verdict, stable=False)
        verdicts.append(verdict)
    return verdicts


@dataclass(frozen=True)
class _Window:
    """The measured window: its blocks, the counter snapshots at its two ends, and each
    model's completions before it."""

    raw: RawRun
    blocks: list[Block]
    start_ps: int
    end_ps: int
    base: np.ndarray | None
    end_snapshot: np.ndarray | None
    skipped: np.ndarray
    warmup_rule: str

    @property
    def measured_ps(self) -> int:
        return max(self.end_ps - self.start_ps, 1)

    @property
    def measured_s(self) -> float:
        return self.measured_ps * S_PER_PS

    def delta(self, key: str) -> np.ndarray:
        """Growth of the counters in ``raw.layout[key]`` over the window."""
        span = self.raw.layout[key]
        if self.end_snapshot is None:
            return np.zeros(span.stop - span.start)
        now = self.end_snapshot[span]
        return now - self.base[span] if self.base is not None else now

    def latencies_ps(self, model: int) -> np.ndarray:
        """The model's latencies of the requests completed in the window."""
        return self.raw.collector.latencies[model].values()[int(self.skipped[model]) :]


def _max_cut(blocks: list[Block], min_per_model: int | None) -> int | None:
    """Most leading blocks a cut may drop and still leave every model that reached the
    minimum at least that many completions; None when nothing constrains the cut."""
    if not min_per_model or not blocks:
        return None
    counts = np.array([b.completions for b in blocks])
    remaining = np.cumsum(counts[::-1], axis=0)[::-1]  # completions from block d on
    reached = remaining[0] >= min_per_model
    if not reached.any():
        return None
    keeps = (remaining[:, reached] >= min_per_model).all(axis=1)
    return int(np.count_nonzero(keeps)) - 1


def _warmup_rule(meta: dict[str, Any], stable: bool | None) -> str:
    if meta["mode"] == "batch":
        return "none: batch mode"
    if meta.get("warmup", "mser5") != "mser5":
        return "none: scenario"
    return "mser5" if stable else "none: unstable run"


def _measured_window(raw: RawRun, meta: dict[str, Any], stable: bool | None) -> _Window:
    """Cut the warm-up (stream mode, stable runs: MSER-5 on normalised block means)."""
    blocks = raw.collector.blocks
    rule = _warmup_rule(meta, stable)
    cut = 0
    if rule == "mser5" and blocks:
        max_cut = _max_cut(blocks, raw.min_requests_per_model)
        cut = mser_truncation(_normalised_block_means(blocks), max_cut)
    skipped = sum((b.completions for b in blocks[:cut]), np.zeros(len(raw.completed), np.int64))
    return _Window(
        raw=raw,
        blocks=blocks[cut:],
        start_ps=blocks[cut - 1].end_ps if cut > 0 else 0,
        end_ps=raw.now_ps,
        base=blocks[cut - 1].snapshot if cut > 0 else None,
        end_snapshot=blocks[-1].snapshot if blocks else None,
        skipped=skipped,
        warmup_rule=rule,
    )


@dataclass(frozen=True)
class _Totals:
    """Per-model sums over the window's blocks."""

    completions: np.ndarray
    inferences: np.ndarray
    latency_sum_ps: np.ndarray
    dynamic_pj: np.ndarray
    within_target: np.ndarray

    @classmethod
    def of(cls, blocks: list[Block], n_models: int) -> _Totals:
        return cls(
            completions=sum((b.completions for b in blocks), np.zeros(n_models, np.int64)),
            inferences=sum((b.inferences for b in blocks), np.zeros(n_models, np.int64)),
            latency_sum_ps=sum((b.latency_sum_ps for b in blocks), np.zeros(n_models)),
            dynamic_pj=sum((b.energy_pj for b in blocks), np.zeros(n_models)),
            within_target=sum((b.within_target for b in blocks), np.zeros(n_models, np.int64)),
        )


def _energy(window: _Window) -> EnergyBreakdown:
    energy = window.delta("energy") * J_PER_PJ
    return EnergyBreakdown(
        compute=float(energy[E_COMPUTE]),
        sram=float(energy[E_SRAM]),
        nop=float(energy[E_NOP]),
        dram=float(energy[E_DRAM]),
        static=float(window.raw.static_power_w * window.measured_s),
    )


def _slo_results(
    slo: dict[str, float] | None, within: int, completed: int, throughput_per_s: float
) -> SloResults | None:
    """A model's SLO standing, from its requests counted within target at completion."""
    if slo is None:
        return None
    attainment = within / completed if completed else 0.0
    return SloResults(
        latency_ms=float(slo["latency_ms"]),
        percentile=float(slo["percentile"]),
        within_target=int(within),
        attainment=float(attainment),
        met=bool(completed) and attainment >= slo["percentile"] / 100.0,
        goodput_per_s=float(throughput_per_s * attainment),
    )


def _model_results(
    window: _Window,
    totals: _Totals,
    model_names: list[str],
    slos: dict[str, dict[str, float]],
    verdicts: list[StabilityVerdict | None],
    steady_state: bool | None,
) -> ReadOnlyMap[ModelResults]:
    """One part per model; static energy is shared in proportion to busy chiplet time."""
    raw, measured_s = window.raw, window.measured_s
    static_j = raw.static_power_w * measured_s
    n_models = len(model_names)
    model_busy = window.delta("model_busy")
    busy_share = (
        model_busy / model_busy.sum() if model_busy.sum() > 0 else np.full(n_models, 1 / n_models)
    )
    area = window.delta("area")
    batch_counts, batch_durations_s = _ci_batches(window.blocks, window.start_ps)
    models = {}
    for m, name in enumerate(model_names):
        done = int(totals.completions[m])
        inferences = totals.inferences[m]
        per_inference = (
            (totals.dynamic_pj[m] * J_PER_PJ + static_j * busy_share[m]) / inferences
            if inferences
            else 0.0
        )
        throughput = float(inferences / measured_s)
        counts = batch_counts[:, m] if len(batch_counts) else batch_counts
        interval = rate_ci(counts, batch_durations_s, throughput)
        offered = raw.offered_requests_per_s[m]
        # The batch; a generation request's inferences are its output tokens, so their mean.
        per_request = inferences / done if done else raw.inferences_per_request[m]
        verdict = verdicts[m]
        models[name] = ModelResults(
            arrived=int(raw.arrived[m]),
            completed=done,
            completed_total=int(raw.completed[m]),
            in_flight_at_end=int(raw.in_flight[m]),
            inferences=int(inferences),
            throughput_per_s=throughput,
            requests_per_s=float(done / measured_s),
            offered_per_s=(float(offered * per_request) if offered is not None else None),
            served_per_s=throughput,
            stable=verdict.stable if verdict is not None else None,
            steady_state=steady_state,
            throughput_ci95_per_s=interval.bounds,
            throughput_ci95_note=interval.note,
            latency_s=latency_summary(window.latencies_ps(m)),
            mean_in_system=float(area[m] * S_PER_PS / measured_s),
            energy_per_inference_j=float(per_inference),
            slo=_slo_results(
                slos.get(name), int(totals.within_target[m]), done, inferences / measured_s
            ),
        )
    return ReadOnlyMap(models)


def _with_generation(
    models: ReadOnlyMap[ModelResults], window: _Window, dram: ReadOnlyMap[ResourceResults]
) -> ReadOnlyMap[ModelResults]:
    """Add each generation workload's serving metrics (its inferences are output tokens)."""
    logs = window.raw.generation
    if not logs:
        return models
    utilization = [part.bandwidth_utilization for part in dram.values()]

    def with_log(name: str, part: ModelResults) -> ModelResults:
        log = logs.get(name)
        if log is None:
            return part
        generation = generation_results(
            log, window.start_ps, window.end_ps, part.energy_per_inference_j, utilization
        )
        return replace(part, generation=generation)

    return ReadOnlyMap((name, with_log(name, part)) for name, part in models.items())


def _chiplet_results(window: _Window, chiplet_types: list[str]) -> ReadOnlyMap[ChipletResults]:
    # Shares divide picoseconds by picoseconds: through seconds, a chiplet busy all
    # window long came out at 1.0000000000000002.
    measured_ps = window.measured_ps
    busy, streamed = window.delta("chiplet_busy"), window.delta("streamed")
    compute = window.delta("chiplet_compute")
    return ReadOnlyMap(
        (
            str(c),
            ChipletResults(
                type=chiplet_types[c],
                utilization=float(busy[c] / measured_ps),
                occupancy=float(busy[c] / measured_ps),
                compute_activity=float(compute[c] / measured_ps),
                resident_weight_bytes=int(window.raw.resident_bytes[c]),
                streamed_weight_bytes=int(streamed[c]),
            ),
        )
        for c in range(len(chiplet_types))
    )


def _resource_results(
    window: _Window,
) -> tuple[ReadOnlyMap[ResourceResults], ReadOnlyMap[ResourceResults]]:
    """NoP links (keyed by route) and DRAM interfaces (keyed by track), in counter order."""
    measured_ps = window.measured_ps
    busy, nbytes = window.delta("res_busy"), window.delta("res_bytes")
    wait, flows = window.delta("res_wait"), window.delta("res_flows")
    moved = window.delta("res_moved")
    capacity = window.raw.capacity_bytes_per_ps

    def resource(i: int) -> ResourceResults:
        return ResourceResults(
            utilization=float(busy[i] / measured_ps),
            busy_share=float(busy[i] / measured_ps),
            bandwidth_utilization=float(moved[i] / (capacity[i] * measured_ps)),
            bytes=int(nbytes[i]),
            mean_wait_s=float(wait[i] / flows[i] * S_PER_PS) if flows[i] else 0.0,
        )

    raw = window.raw
    n_links = len(raw.link_names)
    links = ReadOnlyMap(
        (link_key_of_track(name), resource(i)) for i, name in enumerate(raw.link_names)
    )
    dram = ReadOnlyMap((name, resource(n_links + i)) for i, name in enumerate(raw.dram_names))
    return links, dram


def _with_deadlines(
    window: _Window, models: ReadOnlyMap[ModelResults]
) -> tuple[ReadOnlyMap[ModelResults], float | None]:
    """Each model's deadline part (stream mode) and the overall real-time score."""
    if window.raw.frames is None:
        return models, None
    judged = deadline_results(window.raw.frames, window.start_ps, window.end_ps)
    pairs = zip(models.items(), judged, strict=True)
    parts = ReadOnlyMap((name, replace(part, deadline=d)) for (name, part), d in pairs)
    return parts, overall_realtime_score(judged)


def summarize(
    raw: RawRun, meta: dict[str, Any], model_names: list[str], chiplet_types: list[str]
) -> Results:
    """Turn a raw run into :class:`~mcmsim.metrics.results.Results`.

    ``meta`` gives ``scenario``, ``scheduler``, ``seed``, ``mode`` and optionally
    ``warmup`` (``"mser5"``, the default, or anything else for no cut) and ``slo``
    (model name -> ``{"latency_ms", "percentile"}`` of the models that declare one).
    """
    verdicts = _stability(raw, meta["mode"])
    stable = all(v is None or v.stable for v in verdicts) if meta["mode"] == "stream" else None
    window = _measured_window(raw, meta, stable)
    measured_s = window.measured_s
    totals = _Totals.of(window.blocks, len(model_names))
    energy_j = _energy(window)
    links, dram = _resource_results(window)

    total_inferences = int(totals.inferences.sum())
    energy_per_inference = (
        (float(totals.dynamic_pj.sum()) * J_PER_PJ + raw.static_power_w * measured_s)
        / total_inferences
        if total_inferences
        else 0.0
    )
    completions = totals.completions.sum()
    mean_latency_all = (
        float(totals.latency_sum_ps.sum() / completions * S_PER_PS) if completions else 0.0
    )
    batch = meta["mode"] == "batch"
    models = _model_results(window, totals, model_names, meta.get("slo", {}), verdicts, stable)
    models = _with_generation(models, window, dram)
    realtime_score = None
    if not batch:
        models, realtime_score = _with_deadlines(window, models)
    edp = energy_j.total * measured_s if batch else energy_per_inference * mean_latency_all

    return Results(
        run=RunInfo(
            scenario=meta["scenario"],
            scheduler=meta["scheduler"],
            seed=meta["seed"],
            mode=meta["mode"],
            warmup_s=window.start_ps * S_PER_PS,
            measured_s=measured_s,
            makespan_s=window.end_ps * S_PER_PS if batch else None,
            simulated_events=raw.events_scheduled,
            stop_reason=raw.stop_reason,
            min_requests_per_model=raw.min_requests_per_model,
            warmup_rule=window.warmup_rule,
        ),
        stable=stable,
        throughput_per_s=float(total_inferences / measured_s),
        latency_mean_s=mean_latency_all,
        energy_per_inference_j=energy_per_inference,
        edp_j_s=float(edp),
        energy_j=energy_j,
        requests=RequestCounts(
            arrived=int(raw.arrived.sum()),
            completed=int(raw.completed.sum()),
            in_flight=int(raw.in_flight.sum()),
        ),
        models=models,
        chiplets=_chiplet_results(window, chiplet_types),
        links=links,
        dram=dram,
        records=raw.records,
        activity=raw.activity,
        realtime_score=realtime_score,
    )
