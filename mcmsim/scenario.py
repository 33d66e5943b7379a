"""Scenarios: one TOML file describes a whole experiment, validated with pydantic.

A scenario names the chiplet types, places them on the package mesh, sets the NoP and
DRAM, lists the workloads (zoo models, ONNX files or small inline models) with their
request streams, picks the scheduler and sets the simulation. Defaults come from SCAR's
Table II (DESIGN.md section 3), so a short file is enough.

Every problem is reported with the file, the line, the dotted key path and what was
expected, all at once, as a :class:`ScenarioError`::

    scenarios/x.toml:12: package.chiplet_types.nvdla.pes: Input should be greater than 0
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from mcmsim.hardware.chiplet import ChipletType
from mcmsim.hardware.dataflow import PRESETS, Dataflow
from mcmsim.hardware.leakage import DEFAULT_LEAKAGE, LEAKAGE_PRESETS
from mcmsim.hardware.package import Chiplet, DramInterface, NopConfig, Package
from mcmsim.inputs import Diagnostic, InputFileError, read_input_text
from mcmsim.ranges import (
    MAX_PES,
    ArraySide,
    BandwidthGBPerS,
    Batch,
    BytesPerCycle,
    BytesPerElement,
    Count,
    DurationMs,
    ElementCount,
    EnergyPJ,
    FrequencyMHz,
    LatencyNs,
    LayerDim,
    LeakageMW,
    Name,
    Padding,
    PeBufferElems,
    Percentile,
    PEs,
    Reference,
    Seed,
    SimulatedTimeS,
    SizeMiB,
    Tokens,
    Weight,
)
from mcmsim.suggest import valid_names_hint
from mcmsim.units import PS_PER_MS, PS_PER_S
from mcmsim.workloads import builders
from mcmsim.workloads.decoder import decoder_config, decoder_for
from mcmsim.workloads.generation import Generation, GenerationSpec
from mcmsim.workloads.maestro_import import is_maestro_ref, load_maestro_ref, maestro_ref_label
from mcmsim.workloads.model import Model, ModelBuilder
from mcmsim.workloads.streams import (
    CascadeStream,
    ClosedStream,
    GammaStream,
    GenerationTraceStream,
    PeriodicStream,
    PoissonStream,
    Stream,
    StreamError,
    StreamField,
    TraceStream,
    stream_kind_class,
)
from mcmsim.workloads.suites import NetworkOverride, SuiteError, expand_suite
from mcmsim.workloads.zoo import UnknownModelError, get_model

__all__ = [
    "MAX_NESTING_DEPTH",
    "RENAMED_KEYS",
    "CascadeStream",
    "ChipletTypeSpec",
    "ClosedStream",
    "DataflowSpec",
    "DeprecatedKeyWarning",
    "GammaStream",
    "KeyLocations",
    "PeriodicStream",
    "PoissonStream",
    "Scenario",
    "ScenarioError",
    "SloSpec",
    "Stream",
    "TraceStream",
    "Workload",
    "WorkloadSpec",
    "build_scenario",
    "current_key",
    "deprecation_message",
    "key_lines",
    "line_of",
    "load_scenario",
    "locate_keys",
    "parse_scenario",
    "parse_toml",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)
MIB = 1 << 20

# Old key path -> current one. ``*_gbps`` read as gigabits; the unit is gigabytes per second.
RENAMED_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "nop.link_bandwidth_gbps": "nop.link_bandwidth_gb_per_s",
        "dram.bandwidth_gbps": "dram.bandwidth_gb_per_s",
    }
)


class DeprecatedKeyWarning(FutureWarning):
    """A scenario key under its old name: still read, and the message gives the new one.

    A :class:`FutureWarning` so that Python shows it to users by default.
    """


def current_key(path: str) -> str:
    """The current name of the dotted key ``path`` (``path`` itself unless renamed)."""
    return RENAMED_KEYS.get(path, path)


def deprecation_message(old: str) -> str:
    """The one-line notice for the renamed key ``old``."""
    return f"{old} is deprecated: use {RENAMED_KEYS[old]} (the same value, in GB/s)"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; ``str()`` is one line per problem."""

    def __init__(self, problems: list[Diagnostic]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnrollSpec(BaseModel):
    """A cluster: ``size`` consecutive values of ``dim`` on ``size`` PEs of an axis."""

    model_config = _STRICT
    dim: str
    size: ArraySide


class DataflowSpec(BaseModel):
    """A dataflow written in the scenario (see :mod:`mcmsim.hardware.dataflow`)."""

    model_config = _STRICT
    name: str | None = None
    spatial_rows: list[str | UnrollSpec] = []
    spatial_cols: list[str | UnrollSpec] = []
    spatial: list[str | UnrollSpec] = []
    stationary: Literal["weights", "inputs", "outputs", "rows"]
    feed: Literal["broadcast", "systolic"] = "broadcast"
    pe_buffer: PeBufferElems | None = None

    def build(self, name: str) -> Dataflow:
        def unrolls(entries: list[str | UnrollSpec]) -> list[Any]:
            return [e if isinstance(e, str) else e.model_dump() for e in entries]

        return Dataflow(
            name=self.name or name,
            spatial_rows=unrolls(self.spatial_rows),
            spatial_cols=unrolls(self.spatial_cols),
            spatial=unrolls(self.spatial),
            stationary=self.stationary,
            feed=self.feed,
            pe_buffer=self.pe_buffer,
        )


class ChipletTypeSpec(BaseModel):
    """A chiplet type; give ``pes`` (a square array) or ``rows`` and ``cols``.

    ``dataflow`` is a preset name or an inline description. The default L2 bandwidth is
    what the dataflow consumes and produces per cycle at full rate
    (:meth:`~mcmsim.hardware.dataflow.Dataflow.full_rate_elems_per_cycle`, one byte per
    element). ``leakage`` names a preset of :mod:`mcmsim.hardware.leakage`;
    ``leakage_mw`` overrides it with a figure of your own.
    """

    model_config = _STRICT
    dataflow: str | DataflowSpec
    pes: PEs | None = None
    rows: ArraySide | None = None
    cols: ArraySide | None = None
    sram_mib: SizeMiB = 10.0
    sram_bw_bytes_per_cycle: BytesPerCycle | None = Field(
        None, description="default: what the dataflow needs per cycle at full rate"
    )
    freq_mhz: FrequencyMHz = 500.0
    # 28 nm int8 MAC; SRAM per bit keeps MAESTRO's ratio of one L2 access to 18.61 MACs.
    mac_energy_pj: Annotated[EnergyPJ, Field(gt=0)] = 0.1
    sram_energy_pj_per_bit: Annotated[EnergyPJ, Field(gt=0)] = 18.61 * 0.1 / 8
    leakage: str = DEFAULT_LEAKAGE
    leakage_mw: LeakageMW | None = Field(None, description="overrides the leakage preset")
    fusion: bool = True

    @model_validator(mode="after")
    def _shape(self) -> ChipletTypeSpec:
        if (self.rows is None) != (self.cols is None):
            given = "rows" if self.cols is None else "cols"
            raise ValueError(
                f"{given} without {'cols' if given == 'rows' else 'rows'}: give rows and cols, "
                "or pes alone for a square array"
            )
        if self.pes is None and self.rows is None:
            raise ValueError("give pes, or rows and cols")
        if self.rows is not None and self.cols is not None and self.rows * self.cols > MAX_PES:
            raise ValueError(
                f"rows x cols = {self.rows * self.cols} PEs exceeds {MAX_PES} (2**24) per chiplet"
            )
        if self.pes is not None and self.rows is None and self.cols is None:
            side = math.isqrt(self.pes)
            if side * side != self.pes:
                raise ValueError(f"pes = {self.pes} is not a square; give rows and cols")
        if self.pes is not None and self.rows and self.cols and self.rows * self.cols != self.pes:
            raise ValueError(f"rows x cols = {self.rows * self.cols} differs from pes = {self.pes}")
        if self.leakage not in LEAKAGE_PRESETS:
            raise ValueError(
                f"unknown leakage preset {self.leakage!r}; known: {', '.join(LEAKAGE_PRESETS)}"
            )
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows or math.isqrt(self.pes or 0), self.cols or math.isqrt(self.pes or 0))

    def build_dataflow(self, name: str) -> Dataflow:
        """The dataflow description (:class:`ChipletType` checks that it fits the array).

        Raises
        ------
        ValueError
            For an unknown preset or an invalid description.
        """
        if isinstance(self.dataflow, str):
            if self.dataflow not in PRESETS:
                raise ValueError(
                    f"unknown dataflow {self.dataflow!r}; known: {', '.join(PRESETS)}, "
                    "or an inline table"
                )
            return PRESETS[self.dataflow]
        return self.dataflow.build(name)

    def build(self, name: str) -> ChipletType:
        rows, cols = self.shape
        dataflow = self.build_dataflow(name)
        leakage_mw = (
            self.leakage_mw
            if self.leakage_mw is not None
            else LEAKAGE_PRESETS[self.leakage].chiplet_mw(self.sram_mib, rows * cols)
        )
        return ChipletType(
            name=name,
            dataflow=dataflow,
            rows=rows,
            cols=cols,
            sram_bytes=int(self.sram_mib * MIB),
            sram_bw_bytes_per_cycle=self.sram_bw_bytes_per_cycle
            or dataflow.full_rate_elems_per_cycle(rows, cols),
            freq_hz=int(self.freq_mhz * 1e6),
            mac_energy_pj=self.mac_energy_pj,
            sram_energy_pj_per_bit=self.sram_energy_pj_per_bit,
            leakage_w=leakage_mw / 1000.0,
            fusion=self.fusion,
        )


