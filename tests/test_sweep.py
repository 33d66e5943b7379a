"""Sweeps: sweep-file validation, points, backends agree, resume loses and repeats nothing."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from mcmsim.metrics.objectives import DEFAULT_OBJECTIVE, OBJECTIVES
from mcmsim.scenario import DeprecatedKeyWarning
from mcmsim.sweep import ResultStore, StoredPoint, SweepError, expand, load_sweep, run_sweep
from mcmsim.sweep.pareto import cluster_label, pareto_front
from mcmsim.sweep.paths import PathError, get_path, set_path
from mcmsim.sweep.points import grid_indices
from tests.conftest import invoke_cli as invoke

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "scenarios" / "gpt2_resnet.toml"

# 2 schedulers x 3 bandwidths x 2 seeds = 12 tiny points (30 requests each).
SWEEP_12 = f"""
name = "twelve"
base = "{BASE}"

[axes]
"scheduler.name" = ["standalone", "monolithic"]
"nop.link_bandwidth_gb_per_s" = [50, 100, 200]
"simulation.seed" = [1, 2]

[overrides]
"simulation.requests" = 30
"""

# The same points at 1000 requests (0.1 s each, not 10 ms), so a signal sent once the
# first points are stored arrives a second before the last one would end.
LONG_SWEEP_12 = SWEEP_12.replace('"simulation.requests" = 30', '"simulation.requests" = 1000')
assert LONG_SWEEP_12 != SWEEP_12


# ``mcmsim`` as a terminal runs it: a shell starts background jobs (a test run in one)
# with SIGINT ignored, and Python keeps it ignored; restore Python's Ctrl-C handler.
MCMSIM_WITH_CTRL_C = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from mcmsim.cli import main; main()"
)


def sweep_file(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored_metrics(out: Path) -> dict[str, str]:
    """Point id -> its stored metrics JSON, straight from the database."""
    with sqlite3.connect(out / "sweep.sqlite") as db:
        rows = db.execute("SELECT id, status, metrics FROM points").fetchall()
    assert all(status == "ok" for _, status, _ in rows)
    return {pid: metrics for pid, _, metrics in rows}


def wait_for_points(proc: subprocess.Popen, store: Path, n: int) -> None:
    """Wait until ``proc`` has stored ``n`` points (or ended, or two minutes passed)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists():  # (connecting first would create the file)
            try:
                with closing(sqlite3.connect(store)) as db:
                    if db.execute("SELECT count(*) FROM points").fetchone()[0] >= n:
                        return
            except sqlite3.OperationalError:
                pass  # the file exists, its tables not yet
        time.sleep(0.02)


# --- paths and points ----------------------------------------------------------------


def test_dotted_paths_index_lists_and_say_where_they_stop() -> None:
    data = {"workloads": [{"stream": {"kind": "closed", "in_flight": 4}}], "nop": {"bw": 1.0}}
    assert get_path(data, "workloads.0.stream.in_flight") == 4
    set_path(data, "workloads.0.stream.in_flight", 8)
    assert data["workloads"][0]["stream"]["in_flight"] == 8
    with pytest.raises(PathError, match="has 1 entries; index 3 is out of range"):
        get_path(data, "workloads.3.stream")
    with pytest.raises(PathError, match="nop has no key 'bandwidth'"):
        get_path(data, "nop.bandwidth")
    with pytest.raises(PathError, match="index it with a number"):
        get_path(data, "workloads.first")


def test_points_grid_order_ids_and_duplicates(tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(tmp_path, SWEEP_12))
    points = list(expand(spec))
    assert spec.grid_size == 12 and [p.index for p in points] == list(range(12))
    assert points[1].values == {
        "scheduler.name": "standalone",
        "nop.link_bandwidth_gb_per_s": 50,
        "simulation.seed": 2,
    }
    assert points[0].scenario["simulation"]["requests"] == 30
    assert points[0].scenario["nop"]["link_bandwidth_gb_per_s"] == 50.0  # canonical type
    assert len({p.id for p in points}) == 12
    # 100 and 100.0 are one scenario: one point.
    dup = SWEEP_12.replace("[50, 100, 200]", "[100, 100.0]")
    assert len(list(expand(load_sweep(sweep_file(tmp_path, dup, "dup.toml"))))) == 4


