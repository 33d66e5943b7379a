"""Scenario files: defaults, inline models, and one clear line for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcmsim.scenario import ScenarioError, key_lines, load_scenario, parse_scenario
from tests.conftest import ROOT, run_cli

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
        ":15: workloads.0.stream.rate_per_s: Input should be greater than 0",
    ),
]


@pytest.mark.parametrize(("what", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_clear_line_and_exit_2(
    what: str, text: str, expected: str, write
) -> None:
    path = write("bad.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert expected in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("error: ")


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml: file not found" in result.stderr


def test_all_errors_at_once(write) -> None:
    text = MINIMAL.replace("pes = 4096", "pes = 0").replace("rows = 32", "rows = -1")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write("two.toml", text))
    assert len(info.value.problems) == 2


def test_trace_stream_bad_row(write) -> None:
    write("arrivals.csv", "arrival_s,model\n0.1,resnet50\nsoon,resnet50\n")
    path = write("trace.toml", MINIMAL + 'stream = { kind = "trace", file = "arrivals.csv" }\n')
    result = run_cli("validate", str(path))
    assert result.returncode == 2
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