class PackageSpec(BaseModel):
    """The mesh: ``layout`` gives the chiplet type name at each row and column."""

    model_config = _STRICT
    chiplet_types: dict[Name, ChipletTypeSpec] = Field(min_length=1)
    layout: list[Annotated[list[Name], Field(min_length=1)]] = Field(min_length=1)


class NopSpec(BaseModel):
    """Every directed NoP link: bandwidth in gigabytes (10**9 bytes) per second."""

    model_config = _STRICT
    link_bandwidth_gb_per_s: BandwidthGBPerS = 100.0
    hop_latency_ns: LatencyNs = 35.0
    energy_pj_per_bit: EnergyPJ = 2.04


class DramSpec(BaseModel):
    """DRAM: total bandwidth split evenly over the interfaces (default: both ends of every row).

    ``bandwidth_gb_per_s`` is gigabytes (10**9 bytes) per second, over all interfaces.
    ``policy`` says where a chiplet's DRAM bytes go: ``"interleaved"`` over every
    interface, or only its ``"nearest"`` one (see :mod:`mcmsim.hardware.package`).
    """

    model_config = _STRICT
    bandwidth_gb_per_s: BandwidthGBPerS = 64.0
    latency_ns: LatencyNs = 200.0
    energy_pj_per_bit: EnergyPJ = 14.8
    interfaces: list[tuple[int, int]] | None = Field(
        None, min_length=1, description="(row, col) of each interface; at least one"
    )
    policy: Literal["interleaved", "nearest"] = "interleaved"


class LayerSpec(BaseModel):
    """An inline layer: ``op`` picks the builder in :mod:`mcmsim.workloads.builders`."""

    model_config = _STRICT
    name: Name
    op: Literal["conv2d", "matmul", "elementwise", "pool", "norm", "softmax"]
    inputs: list[Name] | None = None
    # conv2d / pool
    c_in: LayerDim | None = None
    c_out: LayerDim | None = None
    h_in: LayerDim | None = None
    w_in: LayerDim | None = None
    kernel: LayerDim | None = None
    stride: LayerDim = 1
    pad: Padding = 0
    groups: LayerDim = 1
    # matmul
    m: LayerDim | None = None
    k: LayerDim | None = None
    n: LayerDim | None = None
    heads: LayerDim = 1
    weights: bool = True
    # elementwise / norm / softmax
    elems: ElementCount | None = None

    _NEEDS = {
        "conv2d": ("c_in", "c_out", "h_in", "w_in", "kernel"),
        "pool": ("c_in", "h_in", "w_in", "kernel"),
        "matmul": ("m", "k", "n"),
        "elementwise": ("elems",),
        "norm": ("elems",),
        "softmax": ("elems",),
    }

    @model_validator(mode="after")
    def _complete(self) -> LayerSpec:
        missing = [f for f in self._NEEDS[self.op] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"op {self.op!r} needs {', '.join(missing)}")
        return self

    def build(self):
        if self.op == "conv2d":
            return builders.conv2d(
                self.name,
                self.c_in,
                self.c_out,
                self.h_in,
                self.w_in,
                self.kernel,
                self.stride,
                self.pad,
                self.groups,
            )
        if self.op == "pool":
            return builders.pool(
                self.name, self.c_in, self.h_in, self.w_in, self.kernel, self.stride, self.pad
            )
        if self.op == "matmul":
            return builders.matmul(
                self.name, self.m, self.k, self.n, heads=self.heads, weights=self.weights
            )
        if self.op == "elementwise":
            return builders.elementwise(self.name, self.elems, inputs=len(self.inputs or [None]))
        if self.op == "norm":
            return builders.norm(self.name, self.elems, 1, affine=False)
        return builders.softmax(self.name, self.elems)


