"""Generation workloads: request lengths, traces, the context rule, KV sizes, iteration costs."""

from __future__ import annotations

import numpy as np
import pytest

from mcmsim.cost.table import cost_table
from mcmsim.hardware.chiplet import ChipletType
from mcmsim.hardware.dataflow import dataflow_preset
from mcmsim.sim.iteration_cost import IterationCostModel
from mcmsim.workloads.decoder import Decoder, decoder_for
from mcmsim.workloads.generation import (
    GenerationSpec,
    LognormalLengths,
    UniformLengths,
    apply_context_limit,
)
from mcmsim.workloads.generation_trace import TraceError, read_generation_trace
from mcmsim.workloads.zoo import get_model

PS_PER_S = 10**12


def test_lengths_constant_uniform_lognormal() -> None:
    spec = GenerationSpec(prompt_tokens=100, output_tokens={"kind": "uniform", "min": 3, "max": 7})
    rng = np.random.default_rng(0)
    assert (spec.prompt_lengths.sample(rng, 5) == 100).all()
    uniform = spec.output_lengths.sample(rng, 20_000)
    assert uniform.min() == 3 and uniform.max() == 7
    assert np.bincount(uniform)[3:].min() > 3_500  # every value, about 1/5 each
    # Lognormal: mean and coefficient of variation as declared (before rounding).
    draws = LognormalLengths(kind="lognormal", mean=500, cv=0.8).sample(rng, 200_000)
    assert draws.mean() == pytest.approx(500, rel=0.02)
    assert draws.std() / draws.mean() == pytest.approx(0.8, rel=0.03)


def test_lengths_are_seeded() -> None:
    dist = UniformLengths(kind="uniform", min=1, max=1000)
    a = dist.sample(np.random.default_rng(7), 50)
    b = dist.sample(np.random.default_rng(7), 50)
    assert (a == b).all()


def test_spec_rejects_a_budget_below_the_batch() -> None:
    with pytest.raises(ValueError, match="max_tokens_per_iteration 8 is below max_batch 16"):
        GenerationSpec(max_batch=16, max_tokens_per_iteration=8)
    with pytest.raises(ValueError, match="min 9 exceeds max 2"):
        GenerationSpec(prompt_tokens={"kind": "uniform", "min": 9, "max": 2})


