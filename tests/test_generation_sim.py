"""Generation serving in the engine, against hand arithmetic and serving theory."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import mcmsim
from mcmsim.cli import app
from mcmsim.cost.table import cost_table
from mcmsim.metrics.generation import limiting_bound
from mcmsim.scenario import ScenarioError, parse_scenario
from mcmsim.schedule.schedule import Schedule, Segment
from mcmsim.sim.engine import run_engine
from mcmsim.workloads.zoo import get_model

GB = 1e9
PS = 1e-12
DRAM_LATENCY_S = 200e-9
HOP_S = 35e-9


def _scenario(
    layout: str,
    generation: str,
    stream: str = "",
    sram_mib: float = 10.0,
    dram_gbps: float = 64.0,
    **sim,
):
    simulation = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in sim.items())
    text = f"""
[package]
layout = {layout}
[package.chiplet_types.ws]
dataflow = "ws"
pes = 4096
sram_mib = {sram_mib}
[dram]
bandwidth_gb_per_s = {dram_gbps}

[[workloads]]
model = "gpt2"
{stream}
generation = {{ {generation} }}

[simulation]
warmup = "none"
{simulation}
"""
    return parse_scenario(text)


def _trace(tmp_path, rows: list[tuple[float, int, int]]) -> str:
    path = tmp_path / "requests.csv"
    lines = ["arrived_at,num_prefill_tokens,num_decode_tokens"]
    lines += [f"{t},{p},{o}" for t, p, o in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path).replace("\\", "/")


def _dram_s(nbytes: float, bandwidth_gbps: float) -> float:
    return nbytes / (bandwidth_gbps * GB) + DRAM_LATENCY_S


def _segment_s(table, start: int, stop: int) -> float:
    return float(table.latency_ps[start:stop].sum()) * PS


def test_one_request_at_a_time_ttft_is_the_prefill_and_tpot_one_decode_step(tmp_path) -> None:
    prompt, output = 48, 12
    trace = _trace(tmp_path, [(0.0, prompt, output), (1.0, prompt, output), (2.0, prompt, output)])
    sc = _scenario(
        '[["ws", "ws"]]',
        f'trace = "{trace}", max_batch = 1, max_tokens_per_iteration = 512',
        sram_mib=512.0,
        requests=3,
    )
    cut = get_model("gpt2", phase="decode").index["h6.ln1"]
    n = len(sc.workloads[0].model.layers)
    schedule = Schedule.single("hand", [Segment("gpt2", 0, cut, 0), Segment("gpt2", cut, n, 1)])
    log = run_engine(sc, schedule).generation["gpt2"]
    # Two DRAM interfaces (one per column) share 64 GB/s; one link of 100 GB/s between.
    chiplet = sc.package.chiplets[0].type
    vocab, d = 50257, 768

    def step_s(table, tokens: int) -> float:
        # Token ids in, stage 0, the residual stream (two edges) over one hop, stage 1,
        # the logits of one sampled token out.
        return (
            _dram_s(tokens, 32)
            + _segment_s(table, 0, cut)
            + 2 * d * tokens / (100 * GB)
            + HOP_S
            + _segment_s(table, cut, n)
            + _dram_s(vocab, 32)
        )

    prefill = cost_table(get_model("gpt2", seq_len=prompt), chiplet)
    one_token = cost_table(get_model("gpt2", phase="decode", kv_len=prompt), chiplet)
    # The prefill's logits are computed for the last position only.
    logits_rows = prefill.latency_ps[-2:].sum() - one_token.latency_ps[-2:].sum()
    ttft_expected = step_s(prefill, prompt) - logits_rows * PS
    steps = [
        step_s(cost_table(get_model("gpt2", phase="decode", kv_len=prompt + k - 1), chiplet), 1)
        for k in range(1, output)
    ]
    tpot_expected = sum(steps) / len(steps)
    first = np.array(log.first_token_ps) - np.array(log.arrival_ps)
    tpot = (np.array(log.finish_ps) - np.array(log.first_token_ps)) / (output - 1)
    # The first request also loads the resident weights (under its prefill compute when
    # the DRAM keeps up); the later ones find them there.
    assert first[1:] * PS == pytest.approx([ttft_expected] * 2, rel=0.01)
    assert tpot[1:] * PS == pytest.approx([tpot_expected] * 2, rel=0.01)
    assert first[0] >= first[1]


@pytest.mark.parametrize("batch", [1, 4, 16])
def test_dram_bound_decode_tokens_per_s_follow_bandwidth_over_bytes(batch: int) -> None:
    prompt, output = 8, 100
    sc = _scenario(
        '[["ws"]]',
        f"prompt_tokens = {prompt}, output_tokens = {output}, max_batch = {batch}, "
        f'max_tokens_per_iteration = {max(batch * prompt, batch)}, kv_placement = "dram"',
        f'stream = {{ kind = "closed", in_flight = {batch} }}',
        sram_mib=1.0,
        dram_gbps=16.0,
        requests=2 * batch,
    )
    schedule = mcmsim.schedule(sc, "monolithic")
    results = mcmsim.simulate(sc, schedule)
    generation = results.models["gpt2"]["generation"]
    table = cost_table(get_model("gpt2", phase="decode"), sc.package.chiplets[0].type, batch)
    weights = float(table.dram_stream_bytes.sum())
    kv_per_token = 12 * 2 * 768
    # Mean context read per decode step: prompt + k - 1 cached tokens at step k.
    kv_step = batch * kv_per_token * np.mean([prompt + k - 1 for k in range(1, output)])
    # 16 GB/s keeps decode DRAM-bound: weights alone take 7.7 ms a step; the array
    # needs about 2 ms (SRAM-bandwidth bound) plus 80 us per token of the batch.
    expected = batch * 16 * GB / (weights + kv_step)
    # Prefill iterations are 1 in 100 and cost about a decode step.
    assert generation["output_tokens_per_s"] == pytest.approx(expected, rel=0.05)


def test_dram_bytes_are_weights_plus_kv_by_hand(tmp_path) -> None:
    prompt, output = 20, 30
    trace = _trace(tmp_path, [(0.0, prompt, output), (100.0, prompt, output)])
    sc = _scenario(
        '[["ws"]]',
        f'trace = "{trace}", max_batch = 1, kv_placement = "dram"',
        sram_mib=1.0,
        requests=1,
    )
    schedule = mcmsim.schedule(sc, "monolithic")
    results = mcmsim.simulate(sc, schedule)
    total = sum(v["bytes"] for v in results["dram"].values())
    model = get_model("gpt2", phase="decode")
    chiplet = sc.package.chiplets[0].type
    table = cost_table(model, chiplet)
    from mcmsim.schedule.problem import SchedulingProblem
    from mcmsim.sim.plan import residency

    _, resident = residency(SchedulingProblem(sc), schedule)
    kept = np.array([bool(resident[0].get(("gpt2", i))) for i in range(len(model.layers))])
    embedding = np.array([layer.op == "embedding" for layer in model.layers])
    d, kv_token = 768, 12 * 2 * 768
    iterations = output  # one prefill, then output - 1 decode steps
    tokens = prompt + output - 1
    weights = iterations * int(table.weight_bytes[~kept & ~embedding].sum())
    weights += int(table.weight_bytes[kept].sum())  # loaded once, on first use
    # Each streamed embedding table (wte; wpe fits in SRAM) gives a row per token.
    embedding_rows = int((embedding & ~kept).sum()) * d * tokens
    kv_writes = tokens * kv_token
    kv_reads = kv_token * sum(prompt + k - 1 for k in range(1, output))
    ids_and_logits = tokens + output * 50257
    expected = weights + embedding_rows + kv_writes + kv_reads + ids_and_logits
    assert total == expected
    kv = results.models["gpt2"]["generation"]["kv_cache"]
    assert kv["dram_read_bytes"] == kv_reads
    assert kv["dram_write_bytes"] == kv_writes


def test_kv_capacity_preempts_but_is_never_exceeded_and_all_admitted_finish(tmp_path) -> None:
    rows = [(0.001 * i, 200, 150) for i in range(24)]
    trace = _trace(tmp_path, rows)
    sc = _scenario(
        '[["ws", "ws"]]',
        f'trace = "{trace}", max_batch = 16, kv_placement = "dram", kv_dram_mib = 40',
        requests=24,
    )
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    generation = results.models["gpt2"]["generation"]
    kv = generation["kv_cache"]
    requests = generation["requests"]
    assert kv["capacity_bytes"] == 40 << 20
    assert 0 < kv["peak_bytes"] <= kv["capacity_bytes"]
    assert requests["preemptions"] > 0
    assert generation["iterations"]["batch_limited_by"].get("kv_capacity", 0) > 0
    assert generation["limited_by"]["bound"] == "kv_capacity"
    assert requests["admitted"] == requests["finished_total"] == 24
    assert generation["output_tokens_per_s"] > 0


@pytest.mark.parametrize(("dram_gbps", "bound"), [(16.0, "dram"), (1000.0, "compute")])
def test_batching_raises_tokens_per_s_until_a_named_bound_binds(
    dram_gbps: float, bound: str
) -> None:
    """Twice as many requests as the batch holds wait, so ``max_batch`` limits a batch
    of one: its time is mostly weights (streamed) or weight-stationary fill (compute),
    which a larger batch shares. At 32 the KV reads (the contexts reach 64 + 600) or
    the array's row work are most of the iteration, and the run names that bound."""
    served = {}
    for batch in (1, 32):
        sc = _scenario(
            '[["ws"]]',
            f"prompt_tokens = 64, output_tokens = 600, max_batch = {batch}, "
            'max_tokens_per_iteration = 2048, kv_placement = "dram"',
            f'stream = {{ kind = "closed", in_flight = {2 * batch} }}',
            sram_mib=1.0,
            dram_gbps=dram_gbps,
            requests=batch,
        )
        generation = mcmsim.simulate(sc, mcmsim.schedule(sc, "monolithic")).models["gpt2"]
        served[batch] = generation.generation
    small, large = served[1], served[32]
    assert small.limited_by.bound == "max_batch"
    assert large.limited_by.bound == bound
    assert large.output_tokens_per_s > 3 * small.output_tokens_per_s
    figures = large.limited_by
    busy, scaling = (
        (figures.dram_share, figures.dram_scaling_share)
        if bound == "dram"
        else (figures.compute_share, figures.compute_scaling_share)
    )
    assert busy >= 0.8 and scaling >= 0.5