class SloSpec(BaseModel):
    """A latency service-level objective: ``percentile`` % of requests within ``latency_ms``.

    A request is *good* when its latency (arrival to completion) is at most
    ``latency_ms``; the SLO is met when the share of good requests in the measured
    window is at least ``percentile`` / 100, which is the same as the p``percentile``
    latency being within ``latency_ms``. See :mod:`mcmsim.metrics.objectives`.
    """

    model_config = _STRICT
    latency_ms: DurationMs
    percentile: Percentile = 99.0

    @property
    def latency_target_ps(self) -> int:
        return round(self.latency_ms * PS_PER_MS)


class WorkloadSpec(BaseModel):
    """A model and its request stream.

    ``model`` is a zoo name or a path to an ``.onnx`` file; with ``layers`` instead the
    model is defined inline. A request is ``batch`` inferences, executed as micro-batches
    of ``micro_batch`` (default: the whole batch at once) that pipeline through segments.
    ``model`` may also be a MAESTRO model: ``file.m[#Network]`` or ``xrbench:SCENARIO#Network``.
    ``slo`` is an optional latency target (:class:`SloSpec`); ``weight`` the workload's
    weight in the ``weighted_throughput`` objective (:mod:`mcmsim.metrics.objectives`).
    With ``suite`` instead (``xrbench:SCENARIO`` or a ``.m`` path) the entry is every
    network of the file (or those in ``networks``), each at its frame rate, with
    cascades (see :mod:`mcmsim.workloads.suites`).

    Frames of a periodic or cascade stream have a deadline: ``deadline_ms``, by default
    the frame period (a cascade's: its upstream's). ``late_policy`` says what happens to
    a frame that waits: ``"queue"`` keeps it, ``"drop"`` drops a frame that has not
    started when the next frame of the same workload arrives.
    ``allow_unsupported`` (ONNX only) imports unknown operators as zero-cost
    pass-throughs, with a warning listing them, instead of rejecting the file.
    """

    model_config = _STRICT
    name: Name | None = None
    model: Reference | None = None
    layers: list[LayerSpec] | None = Field(None, min_length=1)
    suite: Reference | None = None
    networks: list[Name] | None = Field(None, min_length=1)
    overrides: dict[Name, NetworkOverride] | None = None
    deadline_ms: DurationMs | None = None
    late_policy: Literal["queue", "drop"] = "queue"
    seq_len: Tokens | None = None
    image_size: LayerDim | None = None
    phase: Literal["prefill", "decode"] | None = None
    kv_len: Tokens | None = None
    batch: Batch = 1
    micro_batch: Batch | None = None
    allow_unsupported: bool = False
    stream: StreamField = Field(default_factory=lambda: ClosedStream(kind="closed"))
    slo: SloSpec | None = None
    weight: Weight = 1.0
    generation: GenerationSpec | None = None

    @model_validator(mode="after")
    def _source(self) -> WorkloadSpec:
        sources = sum(x is not None for x in (self.model, self.layers, self.suite))
        if sources != 1:
            raise ValueError("give exactly one of model (zoo name or .onnx path), layers or suite")
        if self.suite is None and (self.networks is not None or self.overrides is not None):
            raise ValueError("networks and overrides belong to a suite entry")
        if self.suite is not None and (self.name is not None or self.deadline_ms is not None):
            raise ValueError(
                "a suite entry names its workloads after its networks; set a network's "
                "deadline with overrides.NETWORK.deadline_ms"
            )
        if self.late_policy == "drop" and self.suite is None and self.stream.is_closed:
            raise ValueError('late_policy "drop" needs an open stream (frames that arrive)')
        if self.layers is not None and self.name is None:
            raise ValueError("an inline model (layers) needs a name")
        if self.allow_unsupported and not str(self.model).endswith(".onnx"):
            raise ValueError("allow_unsupported applies to ONNX models (model = 'x.onnx') only")
        if self.micro_batch is not None and self.micro_batch > self.batch:
            raise ValueError(f"micro_batch {self.micro_batch} exceeds batch {self.batch}")
        return self

    @property
    def label(self) -> str:
        """The workload's name: given, or the zoo name, or an ONNX file's stem."""
        if self.name:
            return self.name
        model = str(self.model)
        if is_maestro_ref(model):
            return maestro_ref_label(model)
        return Path(model).stem if model.endswith(".onnx") else model

    @property
    def model_params(self) -> dict[str, Any]:
        keys = ("seq_len", "image_size", "phase", "kv_len")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