def test_old_bandwidth_key_names_in_a_sweep_still_work(tmp_path: Path) -> None:
    old = SWEEP_12.replace('"nop.link_bandwidth_gb_per_s"', '"nop.link_bandwidth_gbps"')
    old += '"dram.bandwidth_gbps" = 32\n'
    path = sweep_file(tmp_path, old, "old.toml")
    with pytest.warns(DeprecatedKeyWarning) as caught:
        spec = load_sweep(path)
    assert [str(w.message) for w in caught] == [
        f"{path}:12: dram.bandwidth_gbps is deprecated: use dram.bandwidth_gb_per_s "
        "(the same value, in GB/s)",
        f"{path}:7: nop.link_bandwidth_gbps is deprecated: use nop.link_bandwidth_gb_per_s "
        "(the same value, in GB/s)",
    ]
    current = load_sweep(sweep_file(tmp_path, SWEEP_12 + '"dram.bandwidth_gb_per_s" = 32\n'))
    points = list(expand(spec))
    assert [p.id for p in points] == [p.id for p in expand(current)]
    assert points[0].scenario["dram"]["bandwidth_gb_per_s"] == 32
    assert points[0].values["nop.link_bandwidth_gb_per_s"] == 50
    assert [a.path for a in spec.axes] == [a.path for a in current.axes]


def test_sample_is_seeded_and_in_grid_order(tmp_path: Path) -> None:
    text = SWEEP_12 + "\n[sample]\nn = 5\nseed = 7\n"
    spec = load_sweep(sweep_file(tmp_path, text))
    first, again = grid_indices(spec), grid_indices(spec)
    assert first == again == sorted(first) and len(set(first)) == 5
    assert all(0 <= i < 12 for i in first)
    full = {p.index: p.id for p in expand(load_sweep(sweep_file(tmp_path, SWEEP_12, "f.toml")))}
    assert all(full[p.index] == p.id for p in expand(spec))


def test_pareto_front_and_cluster_labels() -> None:
    def point(pid: str, energy: float, served: float, **labels: str) -> StoredPoint:
        # The front is of the default objective against energy, not of summed throughput.
        metrics = {
            "energy_per_inference_j": energy,
            "throughput_per_s": 1.0 / served,
            "objectives": {DEFAULT_OBJECTIVE: served},
        }
        return StoredPoint(pid, 0, {}, labels, {}, "ok", metrics, None, 0.0, "w", "t")

    pts = [
        point("a", 1.0, 10.0),
        point("b", 2.0, 20.0),
        point("c", 2.0, 15.0),  # dominated by b
        point("d", 3.0, 20.0),  # dominated by b
        point("e", 4.0, 30.0),
        point("f", 4.0, 30.0),  # equal to e: both on the front
    ]
    assert [p.id for p in pareto_front(pts)] == ["a", "b", "e", "f"]
    every = {"s": ["greedy", "scar", "x"], "bw": ["25", "100"]}
    cluster = [point("g", 1, 1, s="greedy", bw="25"), point("h", 1, 1, s="scar", bw="100")]
    assert cluster_label(cluster, every) == "greedy/scar, * (x2)"


# --- bad sweep files ---------------------------------------------------------------


