"""Issue 17: the cases the audit of the issue's list found without a regression test.

Every other concrete case of the issue is tested in ``tests/test_hardening_*.py`` (the
table is in the audit note). These are what is left: the up-front check of a large
sweep grid, a 1 MB scenario with a 100,000-character line, and an ONNX file that is not
a protobuf at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mcmsim.scenario
from mcmsim.scenario import load_scenario
from mcmsim.sweep.spec import SweepError, load_sweep
from tests.conftest import ROOT, Cli

BASE = ROOT / "scenarios" / "gpt2_resnet.toml"  # two zoo models: gpt2 and resnet50


def seeds_sweep(tmp_path: Path, seeds: int, extra_axis: str = "") -> Path:
    values = ", ".join(str(s) for s in range(1, seeds + 1))
    path = tmp_path / f"sweep_{seeds}.toml"
    path.write_text(f'base = "{BASE}"\n[axes]\n"simulation.seed" = [{values}]\n{extra_axis}')
    return path


def model_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seeds: int) -> int:
    """Models built while a sweep over ``seeds`` seeds is read and checked."""
    built = [0]
    real = mcmsim.scenario._build_model

    def counting(*args, **kwargs):
        built[0] += 1
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(mcmsim.scenario, "_build_model", counting)
        load_sweep(seeds_sweep(tmp_path, seeds))
    return built[0]


def test_checking_a_long_axis_builds_each_model_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each seed is built into the base before anything runs; the seed does not change
    # either model, so a 5,000-seed axis (40 s of graph building before) costs what a
    # 5-seed axis does.
    assert model_builds(tmp_path, monkeypatch, 5) == model_builds(tmp_path, monkeypatch, 200)


def test_a_bad_model_value_on_an_axis_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(f'base = "{BASE}"\n[axes]\n"workloads.0.seq_len" = [128, 0, 64]\n')
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: axes.workloads.0.seq_len[1]: Input should be greater than 0; got 0"
    ]


def test_a_10000_point_grid_states_its_size_before_running(cli: Cli, tmp_path: Path) -> None:
    bandwidths = ", ".join(str(b) for b in range(1, 101))
    path = seeds_sweep(tmp_path, 100, f'"nop.link_bandwidth_gb_per_s" = [{bandwidths}]\n')
    result = cli("sweep", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert ": 10000 points (grid 100 x 100 = 10000)" in result.stdout


def test_a_1_mb_scenario_with_a_100000_character_line_loads_and_names_lines(
    tmp_path: Path,
) -> None:
    # Its time (well under a second) is measured in benchmarks/bench_parsing.py.
    text = BASE.read_text(encoding="utf-8") + "# " + "x" * 100_000 + "\n"
    filler = "# " + "y" * 77 + "\n"  # 80-character comment lines up to 1 MB
    text += filler * ((1_000_000 - len(text)) // len(filler) + 1)
    path = tmp_path / "big.toml"
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size >= 1_000_000
    scenario = load_scenario(path)
    assert [w.name for w in scenario.workloads] == ["gpt2", "resnet50"]
    # The same file with an error after the long line still names that error's line.
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "bogus = 1\n", encoding="utf-8")
    bogus_line = (text + "bogus = 1\n").count("\n")
    with pytest.raises(
        mcmsim.scenario.ScenarioError, match=rf"bad\.toml:{bogus_line}: simulation\.bogus"
    ):
        load_scenario(bad)


@pytest.mark.parametrize("content", [b"not onnx at all", b"\x08\x07\x12\x05trunc"])
def test_an_onnx_file_that_is_not_a_model_is_one_line(
    cli: Cli, tmp_path: Path, content: bytes
) -> None:
    pytest.importorskip("onnx")
    model = tmp_path / "net.onnx"
    model.write_bytes(content)
    result = cli("models", "show", model)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {model}: not a valid ONNX model (")
    scenario = tmp_path / "net.toml"
    scenario.write_text(
        '[package]\nlayout = [["ws"]]\n[package.chiplet_types.ws]\ndataflow = "ws"\n'
        'pes = 4096\n[[workloads]]\nmodel = "net.onnx"\n'
    )
    result = cli("validate", scenario)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {scenario}:7: workloads.0.model: {model}: ")
