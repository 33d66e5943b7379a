"""Generation metrics: what LLM-serving users read, from a generation workload's log.

The engine's generation server fills a :class:`GenerationLog` (the engine-to-metrics
contract for generation, on the metrics side like :class:`~mcmsim.metrics.raw.RawRun`);
:func:`generation_results` turns it into the typed :class:`GenerationResults` part of a
model's results (``models.<name>.generation`` in results.json):

* per finished request: TTFT (arrival to first token), TPOT (mean time between output
  tokens after the first: ``(finish - first token) / (output tokens - 1)``, for requests
  with more than one output token) and end-to-end latency; exact percentiles of each;
* over the measured window (requests finishing after the warm-up cut): input and output
  tokens per second and requests per second of the finished requests; SLO attainment
  (share of requests within each declared target) and goodput (requests per second
  within every declared target);
* iterations: requests per iteration and why an iteration was not fuller (``demand``:
  nothing else was ready; ``max_batch``; ``token_budget``; ``kv_capacity``);
* KV cache: capacity, peak and time-average occupancy, occupancy over time (the mean of
  the occupancy at each iteration start, in equal bins of the window), DRAM traffic;
* which bound limits tokens/s (:class:`GenerationBound`, see :func:`limiting_bound`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mcmsim.metrics.results import ReadOnlyMap, _Part
from mcmsim.units import S_PER_PS

__all__ = [
    "GenerationBound",
    "GenerationLog",
    "GenerationRequests",
    "GenerationResults",
    "GenerationSlo",
    "IterationStats",
    "KvCacheStats",
    "TokenLatency",
    "generation_results",
    "limiting_bound",
]

_PERCENTILES = (50, 90, 95, 99)
#: A resource busy for at least this share of the window is saturated.
SATURATED_SHARE = 0.8
#: Bins of the KV occupancy series.
OCCUPANCY_BINS = 50


@dataclass
class GenerationLog:
    """What a generation workload measured: per-request times and per-iteration counts.

    Per finished request (in completion order): arrival, first token and finish (ps),
    prompt and output tokens. Per iteration: start (ps), requests, tokens, what limited
    its batch, KV bytes in use when it was formed, and the compute time on each pipeline
    stage (an array per iteration, filled as it runs). ``dram_interfaces`` are the DRAM
    interfaces the stages stream from, ``stage_one_token_ps`` what an iteration of one
    token costs it. KV occupancy is integrated over time; counters cover the whole run.
    """

    kv_capacity_bytes: int
    kv_sram_capacity_bytes: int
    max_batch: int
    slo_ttft_s: float | None
    slo_tpot_s: float | None
    dram_interfaces: tuple[int, ...]
    stage_one_token_ps: tuple[int, ...]
    arrival_ps: list[int] = field(default_factory=list)
    first_token_ps: list[int] = field(default_factory=list)
    finish_ps: list[int] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    iteration_start_ps: list[int] = field(default_factory=list)
    iteration_requests: list[int] = field(default_factory=list)
    iteration_tokens: list[int] = field(default_factory=list)
    iteration_limit: list[str] = field(default_factory=list)
    iteration_kv_bytes: list[int] = field(default_factory=list)
    stage_compute_ps: list[np.ndarray] = field(default_factory=list)
    arrived: int = 0
    admitted: int = 0
    rejected: int = 0
    truncated: int = 0
    preemptions: int = 0
    kv_peak_bytes: int = 0
    kv_byte_ps: float = 0.0
    kv_dram_read_bytes: int = 0
    kv_dram_write_bytes: int = 0
    weight_dram_bytes: int = 0
    output_tokens_generated: int = 0


@dataclass(frozen=True, slots=True)
class TokenLatency(_Part):
    """A per-request time in seconds: mean, exact percentiles and maximum."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values_s: np.ndarray) -> TokenLatency:
        if not len(values_s):
            return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        quantiles = np.percentile(values_s, _PERCENTILES, method="inverted_cdf")
        return cls(float(values_s.mean()), *map(float, quantiles), float(values_s.max()))


@dataclass(frozen=True, slots=True)
class GenerationSlo(_Part):
    """Declared targets (None: not declared), shares of requests within them, goodput."""

    ttft_s: float | None
    ttft_attainment: float | None
    tpot_s: float | None
    tpot_attainment: float | None
    attainment: float
    goodput_requests_per_s: float


@dataclass(frozen=True, slots=True)
class IterationStats(_Part):
    """Iterations started in the window: their size and what limited each batch."""

    count: int
    mean_requests: float
    mean_tokens: float
    requests_histogram: tuple[int, ...]
    batch_limited_by: ReadOnlyMap[int]


