"""Request streams: how the requests of one workload arrive. Each kind is one class.

A scenario gives a workload's stream as a TOML table, ``stream = { kind = "poisson",
rate_per_s = 900 }``; ``kind`` picks the class from a registry and the other keys are its
fields. The simulator, the schedulers, the estimator and the throughput bound never ask
which class a stream is; they ask it three questions:

* :meth:`Stream.requests_in_flight`: a *closed* stream keeps this many requests
  outstanding (a finished request is reissued at once) and answers ``None`` otherwise;
* :meth:`Stream.offered_rate_per_s`: an *open* stream's long-run arrival rate in requests
  per second (``None`` for a closed stream, whose rate the schedule decides);
* :meth:`Stream.arrival_gaps_ps`: an open stream's gaps between successive arrivals in
  integer picoseconds (the first gap from time zero), drawn from the seeded numpy
  Generator the simulator hands it; the stream ends when the iterator does.

Streams driven by other workloads answer three more (the defaults fit every other kind):

* :meth:`Stream.upstream_workloads`: the workloads whose completed requests drive it; the
  simulator tells it of each such completion through
  :meth:`Stream.arrivals_on_completion` (how many requests to issue now);
* :meth:`Stream.bind`: the scenario hands it its upstreams' streams once all are
  validated, so that its rate (and its frame period) can follow theirs.

:meth:`Stream.frame_period_s` is the period of the frames a stream carries, the default
deadline of a frame (``None``: no natural deadline).

A new kind is a subclass with a ``kind: Literal["name"]`` field that answers them, made
known with :func:`register_stream_kind`. mcmsim calls these methods only through private
validating wrappers (``_arrival_gaps_ps`` and friends, as Ciw wraps ``sample`` in
``_sample``), so a negative, fractional or NaN gap, or a rate that is not a finite
positive number, raises :class:`StreamError` naming the kind and the value instead of
hanging or corrupting the simulation.

The built-in kinds:

``closed``
    ``in_flight`` requests always outstanding: measures saturation throughput.
``poisson``
    Exponential gaps of mean ``1 / rate_per_s``.
``gamma``
    Gamma-distributed gaps of mean ``1 / rate_per_s`` and coefficient of variation
    ``cv`` (standard deviation over mean): ``cv = 1`` is Poisson, ``cv > 1`` bursty,
    ``cv < 1`` more regular than Poisson.
``periodic``
    One request every ``1 / fps`` seconds from ``offset_ms``, as AR/VR pipelines run.
``cascade``
    A request of ``upstream`` that completes triggers one request of this workload with
    probability ``probability`` (a seeded draw per completion), as XRBench's dependent
    networks run: speech recognition after keyword detection, gaze estimation after eye
    segmentation. Its offered rate is the upstream's offered rate times the
    probability, and its frames carry the upstream's frame period. Only completions
    trigger: a dropped upstream frame triggers nothing.
``trace``
    Replays the ``arrival_s`` of the rows of a CSV file ``arrival_s,model`` that name the
    workload. Its rate is the reciprocal of its mean gap, ``(n - 1) / (last - first)``
    over its ``n`` arrivals: what the trace offers while it runs, whatever time it
    starts at. A trace therefore needs arrivals of the workload at two or more times.
``generation_trace``
    Replays the arrivals of a generation trace (``arrived_at,num_prefill_tokens,
    num_decode_tokens`` or ``TIMESTAMP,ContextTokens,GeneratedTokens``, see
    :mod:`mcmsim.workloads.generation_trace`), with the rate rule of ``trace``. A
    generation workload with ``trace = "file"`` gets this stream; its
    :attr:`~GenerationTraceStream.requests` hold the lengths too.

Gaps are rounded to whole picoseconds; Poisson and gamma gaps are at least 1 ps.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from mcmsim.ranges import (
    CoefficientOfVariation,
    InFlight,
    Name,
    OffsetMs,
    Probability,
    RatePerS,
)
from mcmsim.units import PS_PER_MS, PS_PER_S
from mcmsim.workloads.csv_records import (
    MAX_TRACE_TIME_PS,
    TraceError,
    csv_records,
    shown_field,
)
from mcmsim.workloads.generation_trace import GenerationTrace, read_generation_trace

__all__ = [
    "CascadeStream",
    "ClosedStream",
    "GammaStream",
    "GenerationTraceStream",
    "PeriodicStream",
    "PoissonStream",
    "Stream",
    "StreamError",
    "StreamField",
    "TraceStream",
    "parse_stream",
    "read_trace",
    "register_stream_kind",
    "stream_kind_class",
    "stream_kinds",
]


class StreamError(ValueError):
    """A stream gave a value mcmsim cannot use, or its data cannot be loaded.

    Attributes
    ----------
    kind : str
        The stream's kind.
    reason : str
        What is wrong, without the kind.
    value : object
        The offending value (``None`` when the problem is not one value).
    key : str or None
        The stream key the problem is about (``"file"`` for a trace), if any.
    """

    def __init__(
        self, kind: str, reason: str, value: object = None, key: str | None = None
    ) -> None:
        # All four in args: SimPy re-raises a process's exception as type(exc)(*exc.args).
        super().__init__(kind, reason, value, key)
        self.kind = kind
        self.reason = reason
        self.value = value
        self.key = key

    def __str__(self) -> str:
        return f"stream kind {self.kind!r}: {self.reason}"


class Stream(BaseModel):
    """Base of every stream kind; subclasses add ``kind: Literal[...]`` and their fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str

    def requests_in_flight(self) -> int | None:
        """Requests a closed stream keeps outstanding; ``None`` for an open stream."""
        return None

    def offered_rate_per_s(self) -> float | None:
        """An open stream's long-run arrival rate (requests/s); ``None`` if closed."""
        raise NotImplementedError(f"stream kind {self.kind!r} must define offered_rate_per_s")

    def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterable[int]:
        """Gaps between successive arrivals of an open stream, integer picoseconds >= 0.

        The first gap is from time zero. Draw randomness from ``rng`` only, so a seed
        gives the same arrivals.
        """
        raise NotImplementedError(f"stream kind {self.kind!r} must define arrival_gaps_ps")

    def frame_period_s(self) -> float | None:
        """Period of the frames the stream carries (the default frame deadline); ``None``
        for streams without one."""
        return None

    def upstream_workloads(self) -> tuple[str, ...]:
        """Names of the workloads whose completed requests drive this stream."""
        return ()

    def bind(self, upstreams: Mapping[str, Stream]) -> Stream:
        """The stream with its upstreams' (bound) streams known, by workload name.

        The scenario calls it once per stream, upstreams first. The default needs none.

        Raises
        ------
        StreamError
            If an upstream cannot drive this stream.
        """
        return self

    def arrivals_on_completion(self, upstream: str, rng: np.random.Generator) -> int:
        """Requests to issue now that a request of ``upstream`` completed (default 0)."""
        return 0

    def resolve(self, directory: Path, workload: str) -> Stream:
        """The stream ready to run for ``workload``: loads files named relative to
        ``directory`` (the scenario's folder). The default has nothing to load.

        Raises
        ------
        StreamError
            If the stream's data cannot be loaded.
        """
        return self

    @property
    def is_closed(self) -> bool:
        """Whether the stream keeps a fixed number of requests in flight."""
        return self._requests_in_flight() is not None

    # --- the validating wrappers mcmsim calls ----------------------------------------

    def _requests_in_flight(self) -> int | None:
        count = self.requests_in_flight()
        if count is None:
            return None
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
            raise StreamError(
                self.kind, f"requests in flight {count!r}: expected an integer >= 1", count
            )
        return int(count)

    def _offered_rate_per_s(self) -> float | None:
        rate = self.offered_rate_per_s()
        closed = self.is_closed
        if closed and rate is None:
            return None
        if closed:
            raise StreamError(
                self.kind, f"a closed stream offers no rate, but it gave {rate!r}", rate
            )
        if (
            isinstance(rate, bool)
            or not isinstance(rate, numbers.Real)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise StreamError(
                self.kind,
                f"offered rate {rate!r}: an open stream's rate must be a finite number > 0 "
                "(requests per second)",
                rate,
            )
        return float(rate)

    def _arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
        if self.is_closed:
            raise StreamError(self.kind, "a closed stream has no arrival gaps")
        for gap in self.arrival_gaps_ps(rng):
            if type(gap) is not int:
                gap = self._integral_gap(gap)
            if gap < 0:
                raise StreamError(
                    self.kind, f"arrival gap {gap!r}: gaps must be >= 0 picoseconds", gap
                )
            yield gap

    def _arrivals_on_completion(self, upstream: str, rng: np.random.Generator) -> int:
        count = self.arrivals_on_completion(upstream, rng)
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise StreamError(
                self.kind, f"arrivals on completion {count!r}: expected an integer >= 0", count
            )
        return int(count)

    def _integral_gap(self, gap: object) -> int:
        if isinstance(gap, bool) or not isinstance(gap, numbers.Integral):
            raise StreamError(
                self.kind,
                f"arrival gap {gap!r} ({type(gap).__name__}): gaps must be integers "
                "(picoseconds); round them",
                gap,
            )
        return int(gap)


class ClosedStream(Stream):
    """``in_flight`` requests always outstanding: measures saturation throughput."""

    kind: Literal["closed"]
    in_flight: InFlight = 1

    def requests_in_flight(self) -> int:
        return self.in_flight

    def offered_rate_per_s(self) -> None:
        return None


class PoissonStream(Stream):
    """Poisson arrivals: exponential gaps of mean ``1 / rate_per_s``."""

    kind: Literal["poisson"]
    rate_per_s: RatePerS

    def offered_rate_per_s(self) -> float:
        return self.rate_per_s

    def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
        mean_gap_ps = PS_PER_S / self.rate_per_s
        while True:
            yield max(round(rng.exponential(mean_gap_ps)), 1)


class GammaStream(Stream):
    """Gamma-distributed gaps: mean ``1 / rate_per_s``, coefficient of variation ``cv``.

    ``cv = 1`` is Poisson; ``cv > 1`` gives bursts (and longer queues, by Kingman's
    formula), ``cv < 1`` arrivals more regular than Poisson.
    """

    kind: Literal["gamma"]
    rate_per_s: RatePerS
    cv: CoefficientOfVariation = 1.0

    def offered_rate_per_s(self) -> float:
        return self.rate_per_s

    def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
        # Shape k and scale theta: mean k theta, cv 1 / sqrt(k).
        shape = 1.0 / self.cv**2
        scale_ps = PS_PER_S / self.rate_per_s * self.cv**2
        while True:
            yield max(round(rng.gamma(shape, scale_ps)), 1)


class PeriodicStream(Stream):
    """Fixed frame rate, as AR/VR pipelines run; ``offset_ms`` shifts the first frame."""

    kind: Literal["periodic"]
    fps: RatePerS
    offset_ms: OffsetMs = 0.0

    def offered_rate_per_s(self) -> float:
        return self.fps

    def frame_period_s(self) -> float:
        return 1.0 / self.fps

    def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
        # Frame k is due at offset + round(k period): rounding never accumulates.
        period_ps = PS_PER_S / self.fps
        offset_ps = round(self.offset_ms * PS_PER_MS)
        previous_ps = 0
        for k in itertools.count():
            due_ps = offset_ps + round(k * period_ps)
            yield due_ps - previous_ps
            previous_ps = due_ps


class CascadeStream(Stream):
    """Triggered by completions of ``upstream``: each fires one request with
    probability ``probability``, drawn from the simulator's seeded generator."""

    kind: Literal["cascade"]
    upstream: Name
    probability: Probability = 1.0
    _upstream_rate_per_s: float | None = PrivateAttr(default=None)
    _upstream_period_s: float | None = PrivateAttr(default=None)

    def upstream_workloads(self) -> tuple[str, ...]:
        return (self.upstream,)

    def bind(self, upstreams: Mapping[str, Stream]) -> CascadeStream:
        upstream = upstreams[self.upstream]
        rate = upstream._offered_rate_per_s()
        if rate is None:
            raise StreamError(
                self.kind,
                f"upstream {self.upstream!r} has a closed stream, whose rate the schedule "
                "decides; a cascade needs an open upstream (periodic, poisson, ...)",
                self.upstream,
                key="upstream",
            )
        bound = self.model_copy()
        bound._upstream_rate_per_s = rate
        bound._upstream_period_s = upstream.frame_period_s()
        return bound

    def offered_rate_per_s(self) -> float:
        if self._upstream_rate_per_s is None:
            raise StreamError(self.kind, f"upstream {self.upstream!r} not bound: call bind()")
        return self._upstream_rate_per_s * self.probability

    def frame_period_s(self) -> float | None:
        return self._upstream_period_s

    def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
        return iter(())

    def arrivals_on_completion(self, upstream: str, rng: np.random.Generator) -> int:
        return int(rng.random() < self.probability)


class TraceStream(Stream):
    """Replay a CSV with columns ``arrival_s,model`` (rows of other models are skipped).

    The rate is the reciprocal of the mean gap, ``(n - 1) / (last - first)``.
    """

    kind: Literal["trace"]
    file: str
    _arrivals_s: tuple[float, ...] | None = PrivateAttr(default=None)

    @property
    def arrivals_s(self) -> tuple[float, ...]:
        """Sorted arrival times of the workload (seconds), once :meth:`resolve` read them."""
        if self._arrivals_s is None:
            raise StreamError(self.kind, f"{self.file} has not been read: call resolve()")
        return self._arrivals_s

    def resolve(self, directory: Path, workload: str) -> Self:
        path = Path(self.file)
        path = path if path.is_absolute() else directory / path
        resolved = self.model_copy()
        try:
            arrivals = resolved._read(path, workload)
        except ValueError as exc:
            raise StreamError(self.kind, str(exc), key="file") from None
        if len(set(arrivals)) < 2:
            raise StreamError(
                self.kind,
                f"{path} has {len(arrivals)} arrivals of {workload!r} at "
                f"{len(set(arrivals))} distinct times; a trace needs two or more times "
                "to define its rate",
                key="file",
            )
        resolved._arrivals_s = arrivals
        return resolved

    def _read(self, path: Path, workload: str) -> tuple[float, ...]:
        """The workload's sorted arrival times in ``path`` (ValueError if malformed)."""
        return read_trace(path, workload)

    def offered_rate_per_s(self) -> float:
        arrivals = self.arrivals_s
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

    def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
        previous_ps = 0
        for arrival_s in self.arrivals_s:
            due_ps = round(arrival_s * PS_PER_S)
            yield max(due_ps - previous_ps, 0)
            previous_ps = max(due_ps, previous_ps)


class GenerationTraceStream(TraceStream):
    """Replay the arrivals of a generation trace (every row is a request of the workload).

    The rate is the reciprocal of the mean gap, as for ``trace``.
    """

    kind: Literal["generation_trace"]  # type: ignore[assignment]
    _requests: GenerationTrace | None = PrivateAttr(default=None)

    @property
    def requests(self) -> GenerationTrace:
        """Every row's arrival and lengths, once :meth:`resolve` read them."""
        if self._requests is None:
            raise StreamError(self.kind, f"{self.file} has not been read: call resolve()")
        return self._requests

    def _read(self, path: Path, workload: str) -> tuple[float, ...]:
        self._requests = read_generation_trace(path)
        return tuple((self._requests.arrivals_ps / PS_PER_S).tolist())


def read_trace(path: Path, model: str) -> tuple[float, ...]:
    """Arrival times (seconds, sorted) of ``model`` in a ``arrival_s,model`` CSV.

    Raises
    ------
    TraceError
        For a missing, unreadable or malformed file, a malformed row, or a time that is
        negative, not finite or later than ``MAX_TRACE_TIME_PS``; the message gives the
        file and the line.
    """
    arrivals: list[float] = []
    for number, row in csv_records(path):
        if not row or row[0].strip().startswith("#"):
            continue
        if number == 1 and row[0].strip() == "arrival_s":
            continue
        if len(row) != 2:
            raise TraceError(f"{path}:{number}: expected 2 columns arrival_s,model, got {len(row)}")
        try:
            arrival = float(row[0])
        except ValueError:
            raise TraceError(
                f"{path}:{number}: arrival_s {shown_field(row[0])} is not a number"
            ) from None
        if not math.isfinite(arrival) or not 0 <= arrival * PS_PER_S <= MAX_TRACE_TIME_PS:
            latest_s = MAX_TRACE_TIME_PS // PS_PER_S
            raise TraceError(
                f"{path}:{number}: arrival_s must be a time from 0 to {latest_s:,} s "
                f"(about 11.6 days), got {shown_field(row[0], quoted=False)}"
            )
        if row[1].strip() == model:
            arrivals.append(arrival)
    return tuple(sorted(arrivals))


# --- the registry -----------------------------------------------------------------------

_KINDS: dict[str, type[Stream]] = {}
_S = TypeVar("_S", bound=type[Stream])


def register_stream_kind(cls: _S, *, replace: bool = False) -> _S:
    """Make a :class:`Stream` subclass available as ``stream = { kind = "..." }``.

    Usable as a class decorator. The kind is the one value of the class's
    ``kind: Literal[...]`` field.

    Raises
    ------
    TypeError
        If ``cls`` is not a Stream subclass with a one-value ``Literal`` kind.
    ValueError
        If another class has the kind and ``replace`` is false.
    """
    if not (isinstance(cls, type) and issubclass(cls, Stream)):
        raise TypeError(f"{cls!r} is not a subclass of mcmsim Stream")
    values = get_args(cls.model_fields["kind"].annotation)
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{cls.__name__} needs a field kind: Literal['<name>']")
    kind = values[0]
    if _KINDS.get(kind, cls) is not cls and not replace:
        raise ValueError(f"stream kind {kind!r} is already {_KINDS[kind].__name__}")
    _KINDS[kind] = cls
    return cls


def stream_kind_class(kind: str) -> type[Stream] | None:
    """The class registered for ``kind``, or None."""
    return _KINDS.get(kind)


def stream_kinds() -> tuple[str, ...]:
    """Names of the registered stream kinds, sorted."""
    return tuple(sorted(_KINDS))


def parse_stream(data: Mapping[str, Any]) -> Stream:
    """The stream a table such as ``{"kind": "poisson", "rate_per_s": 900}`` describes.

    Raises
    ------
    StreamError
        If ``kind`` is missing or not registered.
    pydantic.ValidationError
        If the other keys do not fit the kind.
    """
    kind = data.get("kind")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(stream_kinds())
        what = "no kind given" if kind is None else f"unknown stream kind {kind!r}"
        raise StreamError(str(kind), f"{what}; known kinds: {known}", kind, key="kind")
    return cls.model_validate(dict(data))


def _validate_stream(value: Any) -> Stream:
    """pydantic validator of a stream field; nested errors travel in ``ctx["errors"]``."""
    if isinstance(value, Stream):
        return value
    if not isinstance(value, Mapping):
        raise PydanticCustomError("stream_type", "expected a table with a kind key")
    try:
        return parse_stream(value)
    except StreamError as exc:
        raise PydanticCustomError(
            "stream_kind",
            "{message}",
            {"message": exc.reason, "errors": [{"loc": ("kind",), "msg": exc.reason}]},
        ) from None
    except ValidationError as exc:
        raise PydanticCustomError(
            "stream_invalid",
            "{summary}",
            {"summary": str(exc), "errors": exc.errors(include_url=False)},
        ) from None


StreamField = Annotated[SerializeAsAny[Stream], PlainValidator(_validate_stream)]
"""A pydantic field type for a stream table, validated through the registry."""

for _cls in (
    ClosedStream,
    PoissonStream,
    GammaStream,
    PeriodicStream,
    CascadeStream,
    TraceStream,
    GenerationTraceStream,
):
    register_stream_kind(_cls)
