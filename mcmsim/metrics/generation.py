"""Generation metrics: what LLM-serving users read, from a generation workload's log.

Per finished request: TTFT (arrival to first token), TPOT (mean time between output
tokens after the first: ``(finish - first token) / (output tokens - 1)``, for requests
with more than one output token) and end-to-end latency; exact percentiles of each.
Over the measured window (requests finishing after the warm-up cut): input and output
tokens per second and requests per second of the finished requests; SLO attainment
(share of requests within each declared target) and goodput (requests per second
within every declared target); the distribution of requests per iteration and why
iterations were not fuller (``demand``: nothing else was ready; ``max_batch``;
``token_budget``; ``kv_capacity``); KV occupancy (time average and peak, against the
capacity); preemptions, rejections and truncations; KV and weight DRAM traffic.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from mcmsim.sim.generation import GenerationLog

__all__ = ["generation_metrics"]

PS = 1e-12
_PERCENTILES = (50, 90, 95, 99)


def _summary(values_s: np.ndarray) -> dict[str, float]:
    if not len(values_s):
        return {"mean": 0.0, **{f"p{p}": 0.0 for p in _PERCENTILES}, "max": 0.0}
    quantiles = np.percentile(values_s, _PERCENTILES, method="inverted_cdf")
    return {
        "mean": float(values_s.mean()),
        **{f"p{p}": float(q) for p, q in zip(_PERCENTILES, quantiles, strict=True)},
        "max": float(values_s.max()),
    }


def generation_metrics(
    log: GenerationLog, start_ps: int, end_ps: int, energy_per_output_token_j: float
) -> dict[str, Any]:
    """The ``generation`` entry of a model in results.json (see the module docstring)."""
    finish = np.asarray(log.finish_ps, np.int64)
    window = finish >= start_ps
    arrival = np.asarray(log.arrival_ps, np.int64)[window]
    first = np.asarray(log.first_token_ps, np.int64)[window]
    finish = finish[window]
    prompt = np.asarray(log.prompt_tokens, np.int64)[window]
    output = np.asarray(log.output_tokens, np.int64)[window]
    measured_s = max(end_ps - start_ps, 1) * PS

    ttft = (first - arrival) * PS
    e2e = (finish - arrival) * PS
    several = output > 1
    tpot = (finish - first)[several] / (output[several] - 1) * PS
    within = np.ones(len(finish), bool)
    slo: dict[str, Any] = {}
    if log.slo_ttft_s is not None:
        ok = ttft <= log.slo_ttft_s
        within &= ok
        slo["ttft_s"] = log.slo_ttft_s
        slo["ttft_attainment"] = float(ok.mean()) if len(ok) else 0.0
    if log.slo_tpot_s is not None:
        # A one-token request has no TPOT and meets any TPOT target.
        per_request = np.zeros(len(finish))
        per_request[several] = tpot
        ok = per_request <= log.slo_tpot_s
        within &= ok
        slo["tpot_s"] = log.slo_tpot_s
        slo["tpot_attainment"] = float(ok.mean()) if len(ok) else 0.0
    if slo:
        slo["attainment"] = float(within.mean()) if len(within) else 0.0
        slo["goodput_requests_per_s"] = float(within.sum() / measured_s)

    starts = np.asarray(log.iteration_start_ps, np.int64)
    in_window = starts >= start_ps
    sizes = np.asarray(log.iteration_requests, np.int64)[in_window]
    tokens = np.asarray(log.iteration_tokens, np.int64)[in_window]
    limits = Counter(np.asarray(log.iteration_limit, object)[in_window].tolist())
    histogram = np.bincount(sizes, minlength=log.max_batch + 1)[1:]
    return {
        "requests_finished": len(finish),
        "ttft_s": _summary(ttft),
        "tpot_s": _summary(tpot),
        "e2e_latency_s": _summary(e2e),
        "input_tokens_per_s": float(prompt.sum() / measured_s),
        "output_tokens_per_s": float(output.sum() / measured_s),
        "requests_per_s": float(len(finish) / measured_s),
        "slo": slo,
        "energy_per_output_token_j": energy_per_output_token_j,
        "iterations": {
            "count": len(sizes),
            "mean_requests": float(sizes.mean()) if len(sizes) else 0.0,
            "mean_tokens": float(tokens.mean()) if len(tokens) else 0.0,
            "requests_histogram": [int(h) for h in histogram],
            "limited_by": {k: int(limits[k]) for k in sorted(limits)},
        },
        "kv_cache": {
            "capacity_bytes": log.kv_capacity_bytes,
            "sram_capacity_bytes": log.kv_sram_capacity_bytes,
            "peak_bytes": log.kv_peak_bytes,
            "mean_bytes": float(log.kv_byte_ps / max(end_ps, 1)),
            "dram_read_bytes": log.kv_dram_read_bytes,
            "dram_write_bytes": log.kv_dram_write_bytes,
        },
        "weight_dram_bytes": log.weight_dram_bytes,
        "requests": {
            "arrived": log.arrived,
            "admitted": log.admitted,
            "rejected": log.rejected,
            "truncated": log.truncated,
            "preemptions": log.preemptions,
            "finished_total": len(log.finish_ps),
        },
    }