@dataclass(frozen=True, slots=True)
class KvCacheStats(_Part):
    """KV cache capacity (SRAM part included), occupancy and DRAM traffic.

    Peak, mean and traffic cover the whole run. ``occupancy_bytes`` is the occupancy
    over the measured window: the mean KV bytes in use at the iteration starts of each
    of ``len(occupancy_bytes)`` equal bins, each ``occupancy_bin_s`` long (0 for a bin
    without iterations).
    """

    capacity_bytes: int
    sram_capacity_bytes: int
    peak_bytes: int
    mean_bytes: float
    dram_read_bytes: int
    dram_write_bytes: int
    occupancy_bin_s: float
    occupancy_bytes: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class GenerationRequests(_Part):
    """Request counts over the whole run (``preemptions`` counts events, not requests)."""

    arrived: int
    admitted: int
    rejected: int
    truncated: int
    preemptions: int
    finished_total: int


@dataclass(frozen=True, slots=True)
class GenerationBound(_Part):
    """Which bound limits tokens/s, and the figures behind it (see :func:`limiting_bound`).

    ``compute_share``: the largest share of the window one pipeline stage spent
    computing the workload's iterations; ``compute_scaling_share``: the part of that
    stage's compute that grows with an iteration's tokens (its compute less what
    one-token iterations would have cost). ``dram_share``: the largest bandwidth
    utilisation of a DRAM interface the stages stream from (all models' traffic);
    ``dram_scaling_share``: the part of the workload's DRAM bytes that grows with the
    batch (KV reads and writes; the rest is weights). ``kv_limited_share``: the share of
    iterations whose batch KV capacity cut. ``batch_limit``: what most often limited an
    iteration's batch (``demand``, ``max_batch``, ``token_budget``, ``kv_capacity``).
    """

    bound: str
    compute_share: float
    compute_scaling_share: float
    dram_share: float
    dram_scaling_share: float
    kv_limited_share: float
    batch_limit: str


@dataclass(frozen=True, slots=True)
class GenerationResults(_Part):
    """A generation workload's serving metrics (see the module docstring)."""

    requests_finished: int
    ttft_s: TokenLatency
    tpot_s: TokenLatency
    e2e_latency_s: TokenLatency
    input_tokens_per_s: float
    output_tokens_per_s: float
    requests_per_s: float
    slo: GenerationSlo | None
    energy_per_output_token_j: float
    limited_by: GenerationBound
    iterations: IterationStats
    kv_cache: KvCacheStats
    weight_dram_bytes: int
    requests: GenerationRequests


def limiting_bound(
    compute: tuple[float, float],
    dram: tuple[float, float],
    kv_limited_share: float,
    batch_limit: str,
) -> str:
    """The bound that limits tokens/s, from the figures of :class:`GenerationBound`.

    ``compute`` and ``dram`` are (busy share, scaling share). A resource *binds* when it
    is saturated (busy for at least :data:`SATURATED_SHARE` of the window) and at least
    half its time grows with the batch, so doubling the batch would raise tokens/s by a
    third at most. The bound is ``kv_capacity`` when KV capacity cut at least half the
    iterations' batches; else the busier of ``compute`` and ``dram`` if it binds; else the
    batch limit: ``demand`` (every ready request was served: more load, or more requests
    in flight, raise tokens/s), ``max_batch`` or ``token_budget`` (a setting kept waiting
    requests out: raising it raises tokens/s).
    """
    if kv_limited_share >= 0.5:
        return "kv_capacity"
    name, (busy, scaling) = max((("compute", compute), ("dram", dram)), key=lambda item: item[1][0])
    if busy >= SATURATED_SHARE and scaling >= 0.5:
        return name
    return batch_limit


def _slo(log: GenerationLog, ttft: np.ndarray, tpot: np.ndarray, measured_s: float):
    if log.slo_ttft_s is None and log.slo_tpot_s is None:
        return None
    within = np.ones(len(ttft), bool)
    ttft_share = tpot_share = None
    if log.slo_ttft_s is not None:
        ok = ttft <= log.slo_ttft_s
        within &= ok
        ttft_share = float(ok.mean()) if len(ok) else 0.0
    if log.slo_tpot_s is not None:
        # A one-token request has no TPOT (NaN here) and meets any TPOT target.
        ok = ~(tpot > log.slo_tpot_s)
        within &= ok
        tpot_share = float(ok.mean()) if len(ok) else 0.0
    return GenerationSlo(
        ttft_s=log.slo_ttft_s,
        ttft_attainment=ttft_share,
        tpot_s=log.slo_tpot_s,
        tpot_attainment=tpot_share,
        attainment=float(within.mean()) if len(within) else 0.0,
        goodput_requests_per_s=float(within.sum() / measured_s),
    )