def test_limiting_bound_rule() -> None:
    # KV capacity first; then a saturated resource whose time grows with the batch.
    assert limiting_bound((1.0, 0.9), (1.0, 0.9), 0.5, "kv_capacity") == "kv_capacity"
    assert limiting_bound((0.95, 0.6), (0.5, 0.9), 0.0, "max_batch") == "compute"
    assert limiting_bound((0.3, 0.9), (0.99, 0.2), 0.0, "demand") == "demand"
    assert limiting_bound((0.3, 0.9), (0.79, 0.9), 0.0, "token_budget") == "token_budget"


def test_ttft_grows_with_prompt_length(tmp_path) -> None:
    ttft = []
    for prompt in (16, 128, 512):
        trace = _trace(tmp_path, [(0.0, prompt, 4), (100.0, prompt, 4)])
        sc = _scenario('[["ws", "ws"]]', f'trace = "{trace}", max_batch = 1', requests=1)
        results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
        ttft.append(results.models["gpt2"]["generation"]["ttft_s"]["mean"])
    assert ttft[0] < ttft[1] < ttft[2]


def test_over_context_requests_are_rejected_or_truncated_and_counted(tmp_path) -> None:
    trace = _trace(tmp_path, [(0.0, 1000, 100), (0.001, 10, 5)])
    for rule, finished in (("reject", 1), ("truncate", 2)):
        sc = _scenario('[["ws"]]', f'trace = "{trace}", over_context = "{rule}"', requests=finished)
        results = mcmsim.simulate(sc, mcmsim.schedule(sc, "monolithic"))
        requests = results.models["gpt2"]["generation"]["requests"]
        assert requests["finished_total"] == finished
        assert requests["rejected" if rule == "reject" else "truncated"] == 1


