"""Generation workloads: requests with a prompt that generate output tokens one by one.

An autoregressive model (a GPT-2 of the zoo) is served by generating tokens. Each
request has ``prompt_tokens`` to prefill and ``output_tokens`` to generate; the lengths
come from

* a constant (``prompt_tokens = 128``);
* a seeded distribution: ``{ kind = "uniform", min = 32, max = 512 }`` (integers,
  both ends included) or ``{ kind = "lognormal", mean = 256, cv = 0.5 }`` (rounded,
  at least one token);
* a trace file (``trace = "chat.csv"``) in either convention users already have
  (see :mod:`mcmsim.workloads.generation_trace`): request ``i`` of the run has the
  lengths of row ``i``, and the trace gives the arrivals too: the workload's stream is
  the trace's ``generation_trace`` stream.

A request whose prompt plus output exceeds the model's context is handled by the
``over_context`` rule, never silently: ``reject`` drops it and counts it;
``truncate`` caps its output at what the context leaves (vLLM's ``max_tokens``) and,
for a prompt that alone fills the context, keeps its last ``max_context - 1`` tokens
and generates one; truncated requests are counted too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcmsim.ranges import (
    CoefficientOfVariation,
    DurationMs,
    IterationBatch,
    MeanTokens,
    Reference,
    SizeMiB,
    Tokens,
)
from mcmsim.workloads.decoder import Decoder
from mcmsim.workloads.generation_trace import GenerationTrace

__all__ = [
    "ConstantLengths",
    "ContextLimit",
    "Generation",
    "GenerationSpec",
    "LognormalLengths",
    "UniformLengths",
    "apply_context_limit",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ConstantLengths(BaseModel):
    """Every request has ``tokens`` tokens."""

    model_config = _STRICT
    kind: Literal["constant"] = "constant"
    tokens: Tokens

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.tokens, np.int64)

    @property
    def mean(self) -> float:
        return float(self.tokens)


class UniformLengths(BaseModel):
    """Integers drawn uniformly from ``min`` to ``max``, both included."""

    model_config = _STRICT
    kind: Literal["uniform"]
    min: Tokens
    max: Tokens

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
    mean: MeanTokens
    cv: CoefficientOfVariation

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
    prompt_tokens: Tokens | Lengths = 128
    output_tokens: Tokens | Lengths = 128
    trace: Reference | None = None
    max_batch: IterationBatch = 32
    max_tokens_per_iteration: Tokens = 512
    chunked_prefill: bool = True
    over_context: Literal["reject", "truncate"] = "reject"
    kv_placement: Literal["sram_first", "dram"] = "sram_first"
    kv_dram_mib: SizeMiB = 1024.0
    slo_ttft_ms: DurationMs | None = None
    slo_tpot_ms: DurationMs | None = None

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