class SchedulerSpec(BaseModel):
    """The scheduler by name; other keys are its parameters, checked by the scheduler."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: Name = "standalone"

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SimulationSpec(BaseModel):
    """``stream``: steady state under the arrival processes; ``batch``: all requests at t=0."""

    model_config = _STRICT
    mode: Literal["stream", "batch"] = "stream"
    seed: Seed = 0
    requests: Count = 2000
    # None: min(200, ceil(requests / models)); see mcmsim.sim.stopping.
    min_requests_per_model: Count | None = None
    max_time_s: SimulatedTimeS | None = None
    # None: derived from requests; see mcmsim.sim.stopping (budgets that end every run).
    max_events: Count | None = None
    max_backlog: Count | None = None
    warmup: Literal["mser5", "none"] = "mser5"
    precision_bytes: BytesPerElement = 1


class ScenarioSpec(BaseModel):
    model_config = _STRICT
    name: Name | None = None
    description: str | None = None
    package: PackageSpec
    nop: NopSpec = Field(default_factory=NopSpec)
    dram: DramSpec = Field(default_factory=DramSpec)
    workloads: list[WorkloadSpec] = Field(min_length=1)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)


@dataclass(frozen=True)
class Workload:
    """A resolved workload: its name, model, batch sizes and stream (its files read).

    ``deadline_ps`` is the latency target of each request (frame), ``None`` for none;
    ``late_policy`` is ``"queue"`` or ``"drop"`` (see :class:`WorkloadSpec`).
    """

    name: str
    model: Model
    batch: int
    micro_batch: int
    stream: Stream
    slo: SloSpec | None = None
    weight: float = 1.0
    deadline_ps: int | None = None
    late_policy: Literal["queue", "drop"] = "queue"
    generation: Generation | None = None

    @property
    def latency_target_ps(self) -> int | None:
        """The per-request latency target a request must meet to count as good (or None).

        The SLO's ``latency_ms``; the one place to give another default target (frame
        deadlines are judged separately, under ``models.<name>.deadline``).
        """
        return self.slo.latency_target_ps if self.slo is not None else None

    @cached_property
    def micro_batch_sizes(self) -> tuple[int, ...]:
        """The micro-batches one request runs as, in order: ``batch // micro_batch`` of
        ``micro_batch`` inferences, then the remainder if the batch does not divide."""
        full, rest = divmod(self.batch, self.micro_batch)
        return (self.micro_batch,) * full + ((rest,) if rest else ())


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the spec as written plus the built package and models."""

    spec: ScenarioSpec
    source: str
    package: Package
    workloads: tuple[Workload, ...]

    @property
    def name(self) -> str:
        return self.spec.name or Path(self.source).stem

    @property
    def simulation(self) -> SimulationSpec:
        return self.spec.simulation

    @cached_property
    def models(self) -> dict[str, Model]:
        return {w.name: w.model for w in self.workloads}

    def with_overrides(self, **simulation: Any) -> Scenario:
        """A copy with simulation settings replaced (seed, requests, mode...), validated.

        Raises
        ------
        ScenarioError
            If a key is not a ``[simulation]`` key or a value is invalid (for example
            ``mode="Batch"`` or ``requests=0``); each problem names ``simulation.<key>``.
        """
        given = {**self.spec.simulation.model_dump(), **simulation}
        try:
            settings = SimulationSpec.model_validate(given)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = _dotted(("simulation", *err["loc"]))
                if err["type"] == "extra_forbidden":
                    valid = valid_names_hint(
                        str(err["loc"][-1]), SimulationSpec.model_fields, "valid keys"
                    )
                    message = f"override: unknown key; {valid}"
                else:
                    reason = err["msg"].removeprefix("Value error, ")
                    message = f"override {err['input']!r}: {reason}"
                problems.append(Diagnostic(self.source, None, key, message))
            raise ScenarioError(problems) from None
        if settings.mode != "stream":
            served = [w.name for w in self.workloads if w.generation is not None]
            if served:
                message = (
                    f"override {settings.mode!r}: generation workloads ({', '.join(served)}) "
                    'are served in simulation.mode = "stream"'
                )
                raise ScenarioError([Diagnostic(self.source, None, "simulation.mode", message)])
        spec = self.spec.model_copy(update={"simulation": settings})
        return Scenario(spec, self.source, self.package, self.workloads)


# --- locating keys in the TOML text -------------------------------------------------

# One linear pass over the text (possessive quantifiers: no backtracking), tolerant of
# invalid TOML: it only says where keys are, tomllib says whether the file is valid.
_KEY_PART = r"""[A-Za-z0-9_\-]++|"(?:[^"\\\n]++|\\.)*+"|'[^'\n]*+'"""
_DOTTED_KEY = rf"(?:{_KEY_PART})(?:[ \t]*+\.[ \t]*+(?:{_KEY_PART}))*+"
_KEY_PARTS = re.compile(rf"[ \t]*+({_KEY_PART})[ \t]*+\.?")
_HEADER = re.compile(rf"\[(\[?)[ \t]*+({_DOTTED_KEY})[ \t]*+\]\]?")
_KEY = re.compile(_DOTTED_KEY)
_EQUALS = re.compile(r"[ \t]*+=")
_TOKEN = re.compile(
    r"""(?P<nl>\n)|[ \t\r]++|#[^\n]*+"""
    r'''|(?P<ml>"""(?:[^"\\]++|\\[\s\S]|"(?!""))*+"""(?:""?)?|\'\'\'(?:[^']++|'(?!''))*+\'\'\'(?:''?)?)'''
    r"""|"(?:[^"\\\n]++|\\.)*+"|'[^'\n]*+\'|(?P<punct>[\[\]{},=])|[^\s\[\]{},="'#]++|."""
)
# Numbers, booleans, dates and commas inside an array: read as one run for speed.
_SCALARS = re.compile(r"[^\[\]{}\"'#\n]++")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_ESCAPED = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b"}

MAX_NESTING_DEPTH = 100
"""Deepest nesting of arrays and inline tables read (far above any real file)."""


def _unescape(match: re.Match[str]) -> str:
    escape = match[1]
    if len(escape) > 1:
        return chr(min(int(escape[1:], 16), 0x10FFFF))
    return _ESCAPED.get(escape, escape)


def _key_part(token: str) -> str:
    if token.startswith("'"):
        return token[1:-1]
    if token.startswith('"'):
        return _ESCAPE.sub(_unescape, token[1:-1])
    return token


def _split_key(key: str) -> list[str]:
    return [_key_part(m.group(1)) for m in _KEY_PARTS.finditer(key)]


@dataclass(frozen=True)
class KeyLocations:
    """Where the keys of a TOML text are: see :func:`locate_keys`."""

    lines: dict[tuple[Any, ...], int]
    last_line: int
    deepest: int
    deepest_line: int


