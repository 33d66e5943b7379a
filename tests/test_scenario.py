"""Scenario files: defaults, inline models, and one clear line for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import mcmsim
from mcmsim.scenario import (
    DeprecatedKeyWarning,
    ScenarioError,
    key_lines,
    load_scenario,
    parse_scenario,
)
from tests.conftest import ROOT, Cli

MINIMAL = """\
[package]
layout = [["a", "b"]]

[package.chiplet_types.a]
dataflow = "ws"
pes = 4096

[package.chiplet_types.b]
dataflow = "os"
rows = 32
cols = 64

[[workloads]]
model = "resnet50"
"""


def test_defaults_come_from_the_design_brief() -> None:
    sc = parse_scenario(MINIMAL)
    package = sc.package
    assert package.nop.link_bandwidth_gb_per_s == 100
    assert package.nop.hop_latency_ps == 35_000
    assert package.nop.energy_pj_per_bit == pytest.approx(2.04)
    assert package.dram_bandwidth_gb_per_s == pytest.approx(64)
    assert package.dram[0].latency_ps == 200_000
    assert package.dram[0].energy_pj_per_bit == pytest.approx(14.8)
    # DRAM interfaces on the left and right edges.
    assert [d.position for d in package.dram] == [(0, 0), (0, 1)]
    a = package.chiplet_types["a"]
    assert (a.rows, a.cols, a.freq_hz, a.sram_bytes) == (64, 64, 500_000_000, 10 << 20)
    assert package.chiplet_types["b"].pes == 2048
    assert sc.simulation.mode == "stream"


def test_shipped_scenarios_validate() -> None:
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        sc = load_scenario(path)
        assert sc.workloads


def test_inline_model_and_xy_routes() -> None:
    text = MINIMAL.replace(
        'model = "resnet50"',
        """name = "tiny"
