"""Results: the measured window of a run turned into the numbers users quote.

Stream mode cuts the warm-up by MSER on block means of latency (each model's latency
normalised by its own mean so models of different speed pool fairly), then reports
steady-state throughput with a 95% batch-means interval, latency quantiles,
time-average requests in system, utilisation and traffic of every resource, and
energy split into compute, SRAM, NoP, DRAM and static (leakage x measured time).
Batch mode measures the whole run: throughput is inferences over the makespan and
EDP is scenario energy x makespan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcmsim.metrics.collector import Block, percentile_from_hist
from mcmsim.metrics.generation import generation_metrics
from mcmsim.metrics.steady_state import batch_means_ci, mser_truncation
from mcmsim.sim.engine import E_COMPUTE, E_DRAM, E_NOP, E_SRAM, RawRun

__all__ = ["Results", "summarize"]

PS = 1e-12
PJ = 1e-12
CI_BATCHES = 20


@dataclass(frozen=True)
class Results:
    """Everything a run measured; :meth:`to_dict` is the content of results.json.

    ``records`` (per-request arrival, completion, inferences and energy) and ``events``
    are present only when the run was traced.
    """

    data: dict[str, Any]
    records: np.ndarray | None = field(default=None, compare=False, repr=False)
    events: list[Any] = field(default_factory=list, compare=False, repr=False)
    queue_samples: list[Any] = field(default_factory=list, compare=False, repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def throughput_per_s(self) -> float:
        return self.data["throughput_per_s"]

    @property
    def energy_per_inference_j(self) -> float:
        return self.data["energy_per_inference_j"]

    @property
    def models(self) -> dict[str, Any]:
        return self.data["models"]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, sort_keys=False)


def _normalised_block_means(blocks: list[Block]) -> np.ndarray:
    latency = np.array([b.latency_sum_ps for b in blocks])
    count = np.array([b.completions for b in blocks])
    per_model_mean = latency.sum(axis=0) / np.maximum(count.sum(axis=0), 1)
    scaled = latency / np.where(per_model_mean > 0, per_model_mean, 1.0)
    return scaled.sum(axis=1) / np.maximum(count.sum(axis=1), 1)


def _ci_groups(blocks: list[Block], start_ps: int) -> list[np.ndarray]:
    """Per-model throughput of up to CI_BATCHES consecutive groups of blocks."""
    if len(blocks) < 2:
        return []
    groups = np.array_split(np.arange(len(blocks)), min(CI_BATCHES, len(blocks)))
    rates = []
    begin = start_ps
    for group in groups:
        end = blocks[group[-1]].end_ps
        inferences = sum(blocks[i].inferences for i in group)
        if end > begin:
            rates.append(inferences / ((end - begin) * PS))
        begin = end
    return rates


def summarize(
    raw: RawRun, meta: dict[str, Any], model_names: list[str], chiplet_types: list[str]
) -> Results:
    """Turn a raw run into :class:`Results` (``meta`` gives scheduler, seed, mode...)."""
    blocks = raw.collector.blocks
    layout = raw.layout
    mode = meta["mode"]
    cut = 0
    if mode == "stream" and meta.get("warmup", "mser5") == "mser5" and blocks:
        cut = mser_truncation(_normalised_block_means(blocks))
    start_ps = blocks[cut - 1].end_ps if cut > 0 else 0
    base = blocks[cut - 1].snapshot if cut > 0 else None
    end_snapshot = blocks[-1].snapshot if blocks else None
    end_ps = raw.now_ps
    measured = blocks[cut:]
    measured_s = max(end_ps - start_ps, 1) * PS

    def delta(key: str) -> np.ndarray:
        if end_snapshot is None:
            return np.zeros(layout[key].stop - layout[key].start)
        now = end_snapshot[layout[key]]
        return now - base[layout[key]] if base is not None else now

    n_models = len(model_names)
    completions = sum((b.completions for b in measured), np.zeros(n_models, np.int64))
    inferences = sum((b.inferences for b in measured), np.zeros(n_models, np.int64))
    latency_sum = sum((b.latency_sum_ps for b in measured), np.zeros(n_models))
    dynamic_pj = sum((b.energy_pj for b in measured), np.zeros(n_models))
    hist = sum((b.hist.astype(np.int64) for b in measured), np.zeros((n_models, 1), np.int64))

    energy = delta("energy") * PJ
    static_j = raw.static_power_w * measured_s
    energy_j = {
        "compute": float(energy[E_COMPUTE]),
        "sram": float(energy[E_SRAM]),
        "nop": float(energy[E_NOP]),
        "dram": float(energy[E_DRAM]),
        "static": float(static_j),
    }
    energy_j["total"] = float(sum(energy_j.values()))

    model_busy = delta("model_busy")
    busy_share = (
        model_busy / model_busy.sum() if model_busy.sum() > 0 else np.full(n_models, 1 / n_models)
    )
    area = delta("area")
    rates = _ci_groups(measured, start_ps)
    models: dict[str, Any] = {}
    for m, name in enumerate(model_names):
        done = int(completions[m])
        mean_latency = latency_sum[m] / done * PS if done else 0.0
        per_inference = (
            (dynamic_pj[m] * PJ + static_j * busy_share[m]) / inferences[m]
            if inferences[m]
            else 0.0
        )
        lo, hi = batch_means_ci(np.array([r[m] for r in rates])) if rates else (0.0, 0.0)
        models[name] = {
            "arrived": int(raw.arrived[m]),
            "completed": done,
            "completed_total": int(raw.completed[m]),
            "in_flight_at_end": int(raw.in_flight[m]),
            "inferences": int(inferences[m]),
            "throughput_per_s": float(inferences[m] / measured_s),
            "requests_per_s": float(done / measured_s),
            "throughput_ci95_per_s": [float(lo), float(hi)],
            "latency_s": {
                "mean": float(mean_latency),
                "p50": percentile_from_hist(hist[m], 0.50) * PS,
                "p95": percentile_from_hist(hist[m], 0.95) * PS,
                "p99": percentile_from_hist(hist[m], 0.99) * PS,
            },
            "mean_in_system": float(area[m] * PS / measured_s),
            "energy_per_inference_j": float(per_inference),
        }

    for name, log in raw.generation.items():
        # A generation request's inferences are its output tokens.
        models[name]["generation"] = generation_metrics(
            log, start_ps, end_ps, models[name]["energy_per_inference_j"]
        )

    total_inferences = int(inferences.sum())
    energy_per_inference = (
        (float(dynamic_pj.sum()) * PJ + static_j) / total_inferences if total_inferences else 0.0
    )
    mean_latency_all = (
        float(latency_sum.sum() / completions.sum() * PS) if completions.sum() else 0.0
    )
    if mode == "batch":
        edp = energy_j["total"] * measured_s
    else:
        edp = energy_per_inference * mean_latency_all

    measured_ps = measured_s / PS
    chiplet_busy, streamed = delta("chiplet_busy"), delta("streamed")
    chiplets = {
        str(c): {
            "type": chiplet_types[c],
            "utilization": float(chiplet_busy[c] / measured_ps),
            "resident_weight_bytes": int(raw.resident_bytes[c]),
            "streamed_weight_bytes": int(streamed[c]),
        }
        for c in range(len(chiplet_types))
    }
    busy, nbytes, wait, flows = (
        delta("res_busy"),
        delta("res_bytes"),
        delta("res_wait"),
        delta("res_flows"),
    )

    def resource(i: int) -> dict[str, Any]:
        return {
            "utilization": float(busy[i] / measured_ps),
            "bytes": int(nbytes[i]),
            "mean_wait_s": float(wait[i] / flows[i] * PS) if flows[i] else 0.0,
        }

    n_links = len(raw.link_names)
    links = {raw.link_names[i].removeprefix("link "): resource(i) for i in range(n_links)}
    dram = {raw.dram_names[i]: resource(n_links + i) for i in range(len(raw.dram_names))}

    data = {
        **{k: meta[k] for k in ("scenario", "scheduler", "seed", "mode")},
        "warmup_s": start_ps * PS,
        "measured_s": measured_s,
        "makespan_s": end_ps * PS if mode == "batch" else None,
        "throughput_per_s": float(total_inferences / measured_s),
        "latency_mean_s": mean_latency_all,
        "energy_per_inference_j": energy_per_inference,
        "edp_j_s": float(edp),
        "energy_j": energy_j,
        "simulated_events": raw.events_scheduled,
        "requests": {
            "arrived": int(raw.arrived.sum()),
            "completed": int(raw.completed.sum()),
            "in_flight": int(raw.in_flight.sum()),
        },
        "models": models,
        "chiplets": chiplets,
        "links": links,
        "dram": dram,
    }
    return Results(data, raw.records, raw.events, raw.queue_samples)
