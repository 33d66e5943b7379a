"""Results: what a run measured, as typed, immutable parts.

A :class:`Results` is built once (by :func:`mcmsim.metrics.summary.summarize`) from
typed parts: the run's identity and measured window (:class:`RunInfo`), the headline
numbers, the energy split (:class:`EnergyBreakdown`), request counts, one
:class:`ModelResults` per model and one part per resource (:class:`ChipletResults`,
:class:`ResourceResults` for NoP links and DRAM interfaces). What is known only later
— the LP bound (:class:`OptimalityBound`) and a search's report — is added by copying
with :func:`dataclasses.replace`, never by mutation.

Every part's field names are its keys in results.json, so a part reads both ways:
``results.models["resnet50"].latency_s.p99`` and
``results.models["resnet50"]["latency_s"]["p99"]``; ``results["throughput_per_s"]``
reads any top-level key of :meth:`Results.to_dict`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mcmsim.metrics.activity import Activity, TraceEvent

if TYPE_CHECKING:
    from mcmsim.metrics.generation import GenerationResults

__all__ = [
    "BoundDetail",
    "ChipletResults",
    "DeadlineResults",
    "EnergyBreakdown",
    "LatencySummary",
    "ModelResults",
    "NormalizedModel",
    "ObjectiveResults",
    "OptimalityBound",
    "ReadOnlyMap",
    "RequestCounts",
    "ResourceResults",
    "Results",
    "RunInfo",
    "SloResults",
]

V = TypeVar("V")


class ReadOnlyMap(Mapping[str, V]):
    """An immutable, picklable mapping in insertion order (resource or model name -> part)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        self._items: dict[str, V] = dict(items)

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"ReadOnlyMap({self._items!r})"


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready builtins: parts and mappings become dicts, tuples lists."""
    if isinstance(value, _Part):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


class _Part:
    """A frozen dataclass whose field names are its keys in results.json."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            raise KeyError(key)
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        """The part as results.json holds it."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LatencySummary(_Part):
    """Request latency in seconds: mean, exact nearest-rank quantiles and the maximum
    (see :mod:`mcmsim.metrics.quantiles`)."""

    mean: float
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class SloResults(_Part):
    """One model's latency SLO over the measured window (see :mod:`mcmsim.metrics.objectives`).

    ``within_target`` requests of the window completed within ``latency_ms``;
    ``attainment`` is their share, ``met`` whether it reaches ``percentile`` / 100, and
    ``goodput_per_s`` the inferences per second of those requests.
    """

    latency_ms: float
    percentile: float
    within_target: int
    attainment: float
    met: bool
    goodput_per_s: float


@dataclass(frozen=True, slots=True)
class DeadlineResults(_Part):
    """How one model's frames fared against their deadline (``models.<name>.deadline``).

    Defined in :mod:`mcmsim.metrics.deadlines`: frames judged, on time, late (completed
    after the deadline or still running past it), dropped (``late_policy = "drop"``),
    ``miss_rate = (late + dropped) / frames``, p50/p95/p99/max latency of the late
    frames that completed (empty if none), and XRBench's real-time score (0 to 1).
    """

    deadline_s: float
    late_policy: str
    frames: int
    on_time: int
    late: int
    dropped: int
    miss_rate: float | None
    drop_rate: float | None
    late_latency_s: Mapping[str, float]
    realtime_score: float | None


@dataclass(frozen=True, slots=True)
class ModelResults(_Part):
    """One model's requests in the measured window (``*_total`` and ``arrived``: whole run).

    ``generation`` holds the serving metrics of a generation workload (see
    :mod:`mcmsim.metrics.generation`); a generation request's inferences are its output
    tokens.

    ``offered_per_s`` is an open stream's offered rate in inferences/s (``None`` for a
    closed stream): requests/s times the inferences of a completed request (the batch;
    for a generation workload the mean output tokens). ``served_per_s`` equals
    ``throughput_per_s``, named to be read next to it. ``stable`` is the verdict of
    :mod:`mcmsim.metrics.stability` for an open stream, ``None`` for a closed one or in
    batch mode. ``steady_state`` says whether the interval and quantiles describe a
    steady state (``False`` when any open stream of the run is unstable; ``None`` in
    batch mode, which measures one batch). ``throughput_ci95_per_s`` is ``None`` when
    there is no interval, and ``throughput_ci95_note`` then says why (for example
    ``"3 batches"``).
    """

    arrived: int
    completed: int
    completed_total: int
    in_flight_at_end: int
    inferences: int
    throughput_per_s: float
    requests_per_s: float
    offered_per_s: float | None
    served_per_s: float
    stable: bool | None
    steady_state: bool | None
    throughput_ci95_per_s: tuple[float, float] | None
    throughput_ci95_note: str | None
    latency_s: LatencySummary
    mean_in_system: float
    energy_per_inference_j: float
    slo: SloResults | None = None
    deadline: DeadlineResults | None = None
    generation: GenerationResults | None = None


@dataclass(frozen=True, slots=True)
class ChipletResults(_Part):
    """One chiplet: its type, how busy it was in the window, and its weights.

    ``occupancy`` is the share of the window the chiplet was held (DRAM stalls
    included), ``compute_activity`` the share its array computed; ``utilization`` is
    ``occupancy`` under its historical name.
    """

    type: str
    utilization: float
    occupancy: float
    compute_activity: float
    resident_weight_bytes: int
    streamed_weight_bytes: int


@dataclass(frozen=True, slots=True)
class ResourceResults(_Part):
    """One NoP link or DRAM interface: how busy, bytes carried, mean wait per transfer.

    ``busy_share`` is the share of the window any transfer was under way (``utilization``
    under its historical name); ``bandwidth_utilization`` the bytes moved over what its
    bandwidth could have moved in the window.
    """

    utilization: float
    busy_share: float
    bandwidth_utilization: float
    bytes: int
    mean_wait_s: float


@dataclass(frozen=True, slots=True)
class EnergyBreakdown(_Part):
    """Energy of the measured window in joules; ``total`` is the sum of the others."""

    compute: float
    sram: float
    nop: float
    dram: float
    static: float
    total: float = field(init=False)

    def __post_init__(self) -> None:
        parts = (self.compute, self.sram, self.nop, self.dram, self.static)
        object.__setattr__(self, "total", float(sum(parts)))


@dataclass(frozen=True, slots=True)
class RequestCounts(_Part):
    """Requests of all models over the whole run."""

    arrived: int
    completed: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Which run this is, why it stopped and which window of simulated time it measured.

    ``stop_reason`` is ``"requests"`` (the stopping rule of
    :mod:`mcmsim.sim.stopping` was met), ``"max_time_s"``, ``"stream ended"``,
    ``"starvation cap"``, ``"arrivals ended"``, ``"batch done"``, or a budget of that module:
    ``"backlog bound"`` or ``"event budget"``; ``min_requests_per_model`` is the
    per-model minimum the rule applied (``None`` in batch mode). ``warmup_rule`` says
    how the warm-up was chosen: ``"mser5"``, ``"none: scenario"``,
    ``"none: unstable run"`` or ``"none: batch mode"``.
    """

    scenario: str
    scheduler: str
    seed: int
    mode: str
    warmup_s: float
    measured_s: float
    makespan_s: float | None
    simulated_events: int
    stop_reason: str
    min_requests_per_model: int | None
    warmup_rule: str