def _occupancy(
    starts: np.ndarray, kv_bytes: np.ndarray, start_ps: int, end_ps: int
) -> tuple[float, tuple[float, ...]]:
    span = max(end_ps - start_ps, 1)
    bins = np.minimum((starts - start_ps) * OCCUPANCY_BINS // span, OCCUPANCY_BINS - 1)
    sums = np.bincount(bins, weights=kv_bytes, minlength=OCCUPANCY_BINS)
    counts = np.bincount(bins, minlength=OCCUPANCY_BINS)
    means = np.divide(sums, counts, out=np.zeros(OCCUPANCY_BINS), where=counts > 0)
    return span / OCCUPANCY_BINS * S_PER_PS, tuple(float(m) for m in means)


def generation_results(
    log: GenerationLog,
    start_ps: int,
    end_ps: int,
    energy_per_output_token_j: float,
    dram_utilization: Sequence[float],
) -> GenerationResults:
    """The ``generation`` part of a model's results over the window ``[start_ps, end_ps]``.

    ``dram_utilization`` is the window's bandwidth utilisation of every DRAM interface
    (bytes moved over what it could move), in interface order.
    """
    finish = np.asarray(log.finish_ps, np.int64)
    window = finish >= start_ps
    arrival = np.asarray(log.arrival_ps, np.int64)[window]
    first = np.asarray(log.first_token_ps, np.int64)[window]
    finish = finish[window]
    prompt = np.asarray(log.prompt_tokens, np.int64)[window]
    output = np.asarray(log.output_tokens, np.int64)[window]
    measured_s = max(end_ps - start_ps, 1) * S_PER_PS

    ttft = (first - arrival) * S_PER_PS
    e2e = (finish - arrival) * S_PER_PS
    # Per request; NaN for a one-token request, which has no time per output token.
    tpot = np.divide(
        (finish - first) * S_PER_PS,
        output - 1,
        out=np.full(len(output), np.nan),
        where=output > 1,
    )

    starts = np.asarray(log.iteration_start_ps, np.int64)
    in_window = starts >= start_ps
    sizes = np.asarray(log.iteration_requests, np.int64)[in_window]
    tokens = np.asarray(log.iteration_tokens, np.int64)[in_window]
    limits = Counter(np.asarray(log.iteration_limit, object)[in_window].tolist())
    histogram = np.bincount(sizes, minlength=log.max_batch + 1)[1:]
    n_stages = len(log.stage_one_token_ps)
    stage_compute = np.asarray(log.stage_compute_ps, np.int64).reshape(-1, n_stages)[in_window]
    count = len(sizes)
    per_stage = stage_compute.sum(axis=0)
    busiest = int(per_stage.argmax())
    compute_share = float(per_stage[busiest] * S_PER_PS / measured_s)
    fixed_ps = count * log.stage_one_token_ps[busiest]
    compute_scaling = float(max(1 - fixed_ps / per_stage[busiest], 0.0)) if count else 0.0
    dram_share = float(max(dram_utilization[d] for d in log.dram_interfaces))
    kv_bytes = log.kv_dram_read_bytes + log.kv_dram_write_bytes
    dram_bytes = kv_bytes + log.weight_dram_bytes
    dram_scaling = kv_bytes / dram_bytes if dram_bytes else 0.0
    kv_limited_share = limits["kv_capacity"] / count if count else 0.0
    batch_limit = min(limits, key=lambda k: (-limits[k], k)) if limits else "demand"
    occupancy_bin_s, occupancy = _occupancy(
        starts[in_window],
        np.asarray(log.iteration_kv_bytes, np.int64)[in_window],
        start_ps,
        end_ps,
    )
    return GenerationResults(
        requests_finished=len(finish),
        ttft_s=TokenLatency.of(ttft),
        tpot_s=TokenLatency.of(tpot[~np.isnan(tpot)]),
        e2e_latency_s=TokenLatency.of(e2e),
        input_tokens_per_s=float(prompt.sum() / measured_s),
        output_tokens_per_s=float(output.sum() / measured_s),
        requests_per_s=float(len(finish) / measured_s),
        slo=_slo(log, ttft, tpot, measured_s),
        energy_per_output_token_j=energy_per_output_token_j,
        limited_by=GenerationBound(
            bound=limiting_bound(
                (compute_share, compute_scaling),
                (dram_share, dram_scaling),
                kv_limited_share,
                batch_limit,
            ),
            compute_share=compute_share,
            compute_scaling_share=compute_scaling,
            dram_share=dram_share,
            dram_scaling_share=dram_scaling,
            kv_limited_share=kv_limited_share,
            batch_limit=batch_limit,
        ),
        iterations=IterationStats(
            count=count,
            mean_requests=float(sizes.mean()) if count else 0.0,
            mean_tokens=float(tokens.mean()) if count else 0.0,
            requests_histogram=tuple(int(h) for h in histogram),
            batch_limited_by=ReadOnlyMap((k, int(limits[k])) for k in sorted(limits)),
        ),
        kv_cache=KvCacheStats(
            capacity_bytes=log.kv_capacity_bytes,
            sram_capacity_bytes=log.kv_sram_capacity_bytes,
            peak_bytes=log.kv_peak_bytes,
            mean_bytes=float(log.kv_byte_ps / max(end_ps, 1)),
            dram_read_bytes=log.kv_dram_read_bytes,
            dram_write_bytes=log.kv_dram_write_bytes,
            occupancy_bin_s=occupancy_bin_s,
            occupancy_bytes=occupancy,
        ),
        weight_dram_bytes=log.weight_dram_bytes,
        requests=GenerationRequests(
            arrived=log.arrived,
            admitted=log.admitted,
            rejected=log.rejected,
            truncated=log.truncated,
            preemptions=log.preemptions,
            finished_total=len(log.finish_ps),
        ),
    )