layers = [
  { name = "fc1", op = "matmul", m = 16, k = 64, n = 64 },
  { name = "act", op = "elementwise", elems = 1024 },
  { name = "fc2", op = "matmul", m = 16, k = 64, n = 10 },
]""",
    )
    sc = parse_scenario(text)
    model = sc.models["tiny"]
    assert [layer.name for layer in model.layers] == ["fc1", "act", "fc2"]
    assert model.macs == 16 * 64 * 64 + 16 * 64 * 10
    assert list(model.graph.edges) == [("fc1", "act"), ("act", "fc2")]


def test_key_lines_follow_arrays_of_tables() -> None:
    lines = key_lines(MINIMAL + '\n[[workloads]]\nmodel = "gpt2"\nbatch = 2\n')
    assert lines[("package", "chiplet_types", "b", "rows")] == 10
    assert lines[("workloads", 1, "batch")] == 18


BAD = [
    (
        "unknown key",
        MINIMAL.replace("pes = 4096", "pes = 4096\nflux = 3"),
        ":7: package.chiplet_types.a.flux: unknown key",
    ),
    (
        "wrong type",
        MINIMAL.replace("pes = 4096", 'pes = "many"'),
        ":6: package.chiplet_types.a.pes: Input should be a valid integer",
    ),
    (
        "negative size",
        MINIMAL.replace("rows = 32", "rows = -32"),
        ":10: package.chiplet_types.b.rows: Input should be greater than 0",
    ),
    (
        "zero size",
        MINIMAL.replace("pes = 4096", "pes = 0"),
        ":6: package.chiplet_types.a.pes: Input should be greater than 0",
    ),
    (
        "unknown model",
        MINIMAL.replace('"resnet50"', '"resnet51"'),
        ":14: workloads.0.model: unknown model 'resnet51'",
    ),
    (
        "unknown chiplet type",
        MINIMAL.replace('["a", "b"]', '["a", "c"]'),
        ":2: package.layout.0: unknown chiplet type 'c'",
    ),
    (
        "position outside",
        MINIMAL + "[dram]\ninterfaces = [[0, 0], [3, 1]]\n",
        ":16: dram.interfaces.1: position (3, 1) is outside the 1x2 package",
    ),
    ("toml syntax", MINIMAL.replace("pes = 4096", "pes = = 4096"), ":6: TOML syntax error"),
    (
        "bad stream",
        MINIMAL + 'stream = { kind = "poisson", rate_per_s = -1 }\n',
        ":15: workloads.0.stream.rate_per_s: Input should be greater than or equal to 0.000001",
    ),
]


@pytest.mark.parametrize(("what", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_clear_line_and_exit_2(
    what: str, text: str, expected: str, cli: Cli, write
) -> None:
    path = write("bad.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert expected in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("error: ")


def test_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "nope.toml: file not found" in result.stderr


def test_all_errors_at_once(write) -> None:
    text = MINIMAL.replace("pes = 4096", "pes = 0").replace("rows = 32", "rows = -1")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write("two.toml", text))
    assert len(info.value.problems) == 2


def test_trace_stream_bad_row(cli: Cli, write) -> None:
    write("arrivals.csv", "arrival_s,model\n0.1,resnet50\nsoon,resnet50\n")
    path = write("trace.toml", MINIMAL + 'stream = { kind = "trace", file = "arrivals.csv" }\n')
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert "arrivals.csv:3: arrival_s 'soon' is not a number" in result.stderr


def test_empty_layout_row_and_bad_model_parameters(write) -> None:
    cases = {
        MINIMAL.replace(
            '[["a", "b"]]', "[[]]"
        ): ":2: package.layout.0: List should have at least 1 item",
        MINIMAL.replace(
            'model = "resnet50"', 'model = "gpt2"\nseq_len = 99999'
        ): ":15: workloads.0.seq_len: gpt2: 99999 positions",
        MINIMAL.replace(
            'model = "resnet50"', 'model = "gpt2"\nimage_size = 64'
        ): ":15: workloads.0.image_size: model 'gpt2' takes parameters",
    }
    for text, expected in cases.items():
        with pytest.raises(ScenarioError) as info:
            load_scenario(write("bad.toml", text))
        assert expected in str(info.value)
        assert len(info.value.problems) == 1


# --- overrides, removed and renamed keys ------------------------------------------------

SCENARIO = str(ROOT / "scenarios" / "gpt2_resnet.toml")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"mode": "Batch"},
            "simulation.mode: override 'Batch': Input should be 'stream' or 'batch'",
        ),
        ({"requests": 0}, "simulation.requests: override 0: Input should be greater than 0"),
        (
            {"transfer_chunks": 8},
            "simulation.transfer_chunks: override: unknown key; "
            "valid keys: max_backlog, max_events, max_time_s, min_requests_per_model, mode, "
            "precision_bytes, requests, seed, "
            "warmup",
        ),
    ],
)
def test_overrides_are_validated(overrides: dict, expected: str) -> None:
    scenario = load_scenario(SCENARIO)
    with pytest.raises(ScenarioError) as info:
        scenario.with_overrides(**overrides)
    assert str(info.value) == f"{SCENARIO}: {expected}"


def test_valid_overrides_apply_and_keep_the_rest() -> None:
    scenario = load_scenario(SCENARIO)
    changed = scenario.with_overrides(mode="batch", requests=7)
    assert (changed.simulation.mode, changed.simulation.requests) == ("batch", 7)
    assert changed.simulation.seed == scenario.simulation.seed
    assert changed.package is scenario.package and changed.workloads is scenario.workloads


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["run", SCENARIO, "--mode", "Batch"], "simulation.mode"),
        (["run", SCENARIO, "--requests", "0"], "simulation.requests"),
        (["search", SCENARIO, "--requests", "0"], "simulation.requests"),
        (["compare", SCENARIO, "--requests", "0"], "simulation.requests"),
    ],
)
def test_cli_reports_a_bad_override_in_one_line(cli: Cli, args: list[str], key: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {SCENARIO}: {key}: override")


def test_removed_transfer_chunks_is_an_unknown_key(write) -> None:
    path = write("old.toml", MINIMAL + "[simulation]\ntransfer_chunks = 8\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == (
        f"{path}:16: simulation.transfer_chunks: unknown key; "
        "valid keys: max_backlog, max_events, max_time_s, min_requests_per_model, mode, "
        "precision_bytes, requests, seed, "
        "warmup"
    )


BANDWIDTHS_NEW = "[nop]\nlink_bandwidth_gb_per_s = 0.5\n[dram]\nbandwidth_gb_per_s = 8\n"
BANDWIDTHS_OLD = "[nop]\nlink_bandwidth_gbps = 0.5\n[dram]\nbandwidth_gbps = 8\n"


def test_old_bandwidth_keys_still_work_with_a_warning(write) -> None:
    text = 'name = "bw"\n' + MINIMAL + "[simulation]\nrequests = 40\n"
    new = load_scenario(write("new.toml", text + BANDWIDTHS_NEW))
    old_path = write("old.toml", text + BANDWIDTHS_OLD)
    with pytest.warns(DeprecatedKeyWarning) as caught:
        old = load_scenario(old_path)
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        "nop.link_bandwidth_gbps is deprecated: use nop.link_bandwidth_gb_per_s "
        "(the same value, in GB/s)",
        "dram.bandwidth_gbps is deprecated: use dram.bandwidth_gb_per_s (the same value, in GB/s)",
    ]
    assert str(caught[0].message).startswith(f"{old_path}:19: ")
    assert old.package == new.package
    assert old.package.nop.link_bandwidth_gb_per_s == 0.5
    assert old.package.dram_bandwidth_gb_per_s == pytest.approx(8)
    # 0.5 GB/s links are slow enough that the bandwidth shows in the results.
    sched = mcmsim.schedule(new, "homogeneous-pipeline")
    assert mcmsim.simulate(old, sched).to_json() == mcmsim.simulate(new, sched).to_json()


def test_cli_shows_a_deprecated_key_as_one_warning_line(cli: Cli, write) -> None:
    path = write("old.toml", MINIMAL + BANDWIDTHS_OLD)
    result = cli("validate", path)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"warning: {path}:16: nop.link_bandwidth_gbps is deprecated: "
        "use nop.link_bandwidth_gb_per_s (the same value, in GB/s)",
        f"warning: {path}:18: dram.bandwidth_gbps is deprecated: "
        "use dram.bandwidth_gb_per_s (the same value, in GB/s)",
    ]
    assert "8 GB/s DRAM" in result.stdout


def test_old_and_new_name_together_is_an_error(write) -> None:
    text = MINIMAL + "[nop]\nlink_bandwidth_gbps = 50\nlink_bandwidth_gb_per_s = 50\n"
    with pytest.raises(ScenarioError) as info:
        load_scenario(write("both.toml", text))
    assert str(info.value).endswith(
        ":16: nop.link_bandwidth_gbps: give only link_bandwidth_gb_per_s "
        "(link_bandwidth_gbps is its old name)"
    )


def test_error_in_an_old_key_names_the_old_key(write) -> None:
    text = MINIMAL + "[dram]\nbandwidth_gbps = -3\n"
    with (
        pytest.raises(ScenarioError) as info,
        pytest.warns(DeprecatedKeyWarning),
    ):
        load_scenario(write("bad.toml", text))
    assert str(info.value).endswith(
        ":16: dram.bandwidth_gbps: Input should be greater than or equal to 0.001; got -3"
    )


def test_batch_override_of_a_generation_workload_is_refused(cli: Cli) -> None:
    sc = mcmsim.load_scenario("scenarios/llm_chat_vision.toml")
    with pytest.raises(mcmsim.ScenarioError, match=r"simulation\.mode"):
        sc.with_overrides(mode="batch")
    result = cli("run", "scenarios/llm_chat_vision.toml", "--mode", "batch")
    assert result.exit_code == 2
    assert "generation workloads" in result.stderr
    assert "Traceback" not in result.output