def locate_keys(text: str) -> KeyLocations:
    """The 1-based line of each table, key (and dotted-key prefix) and array element of
    a TOML text, its last line, and its deepest nesting of arrays and inline tables.

    Keys inside inline tables and elements of arrays get their own paths
    (``workloads.1.model``, ``package.layout.1``). Linear in the size of the text.
    """
    lines: dict[tuple[Any, ...], int] = {}
    array_counts: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    # Open arrays and inline tables: [path, index of the current element or None].
    stack: list[list[Any]] = []
    expect_key = True
    value_path: tuple[Any, ...] = ()
    line = 1
    deepest, deepest_line = 0, 1

    def note(path: tuple[Any, ...]) -> None:
        # A quoted key holding dots is also found under its parts: sweep files name
        # scenario paths that way ("nop.link_bandwidth_gb_per_s" = [...]).
        split = tuple(p for part in path for p in str(part).split("."))
        for known in (path, split) if split != path else (path,):
            # Every noted path has its prefixes noted, so stop at the first one known:
            # each key costs its own parts, not its depth.
            for end in range(len(known), 0, -1):
                if known[:end] in lines:
                    break
                lines[known[:end]] = line

    pos, end = 0, len(text)
    while pos < end:
        if expect_key and (not stack or stack[-1][1] is None):
            if not stack and text[pos] == "[":
                header = _HEADER.match(text, pos)
                if header:
                    parts = _split_key(header.group(2))
                    resolved: list[Any] = []
                    for part in parts[:-1]:
                        resolved.append(part)
                        if tuple(resolved) in array_counts:
                            resolved.append(array_counts[tuple(resolved)] - 1)
                    prefix = (*resolved, parts[-1])
                    if header.group(1):
                        array_counts[prefix] = array_counts.get(prefix, 0) + 1
                        table = (*prefix, array_counts[prefix] - 1)
                    else:
                        table = prefix
                    note(table)
                    pos = header.end()
                    continue
            key = _KEY.match(text, pos)
            if key:
                equals = _EQUALS.match(text, key.end())
                if equals:
                    if len(stack) <= MAX_NESTING_DEPTH:  # deeper, the file is refused
                        base = stack[-1][0] if stack else table
                        value_path = (*base, *_split_key(key.group()))
                        note(value_path)
                    expect_key = False
                pos = equals.end() if equals else key.end()
                continue
        # Past the deepest level read, only the depth is followed (the file is refused):
        # paths stay short, so the work per token is bounded.
        top = stack[-1] if stack and len(stack) <= MAX_NESTING_DEPTH else None
        if top is not None and top[1] is not None:
            scalars = _SCALARS.match(text, pos)
            if scalars:
                for i, element in enumerate(scalars.group().split(",")):
                    top[1] += i > 0
                    if element.strip():
                        lines.setdefault((*top[0], top[1]), line)  # an element starts here
                pos = scalars.end()
                continue
        token = _TOKEN.match(text, pos)
        assert token is not None  # the last alternative matches any character
        pos = token.end()
        if token.group("nl"):
            line += 1
            if not stack:
                expect_key = True
            continue
        if token.group().isspace() or token.group().startswith("#"):
            continue
        punct = token.group("punct")
        if top is not None and top[1] is not None and punct not in ("]", ","):
            lines.setdefault((*top[0], top[1]), line)  # an array element starts here
        if token.group("ml"):
            line += token.group().count("\n")
        elif punct in ("[", "{"):
            in_array = top is not None and top[1] is not None
            path = (*top[0], top[1]) if in_array else value_path
            stack.append([path, 0 if punct == "[" else None])
            expect_key = punct == "{"
            if len(stack) > deepest:
                deepest, deepest_line = len(stack), line
        elif punct in ("]", "}"):
            if stack:
                stack.pop()
        elif punct == "," and top is not None:
            if top[1] is None:
                expect_key = True
            else:
                top[1] += 1
    return KeyLocations(lines, line, deepest, deepest_line)


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each table header and key of a TOML text to its 1-based line number."""
    return locate_keys(text).lines


def line_of(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    """Line of the longest prefix of ``path`` found by :func:`key_lines` (None if none)."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The error location with pydantic's union-tag and validator entries removed."""
    path: list[Any] = []
    node = data
    for i, item in enumerate(loc):
        if (isinstance(node, dict) and item in node) or (
            isinstance(node, list) and isinstance(item, int) and item < len(node)
        ):
            node = node[item]
            path.append(item)
        elif (
            i == len(loc) - 1
            and isinstance(item, str)
            and not item.startswith(("function-", "tagged"))
        ):
            path.append(item)
    return tuple(path)


# Pydantic's range messages omit the value; a file with many numbers needs it.
_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


def _flat_errors(
    errors: list[Any], prefix: tuple[Any, ...] = ()
) -> list[tuple[tuple[Any, ...], str]]:
    """(location, message) of each pydantic error; a stream table's own errors, carried
    in ``ctx["errors"]`` by the stream validator, become errors at their nested keys."""
    flat: list[tuple[tuple[Any, ...], str]] = []
    for err in errors:
        loc = (*prefix, *err["loc"])
        nested = (err.get("ctx") or {}).get("errors")
        if nested:
            flat.extend(_flat_errors(nested, loc))
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err.get("type") in _RANGE_ERRORS:
            got = err["input"]
            message = (
                f"{message}; got {got:g}" if isinstance(got, float) else f"{message}; got {got!r}"
            )
        flat.append((loc, "unknown key" if err.get("type") == "extra_forbidden" else message))
    return flat