@dataclass(frozen=True, slots=True)
class BoundDetail(_Part):
    """What makes up ``optimality_ratio`` (results.json's ``bound``).

    ``closed_scale`` is how many times the closed streams' measured mix the LP serves
    (``closed_ratio`` about its reciprocal; both None without closed streams),
    ``open_service_ratio`` each open stream's served / offered (at most 1),
    ``open_capacity_scale`` how many times the open streams' offered load the package
    carries at best (None without open streams), ``binding`` what sets the ratio. The
    ratio is the least of ``closed_ratio`` and each service ratio over
    ``min(1, open_capacity_scale)`` (see :mod:`mcmsim.search.bound`).
    """

    closed_scale: float | None
    closed_ratio: float | None
    open_service_ratio: Mapping[str, float]
    open_capacity_scale: float | None
    binding: str


@dataclass(frozen=True, slots=True)
class OptimalityBound:
    """The LP upper bound on throughput, the makespan lower bound and the optimality ratio.

    In stream mode the ratio is achieved / bound when every stream is closed; with open
    streams it is also at most each open stream's served / offered (see
    :mod:`mcmsim.search.bound`); both are None when the bound is unbounded. In batch
    mode the ratio is ``makespan_lower_bound_s / makespan_s`` (see
    :mod:`mcmsim.search.makespan_bound`); ``makespan_lower_bound_s`` is None in stream
    mode.
    """

    throughput_upper_bound_per_s: float | None
    optimality_ratio: float | None
    detail: BoundDetail | None = None
    makespan_lower_bound_s: float | None = None


@dataclass(frozen=True, slots=True)
class NormalizedModel(_Part):
    """One model against its reference rate (see :mod:`mcmsim.metrics.objectives`).

    The rate and the ratios are None when the reference is not finite and positive.
    """

    reference_rate_per_s: float | None
    reference: str
    weight: float
    normalized_throughput: float | None
    normalized_goodput: float | None


