"""Tests of the Perfetto trace export, the timeline plot and the CLI's output folder."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import mcmsim
from mcmsim.report.outputs import RUN_FILES, write_run_dir
from mcmsim.report.perfetto import resource_tracks, write_trace
from mcmsim.report.timeline import default_window, plot_timeline
from tests.conftest import RESULT_KEYS, Cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "gpt2_resnet.toml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scar_run() -> mcmsim.Results:
    """The scenario's own scheduler (scar), traced."""
    sc = mcmsim.load_scenario(SCENARIO).with_overrides(requests=50)
    return mcmsim.simulate(sc, mcmsim.schedule(sc), trace=True)


@pytest.fixture(scope="module")
def pipelined() -> mcmsim.Results:
    """Each model split over two chiplets, so activations cross NoP links."""
    sc = mcmsim.load_scenario(SCENARIO).with_overrides(requests=20)
    layers = {w.name: len(w.model.layers) for w in sc.workloads}
    gpt2, resnet = layers["gpt2"], layers["resnet50"]
    segments = [
        mcmsim.Segment("gpt2", 0, gpt2 // 2, 0),
        mcmsim.Segment("gpt2", gpt2 // 2, gpt2, 3),
        mcmsim.Segment("resnet50", 0, resnet // 2, 1),
        mcmsim.Segment("resnet50", resnet // 2, resnet, 2),
    ]
    return mcmsim.simulate(sc, mcmsim.Schedule.single("pipelined", segments), trace=True)


def _trace(results: mcmsim.Results, path: Path, **kwargs: Any) -> dict[str, Any]:
    write_trace(results, path, **kwargs)
    return json.loads(path.read_text(encoding="utf-8"))


def _thread_names(trace: dict[str, Any]) -> dict[tuple[int, int], str]:
    return {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }


def _run_end_us(results: mcmsim.Results) -> float:
    return (results["warmup_s"] + results["measured_s"]) * 1e6


@pytest.mark.parametrize("fixture", ["scar_run", "pipelined"])
def test_trace_structure(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    results = request.getfixturevalue(fixture)
    trace = _trace(results, tmp_path / "trace.json")
    events = trace["traceEvents"]
    assert trace["displayTimeUnit"] == "ns"
    assert trace["otherData"]["truncated"] is False
    assert trace["otherData"]["events_written"] == len(results.events) + len(results.queue_samples)

    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert sorted(processes.values()) == ["DRAM", "NoP links", "chiplets"]
    names = _thread_names(trace)
    tracks = resource_tracks(results)
    for track in (t for kind in tracks.values() for t in kind):
        assert track in names.values(), track
    assert set(tracks["links"]) == {e.track for e in results.events if e.track.startswith("link")}

    slices = [e for e in events if e["ph"] == "X"]
    assert len(slices) == len(results.events)
    busy = {names[(e["pid"], e["tid"])] for e in slices}
    busy_chiplets = {e.track for e in results.events if e.track.startswith("chiplet")}
    assert busy_chiplets and busy_chiplets <= busy
    end_us = _run_end_us(results)
    for e in slices:
        assert e["dur"] >= 0
        assert e["ts"] >= 0
        assert e["ts"] + e["dur"] <= end_us + 1e-6
        assert e["cat"] == e["args"]["model"] in results.models
        assert e["args"]["duration_ps"] == round(e["dur"] * 1e6)

    counters = [e for e in events if e["ph"] == "C"]
    assert {e["name"] for e in counters} == {track for _, track, _ in results.queue_samples}
    assert all(e["args"]["queue"] >= 0 for e in counters)


def test_trace_threads_hold_nested_slices(pipelined: mcmsim.Results, tmp_path: Path) -> None:
    """Concurrent transfers go to separate lanes: no thread has overlapping slices."""
    trace = _trace(pipelined, tmp_path / "trace.json")
    per_thread: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            per_thread[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for spans in per_thread.values():
        spans.sort()
        for (_, end), (start, _) in pairwise(spans):
            assert start >= end - 1e-9
    assert any("(lane 2)" in name for name in _thread_names(trace).values())
    link_slices = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] == 2]
    # Links carry the activations and, with interleaved DRAM, parts of DRAM transfers.
    activations = {"activations 0->3", "activations 1->2"}
    names = {e["name"] for e in link_slices}
    assert activations <= names <= activations | {"dram read", "dram write"}


def test_trace_is_deterministic(scar_run: mcmsim.Results, tmp_path: Path) -> None:
    write_trace(scar_run, tmp_path / "a.json")
    write_trace(scar_run, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_trace_truncation_keeps_earliest(scar_run: mcmsim.Results, tmp_path: Path) -> None:
    trace = _trace(scar_run, tmp_path / "trace.json", max_events=1000)
    other = trace["otherData"]
    assert other["truncated"] is True
    assert other["events_written"] == 1000
    assert other["events_total"] == len(scar_run.events) + len(scar_run.queue_samples)
    assert "truncated" in other["note"]
    written = [e for e in trace["traceEvents"] if e["ph"] != "M"]
    assert len(written) == 1000
    assert max(e["ts"] for e in written) <= other["complete_before_us"]
    cut_ps = round(other["complete_before_us"] * 1e6)
    expected = sum(1 for e in scar_run.events if e.start_ps < cut_ps)
    assert sum(1 for e in written if e["ph"] == "X" and e["ts"] * 1e6 < cut_ps - 0.5) == expected


def test_default_window_is_steady_state(scar_run: mcmsim.Results) -> None:
    start, end = default_window(scar_run)
    assert end == max(e.start_ps + e.duration_ps for e in scar_run.events)
    assert scar_run["warmup_s"] * 1e12 - 1 <= start < end


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000


@pytest.mark.parametrize("fixture", ["scar_run", "pipelined"])
def test_timeline_png(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    plot_timeline(request.getfixturevalue(fixture), tmp_path / "timeline.png")
    _check_png(tmp_path / "timeline.png")


def test_timeline_given_window(scar_run: mcmsim.Results, tmp_path: Path) -> None:
    plot_timeline(scar_run, tmp_path / "zoom.png", window_ps=(300_000_000_000, 300_500_000_000))
    _check_png(tmp_path / "zoom.png")
    with pytest.raises(ValueError, match="start must be before end"):
        plot_timeline(scar_run, tmp_path / "bad.png", window_ps=(5, 5))


def test_cli_run_writes_outputs(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("run", SCENARIO, "--requests", "50", "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("results.json", "schedule.json", "trace.json", "timeline.png"):
        assert (out / name).is_file(), name
    _check_png(out / "timeline.png")
    assert json.loads((out / "schedule.json").read_text())["scheduler"] == "scar"
    assert json.loads((out / "trace.json").read_text())["traceEvents"]

    data = json.loads((out / "results.json").read_text())
    for key in RESULT_KEYS:
        assert key in data, key
    assert set(data["energy_j"]) >= {"compute", "sram", "nop", "dram", "static", "total"}
    assert list(data["models"]) == ["gpt2", "resnet50"]
    assert set(data["chiplets"]) == {"0", "1", "2", "3"}
    assert data["requests"]["completed"] >= 50


def test_run_folder_writer_is_a_library_function(tmp_path: Path) -> None:
    sc = mcmsim.load_scenario(SCENARIO).with_overrides(requests=20)
    schedule = mcmsim.schedule(sc, "standalone")
    results = mcmsim.simulate(sc, schedule, trace=True)
    out = tmp_path / "new" / "run"
    written = write_run_dir(results, schedule, out)
    assert written == [out / name for name in RUN_FILES]
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)  # no temporary left
    assert (out / "results.json").read_text(encoding="utf-8") == results.to_json()
    assert mcmsim.Schedule.load(out / "schedule.json") == schedule
    assert json.loads((out / "trace.json").read_text())["traceEvents"]
    _check_png(out / "timeline.png")