def _alternatives(annotation: Any) -> list[Any]:
    """The types a value of ``annotation`` may have: Annotated and Optional unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [t for a in get_args(annotation) if a is not NoneType for t in _alternatives(a)]
    return [annotation]


def _table_fields(kind: Any, node: Any) -> dict[str, Any] | None:
    """Field annotations of a table of type ``kind`` (a stream: of its ``kind``), or None."""
    if not isinstance(kind, type):
        return None
    if issubclass(kind, Stream):
        cls = stream_kind_class(node.get("kind")) if isinstance(node, dict) else None
        return {k: f.annotation for k, f in cls.model_fields.items()} if cls else None
    if issubclass(kind, BaseModel) and kind.model_config.get("extra") == "forbid":
        return {k: f.annotation for k, f in kind.model_fields.items()}
    return None


def valid_keys_at(data: Any, path: tuple[Any, ...]) -> list[str] | None:
    """The keys the table at ``path`` (dotted key path into ``data``) accepts.

    None when that table takes free keys (``[scheduler]``, a dict of chiplet types) or
    its kind is unknown.
    """
    annotation: Any = ScenarioSpec
    node: Any = data
    for item in path:
        step = None
        for kind in _alternatives(annotation):
            origin = get_origin(kind)
            fields = _table_fields(kind, node)
            if fields is not None and item in fields:
                step = fields[item]
            elif origin in (list, tuple) and isinstance(item, int):
                step = get_args(kind)[0]
            elif origin is dict and isinstance(item, str):
                step = get_args(kind)[1]
            if step is not None:
                break
        if step is None:
            return None
        annotation = step
        has_item = isinstance(node, dict) and item in node
        in_list = isinstance(node, list) and isinstance(item, int) and item < len(node)
        node = node[item] if has_item or in_list else None
    for kind in _alternatives(annotation):
        fields = _table_fields(kind, node)
        if fields is not None:
            return list(fields)
    return None


def _unknown_key(data: Any, path: tuple[Any, ...]) -> str:
    """ "unknown key" with the valid keys of its table and the closest one."""
    valid = valid_keys_at(data, path[:-1])
    if valid is None or not path:
        return "unknown key"
    return f"unknown key; {valid_names_hint(str(path[-1]), valid, 'valid keys')}"


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


# --- loading -------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and build the scenario in ``path``.

    Raises
    ------
    ScenarioError
        For a file that cannot be read (see :func:`mcmsim.inputs.read_input_text`), a
        TOML syntax error, or any invalid value (all at once).
    """
    try:
        text = read_input_text(path, "scenario")
    except InputFileError as exc:
        raise ScenarioError([exc.diagnostic]) from None
    return parse_scenario(text, str(path))


def parse_toml(text: str, source: str) -> tuple[dict[str, Any], KeyLocations]:
    """The data of TOML ``text`` and where its keys are; ``source`` names it in errors.

    Raises
    ------
    ScenarioError
        For a TOML syntax error (at its line; at the last line for an error at the end
        of the document) or arrays and inline tables nested over
        :data:`MAX_NESTING_DEPTH` levels.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        if match:
            line: int | None = int(match.group(1))
        elif "end of document" in str(exc):
            line = max(text.rstrip().count("\n") + 1, 1)
        else:
            line = None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ScenarioError(
            [Diagnostic(source, line, "", f"TOML syntax error: {reason}")]
        ) from None
    except RecursionError:
        data = None  # nested too deeply for tomllib: reported below with its line
    where = locate_keys(text)
    if data is None or where.deepest > MAX_NESTING_DEPTH:
        message = (
            f"arrays or inline tables nested {where.deepest} deep; "
            f"at most {MAX_NESTING_DEPTH} levels are read"
        )
        raise ScenarioError([Diagnostic(source, where.deepest_line, "", message)])
    return data, where


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate and build a scenario from TOML ``text``; ``source`` names it in errors.

    Raises
    ------
    ScenarioError
        For a TOML syntax error or any invalid value.
    """
    data, where = parse_toml(text, source)
    return build_scenario(data, source, where.lines)


def build_scenario(
    data: dict[str, Any],
    source: str = "<scenario>",
    lines: dict[tuple[Any, ...], int] | None = None,
    models: dict[str, Model] | None = None,
) -> Scenario:
    """Validate parsed scenario ``data`` and build its package and models.

    ``models``, when given, holds the models already built for a workload entry (by its
    JSON): a caller building many variants of one scenario (a sweep's up-front check of
    every axis value) builds each distinct model once.

    Raises
    ------
    ScenarioError
        For any invalid value, with key paths (and lines when ``lines`` is given).
    """
    from_text = lines is not None
    lines = lines or {}
    data, old_names, conflicts = _renamed(data)

    def problem(path: tuple[Any, ...], message: str) -> Diagnostic:
        # Errors in a renamed key point at the name the file uses.
        path = (*old_names.get(path[:2], path[:2]), *path[2:])
        line = line_of(lines, path)
        if line is None and from_text:
            line = 1  # a top-level table or key the file does not have
        return Diagnostic(source, line, _dotted(path), message)

    for old in old_names.values():
        line = line_of(lines, old)
        where = f"{source}:{line}" if line else source
        notice = deprecation_message(_dotted(old))
        warnings.warn(f"{where}: {notice}", DeprecatedKeyWarning, stacklevel=2)
    problems = [problem(path, message) for path, message in conflicts]
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        invalid: list[tuple[Any, ...]] = []
        for loc, message in _flat_errors(exc.errors()):
            path = _data_path(data, loc)
            if message == "unknown key":
                message = _unknown_key(data, path)
            problems.append(problem(path, message))
            invalid.append(path)
        _check_valid_parts(data, invalid, source, problems, problem)
        raise ScenarioError(problems) from None
    if problems:
        raise ScenarioError(problems)

    package = _build_package(spec, problems, problem)
    workloads = _build_workloads(spec, source, problems, problem, models)
    problems.extend(_scheduler_problems(spec.scheduler, problem))
    if problems:
        raise ScenarioError(problems)
    return Scenario(spec, source, package, tuple(workloads))


def _check_valid_parts(
    data: dict[str, Any],
    invalid: list[tuple[Any, ...]],
    source: str,
    problems: list[Diagnostic],
    problem,
) -> None:
    """Report what the valid parts of an invalid scenario would still fail on.

    So that one pass shows every error: the scheduler of a valid ``[scheduler]`` table
    and the model of each valid workload entry are checked even when another table is
    invalid.
    """

    def is_valid(part: tuple[Any, ...]) -> bool:
        return not any(path[: len(part)] == part or part[: len(path)] == path for path in invalid)

    # An error pydantic placed elsewhere than the part it is about fails validation here
    # again: that part is skipped, its error is already reported.
    if is_valid(("scheduler",)):
        with contextlib.suppress(ValidationError):
            scheduler = SchedulerSpec.model_validate(data.get("scheduler", {}))
            problems.extend(_scheduler_problems(scheduler, problem))
    entries = data.get("workloads")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if not is_valid(("workloads", i)):
            continue
        try:
            w = WorkloadSpec.model_validate(entry)
        except ValidationError:
            continue
        if w.suite is None and w.generation is None:
            _build_model_reported(w, ("workloads", i), source, problems, problem)