def test_same_seed_same_results() -> None:
    sc = _scenario(
        '[["ws", "ws"]]',
        'prompt_tokens = { kind = "lognormal", mean = 100, cv = 1.0 }, '
        'output_tokens = { kind = "uniform", min = 4, max = 40 }, max_batch = 8, '
        "slo_ttft_ms = 50, slo_tpot_ms = 20",
        'stream = { kind = "poisson", rate_per_s = 30 }',
        requests=40,
        seed=3,
    )
    schedule = mcmsim.schedule(sc, "standalone")
    first = mcmsim.simulate(sc, schedule).to_json()
    assert first == mcmsim.simulate(sc, schedule).to_json()
    slo = mcmsim.simulate(sc, schedule).models["gpt2"]["generation"]["slo"]
    assert 0 <= slo["attainment"] <= min(slo["ttft_attainment"], slo["tpot_attainment"])


def test_bad_generation_trace_is_one_line_with_file_line_and_exit_2(tmp_path) -> None:
    trace = _trace(tmp_path, [(0.5, 10, 5), (0.25, 10, 5)])
    text = f"""
[package]
layout = [["ws"]]
[package.chiplet_types.ws]
dataflow = "ws"
pes = 4096
[[workloads]]
model = "gpt2"
generation = {{ trace = "{trace}" }}
"""
    with pytest.raises(ScenarioError, match=r"requests.csv:3: arrived_at 0.25 is earlier"):
        parse_scenario(text)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "requests.csv:3:" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ScenarioError, match="generation needs a zoo decoder"):
        parse_scenario(text.replace('model = "gpt2"', 'model = "resnet50"'))
    with pytest.raises(ScenarioError, match="names a zoo decoder"):
        parse_scenario(text.replace('model = "gpt2"', 'model = "gpt2"\nseq_len = 64'))