BAD_FILES = {
    "unknown axis path": (
        '[axes]\n"nop.link_bw" = [1, 2]\n',
        ":5: axes.nop.link_bw: unknown path: nop has no key 'link_bw'",
    ),
    "empty value list": (
        '[axes]\n"nop.link_bandwidth_gb_per_s" = []\n',
        ":5: axes.nop.link_bandwidth_gb_per_s: empty value list",
    ),
    "wrong value type": (
        '[axes]\n"nop.link_bandwidth_gb_per_s" = [100, "fast"]\n',
        ":5: axes.nop.link_bandwidth_gb_per_s[1]: expected a number like the base value 100, "
        "got a string fast",
    ),
    "wrong nested type": (
        '[axes]\n"package.layout" = [["ws", "os"]]\n',
        ":5: axes.package.layout[0]: entry 0: expected a list",
    ),
    "unquoted dotted path": (
        "[axes]\nnop.link_bandwidth_gb_per_s = [1, 2]\n",
        ':5: axes.nop: quote a dotted axis path: "nop.link_bandwidth_gb_per_s" = [...]',
    ),
    "toml syntax error": ("[axes\n", ":4: TOML syntax error"),
    "overlapping paths": (
        '[axes]\n"nop" = [{}]\n"nop.link_bandwidth_gb_per_s" = [1]\n',
        "axes.nop.link_bandwidth_gb_per_s: overlaps axes.nop",
    ),
    "unknown override": (
        '[axes]\n"simulation.seed" = [1]\n[overrides]\n"simulation.request" = 5\n',
        ":7: overrides.simulation.request: unknown path",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_sweep_file_one_line_exit_2(tmp_path: Path, case: str) -> None:
    body, expected = BAD_FILES[case]
    path = sweep_file(tmp_path, f'name = "bad"\nbase = "{BASE}"\n\n{body}')
    result = invoke("sweep", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}") and expected in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_and_invalid_base(tmp_path: Path) -> None:
    missing = sweep_file(tmp_path, 'base = "nope.toml"\n[axes]\n"simulation.seed" = [1]\n')
    result = invoke("sweep", missing, "--dry-run")
    assert result.exit_code == 2
    looked_for = tmp_path / "nope.toml"
    assert f"{missing}:1: base: base scenario {looked_for}: file not found" in result.stderr
    (tmp_path / "bad_base.toml").write_text(
        BASE.read_text().replace("pes = 4096", "pes = -1", 1), encoding="utf-8"
    )
    invalid = sweep_file(
        tmp_path, 'base = "bad_base.toml"\n[axes]\n"simulation.seed" = [1]\n', "inv.toml"
    )
    result = invoke("sweep", invalid, "--dry-run")
    assert result.exit_code == 2
    assert "bad_base.toml:15: package.chiplet_types.ws.pes:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dry_run_prints_count_and_first_points(tmp_path: Path) -> None:
    result = invoke("sweep", sweep_file(tmp_path, SWEEP_12), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "twelve: 12 points (grid 2 x 3 x 2 = 12)" in result.stdout
    assert "first 10 of 12 points" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  #")]
    assert len(rows) == 10 and rows[0][0] == "#0" and len(rows[0][1]) == 12
    assert rows[1][2:] == [
        "scheduler.name=standalone",
        "nop.link_bandwidth_gb_per_s=50",
        "simulation.seed=2",
    ]
    assert "override simulation.requests = 30" in result.stdout


# --- running ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The 12-point sweep's metrics from one uninterrupted local run with one worker."""
    tmp = tmp_path_factory.mktemp("reference")
    report = run_sweep(load_sweep(sweep_file(tmp, SWEEP_12)), tmp / "out", jobs=1)
    assert (report.ok, report.failed, report.exit_code) == (12, 0, 0)
    return stored_metrics(tmp / "out")


@pytest.mark.slow
def test_local_two_workers_and_dask_match_one_worker(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    pytest.importorskip("distributed")
    path = sweep_file(tmp_path, SWEEP_12)
    result = invoke("sweep", path, "--out", tmp_path / "jobs2", "--jobs", "2")
    assert result.exit_code == 0, result.stderr
    assert "12 points: 12 ok, 0 failed" in result.stdout
    assert stored_metrics(tmp_path / "jobs2") == reference
    result = invoke("sweep", path, "--out", tmp_path / "dask", "--backend", "dask", "--jobs", "2")
    assert result.exit_code == 0, result.stderr + result.stdout
    assert "on dask with 2 worker(s)" in result.stdout
    assert stored_metrics(tmp_path / "dask") == reference


def test_stop_then_resume_stores_every_point_once(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    spec = load_sweep(sweep_file(tmp_path, SWEEP_12))
    first = run_sweep(spec, tmp_path / "out", jobs=2, stop_after=5)
    assert first.interrupted and first.ran == 5 and first.not_run == 7
    assert first.exit_code == 130
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["complete"] is False
    with pytest.raises(SweepError, match="holds 5 stored point"):
        run_sweep(spec, tmp_path / "out", jobs=2)
    second = run_sweep(spec, tmp_path / "out", jobs=2, resume=True)
    assert (second.skipped, second.ran, second.ok, second.exit_code) == (5, 7, 12, 0)
    assert stored_metrics(tmp_path / "out") == reference
    third = run_sweep(spec, tmp_path / "out", jobs=2, resume=True)
    assert (third.ran, third.skipped) == (0, 12)


@pytest.mark.slow
def test_ctrl_c_then_resume(tmp_path: Path, reference: dict[str, str]) -> None:
    """A real SIGINT to ``mcmsim sweep``: committed points survive, --resume finishes."""
    path = sweep_file(tmp_path, LONG_SWEEP_12)
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-c",
        MCMSIM_WITH_CTRL_C,
        "sweep",
        str(path),
        "--out",
        str(out),
        "-j",
        "1",
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = out / "sweep.sqlite"
    wait_for_points(proc, store, 2)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout
    assert "continue with --resume" in stdout.decode()
    with ResultStore(store) as db:
        partial = len(db.points())
    assert 2 <= partial < 12
    result = invoke("sweep", path, "--out", out, "--jobs", "2", "--resume")
    assert result.exit_code == 0, result.stderr
    assert f"{partial} already stored (resumed)" in result.stdout
    assert len(stored_metrics(out)) == 12


def test_failed_points_are_stored_and_the_rest_complete(tmp_path: Path) -> None:
    # Every value is valid on its own (a bad one is an error before anything runs,
    # tests/test_hardening_sweeps.py); exhaustive refuses only once it sees the problem.
    text = f"""
base = "{BASE}"
[axes]
"nop.link_bandwidth_gb_per_s" = [100, 200]
"scheduler.name" = ["standalone", "exhaustive"]
[overrides]
"simulation.requests" = 30
"""
    out = tmp_path / "out"
    result = invoke("sweep", sweep_file(tmp_path, text), "--out", out, "--jobs", "2")
    assert result.exit_code == 1, result.stderr
    assert "4 points: 2 ok, 2 failed" in result.stdout
    with ResultStore(out / "sweep.sqlite") as store:
        points = {
            (p.labels["nop.link_bandwidth_gb_per_s"], p.labels["scheduler.name"]): p
            for p in store.points()
        }
    for bandwidth in ("100", "200"):
        assert points[bandwidth, "standalone"].ok and points[bandwidth, "standalone"].metrics
        refused = points[bandwidth, "exhaustive"]
        assert refused.status == "failed" and refused.metrics is None
        assert "exceed the limit of max_schedules" in refused.error
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["points"] == {"stored": 4, "ok": 2, "failed": 2}
    csv_rows = list(csv.reader((out / "results.csv").open(newline="")))
    assert csv_rows[0][:4] == ["point_id", "grid_index", "status", "nop.link_bandwidth_gb_per_s"]
    assert len(csv_rows) == 5


def test_exports_and_plot_sweep_redraws(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_sweep(load_sweep(sweep_file(tmp_path, SWEEP_12)), out, jobs=2)
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["points"]["ok"] == 12 and summary["axes"]["simulation.seed"] == ["1", "2"]
    assert set(summary["best"]) == set(OBJECTIVES)
    assert summary["pareto_front"] and summary["run"]["ran"] == 12
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert {"throughput_per_s", "energy_j.total", "wall_s", "error"} <= set(header)
    assert [f.name for f in report.files] == ["results.csv", "sweep.json", "pareto.png"]
    (out / "pareto.png").unlink()
    result = invoke("plot", "sweep", out)
    assert result.exit_code == 0 and (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    result = invoke("plot", "sweep", tmp_path)
    assert result.exit_code == 2 and "no sweep store (sweep.sqlite) here" in result.stderr


def test_backend_options_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sweep_file(tmp_path, SWEEP_12)
    result = invoke("sweep", path, "--out", tmp_path / "a", "--backend", "ray")
    assert result.exit_code == 2 and "--backend: unknown backend 'ray'" in result.stderr
    result = invoke("sweep", path, "--out", tmp_path / "b", "--scheduler-address", "tcp://x:1")
    assert result.exit_code == 2 and "needs --backend dask" in result.stderr
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    result = invoke("sweep", path, "--out", tmp_path / "c", "--backend", "dask")
    assert result.exit_code == 2
    assert 'needs the dask extra: pip install "mcmsim[dask]"' in result.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_killed_worker_loses_nothing_and_resume_finishes(tmp_path: Path) -> None:
    """kill -9 of a local worker: finished points stay, the lost ones run on --resume."""
    psutil = pytest.importorskip("psutil")
    path = sweep_file(tmp_path, LONG_SWEEP_12)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "mcmsim.cli", "sweep", str(path), "--out", str(out), "-j", "2"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = out / "sweep.sqlite"
    wait_for_points(proc, store, 1)
    psutil.Process(proc.pid).children()[0].kill()
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, stdout
    assert "a worker died" in stdout.decode() and "run again with --resume" in stdout.decode()
    with ResultStore(store) as db:
        partial = len(db.points())
    assert 1 <= partial < 12
    result = invoke("sweep", path, "--out", out, "--jobs", "2", "--resume")
    assert result.exit_code == 0, result.stderr
    assert (result.stdout.count("12 points: 12 ok, 0 failed"), len(stored_metrics(out))) == (1, 12)