def _scheduler_problems(scheduler: SchedulerSpec, problem) -> list[Diagnostic]:
    """The ``[scheduler]`` table's problems: an unknown name or parameter, a bad value."""
    from mcmsim.schedule.registry import SchedulerError, scheduler_problems
    from mcmsim.schedule.spec import parse_scheduler_spec

    try:
        parsed = parse_scheduler_spec(scheduler.name)
    except SchedulerError as exc:
        return [problem(("scheduler", "name"), str(exc))]
    found = scheduler_problems(parsed.name, {**scheduler.params, **parsed.params})
    return [problem(("scheduler", *key), message) for key, message in found]


_TableKey = tuple[str, str]


def _renamed(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[_TableKey, _TableKey], list[tuple[_TableKey, str]]]:
    """``data`` with deprecated keys under their current names.

    Returns the new data, a map from each renamed key's new path to its old one, and
    the keys given under both names (with the problem).
    """
    data = dict(data)
    old_names: dict[_TableKey, _TableKey] = {}
    problems: list[tuple[_TableKey, str]] = []
    for old, new in RENAMED_KEYS.items():
        table, old_key = old.split(".")
        new_key = new.split(".")[1]
        section = data.get(table)
        if not isinstance(section, dict) or old_key not in section:
            continue
        section = dict(section)
        value = section.pop(old_key)
        if new_key in section:
            problems.append(((table, old_key), f"give only {new_key} ({old_key} is its old name)"))
        else:
            section[new_key] = value
            old_names[(table, new_key)] = (table, old_key)
        data[table] = section
    return data, old_names, problems


def _build_package(spec: ScenarioSpec, problems: list[Diagnostic], problem) -> Package:
    layout = spec.package.layout
    cols = len(layout[0])
    types: dict[str, ChipletType] = {}
    for name, t in spec.package.chiplet_types.items():
        try:
            types[name] = t.build(name)
        except ValueError as exc:
            problems.append(problem(("package", "chiplet_types", name, "dataflow"), str(exc)))
    chiplets: list[Chiplet] = []
    for r, row in enumerate(layout):
        if len(row) != cols:
            problems.append(
                problem(("package", "layout", r), f"row has {len(row)} entries, expected {cols}")
            )
            continue
        for c, type_name in enumerate(row):
            if type_name in spec.package.chiplet_types and type_name not in types:
                continue  # its own error is reported
            if type_name not in types:
                problems.append(
                    problem(
                        ("package", "layout", r),
                        f"unknown chiplet type {type_name!r}; known: {', '.join(sorted(types))}",
                    )
                )
                continue
            chiplets.append(Chiplet(len(chiplets), (r, c), types[type_name]))
    rows = len(layout)
    interfaces = spec.dram.interfaces
    if interfaces is None:
        edge_cols = [0] if cols == 1 else [0, cols - 1]
        interfaces = [(r, c) for r in range(rows) for c in edge_cols]
    for i, (r, c) in enumerate(interfaces):
        if not (0 <= r < rows and 0 <= c < cols):
            problems.append(
                problem(
                    ("dram", "interfaces", i),
                    f"position ({r}, {c}) is outside the {rows}x{cols} package",
                )
            )
    nop = NopConfig(
        link_bandwidth_gb_per_s=spec.nop.link_bandwidth_gb_per_s,
        hop_latency_ps=round(spec.nop.hop_latency_ns * 1000),
        energy_pj_per_bit=spec.nop.energy_pj_per_bit,
    )
    dram = tuple(
        DramInterface(
            position=(r, c),
            bandwidth_gb_per_s=spec.dram.bandwidth_gb_per_s / len(interfaces),
            latency_ps=round(spec.dram.latency_ns * 1000),
            energy_pj_per_bit=spec.dram.energy_pj_per_bit,
        )
        for r, c in interfaces
    )
    return Package(rows, cols, tuple(chiplets), nop, dram, spec.dram.policy)


def _build_workloads(
    spec: ScenarioSpec,
    source: str,
    problems: list[Diagnostic],
    problem,
    models: dict[str, Model] | None = None,
) -> list[Workload]:
    # (entry index, workload, deadline_ms as written); streams are bound afterwards.
    built: list[tuple[int, Workload, float | None]] = []
    seen: set[str] = set()

    def add(i: int, workload: Workload, deadline_ms: float | None, key: str) -> None:
        if workload.name in seen:
            problems.append(
                problem(("workloads", i, key), f"duplicate workload name {workload.name!r}")
            )
            return
        seen.add(workload.name)
        built.append((i, workload, deadline_ms))

    for i, w in enumerate(spec.workloads):
        where = ("workloads", i)
        if w.suite is not None:
            try:
                members = expand_suite(w.suite, Path(source).parent, w.networks, w.overrides or {})
            except SuiteError as exc:
                problems.append(problem((*where, *exc.key), str(exc)))
                continue
            for m in members:
                workload = Workload(
                    m.name,
                    m.model,
                    w.batch,
                    w.micro_batch or w.batch,
                    m.stream,
                    slo=w.slo,
                    weight=w.weight,
                    late_policy=w.late_policy,
                )
                add(i, workload, m.deadline_ms, "suite")
            continue
        if w.generation is not None:
            if spec.simulation.mode != "stream":
                message = 'a generation workload is served in simulation.mode = "stream"'
                problems.append(problem((*where, "generation"), message))
                continue
            try:
                add(i, _build_generation(w, source), w.deadline_ms, "name")
            except StreamError as exc:
                if w.generation.trace:
                    key = (*where, "generation", "trace")
                else:
                    key = (*where, "stream", exc.key) if exc.key else (*where, "stream")
                problems.append(problem(key, exc.reason))
            except ValueError as exc:
                problems.append(problem((*where, "generation"), str(exc)))
            continue
        cache_key = w.model_dump_json() if models is not None else ""
        model = models.get(cache_key) if models is not None else None
        if model is None:
            model = _build_model_reported(w, where, source, problems, problem)
            if model is None:
                continue
            if models is not None:
                models[cache_key] = model
        try:
            stream = w.stream.resolve(Path(source).parent, w.label)
        except StreamError as exc:
            key = (*where, "stream", exc.key) if exc.key else (*where, "stream")
            problems.append(problem(key, exc.reason))
            continue
        workload = Workload(
            w.label,
            model,
            w.batch,
            w.micro_batch or w.batch,
            stream,
            slo=w.slo,
            weight=w.weight,
            late_policy=w.late_policy,
        )
        add(i, workload, w.deadline_ms, "name")
    return _bind_streams(built, problems, problem)