@pytest.mark.slow
@pytest.mark.parametrize(
    "scheduler", ["monolithic", "standalone", "homogeneous-pipeline", "greedy", "scar"]
)
def test_every_builtin_schedules_a_generation_workload_next_to_vision(scheduler: str) -> None:
    from tests.conftest import ROOT

    sc = mcmsim.load_scenario(ROOT / "scenarios" / "llm_chat_vision.toml").with_overrides(
        requests=60
    )
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, scheduler))
    generation = results.models["gpt2"]["generation"]
    # 60 completions in all are mostly frames: the LLM must have been served, not finished.
    assert generation["requests"]["admitted"] > 0
    assert generation["iterations"]["count"] > 0
    assert results.models["resnet50"]["completed"] > 0


def test_generation_trace_stream_gives_arrivals_and_the_run_ends_when_they_are_served(
    tmp_path,
) -> None:
    trace = _trace(tmp_path, [(0.0, 10, 3), (0.5, 10, 3), (1.0, 10, 3)])
    sc = _scenario(
        '[["ws"]]',
        "prompt_tokens = 16, output_tokens = 4",
        f'stream = {{ kind = "generation_trace", file = "{trace}" }}',
        requests=100,
    )
    stream = sc.workloads[0].stream
    assert not stream.is_closed
    assert stream.offered_rate_per_s() == pytest.approx(2.0)  # (3 - 1) / 1 s
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "monolithic"), records=True)
    # Fewer arrivals than requests: the run ends when the last one is served.
    assert results.models["gpt2"].completed_total == 3
    assert results.records["arrival_ps"].tolist() == [0, 500_000_000_000, 1_000_000_000_000]
    # Lengths come from the generation table here, not from the trace's columns.
    assert results.records["inferences"].tolist() == [4, 4, 4]


def test_a_generation_workload_needs_stream_mode() -> None:
    with pytest.raises(ScenarioError, match=r'workloads.0.generation: .*mode = "stream"'):
        _scenario('[["ws"]]', "max_batch = 4", mode="batch")


def test_cli_run_prints_the_generation_line(tmp_path) -> None:
    trace = _trace(tmp_path, [(0.0, 10, 5), (0.01, 10, 5)])
    path = tmp_path / "chat.toml"
    path.write_text(
        '[package]\nlayout = [["ws"]]\n[package.chiplet_types.ws]\ndataflow = "ws"\n'
        f'pes = 4096\n[[workloads]]\nmodel = "gpt2"\ngeneration = {{ trace = "{trace}" }}\n'
    )
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    line = text[text.index("gpt2 generation:") :]
    # Two requests of 5 tokens, one at a time: every ready request was served.
    assert "output tokens/s" in line and "limited by demand" in line