def test_trace_seconds_convention(tmp_path) -> None:
    path = tmp_path / "vidur.csv"
    path.write_text(
        "request_id,arrived_at,num_prefill_tokens,num_decode_tokens\n"
        "0,0.0,100,20\n1,0.25,300,5\n2,0.25,7,1\n"
    )
    trace = read_generation_trace(path)
    assert trace.arrivals_ps.tolist() == [0, PS_PER_S // 4, PS_PER_S // 4]
    assert trace.prompt_tokens.tolist() == [100, 300, 7]
    assert trace.output_tokens.tolist() == [20, 5, 1]


def test_trace_azure_convention_is_relative_to_the_first_row(tmp_path) -> None:
    path = tmp_path / "azure.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,374,44\n"
        "2023-11-16 18:15:50.9951690,396,109\n"
        "2023-11-16 18:16:00.0000000,879,4\n"
    )
    trace = read_generation_trace(path)
    # 4.3145790 s and 13.3194100 s after the first row, to the 100 ns of the file.
    assert trace.arrivals_ps.tolist() == [0, 4_314_579_000_000, 13_319_410_000_000]
    assert trace.prompt_tokens.tolist() == [374, 396, 879]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0.0,10,5\n-1.0,10,5\n", ":3: arrived_at must be >= 0"),
        ("0.5,10,5\n0.25,10,5\n", ":3: arrived_at 0.25 is earlier than the row before"),
        ("0.0,10.5,5\n", ":2: num_prefill_tokens '10.5' is not an integer"),
        ("0.0,10,x\n", ":2: num_decode_tokens 'x' is not an integer"),
        ("0.0,10\n", ":2: expected 3 columns"),
        ("soon,10,5\n", ":2: arrived_at 'soon' is not a time in seconds"),
        ("0.0,10,0\n", ":2: num_decode_tokens must be >= 1"),
    ],
)
def test_bad_trace_rows_are_reported_at_file_line(tmp_path, rows: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n" + rows)
    with pytest.raises(TraceError) as info:
        read_generation_trace(path)
    assert str(info.value).startswith(str(path) + message)


def test_trace_header_and_bad_timestamp(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,prompt,output\n0,1,1\n")
    with pytest.raises(TraceError, match=r"bad.csv:1: header must name the columns"):
        read_generation_trace(path)
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:00,1,1\n")
    with pytest.raises(TraceError, match=r"bad.csv:2: TIMESTAMP '2023-11-16 25:00' is not a time"):
        read_generation_trace(path)
    with pytest.raises(TraceError, match="not found"):
        read_generation_trace(tmp_path / "missing.csv")


def test_context_rule_rejects_or_truncates_and_counts() -> None:
    prompt = np.array([100, 1000, 2000, 10])
    output = np.array([100, 100, 5, 1014])
    rejected = apply_context_limit(prompt, output, 1024, "reject")
    assert rejected.rejected.tolist() == [False, True, True, False]
    assert rejected.truncated == 0
    cut = apply_context_limit(prompt, output, 1024, "truncate")
    assert not cut.rejected.any()
    assert cut.truncated == 2
    assert cut.prompt_tokens.tolist() == [100, 1000, 1023, 10]
    assert cut.output_tokens.tolist() == [100, 24, 1, 1014]
    assert ((cut.prompt_tokens + cut.output_tokens) <= 1024).all()


def test_kv_bytes_follow_the_gpt2_shapes() -> None:
    small = decoder_for("gpt2", get_model("gpt2", phase="decode"))
    assert small.kv_bytes_per_token_per_block(1) == 2 * 768
    assert small.kv_bytes_per_token(2) == 12 * 2 * 768 * 2
    medium = decoder_for("gpt2-medium", get_model("gpt2-medium", phase="decode"))
    assert medium.kv_bytes_per_token(1) == 24 * 2 * 1024
    assert small.max_context == 1024
    with pytest.raises(ValueError, match="zoo decoder"):
        decoder_for("bert-base", get_model("bert-base"))


def test_decoder_anatomy_counts_blocks() -> None:
    model = get_model("gpt2", phase="decode")
    decoder = decoder_for("gpt2", model)
    assert decoder.blocks_in(0, len(model.layers)) == 12
    assert (decoder.kind == Decoder.ATTENTION).sum() == 36
    assert [model.layers[i].name for i in np.flatnonzero(decoder.kind == Decoder.SAMPLING)] == [
        "ln_f",
        "lm_head",
    ]
    half = model.index["h6.ln1"]
    assert decoder.blocks_in(0, half) == 6
    assert decoder.attention_counts(0, half).tolist() == [6, 6, 6]


CHIPLET = ChipletType(
    "ws", dataflow_preset("ws"), 64, 64, 10 << 20, 128, 500_000_000, 0.1, 0.23, 0.05
)


def _model_costs(resident: bool = True) -> tuple:
    model = get_model("gpt2", phase="decode")
    decoder = decoder_for("gpt2", model)
    costs = IterationCostModel(
        model, decoder, CHIPLET, np.full(len(model.layers), resident), 1, 64.0, 14.8
    )
    return model, decoder, costs


@pytest.mark.parametrize("prompt", [16, 200])
def test_prefill_iteration_costs_what_the_zoo_prefill_model_costs(prompt: int) -> None:
    model, _, costs = _model_costs()
    n = len(model.layers)
    got = costs.segment(0, n, prompt, 1, np.array([], np.int64), [(prompt, prompt)])
    prefill = cost_table(get_model("gpt2", seq_len=prompt), CHIPLET)
    one_token = cost_table(model, CHIPLET)
    # The zoo prefill computes logits of every position; an iteration, of the last only.
    expected = prefill.latency_ps[:-2].sum() + one_token.latency_ps[model.index["ln_f"] :].sum()
    assert got.compute_ps == expected


@pytest.mark.parametrize("context", [1, 300, 1024])
def test_decode_iteration_costs_what_the_zoo_decode_model_costs(context: int) -> None:
    model, _, costs = _model_costs()
    got = costs.segment(0, len(model.layers), 1, 1, np.array([context]), [])
    decode = cost_table(get_model("gpt2", phase="decode", kv_len=context - 1), CHIPLET)
    assert got.compute_ps == decode.latency_ps.sum()
    assert got.compute_pj == pytest.approx(decode.compute_pj.sum())


def test_batched_decode_shares_weights_and_attention_grows_with_context() -> None:
    model, _, costs = _model_costs(resident=False)
    n = len(model.layers)
    one = costs.segment(0, n, 1, 1, np.array([100]), [])
    eight = costs.segment(0, n, 8, 8, np.full(8, 100), [])
    # Streamed weights are read once per iteration; only the embedding rows scale.
    wte_rows = 7 * 768
    assert eight.stream_bytes == one.stream_bytes + 2 * wte_rows
    longer = costs.segment(0, n, 1, 1, np.array([900]), [])
    assert longer.compute_ps > one.compute_ps
    assert longer.stream_bytes == one.stream_bytes