def _bind_streams(
    built: list[tuple[int, Workload, float | None]], problems: list[Diagnostic], problem
) -> list[Workload]:
    """Bind each stream to its upstreams' streams, upstreams first, and set deadlines."""
    entries = {w.name: (i, w, deadline_ms) for i, w, deadline_ms in built}
    bound: dict[str, Stream] = {}
    failed: set[str] = set()

    def bind(name: str, chain: tuple[str, ...]) -> None:
        i, w, _ = entries[name]
        key = ("workloads", i, "stream")
        ups = w.stream.upstream_workloads()
        for up in ups:
            if up not in entries:
                known = ", ".join(entries)
                problems.append(problem((*key, "upstream"), f"no workload {up!r}; known: {known}"))
            elif up in chain:
                cycle = " -> ".join((*chain[chain.index(up) :], up))
                problems.append(problem((*key, "upstream"), f"cascade cycle {cycle}"))
            elif up not in bound and up not in failed:
                bind(up, (*chain, up))
        if any(up not in bound for up in ups):
            failed.add(name)
            return
        try:
            bound[name] = w.stream.bind({up: bound[up] for up in ups})
        except StreamError as exc:
            problems.append(problem((*key, exc.key) if exc.key else key, exc.reason))
            failed.add(name)

    for name in entries:
        if name not in bound and name not in failed:
            bind(name, (name,))
    workloads = []
    for name, (i, w, deadline_ms) in entries.items():
        if name not in bound:
            continue
        stream = bound[name]
        period_s = stream.frame_period_s()
        if deadline_ms is not None:
            deadline_ps: int | None = round(deadline_ms * PS_PER_MS)
        elif period_s is not None:
            deadline_ps = round(period_s * PS_PER_S)
        else:
            deadline_ps = None
        if w.late_policy == "drop" and deadline_ps is None:
            problems.append(
                problem(
                    ("workloads", i, "late_policy"),
                    f'late_policy "drop" needs a deadline: {name} has no frame period; '
                    "give deadline_ms",
                )
            )
            continue
        workloads.append(dataclasses.replace(w, stream=stream, deadline_ps=deadline_ps))
    return workloads


def _relative(file: str, source: str) -> Path:
    path = Path(file)
    return path if path.is_absolute() else Path(source).parent / path


def _build_generation(w: WorkloadSpec, source: str) -> Workload:
    """A generation workload: the decoder it is scheduled on, its stream and its setup.

    Schedulers plan on one decode iteration of ``max_batch`` requests at the expected
    context (mean prompt plus half the mean output): the model is the zoo decoder's
    decode phase at that context, with ``batch = micro_batch = max_batch``. With a
    ``trace``, the stream replays the trace's arrivals.

    Raises
    ------
    StreamError
        If the trace cannot be read (the reason starts with ``file:line``).
    ValueError
        If the workload is not a zoo decoder or sets model keys the generation owns.
    """
    spec = w.generation
    assert spec is not None
    if w.model is None or w.model.endswith(".onnx") or w.model_params or w.batch != 1:
        raise ValueError(
            "a generation workload names a zoo decoder and takes its lengths and batch "
            "from the generation table (no seq_len, phase, kv_len, batch or layers)"
        )
    if w.late_policy == "drop":
        raise ValueError(
            'a generation workload queues its requests: late_policy "drop" does not apply'
        )
    max_context = decoder_config(w.model).max_positions
    directory = Path(source).parent
    if spec.trace:
        if "stream" in w.model_fields_set:
            raise ValueError("a generation trace gives the arrivals: remove the stream")
        replay = GenerationTraceStream(kind="generation_trace", file=spec.trace)
        replay = replay.resolve(directory, w.label)
        stream: Stream = replay
        trace = replay.requests
        prompt_mean = float(trace.prompt_tokens.mean())
        output_mean = float(trace.output_tokens.mean())
    else:
        stream, trace = w.stream.resolve(directory, w.label), None
        prompt_mean, output_mean = spec.prompt_lengths.mean, spec.output_lengths.mean
    context = min(round(prompt_mean + output_mean / 2), max_context - 1)
    model = get_model(w.model, phase="decode", kv_len=max(context, 1))
    return Workload(
        w.label,
        model,
        spec.max_batch,
        spec.max_batch,
        stream,
        slo=w.slo,
        weight=w.weight,
        late_policy=w.late_policy,
        generation=Generation(spec, decoder_for(w.model, model), trace),
    )


def _build_model_reported(
    w: WorkloadSpec, where: tuple[Any, ...], source: str, problems: list[Diagnostic], problem
) -> Model | None:
    """The workload's model, or None with the reason added to ``problems``."""
    try:
        return _build_model(w, source)
    except UnknownModelError as exc:
        problems.append(problem((*where, "model"), str(exc)))
    except (TypeError, ValueError) as exc:
        # A model file's problem is the model key's; a zoo model's is the parameter
        # that caused it when there is exactly one.
        params = list(w.model_params)
        if w.model is not None and (w.model.endswith(".onnx") or is_maestro_ref(w.model)):
            key = (*where, "model")
        else:
            key = (*where, params[0]) if len(params) == 1 else where
        problems.append(problem(key, str(exc)))
    return None


def _build_model(w: WorkloadSpec, source: str) -> Model:
    if w.layers is not None:
        first = w.layers[0].build()
        builder = ModelBuilder(w.label, first.input_elems)
        for spec in w.layers:
            builder.add(spec.build(), spec.inputs)
        return builder.build()
    assert w.model is not None
    if w.model.endswith(".onnx"):
        from mcmsim.workloads.onnx_import import load_onnx

        return load_onnx(_relative(w.model, source), allow_unsupported=w.allow_unsupported)
    if is_maestro_ref(w.model):
        return load_maestro_ref(w.model, Path(source).parent)
    return get_model(w.model, **w.model_params)
