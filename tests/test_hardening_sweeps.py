"""Issue 17, sweeps: bad axis values found before anything runs, large grids announced,
user text printed as written, one-line errors for bad --out, --jobs and base paths, one
sweep per output folder, and no worker outliving a killed sweep."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, suppress
from pathlib import Path

import pytest

import mcmsim.sweep.runner
from mcmsim.sweep.lock import folder_lock
from tests.conftest import ROOT, Cli

BASE = ROOT / "scenarios" / "gpt2_resnet.toml"


def sweep_text(axes: str, overrides: str = '"simulation.requests" = 30\n') -> str:
    """A sweep on the 2x2 study; the [axes] table starts on line 3."""
    return f'base = "{BASE}"\n\n[axes]\n{axes}\n[overrides]\n{overrides}'


def one_error(result, path: Path | str) -> str:
    """The single ``error:`` line of a run that must exit 2 without a traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}"), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def stored_count(out: Path) -> int:
    with closing(sqlite3.connect(out / "sweep.sqlite")) as db:
        return db.execute("SELECT count(*) FROM points").fetchone()[0]


# --- axis values checked against the base scenario before anything runs -------------


@pytest.mark.parametrize("bad", ["0", "-5"])
def test_non_positive_axis_value_is_an_error_before_any_point_runs(
    cli: Cli, write, tmp_path: Path, bad: str
) -> None:
    path = write("sweep.toml", sweep_text(f'"nop.link_bandwidth_gb_per_s" = [100, {bad}]'))
    out = tmp_path / "out"
    line = one_error(cli("sweep", path, "--out", out), path)
    assert f"{path}:4: axes.nop.link_bandwidth_gb_per_s[1]: " in line
    assert "greater than or equal to 0.001" in line
    assert not out.exists()  # nothing ran, nothing was created
    assert one_error(cli("sweep", path, "--dry-run"), path) == line


def test_every_bad_value_of_every_axis_is_named_at_once(cli: Cli, write) -> None:
    axes = '"nop.link_bandwidth_gb_per_s" = [0, 100, -1]\n"simulation.requests" = [10, -3]\n'
    path = write("sweep.toml", sweep_text(axes, ""))
    result = cli("sweep", path, "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:4: axes.nop.link_bandwidth_gb_per_s[0]: Input should be greater than or equal to 0.001; got 0",
        f"error: {path}:4: axes.nop.link_bandwidth_gb_per_s[2]: Input should be greater than or equal to 0.001; got -1",
        f"error: {path}:5: axes.simulation.requests[1]: Input should be greater than 0; got -3",
    ]


def test_named_axis_value_the_scenario_rejects_names_its_label_and_line(cli: Cli, write) -> None:
    axes = '[axes."package.layout"]\nall-ws = [["ws", "ws"]]\ntypo = [["ws", "wz"]]\n'
    path = write("sweep.toml", f'base = "{BASE}"\n\n{axes}')
    line = one_error(cli("sweep", path, "--dry-run"), path)
    # The line of the bad value itself, its label, and what the layout names wrongly.
    assert f"{path}:5: axes.package.layout.typo: " in line and "'wz'" in line, line


def test_override_the_scenario_rejects_is_an_error_on_its_line(cli: Cli, write) -> None:
    text = sweep_text('"simulation.seed" = [1, 2]', '"simulation.requests" = 0\n')
    path = write("sweep.toml", text)
    line = one_error(cli("sweep", path, "--dry-run"), path)
    assert f"{path}:6: overrides.simulation.requests: Input should be greater than 0" in line


# --- large grids --------------------------------------------------------------------


