"""MAESTRO model-file import: sizes, metadata, the shipped XRBench files and bad files."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import mcmsim
from mcmsim.scenario import ScenarioError
from mcmsim.workloads.layer import OpKind
from mcmsim.workloads.maestro_import import (
    XRBENCH_SCENARIOS,
    load_maestro,
    load_maestro_ref,
    read_maestro,
    xrbench_file,
)
from tests.conftest import CliResult, invoke_cli

_DIMS = re.compile(r"(\w+)\s*:\s*(\d+)")


def _raw_totals(path: Path, network: str) -> tuple[int, int, int]:
    """Layers, MACs and weights of one network, straight from the file's CONV lines.

    Written independently of the importer: MAESTRO's unpadded stride-1 output
    ``Y - R + 1`` (at least 1 where the window is wider than the input), MACs
    ``N K C Y' X' R S`` and weights ``K C R S`` per layer.
    """
    layers = macs = params = 0
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("Network "):
            current = line.split()[1]
        elif current == network and "Dimensions" in line:
            d = {k: int(v) for k, v in _DIMS.findall(line)}
            rows = max(d["Y"] - d["R"] + 1, 1)
            cols = max(d["X"] - d["S"] + 1, 1)
            layers += 1
            macs += d["N"] * d["K"] * d["C"] * rows * cols * d["R"] * d["S"]
            params += d["K"] * d["C"] * d["R"] * d["S"]
    return layers, macs, params


@pytest.mark.parametrize(
    ("scenario", "network"),
    [("AR_gaming", "HT_hand_graph_cnn_half"), ("AR_Assistant", "ASR_EM_24L")],
)
def test_xrbench_network_macs_and_params_match_the_per_layer_formula(scenario, network):
    path = xrbench_file(scenario)
    model = load_maestro(path, network)
    layers, macs, params = _raw_totals(path, network)
    assert layers > 0
    assert (len(model.layers), model.macs, model.params) == (layers, macs, params)


def test_hand_tracking_first_layer_by_hand():
    # conv1: K 64, C 3, 128x128 input, 7x7 window, no stride: 122x122 outputs.
    model = load_maestro_ref("xrbench:AR_gaming#HT_hand_graph_cnn_half")
    first = model.layers[0]
    assert first.name == "conv1"
    assert first.macs == 64 * 3 * 122 * 122 * 7 * 7
    assert first.param_elems == 64 * 3 * 7 * 7
    assert first.input_elems == 3 * 128 * 128 == model.input_elems
    assert first.output_elems == 64 * 122 * 122


def test_every_shipped_file_and_network_imports_with_its_metadata():
    seen = 0
    for scenario in XRBENCH_SCENARIOS:
        path = xrbench_file(scenario)
        parsed = read_maestro(path)
        assert parsed.names == re.findall(r"^Network (\w+)", path.read_text(), re.M)
        for net in parsed.networks:
            assert net.model.macs > 0 and net.model.params > 0
            assert net.fps is not None and net.fps > 0
            # A chain: every layer but the first has exactly the previous one as input.
            names = [layer.name for layer in net.model.layers]
            assert sorted(net.model.graph.edges) == sorted(itertools.pairwise(names))
            seen += 1
    assert seen == 26
    licence = xrbench_file("AR_gaming").parent / "LICENSE"
    assert "MIT License" in licence.read_text()


def test_cascade_metadata_of_ar_assistant():
    parsed = read_maestro(xrbench_file("AR_Assistant"))
    asr = parsed.network("ASR_EM_24L")
    # The file: FPS: 3, Probability: 0.5, Dependency: { KD_res8_narrow }.
    assert (asr.fps, asr.dependency, asr.probability) == (3.0, "KD_res8_narrow", 0.5)
    keyword = parsed.network("KD_res8_narrow")
    assert (keyword.dependency, keyword.probability) == (None, 1.0)


SMALL = """\
// every construct of the grammar
Constant CH 32;
Network Small {
  FPS: 30
  Layer conv { Type: CONV
    Stride { X: 2, Y: 2 }
    Dimensions { K: CH, C: 3, R: 3, S: 3, Y: 11, X: 11 }
    Dataflow { TemporalMap(1,1) K; SpatialMap(Sz(R),1) Y; }
  }
  Layer dw { Type: DSCONV
    Dimensions { K: 1, C: CH, R: 3, S: 3, Y: 5, X: 5 }
  }
  Layer dw { Type: CONV
    Dimensions { K: 16, C: CH, R: 1, S: 1, Y': 3, X': 3 }
  }
  Layer fc { Type: FC
    Dimensions { K: 10, C: 144 }
  }
  Layer gemm { Type: GEMM
    Dimensions { M: 4, N: 8, K: 10 }
  }
}
Network Trigger {
  Dependency: { Small }
  Probability: 0.25
  Layer only { Type: CONV Dimensions { K: 2, C: 2, R: 1, S: 1, Y: 1, X: 1 } }
}
"""


def test_every_layer_kind_maps_to_the_canonical_loop_nest(tmp_path):
    path = tmp_path / "small.m"
    path.write_text(SMALL)
    parsed = read_maestro(path)
    conv, dw, pointwise, fc, gemm = parsed.network("Small").model.layers
    # Stride 2: (11 - 3) // 2 + 1 = 5 outputs per axis.
    assert (conv.op, conv.k, conv.c, conv.p, conv.q, conv.stride) == (OpKind.CONV2D, 32, 3, 5, 5, 2)
    assert conv.macs == 32 * 3 * 9 * 25
    # Depthwise: 32 groups of one channel, 3x3 over 5x5 -> 3x3.
    assert (dw.op, dw.g, dw.k, dw.c, dw.p, dw.q) == (OpKind.DWCONV, 32, 1, 1, 3, 3)
    assert (dw.macs, dw.param_elems, dw.output_elems) == (32 * 9 * 9, 32 * 9, 32 * 9)
    # A repeated name is made unique; Y' given: the input is Y' + R - 1.
    assert pointwise.name == "dw_2"
    assert (pointwise.p, pointwise.q, pointwise.input_elems) == (3, 3, 32 * 9)
    assert (fc.op, fc.macs, fc.param_elems) == (OpKind.MATMUL, 10 * 144, 1440)
    assert (gemm.op, gemm.macs, gemm.param_elems, gemm.output_elems) == (OpKind.MATMUL, 320, 80, 32)
    trigger = parsed.network("Trigger")
    assert (trigger.fps, trigger.dependency, trigger.probability) == (None, "Small", 0.25)
    assert parsed.network("Small").fps == 30.0


_LAYER = "Network A {{\n  Layer l {{\n    Type: {kind}\n    Dimensions {{ {dims} }}\n  }}\n}}\n"
_DIMS_OK = "K: 4, C: 4, R: 3, S: 3, Y: 8, X: 8"

#: (file text, line of the error, words in the message)
BAD_FILES = {
    "syntax": ("Network A {\n  Layr l { }\n}\n", 2, "expected 'Layer'"),
    "unclosed": ("Network A {\n  Layer l { Type: CONV\n", 2, "file ends"),
    "unknown type": (_LAYER.format(kind="CONVV", dims=_DIMS_OK), 3, "unknown layer type 'CONVV'"),
    "unsupported type": (_LAYER.format(kind="POOL", dims=_DIMS_OK), 3, "POOL is not supported"),
    "missing dimension": (
        _LAYER.format(kind="CONV", dims="K: 4, C: 4, S: 3, Y: 8, X: 8"),
        2,
        "missing dimension R",
    ),
    "zero size": (
        _LAYER.format(kind="CONV", dims="K: 0, C: 4, R: 3, S: 3, Y: 8, X: 8"),
        4,
        "K is 0",
    ),
    "not a number": (
        _LAYER.format(kind="CONV", dims="K: four, C: 4, R: 3, S: 3, Y: 8, X: 8"),
        4,
        "positive integer",
    ),
    "unknown dimension": (
        _LAYER.format(kind="CONV", dims=_DIMS_OK + ", Z: 2"),
        2,
        "unknown dimension Z",
    ),
    "no type": ("Network A {\n  Layer l { Dimensions { K: 1 } }\n}\n", 2, "has no Type"),
    "bad fps": ("Network A {\n FPS: -3\n}\n", 2, "FPS must be a positive number"),
    "unknown dependency": (
        "Network A {\n Dependency: { B }\n Layer l { Type: CONV Dimensions { K: 1, C: 1, R: 1, S: 1, Y: 1, X: 1 } }\n}\n",
        2,
        "unknown network 'B'",
    ),
    "bad probability": (
        "Network B { Layer l { Type: CONV Dimensions { K: 1, C: 1, R: 1, S: 1, Y: 1, X: 1 } } }\nNetwork A {\n Dependency: { B }\n Probability: 1.5\n Layer l { Type: CONV Dimensions { K: 1, C: 1, R: 1, S: 1, Y: 1, X: 1 } }\n}\n",
        4,
        "Probability must be in (0, 1]",
    ),
}


def _show(*args: str) -> CliResult:
    return invoke_cli("models", "show", *args, "--json")


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_file_is_one_line_with_file_and_line_and_exit_2(tmp_path, kind):
    text, line, words = BAD_FILES[kind]
    path = tmp_path / "bad.m"
    path.write_text(text)
    result = _show(str(path))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}:{line}: ") and words in lines[0], lines[0]
    assert result.stdout == ""


def test_network_choice_errors_are_one_line_and_exit_2(tmp_path):
    path = tmp_path / "two.m"
    path.write_text(SMALL)
    for ref, words in [
        (f"{path}#Nope", "no network 'Nope'; the file has Small, Trigger"),
        (str(path), "2 networks; choose one with 'two.m#NAME'"),
        (str(tmp_path / "absent.m"), "file not found"),
        ("xrbench:AR_nothing#X", "no XRBench scenario 'AR_nothing'"),
    ]:
        result = _show(ref)
        assert result.exit_code == 2, ref
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], result.stderr


def test_models_show_reads_a_named_network(tmp_path):
    path = tmp_path / "two.m"
    path.write_text(SMALL)
    result = _show(f"{path}#Small")
    assert result.exit_code == 0, result.stderr
    assert '"name": "Small"' in result.stdout and '"layers": 5' in result.stdout


SCENARIO = """
[package]
layout = [["a", "b"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 256
[package.chiplet_types.b]
dataflow = "os"
pes = 256
[[workloads]]
model = "{model}"
[simulation]
requests = 20
"""


@pytest.mark.parametrize(
    ("model", "label"),
    [("models/two.m#Small", "Small"), ("xrbench:VR_gaming#ES_RITNet", "ES_RITNet")],
)
def test_scenario_with_a_maestro_workload_runs(tmp_path, model, label):
    models = tmp_path / "models"
    models.mkdir()
    (models / "two.m").write_text(SMALL)
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(model=model))
    sc = mcmsim.load_scenario(path)
    assert [w.name for w in sc.workloads] == [label]
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    assert results.models[label]["completed"] == 20


def test_scenario_with_a_bad_model_file_names_the_file_line(tmp_path):
    (tmp_path / "bad.m").write_text(BAD_FILES["zero size"][0])
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(model="bad.m"))
    with pytest.raises(ScenarioError, match=r"bad\.m:4: layer 'l': K is 0"):
        mcmsim.load_scenario(path)
    result = invoke_cli("validate", path)
    assert result.exit_code == 2 and "bad.m:4:" in result.stderr
