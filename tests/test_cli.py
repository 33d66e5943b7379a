"""The command line as a user types it, in-process; one smoke test runs the installed script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mcmsim.cli
from tests.conftest import RESULT_KEYS, ROOT, Cli


def test_help_and_subcommands(cli: Cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "validate", "models", "costs", "schedulers"):
        assert command in result.stdout


def test_models_list_and_show(cli: Cli) -> None:
    listing = cli("models")
    assert listing.exit_code == 0
    for name in (
        "resnet50",
        "gpt2",
        "gpt2-medium",
        "gpt2-large",
        "gpt2-xl",
        "bert-base",
        "bert-large",
    ):
        assert name in listing.stdout
    shown = cli("models", "show", "resnet50", "--json")
    data = json.loads(shown.stdout)
    assert data["name"] == "resnet50"
    assert abs(data["macs"] - 4.1e9) / 4.1e9 < 0.02
    assert abs(data["params"] - 25.6e6) / 25.6e6 < 0.01
    assert data["weight_bytes"] == data["params"]
    assert data["layers"] > 50
    decode = json.loads(cli("models", "show", "gpt2", "-p", "phase=decode", "--json").stdout)
    assert decode["macs"] < data["macs"]


def test_models_show_unknown_exits_2(cli: Cli) -> None:
    result = cli("models", "show", "alexnet")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown model 'alexnet'")
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("models", "show", "gpt2", "-p", "depth=3")
    assert result.exit_code == 2 and "depth" in result.stderr


def test_validate_summarises(cli: Cli) -> None:
    result = cli("validate", "scenarios/gpt2_resnet.toml")
    assert result.exit_code == 0
    assert "2x2 mesh" in result.stdout and "gpt2" in result.stdout


def test_costs_json_shape(cli: Cli) -> None:
    result = cli("costs", "scenarios/gpt2_resnet.toml", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data["chiplet_types"]) == {"ws", "os"}
    assert data["chiplet_types"]["ws"]["dataflow"] == "ws"
    assert data["chiplet_types"]["ws"]["pes"] == 4096
    row = data["rows"][0]
    for key in (
        "model",
        "layer",
        "chiplet_type",
        "batch",
        "macs",
        "latency_ps",
        "energy_pj",
        "utilization",
    ):
        assert key in row
    models = {r["model"] for r in data["rows"]}
    assert models == {"gpt2", "resnet50"}
    assert (
        sum(
            r["macs"]
            for r in data["rows"]
            if r["model"] == "resnet50" and r["chiplet_type"] == "ws"
        )
        > 4e9
    )


def test_installed_mcmsim_script_runs_the_reference_scenario() -> None:
    """The one real process: the ``mcmsim`` entry point as installed, as the README runs it."""
    script = Path(sys.executable).with_name("mcmsim")
    if not script.exists():
        found = shutil.which("mcmsim")
        if found is None:
            pytest.skip("mcmsim is not installed (pip install -e .)")
        script = Path(found)
    done = subprocess.run(
        [str(script), "run", "scenarios/gpt2_resnet.toml", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for key in RESULT_KEYS:
        assert key in results, key
    assert results["scheduler"] == "scar" and results["throughput_per_s"] > 0


def test_cli_fixture_fails_on_an_exception_that_escapes(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, a traceback would hide in CliRunner's result; the fixture reports it."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setattr(mcmsim.cli, "load_scenario", broken)
    with pytest.raises(pytest.fail.Exception, match="a bug, not bad input"):
        cli("validate", "scenarios/gpt2_resnet.toml")
