"""Compact activity records, the timeline redrawn from them, and the streamed trace."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import mcmsim
from mcmsim.metrics.activity import load_activity
from mcmsim.report.perfetto import trace_event_count
from mcmsim.report.timeline import plot_timeline
from tests.conftest import Cli, invoke_cli

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "gpt2_resnet.toml"

# One model in two stages on two chiplets, one request in flight: every request runs
# stage 0 on chiplet 0, then stage 1 on chiplet 1, so the timeline is a staircase.
PIPELINE = """
[package]
layout = [["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 1024
[[workloads]]
model = "resnet50"
stream = { kind = "closed", in_flight = 1 }
[simulation]
requests = 6
warmup = "none"
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    result = invoke_cli("run", SCENARIO, "--requests", "60", "--out", out, "--trace")
    assert result.exit_code == 0, result.output
    return out


def _valid(path: Path, fmt: str) -> None:
    data = path.read_bytes()
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    elif fmt == "pdf":
        assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
        assert b"/Type /Page" in data or b"/Type/Page" in data
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
        # Text stays text (editable in a paper's figure), not outlines.
        assert any(el.tag.endswith("text") for el in root.iter())


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
@pytest.mark.parametrize(
    "window",
    [("--steady-state",), ("--from-ms", "10", "--to-ms", "30"), ("--requests", "20-24")],
)
def test_plot_timeline_windows_and_formats(
    cli: Cli, run_dir: Path, tmp_path: Path, fmt: str, window: tuple[str, ...]
) -> None:
    path = tmp_path / f"t.{fmt}"
    result = cli("plot", "timeline", run_dir, "--format", fmt, "-o", path, *window)
    assert result.exit_code == 0, result.output
    _valid(path, fmt)


def test_plot_timeline_bad_inputs_exit_2(cli: Cli, run_dir: Path, tmp_path: Path) -> None:
    cases = [
        (("--format", "jpg"), "expected one of png, pdf, svg"),
        (("--from-ms", "5", "--to-ms", "1"), "expected 0 <= FROM < TO"),
        (("--requests", "x"), "FIRST-LAST"),
        (("--requests", "1-2", "--steady-state"), "give one of"),
    ]
    for args, expected in cases:
        result = cli("plot", "timeline", run_dir, *args)
        assert result.exit_code == 2 and expected in result.stderr, (args, result.output)
    missing = cli("plot", "timeline", tmp_path)
    assert missing.exit_code == 2 and "records.npz: not found" in missing.stderr


def test_records_round_trip(run_dir: Path) -> None:
    activity = load_activity(run_dir / "records.npz")
    results = json.loads((run_dir / "results.json").read_text())
    # Every completed request is in the records, numbered in arrival order.
    assert len(activity.requests) == results["requests"]["completed"]
    assert activity.models == list(results["models"])
    ex = activity.executions
    assert (ex["end_ps"] >= ex["start_ps"]).all()
    # A chiplet runs one execution at a time.
    for c in np.unique(ex["chiplet"]):
        mine = np.sort(ex[ex["chiplet"] == c], order="start_ps")
        assert (mine["start_ps"][1:] >= mine["end_ps"][:-1]).all()


def test_trace_holds_every_event_of_the_run(run_dir: Path) -> None:
    trace = json.loads((run_dir / "trace.json").read_text())
    other = trace["otherData"]
    assert other["truncated"] is False and other["events_written"] == other["events_total"]
    activity = load_activity(run_dir / "records.npz")
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    # One slice per layer compute, per DRAM stall and per transfer on each resource.
    layers = activity.layer_intervals()
    _, per_resource = activity.resource_transfers()
    expected = len(layers.start_ps) + int((layers.stall_ps > 0).sum()) + len(per_resource)
    assert len(slices) == expected == trace_event_count(activity)["slices"]
    # Requests are numbered in arrival order: every id is one of the arrived requests.
    arrived = json.loads((run_dir / "results.json").read_text())["requests"]["arrived"]
    assert {e["args"]["request"] for e in slices} <= set(range(arrived))


def test_two_stage_pipeline_has_one_bar_per_stage_execution(tmp_path: Path) -> None:
    sc = mcmsim.parse_scenario(PIPELINE)
    layers = len(sc.workloads[0].model.layers)
    schedule = mcmsim.Schedule.single(
        "two-stage",
        [
            mcmsim.Segment("resnet50", 0, layers // 2, 0),
            mcmsim.Segment("resnet50", layers // 2, layers, 1),
        ],
    )
    results = mcmsim.simulate(sc, schedule, activity=True)
    ex = results.activity.executions
    per_chiplet = {c: int((ex["chiplet"] == c).sum()) for c in (0, 1)}
    # Each request runs each stage once; one request in flight, so the stages alternate.
    assert per_chiplet[0] == per_chiplet[1] >= 6
    for request in np.unique(ex["request"]):
        mine = ex[ex["request"] == request]
        first, second = mine[mine["chiplet"] == 0], mine[mine["chiplet"] == 1]
        if len(first) and len(second):
            assert second["start_ps"][0] >= first["end_ps"][0]  # the staircase
    end = int(ex["end_ps"].max())
    drawing = plot_timeline(results, tmp_path / "pipe.svg", (0, end))
    assert drawing.bars == {"chiplet 0": per_chiplet[0], "chiplet 1": per_chiplet[1]}
    _valid(tmp_path / "pipe.svg", "svg")
