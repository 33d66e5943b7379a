"""End-to-end runs of the command line, as a user types them."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_help_and_subcommands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "validate", "models", "costs", "schedulers"):
        assert command in result.stdout


def test_models_list_and_show() -> None:
    listing = run_cli("models")
    assert listing.returncode == 0
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
    shown = run_cli("models", "show", "resnet50", "--json")
    data = json.loads(shown.stdout)
    assert data["name"] == "resnet50"
    assert abs(data["macs"] - 4.1e9) / 4.1e9 < 0.02
    assert abs(data["params"] - 25.6e6) / 25.6e6 < 0.01
    assert data["weight_bytes"] == data["params"]
    assert data["layers"] > 50
    decode = json.loads(run_cli("models", "show", "gpt2", "-p", "phase=decode", "--json").stdout)
    assert decode["macs"] < data["macs"]


def test_models_show_unknown_exits_2() -> None:
    result = run_cli("models", "show", "alexnet")
    assert result.returncode == 2
    assert "unknown model 'alexnet'" in result.stderr
    result = run_cli("models", "show", "gpt2", "-p", "depth=3")
    assert result.returncode == 2 and "depth" in result.stderr


def test_validate_summarises() -> None:
    result = run_cli("validate", "scenarios/gpt2_resnet.toml")
    assert result.returncode == 0
    assert "2x2 mesh" in result.stdout and "gpt2" in result.stdout


def test_costs_json_shape() -> None:
    result = run_cli("costs", "scenarios/gpt2_resnet.toml", "--json")
    assert result.returncode == 0
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