def test_dry_run_states_the_point_count_of_a_large_grid(cli: Cli, write) -> None:
    seeds = ", ".join(str(s) for s in range(1, 31))
    axes = f'"simulation.seed" = [{seeds}]\n"nop.link_bandwidth_gb_per_s" = [25, 50, 100, 200, 400]'
    path = write("sweep.toml", sweep_text(axes))
    result = cli("sweep", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert ": 150 points (grid 30 x 5 = 150)" in result.stdout


def test_large_sweep_times_its_first_point_and_estimates_the_rest(
    cli: Cli, write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four points stand for a large grid: the threshold, not the machinery, is lowered.
    monkeypatch.setattr(mcmsim.sweep.runner, "LARGE_SWEEP_POINTS", 3)
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1, 2, 3, 4]'))
    out = tmp_path / "out"
    result = cli("sweep", path, "--out", out, "--jobs", "1")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "4 points to run; timing the first for an estimate of the rest"
    match = re.fullmatch(
        r"the first point took (\d+\.\d\d) s: the other 3 should take about (\d+) s "
        r"on 1 worker\(s\)",
        lines[1],
    )
    assert match, lines
    first_s, estimate_s = float(match[1]), int(match[2])
    assert abs(estimate_s - 3 * first_s) <= 0.5 + 0.005 * 3  # 3 points x the first, rounded
    # The first point ran here, before the pool started, and was stored like the rest.
    with closing(sqlite3.connect(out / "sweep.sqlite")) as db:
        workers = [w for (w,) in db.execute("SELECT worker FROM points ORDER BY grid_index")]
    assert len(workers) == 4 and workers[0].endswith(f":{os.getpid()}")
    assert not workers[1].endswith(f":{os.getpid()}")


def test_small_sweep_starts_without_an_estimate(cli: Cli, write, tmp_path: Path) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1, 2]'))
    result = cli("sweep", path, "--out", tmp_path / "out", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "estimate" not in result.stderr


# --- user text printed as written -----------------------------------------------------


def test_dry_run_prints_brackets_in_values_and_names(cli: Cli, write) -> None:
    text = 'name = "[bold]study[/bold]"\n' + sweep_text('"package.layout" = [[["ws"]]]')
    path = write("sweep.toml", text)
    result = cli("sweep", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "[bold]study[/bold]: 1 points" in result.stdout
    assert "axis package.layout (1): [[ws]]" in result.stdout
    assert "package.layout=[[ws]]" in result.stdout


# --- bad paths and options: one line, exit 2 ------------------------------------------


def test_base_of_5000_characters_is_one_line(cli: Cli, write) -> None:
    path = write("sweep.toml", f'base = "{"a" * 5000}"\n[axes]\n"simulation.seed" = [1]\n')
    line = one_error(cli("sweep", path, "--dry-run"), path)
    base = path.parent / ("a" * 5000)
    assert f"{path}:1: base: base scenario {str(base)[:20]}" in line
    assert line.endswith(f"({len(str(base))} characters): path too long for this system")
    assert len(line) < 400 + len(str(path))  # the 5,000-character name is cut


def test_out_naming_a_file_is_one_line(cli: Cli, write, tmp_path: Path) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1]'))
    taken = write("taken", "not a folder")
    line = one_error(cli("sweep", path, "--out", taken), f"--out {taken}")
    # The same words as run, search and compare.
    assert line == f"error: --out {taken}: is a file, not a folder"
    assert taken.read_text() == "not a folder"


def test_out_that_cannot_be_created_is_one_line(cli: Cli, write, tmp_path: Path) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1]'))
    taken = write("taken", "")
    under_a_file = taken / "out"
    line = one_error(cli("sweep", path, "--out", under_a_file), f"--out {under_a_file}")
    assert (
        line == f"error: --out {under_a_file}: cannot be created: {taken} is a file, not a folder"
    )


def test_library_sweep_into_a_file_is_a_sweep_error(write) -> None:
    from mcmsim.sweep import SweepError, load_sweep, run_sweep

    spec = load_sweep(write("sweep.toml", sweep_text('"simulation.seed" = [1]')))
    taken = write("taken", "not a folder")
    with pytest.raises(SweepError, match="is a file, not a folder: choose another --out"):
        run_sweep(spec, taken)
    assert taken.read_text() == "not a folder"


def test_store_that_cannot_be_opened_is_one_line(cli: Cli, write, tmp_path: Path) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1]'))
    out = tmp_path / "out"
    (out / "sweep.sqlite").mkdir(parents=True)
    line = one_error(cli("sweep", path, "--out", out), out / "sweep.sqlite")
    assert line.endswith(": cannot open the store: unable to open database file")


