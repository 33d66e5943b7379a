"""Scheduler plugins: the installable example, broken plugins, and bad scheduler input.

The example under ``examples/scheduler_plugin`` is pip-installed into a throwaway venv
that sees this environment's packages, and run by that venv's interpreter; the
developer's own environment is never changed. Plugins that fail are simulated by
monkeypatching the entry points the registry sees.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import mcmsim
from mcmsim.schedule import registry
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import (
    BaseScheduler,
    Scheduler,
    SchedulerError,
    available_schedulers,
)
from mcmsim.schedule.schedule import Schedule, Segment
from tests.conftest import invoke_cli

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "examples" / "scheduler_plugin"
PLUGIN_DIST = "mcmsim-fastest-type"
SCENARIO = str(ROOT / "scenarios" / "gpt2_resnet.toml")


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a throwaway venv with the example plugin installed.

    The venv sees this environment's packages (mcmsim, pip, setuptools), so installing
    needs no network: no build isolation, no dependencies, no index. The plugin is built
    from a copy so that no build files land in the repository.
    """
    tmp = tmp_path_factory.mktemp("plugin")
    venv = tmp / "venv"
    done = _run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    source = shutil.copytree(PLUGIN_DIR, tmp / "source")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "install"]
    done = _run(*pip, "--no-deps", "--no-build-isolation", "--no-index", source)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def mcmsim_cli(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mcmsim ARGS`` run by ``python``, from the repository root (so this checkout's mcmsim)."""
    return _run(python, "-m", "mcmsim.cli", *args)


@pytest.mark.slow
def test_example_plugin_is_listed(plugin_python: Path) -> None:
    done = mcmsim_cli(plugin_python, "schedulers", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["fastest-type"]["origin"] == f"package {PLUGIN_DIST}"
    assert listed["fastest-type"]["description"]
    for builtin in ("monolithic", "standalone", "homogeneous-pipeline", "greedy", "scar"):
        assert listed[builtin]["origin"] == "built-in"


@pytest.mark.slow
def test_example_plugin_runs(plugin_python: Path) -> None:
    done = mcmsim_cli(
        plugin_python, "run", SCENARIO, "--scheduler", "fastest-type", "--requests", "200", "--json"
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["scheduler"] == "fastest-type"
    assert results["throughput_per_s"] > 0
    # Two stages per model where a split pays, so more than one chiplet works.
    busy = [c for c, v in results["chiplets"].items() if v["utilization"] > 0]
    assert len(busy) >= 2


@pytest.mark.slow
def test_example_plugin_validates_its_parameters(plugin_python: Path) -> None:
    done = mcmsim_cli(
        plugin_python, "run", SCENARIO, "--scheduler", "fastest-type", "--param", "stages=3"
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: scheduler 'fastest-type': parameter stages: Input should be less than or equal to 2"
    ]


# --- plugins that misbehave, registered through a monkeypatched entry-point list ------


class RaisingScheduler(BaseScheduler):
    name = "boom"
    description = "raises"

    def schedule(self, problem):
        raise RuntimeError("out of ideas")


class GappyScheduler(BaseScheduler):
    name = "gappy"
    description = "forgets the last layer of every model"

    def schedule(self, problem):
        segments = [Segment(w.name, 0, len(w.model.layers) - 1, 0) for w in problem.workloads]
        return Schedule.single(self.name, segments)


class UnbuildableScheduler(BaseScheduler):
    name = "unbuildable"
    description = "its constructor raises"

    def __init__(self, params=None) -> None:
        raise RuntimeError("no licence server")


class ProtocolOnlyScheduler(Scheduler):
    """Declares the protocol but defines no constructor of its own."""

    name = "protocol-only"
    description = "follows the protocol, cannot be built"

    def schedule(self, problem):
        raise AssertionError("never built, never called")


class ScribblingScheduler(BaseScheduler):
    name = "scribbler"
    description = "writes into a shared cost table"

    def schedule(self, problem):
        w = problem.workloads[0]
        problem.costs(w, next(iter(problem.package.chiplet_types))).latency_ps[0] = 1
        raise AssertionError("the write above must fail")


def _entry_points(monkeypatch: pytest.MonkeyPatch, plugins: list[EntryPoint]) -> list[str]:
    """Make the registry see ``plugins``; returns the groups it asks for, call by call."""
    asked: list[str] = []

    def fake(group: str) -> list[EntryPoint]:
        asked.append(group)
        return plugins

    monkeypatch.setattr(registry, "entry_points", fake)
    # Discovery is cached per process: start afresh, and leave no fake behind.
    registry._registered.cache_clear()
    return asked


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    group = registry.ENTRY_POINT_GROUP
    plugins = [
        EntryPoint("boom", f"{__name__}:RaisingScheduler", group),
        EntryPoint("gappy", f"{__name__}:GappyScheduler", group),
        EntryPoint("unbuildable", f"{__name__}:UnbuildableScheduler", group),
        EntryPoint("protocol-only", f"{__name__}:ProtocolOnlyScheduler", group),
        EntryPoint("scribbler", f"{__name__}:ScribblingScheduler", group),
        EntryPoint("broken", "mcmsim_no_such_module:Scheduler", group),
    ]
    yield _entry_points(monkeypatch, plugins)
    registry._registered.cache_clear()


@pytest.fixture
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the built-ins, whatever is installed (the example may be, for a subprocess)."""
    _entry_points(monkeypatch, [])
    yield
    registry._registered.cache_clear()


def _cli(*args: str) -> tuple[int, list[str], str]:
    result = invoke_cli(*args)
    return result.exit_code, result.stderr.strip().splitlines(), result.stdout


def test_plugin_that_fails_to_load_is_a_warning_once(fake_plugins: list[str]) -> None:
    with pytest.warns(UserWarning, match=r"scheduler plugin 'broken' .* failed to load"):
        found = available_schedulers()
    assert "broken" not in found
    assert {"boom", "gappy", "scar"} <= set(found)
    # Discovered once per process: no second look at the entry points, no second warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, _, stdout = _cli("schedulers", "--json")
        registry.make_scheduler("boom")
    assert code == 0
    assert "boom" in json.loads(stdout)
    assert fake_plugins == [registry.ENTRY_POINT_GROUP]


@pytest.mark.filterwarnings("ignore:scheduler plugin 'broken'")
def test_plugin_that_raises_exits_2_with_one_line(fake_plugins: list[str]) -> None:
    code, lines, _ = _cli("run", SCENARIO, "--scheduler", "boom")
    assert code == 2
    assert lines == ["error: scheduler 'boom' failed: RuntimeError: out of ideas"]


@pytest.mark.filterwarnings("ignore:scheduler plugin 'broken'")
def test_plugin_with_invalid_schedule_exits_2_naming_it(fake_plugins: list[str]) -> None:
    code, lines, _ = _cli("run", SCENARIO, "--scheduler", "gappy")
    assert code == 2
    assert len(lines) == 1
    # gpt2 is the first workload and segment 0: its stop leaves the last layer unmapped.
    assert lines[0].startswith(
        "error: scheduler 'gappy' returned an invalid schedule: windows[0].segments[0].stop: gpt2:"
    )
    assert "not mapped" in lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--scheduler", "scar", "--param", "objective=speed"],
            "error: scheduler 'scar': parameter objective: Input should be 'latency', "
            "'energy', 'edp' or 'throughput'",
        ),
        (
            ["--scheduler", "scar", "--param", "top_k=many"],
            "error: scheduler 'scar': parameter top_k: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            ["--scheduler", "greedy", "--param", "depth=2"],
            "error: scheduler 'greedy': parameter depth: unknown parameter; valid parameters: none",
        ),
    ],
)
def test_bad_scheduler_parameter_exits_2_with_one_line(
    no_plugins: None, args: list[str], expected: str
) -> None:
    code, lines, _ = _cli("run", SCENARIO, *args)
    assert code == 2
    assert lines == [expected]


def test_unknown_scheduler_lists_known_ones(no_plugins: None) -> None:
    code, lines, _ = _cli("run", SCENARIO, "--scheduler", "sacr")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("error: unknown scheduler 'sacr'; known: ")
    assert "greedy" in lines[0] and "scar" in lines[0]


def test_make_scheduler_error_is_a_scheduler_error(no_plugins: None) -> None:
    with pytest.raises(SchedulerError, match="unknown scheduler"):
        registry.make_scheduler("nope")


@pytest.mark.filterwarnings("ignore:scheduler plugin 'broken'")
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("unbuildable", "RuntimeError: no licence server"),
        ("protocol-only", "TypeError: ProtocolOnlyScheduler has no constructor of its own"),
    ],
)
def test_plugin_that_cannot_be_built_exits_2_naming_it(
    fake_plugins: list[str], name: str, why: str
) -> None:
    result = invoke_cli("run", SCENARIO, "--scheduler", name)  # fails on a traceback
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: scheduler {name!r} ({__name__}:")
    assert "could not be created" in lines[0] and why in lines[0]


def test_cost_tables_handed_to_schedulers_are_read_only() -> None:
    scenario = mcmsim.load_scenario(SCENARIO)
    problem = SchedulingProblem(scenario)
    table = problem.costs(scenario.workloads[0], "ws")
    before = int(table.latency_ps[0])
    for array in (table.latency_ps, table.energy_pj, table.macs, table.utilization):
        array.copy()[0] = 1  # a copy is the scheduler's own to change
    with pytest.raises(ValueError, match="read-only"):
        table.latency_ps[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        table.compute_pj += 1.0
    assert int(problem.costs(scenario.workloads[0], "ws").latency_ps[0]) == before


@pytest.mark.filterwarnings("ignore:scheduler plugin 'broken'")
def test_plugin_writing_a_cost_table_fails_and_changes_nothing(fake_plugins: list[str]) -> None:
    scenario = mcmsim.load_scenario(SCENARIO).with_overrides(requests=100)
    reference = mcmsim.simulate(scenario, mcmsim.schedule(scenario, "standalone")).to_json()
    with pytest.raises(
        SchedulerError, match=r"scheduler 'scribbler' failed: ValueError.*read-only"
    ):
        mcmsim.schedule(scenario, "scribbler")
    again = mcmsim.simulate(scenario, mcmsim.schedule(scenario, "standalone")).to_json()
    assert again == reference


def test_builtin_that_fails_to_import_is_an_error(
    no_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILTINS, "greedy", "mcmsim.schedulers.no_such_module:Greedy")
    with pytest.raises(ImportError, match=r"built-in scheduler 'greedy' .* failed to import"):
        available_schedulers()


def test_scheduler_error_is_part_of_the_api() -> None:
    assert mcmsim.SchedulerError is SchedulerError
    assert "SchedulerError" in mcmsim.__all__
