"""Generation workloads: requests with a prompt that generate output tokens one by one.

An autoregressive model (a GPT-2 of the zoo) is served by generating tokens. Each
request has ``prompt_tokens`` to prefill and ``output_tokens`` to generate; the lengths
come from

* a constant (``prompt_tokens = 128``);
* a seeded distribution: ``{ kind = "uniform", min = 32, max = 512 }`` (integers,
  both ends included) or ``{ kind = "lognormal", mean = 256, cv = 0.5 }`` (rounded,
  at least one token);
* a trace file, in either convention users already have:
  ``arrived_at,num_prefill_tokens,num_decode_tokens`` (seconds, as in Vidur's and
  Splitwise's processed traces) or ``TIMESTAMP,ContextTokens,GeneratedTokens``
  (wall-clock timestamps, as in the public Azure LLM inference traces; times are taken
  relative to the first row). A trace gives the arrivals too.

A request whose prompt plus output exceeds the model's context is handled by the
``over_context`` rule, never silently: ``reject`` drops it and counts it;
``truncate`` caps its output at what the context leaves (vLLM's ``max_tokens``) and,
for a prompt that alone fills the context, keeps its last ``max_context - 1`` tokens
and generates one; truncated requests are counted too.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from mcmsim.workloads.decoder import Decoder

__all__ = [
    "ConstantLengths",
    "ContextLimit",
    "Generation",
    "GenerationSpec",
    "GenerationTrace",
    "LognormalLengths",
    "TraceError",
    "UniformLengths",
    "apply_context_limit",
    "read_generation_trace",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)
PS_PER_S = 10**12


class ConstantLengths(BaseModel):
    """Every request has ``tokens`` tokens."""

    model_config = _STRICT
    kind: Literal["constant"] = "constant"
    tokens: PositiveInt

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.tokens, np.int64)

    @property
    def mean(self) -> float:
        return float(self.tokens)


class UniformLengths(BaseModel):
    """Integers drawn uniformly from ``min`` to ``max``, both included."""

    model_config = _STRICT
    kind: Literal["uniform"]
    min: PositiveInt
    max: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> UniformLengths:
        if self.min > self.max:
            raise ValueError(f"min {self.min} exceeds max {self.max}")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.min, self.max + 1, size=n, dtype=np.int64)

    @property
    def mean(self) -> float:
        return (self.min + self.max) / 2


class LognormalLengths(BaseModel):
    """Lognormal lengths with the given mean and coefficient of variation, rounded, >= 1."""

    model_config = _STRICT
    kind: Literal["lognormal"]
    mean: PositiveFloat
    cv: PositiveFloat

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        draws = rng.lognormal(mu, math.sqrt(sigma2), size=n)
        return np.maximum(np.rint(draws), 1).astype(np.int64)


Lengths = Annotated[
    ConstantLengths | UniformLengths | LognormalLengths, Field(discriminator="kind")
]


def _lengths(value: int | ConstantLengths | UniformLengths | LognormalLengths):
    return ConstantLengths(tokens=value) if isinstance(value, int) else value


class GenerationSpec(BaseModel):
    """How a generation workload is served (the ``generation`` table of a workload).

    ``max_batch`` caps the requests in one iteration; ``max_tokens_per_iteration`` caps
    the tokens it processes (decode tokens first, then prompt chunks). With
    ``chunked_prefill = false`` a prompt is only ever prefilled whole. ``kv_dram_mib``
    is the DRAM set aside for KV caches (on top of what chiplet SRAM holds): with the
    SRAM it is the package-level KV capacity that limits admission. ``slo_ttft_ms`` and
    ``slo_tpot_ms`` declare the latency targets SLO attainment and goodput are measured
    against.
    """

    model_config = _STRICT
    prompt_tokens: PositiveInt | Lengths = 128
    output_tokens: PositiveInt | Lengths = 128
    trace: str | None = None
    max_batch: PositiveInt = 32
    max_tokens_per_iteration: PositiveInt = 512
    chunked_prefill: bool = True
    over_context: Literal["reject", "truncate"] = "reject"
    kv_placement: Literal["sram_first", "dram"] = "sram_first"
    kv_dram_mib: PositiveFloat = 1024.0
    slo_ttft_ms: PositiveFloat | None = None
    slo_tpot_ms: PositiveFloat | None = None

    @model_validator(mode="after")
    def _budget(self) -> GenerationSpec:
        if self.max_tokens_per_iteration < self.max_batch:
            raise ValueError(
                f"max_tokens_per_iteration {self.max_tokens_per_iteration} is below "
                f"max_batch {self.max_batch}: a full batch of decode tokens must fit"
            )
        return self

    @property
    def prompt_lengths(self) -> ConstantLengths | UniformLengths | LognormalLengths:
        return _lengths(self.prompt_tokens)

    @property
    def output_lengths(self) -> ConstantLengths | UniformLengths | LognormalLengths:
        return _lengths(self.output_tokens)


class TraceError(ValueError):
    """A generation trace that cannot be used; the message starts with ``file:line``."""


@dataclass(frozen=True)
class GenerationTrace:
    """Requests of a trace: arrival (ps from the first row), prompt and output tokens."""

    arrivals_ps: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.arrivals_ps)


# Header names (lower case) of the two conventions: (time, prompt, output, time kind).
_CONVENTIONS = {
    ("arrived_at", "num_prefill_tokens", "num_decode_tokens"): "seconds",
    ("timestamp", "contexttokens", "generatedtokens"): "timestamp",
}
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.(\d{1,12}))?$")


def _timestamp_ps(text: str) -> int:
    """Picoseconds since the epoch of ``YYYY-MM-DD HH:MM:SS[.fraction]`` (no time zone)."""
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError
    whole = datetime.fromisoformat(match.group(1).replace("T", " "))
    epoch_s = int((whole - datetime(1970, 1, 1)).total_seconds())
    fraction = (match.group(2) or "").ljust(12, "0")
    return epoch_s * PS_PER_S + int(fraction)


def _tokens(text: str, where: str, column: str, minimum: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise TraceError(f"{where}: {column} {text.strip()!r} is not an integer") from None
    if value < minimum:
        raise TraceError(f"{where}: {column} must be >= {minimum}, got {value}")
    return value


def read_generation_trace(path: str | Path) -> GenerationTrace:
    """Read a generation trace in either convention (see the module docstring).

    Columns are found by header name, so extra columns (Vidur's ``request_id``) are
    ignored. Output tokens must be >= 1 and prompt tokens >= 1.

    Raises
    ------
    TraceError
        For a missing file, an unknown header, a missing column, a non-integer token
        count, a negative or unparsable time, or a time earlier than the previous row;
        the message starts with ``file:line``.
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError:
        raise TraceError(f"{path}: trace file not found") from None
    times: list[int] = []
    prompts: list[int] = []
    outputs: list[int] = []
    with handle:
        rows = (
            (number, row)
            for number, row in enumerate(csv.reader(handle), start=1)
            if row and not row[0].lstrip().startswith("#")
        )
        header_line, header = next(rows, (1, []))
        names = [h.strip().lower() for h in header]
        found = [(c, k) for c, k in _CONVENTIONS.items() if all(n in names for n in c)]
        if not found:
            expected = " or ".join(",".join(c) for c in _CONVENTIONS)
            raise TraceError(f"{path}:{header_line}: header must name the columns {expected}")
        columns, kind = found[0]
        index = [names.index(c) for c in columns]
        labels = [header[i].strip() for i in index]
        for number, row in rows:
            where = f"{path}:{number}"
            if len(row) <= max(index):
                raise TraceError(
                    f"{where}: expected {len(header)} columns ({','.join(labels)}), got {len(row)}"
                )
            raw_time = row[index[0]].strip()
            try:
                if kind == "seconds":
                    seconds = float(raw_time)
                    if not math.isfinite(seconds):
                        raise ValueError
                    time_ps = round(seconds * PS_PER_S)
                else:
                    time_ps = _timestamp_ps(raw_time)
            except ValueError:
                expected_form = "seconds" if kind == "seconds" else "YYYY-MM-DD HH:MM:SS.fff"
                raise TraceError(
                    f"{where}: {labels[0]} {raw_time!r} is not a time in {expected_form}"
                ) from None
            if kind == "seconds" and time_ps < 0:
                raise TraceError(f"{where}: {labels[0]} must be >= 0, got {raw_time}")
            if times and time_ps < times[-1]:
                raise TraceError(f"{where}: {labels[0]} {raw_time} is earlier than the row before")
            times.append(time_ps)
            prompts.append(_tokens(row[index[1]], where, labels[1], 1))
            outputs.append(_tokens(row[index[2]], where, labels[2], 1))
    # Wall-clock picoseconds overflow int64: subtract the first row as Python ints.
    first = times[0] if times and kind == "timestamp" else 0
    arrivals = np.asarray([t - first for t in times], np.int64)
    return GenerationTrace(arrivals, np.asarray(prompts, np.int64), np.asarray(outputs, np.int64))


@dataclass(frozen=True)
class ContextLimit:
    """Lengths after the context rule, which requests it rejected and how many it cut."""

    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    rejected: np.ndarray
    truncated: int


def apply_context_limit(
    prompt_tokens: np.ndarray,
    output_tokens: np.ndarray,
    max_context: int,
    rule: Literal["reject", "truncate"],
) -> ContextLimit:
    """Apply the over-long request rule (see the module docstring) to arrays of lengths.

    Raises
    ------
    ValueError
        For an unknown rule or a context below two tokens.
    """
    if max_context < 2:
        raise ValueError(f"max_context must be >= 2, got {max_context}")
    prompt = np.asarray(prompt_tokens, np.int64)
    output = np.asarray(output_tokens, np.int64)
    over = prompt + output > max_context
    if rule == "reject":
        return ContextLimit(prompt.copy(), output.copy(), over, 0)
    if rule != "truncate":
        raise ValueError(f"over_context must be 'reject' or 'truncate', not {rule!r}")
    kept_prompt = np.minimum(prompt, max_context - 1)
    kept_output = np.minimum(output, max_context - kept_prompt)
    return ContextLimit(kept_prompt, kept_output, np.zeros(len(prompt), bool), int(over.sum()))


@dataclass(frozen=True)
class Generation:
    """A workload's generation setup: the spec, its decoder and its trace (if any)."""

    spec: GenerationSpec
    decoder: Decoder
    trace: GenerationTrace | None = None