@pytest.mark.parametrize("command", ["sweep", "search"])
def test_negative_jobs_is_one_line_everywhere(cli: Cli, write, command: str) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1]'))
    target = path if command == "sweep" else BASE
    result = cli(command, target, "--jobs", "-1", *(["--out", "x"] if command == "sweep" else []))
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --jobs -1: expected 0 (one per CPU) or a positive number of processes\n"
    )


def test_jobs_0_means_one_per_cpu_everywhere(cli: Cli, write, tmp_path: Path) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1]'))
    result = cli("sweep", path, "--out", tmp_path / "out", "--jobs", "0")
    assert result.exit_code == 0, result.output
    assert f"with {os.cpu_count()} worker(s)" in result.stdout
    # search used to reject --jobs 0 ("parameter jobs: Input should be greater than 0");
    # a bad budget stops it before anything runs, with that as its only complaint.
    result = cli("search", BASE, "--jobs", "0", "--budget", "0")
    assert result.exit_code == 2
    assert "budget" in result.stderr and "jobs" not in result.stderr
    for command in ("sweep", "search"):
        assert "0: one per CPU" in " ".join(cli(command, "--help").stdout.split())


# --- one sweep per output folder ------------------------------------------------------


def test_second_sweep_on_a_locked_folder_is_refused_and_computes_nothing(
    cli: Cli, write, tmp_path: Path
) -> None:
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1, 2]'))
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out):  # as a running sweep holds it (flock is per open file)
        line = one_error(cli("sweep", path, "--out", out, "--resume"), out)
    assert line == (
        f"error: {out}: another sweep is writing to this folder (pid {os.getpid()}); "
        "wait for it to finish, or choose another --out"
    )
    assert not (out / "sweep.sqlite").exists()
    result = cli("sweep", path, "--out", out)  # the lock is gone with its holder
    assert result.exit_code == 0, result.output


def _sweep_process(path: Path, out: Path, jobs: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "mcmsim.cli", "sweep", str(path), "--out", str(out)]
    return subprocess.Popen(
        [*args, "-j", str(jobs)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_points(proc: subprocess.Popen, out: Path, n: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "sweep.sqlite").exists():
            try:
                if stored_count(out) >= n:
                    return
            except sqlite3.OperationalError:
                pass  # the file exists, its tables not yet
        time.sleep(0.05)
    raise AssertionError(f"no {n} point(s) stored: {proc.communicate()}")


@pytest.mark.slow
def test_two_sweeps_on_one_folder_at_once(cli: Cli, write, tmp_path: Path) -> None:
    """A real second process: refused while the first runs, which then stores every
    point exactly once (the first used to recompute them all and die)."""
    path = write(
        "sweep.toml", sweep_text('"simulation.seed" = [1, 2, 3]', '"simulation.requests" = 2000')
    )
    out = tmp_path / "out"
    first = _sweep_process(path, out, 1)
    try:
        _wait_for_points(first, out, 1)
        line = one_error(cli("sweep", path, "--out", out, "--resume"), out)
        assert f"another sweep is writing to this folder (pid {first.pid})" in line
        stdout, stderr = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, stderr.decode()
    assert "3 points: 3 ok, 0 failed" in stdout.decode()
    assert stored_count(out) == 3


# --- no orphaned workers --------------------------------------------------------------


@pytest.mark.slow
def test_workers_exit_when_the_sweep_is_killed(write, tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    # Points of about a second each, so the workers are busy when the main process dies.
    path = write("sweep.toml", sweep_text('"simulation.seed" = [1, 2, 3, 4, 5, 6, 7, 8]', ""))
    out = tmp_path / "out"
    proc = _sweep_process(path, out, 2)
    workers = []
    try:
        _wait_for_points(proc, out, 1)
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        def alive(worker) -> bool:
            try:
                return worker.status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return False

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(alive(w) for w in workers), [w.pid for w in workers if alive(w)]
    finally:
        proc.kill()
        for worker in workers:
            with suppress(psutil.NoSuchProcess):
                worker.kill()