@dataclass(frozen=True, slots=True)
class ObjectiveResults(_Part):
    """Every named objective's value, and each model's normalised throughput and goodput.

    In results.json the values sit beside ``models``: ``objectives["slo_goodput"]``.
    """

    values: Mapping[str, float | None]
    models: Mapping[str, NormalizedModel]

    def __getitem__(self, key: str) -> Any:
        return self.models if key == "models" else self.values[key]

    def to_dict(self) -> dict[str, Any]:
        return {**_plain(self.values), "models": _plain(self.models)}


@dataclass(frozen=True)
class Results:
    """Everything a run measured; :meth:`to_dict` is the content of results.json.

    ``throughput_per_s`` (kept for compatibility) and ``throughput_sum_all_models_per_s``
    are the same number: inferences per second *added over all models*, unlike units
    that nothing ranks by; ``objectives`` holds the numbers that rank schedules.

    ``stable`` is ``False`` when any open stream is unstable (see
    :mod:`mcmsim.metrics.stability`), ``True`` otherwise in stream mode (closed streams
    are stable by construction), ``None`` in batch mode.

    ``records`` (per-request arrival, completion, inferences and energy) are present
    when the run kept records or activity; ``activity`` (every execution and transfer,
    see :mod:`mcmsim.metrics.activity`) only when it kept activity, and ``events`` and
    ``queue_samples`` expand it into one interval per layer, stall and transfer; ``bound`` and
    ``objectives`` are set by :func:`mcmsim.simulate`, ``search`` (the search report)
    by the local search.
    """

    run: RunInfo
    stable: bool | None
    throughput_per_s: float
    latency_mean_s: float
    energy_per_inference_j: float
    edp_j_s: float
    energy_j: EnergyBreakdown
    requests: RequestCounts
    models: Mapping[str, ModelResults]
    chiplets: Mapping[str, ChipletResults]
    links: Mapping[str, ResourceResults]
    dram: Mapping[str, ResourceResults]
    bound: OptimalityBound | None = None
    objectives: ObjectiveResults | None = None
    search: Mapping[str, Any] | None = None
    realtime_score: float | None = None
    records: np.ndarray | None = field(default=None, compare=False, repr=False)
    activity: Activity | None = field(default=None, compare=False, repr=False)

    @cached_property
    def events(self) -> list[TraceEvent]:
        """Every interval of the run (empty without activity records)."""
        return self.activity.trace_events() if self.activity is not None else []

    @cached_property
    def queue_samples(self) -> list[tuple[int, str, int]]:
        """``(time_ps, chiplet track, queue length)`` (empty without activity records)."""
        return self.activity.queue_samples() if self.activity is not None else []

    def _top_level(self) -> dict[str, Any]:
        """results.json's top-level keys, in order, with their (typed) values."""
        run = self.run
        top: dict[str, Any] = {
            "scenario": run.scenario,
            "scheduler": run.scheduler,
            "seed": run.seed,
            "mode": run.mode,
            "stable": self.stable,
            "stop_reason": run.stop_reason,
            "min_requests_per_model": run.min_requests_per_model,
            "warmup_rule": run.warmup_rule,
            "warmup_s": run.warmup_s,
            "measured_s": run.measured_s,
            "makespan_s": run.makespan_s,
            "throughput_per_s": self.throughput_per_s,
            "throughput_sum_all_models_per_s": self.throughput_per_s,
            "latency_mean_s": self.latency_mean_s,
            "energy_per_inference_j": self.energy_per_inference_j,
            "edp_j_s": self.edp_j_s,
            "energy_j": self.energy_j,
            "simulated_events": run.simulated_events,
            "requests": self.requests,
            "models": self.models,
            "chiplets": self.chiplets,
            "links": self.links,
            "dram": self.dram,
        }
        if self.realtime_score is not None:
            top["realtime_score"] = self.realtime_score
        if self.bound is not None:
            top["throughput_upper_bound_per_s"] = self.bound.throughput_upper_bound_per_s
            if self.bound.makespan_lower_bound_s is not None:
                top["makespan_lower_bound_s"] = self.bound.makespan_lower_bound_s
            top["optimality_ratio"] = self.bound.optimality_ratio
            if self.bound.detail is not None:
                top["bound"] = self.bound.detail
        if self.objectives is not None:
            top["objectives"] = self.objectives
        if self.search is not None:
            top["search"] = self.search
        return top

    def __getitem__(self, key: str) -> Any:
        return self._top_level()[key]

    def to_dict(self) -> dict[str, Any]:
        """A fresh dict of plain builtins: the content of results.json."""
        return {key: _plain(value) for key, value in self._top_level().items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)
