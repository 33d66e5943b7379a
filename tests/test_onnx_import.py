"""ONNX import: small graphs built with onnx.helper, checked against hand-counted layers."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mcmsim.workloads.layer import OpKind
from mcmsim.workloads.onnx_import import OnnxImportError, load_onnx

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402  # after the skip


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def _value(name: str, shape: list[int | str] | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _save(
    path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: dict[str, int],
    initializers: Sequence[onnx.TensorProto] = (),
    extra_opsets: tuple[str, ...] = (),
) -> Path:
    # The checker wants a shape on every graph output; unknown dims of the right rank do.
    typed = [_value(name, [None] * rank) for name, rank in outputs.items()]
    graph = helper.make_graph(nodes, path.stem, inputs, typed, list(initializers))
    opsets = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, 1) for d in extra_opsets)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return path


def test_conv_with_bias_counts_macs_and_params(tmp_path):
    path = _save(
        tmp_path / "conv.onnx",
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv1", pads=[1, 1, 1, 1])],
        [_value("x", [1, 3, 32, 32])],
        {"y": 4},
        [_weight("w", 16, 3, 3, 3), _weight("b", 16)],
    )
    model = load_onnx(path)
    (layer,) = model.layers
    assert model.name == "conv"
    assert (layer.name, layer.op) == ("conv1", OpKind.CONV2D)
    assert (layer.k, layer.c, layer.p, layer.q, layer.r, layer.s) == (16, 3, 32, 32, 3, 3)
    assert model.macs == 16 * 3 * 3 * 3 * 32 * 32
    assert model.params == 16 * 3 * 3 * 3 + 16
    assert model.input_elems == layer.input_elems == 3 * 32 * 32
    assert layer.output_elems == 16 * 32 * 32


def test_conv_geometry_comes_from_inferred_shapes(tmp_path):
    # Asymmetric pads (top 0, left 1, bottom 1, right 0), stride 2, dilation 2, batch 2.
    path = _save(
        tmp_path / "odd.onnx",
        [
            helper.make_node(
                "Conv", ["x", "w"], ["y"], pads=[0, 1, 1, 0], strides=[2, 2], dilations=[2, 2]
            )
        ],
        [_value("x", [2, 4, 17, 16])],
        {"y": 4},
        [_weight("w", 8, 4, 3, 3)],
    )
    (layer,) = load_onnx(path).layers
    p = (17 + 0 + 1 - 2 * 2 - 1) // 2 + 1
    q = (16 + 1 + 0 - 2 * 2 - 1) // 2 + 1
    assert (layer.name, layer.p, layer.q, layer.stride) == ("Conv_0", p, q, 2)
    assert layer.macs == 8 * 4 * 9 * p * q  # per inference: the batch of 2 is divided out
    assert layer.input_elems == 4 * 17 * 16


def _residual_block(tmp_path: Path) -> Path:
    c, size = 64, 56
    nodes = [helper.make_node("Relu", ["x"], ["stem"], name="stem")]
    inits = []
    prev = "stem"
    for i in (1, 2):
        inits += [
            _weight(f"conv{i}.w", c, c, 3, 3),
            *(_weight(f"bn{i}.{p}", c) for p in ("scale", "bias", "mean", "var")),
        ]
        nodes += [
            helper.make_node(
                "Conv", [prev, f"conv{i}.w"], [f"c{i}"], name=f"conv{i}", pads=[1] * 4
            ),
            helper.make_node(
                "BatchNormalization",
                [f"c{i}", *(f"bn{i}.{p}" for p in ("scale", "bias", "mean", "var"))],
                [f"b{i}"],
                name=f"bn{i}",
            ),
        ]
        prev = f"b{i}"
        if i == 1:
            nodes.append(helper.make_node("Relu", ["b1"], ["r1"], name="relu1"))
            prev = "r1"
    nodes += [
        helper.make_node("Add", ["b2", "stem"], ["sum"], name="add"),
        helper.make_node("Relu", ["sum"], ["y"], name="relu2"),
    ]
    return _save(tmp_path / "block.onnx", nodes, [_value("x", [1, c, size, size])], {"y": 4}, inits)


def test_residual_block_keeps_the_skip_edge(tmp_path):
    model = load_onnx(_residual_block(tmp_path))
    assert [layer.name for layer in model.layers] == [
        "stem", "conv1", "bn1", "relu1", "conv2", "bn2", "add", "relu2",
    ]  # fmt: skip
    assert set(model.predecessors("add")) == {"bn2", "stem"}
    assert model.graph.edges["stem", "add"]["elems"] == 64 * 56 * 56
    assert model.macs == 2 * 64 * 64 * 9 * 56 * 56
    # Conv weights plus BN scale and bias; running mean and variance are not params.
    assert model.params == 2 * 64 * 64 * 9 + 2 * 2 * 64
    assert model.layers[model.index["add"]].op is OpKind.ELEMENTWISE


def test_depthwise_conv(tmp_path):
    path = _save(
        tmp_path / "dw.onnx",
        [helper.make_node("Conv", ["x", "w"], ["y"], group=32, pads=[1] * 4, strides=[2, 2])],
        [_value("x", [1, 32, 28, 28])],
        {"y": 4},
        [_weight("w", 32, 1, 3, 3)],
    )
    (layer,) = load_onnx(path).layers
    assert layer.op is OpKind.DWCONV
    assert (layer.g, layer.k, layer.c, layer.p, layer.q) == (32, 1, 1, 14, 14)
    assert layer.macs == 32 * 9 * 14 * 14
    assert layer.param_elems == 32 * 9


def test_gemm_divides_out_the_batch(tmp_path):
    path = _save(
        tmp_path / "fc.onnx",
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=1)],
        [_value("x", [4, 256])],
        {"y": 2},
        [_weight("w", 10, 256), _weight("b", 10)],
    )
    model = load_onnx(path)
    (layer,) = model.layers
    assert layer.op is OpKind.MATMUL
    assert (layer.p, layer.c, layer.k) == (1, 256, 10)
    assert model.macs == 256 * 10
    assert model.params == layer.weight_elems == 256 * 10 + 10
    assert model.input_elems == layer.input_elems == 256


def test_attention_matmul_between_activations(tmp_path):
    b, h, s, d = 2, 4, 8, 16
    path = _save(
        tmp_path / "attn.onnx",
        [
            helper.make_node("MatMul", ["q", "k"], ["scores"], name="qk"),
            helper.make_node("Softmax", ["scores"], ["probs"], name="softmax", axis=-1),
            helper.make_node("MatMul", ["probs", "v"], ["ctx"], name="av"),
        ],
        [_value("q", [b, h, s, d]), _value("k", [b, h, d, s]), _value("v", [b, h, s, d])],
        {"ctx": 4},
    )
    model = load_onnx(path)
    qk = model.layers[model.index["qk"]]
    assert (qk.g, qk.p, qk.c, qk.k) == (h, s, d, s)
    assert qk.macs == h * s * d * s
    assert (qk.weight_elems, qk.param_elems) == (0, 0)
    assert qk.input_elems == 2 * h * s * d
    assert model.layers[model.index["softmax"]].output_elems == h * s * s
    assert set(model.predecessors("av")) == {"softmax"}
    assert model.params == 0


def test_linear_as_matmul_plus_add_counts_its_bias(tmp_path):
    path = _save(
        tmp_path / "linear.onnx",
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"], name="proj"),
            helper.make_node("Add", ["xw", "b"], ["y"], name="bias"),
            helper.make_node("Mul", ["y", "half"], ["z"], name="scale"),
        ],
        [_value("x", [2, 8, 64])],
        {"z": 3},
        [_weight("w", 64, 32), _weight("b", 32), _weight("half", 1)],
    )
    model = load_onnx(path)
    proj = model.layers[0]
    assert (proj.g, proj.p, proj.c, proj.k) == (1, 8, 64, 32)
    # The non-scalar bias is a parameter; the scalar multiplier is not.
    assert model.params == 64 * 32 + 32


def test_tied_embedding_counts_the_table_once(tmp_path):
    vocab, dim, seq = 100, 16, 5
    path = _save(
        tmp_path / "lm.onnx",
        [
            helper.make_node("Gather", ["table", "ids"], ["emb"], name="wte"),
            helper.make_node("Transpose", ["table"], ["table_t"], perm=[1, 0]),
            helper.make_node("MatMul", ["emb", "table_t"], ["logits"], name="lm_head"),
        ],
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq])],
        {"logits": 3},
        [_weight("table", vocab, dim)],
    )
    model = load_onnx(path)
    wte, head = model.layers
    assert wte.op is OpKind.EMBEDDING and wte.output_elems == seq * dim
    assert head.macs == seq * dim * vocab
    assert head.weight_elems == vocab * dim and head.param_elems == 0
    assert model.params == vocab * dim


def test_shape_ops_are_not_layers_and_concat_keeps_both_branches(tmp_path):
    path = _save(
        tmp_path / "branches.onnx",
        [
            helper.make_node("Relu", ["x"], ["a"], name="left"),
            helper.make_node("Sigmoid", ["x"], ["b"], name="right"),
            helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
            helper.make_node("Flatten", ["ab"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w"], ["y"], name="fc", transB=1),
        ],
        [_value("x", [1, 2, 4, 4])],
        {"y": 2},
        [_weight("w", 3, 64)],
    )
    model = load_onnx(path)
    assert [layer.name for layer in model.layers] == ["left", "right", "fc"]
    assert set(model.predecessors("fc")) == {"left", "right"}
    assert model.predecessors("left") == []


def test_duplicate_node_names_are_made_unique(tmp_path):
    path = _save(
        tmp_path / "dup.onnx",
        [
            helper.make_node("Relu", ["x"], ["a"], name="act"),
            helper.make_node("Relu", ["a"], ["b"], name="act"),
            helper.make_node("Relu", ["b"], ["c"]),
        ],
        [_value("x", [1, 8])],
        {"c": 2},
    )
    assert [layer.name for layer in load_onnx(path).layers] == ["act", "act_1", "Relu_2"]


def _custom_ops_graph(tmp_path: Path) -> Path:
    nodes = [helper.make_node("Relu", ["x"], ["t0"], name="relu")]
    for i in range(3):
        nodes.append(
            helper.make_node("Foo", [f"t{i}"], [f"t{i + 1}"], name=f"foo{i}", domain="com.example")
        )
    nodes += [
        helper.make_node("Bar", ["t3"], ["t4"], name="bar", domain="com.example"),
        helper.make_node("Conv", ["t4", "w"], ["y"], name="conv"),
    ]
    return _save(
        tmp_path / "net.onnx",
        nodes,
        [_value("x", [1, 4, 8, 8])],
        {"y": 4},
        [_weight("w", 2, 4, 1, 1)],
        extra_opsets=("com.example",),
    )


def test_unsupported_operators_are_listed_with_counts(tmp_path):
    path = _custom_ops_graph(tmp_path)
    with pytest.raises(OnnxImportError) as info:
        load_onnx(path)
    message = str(info.value)
    assert message == (
        f"{path}: unsupported operators: com.example:Foo x3, com.example:Bar x1 "
        "at nodes 'foo0', 'foo1', 'foo2', 'bar' (use --allow-unsupported, or allow_unsupported = true on the workload, "
        "to treat them as zero-cost pass-throughs)"
    )


def test_allow_unsupported_makes_zero_cost_pass_throughs(tmp_path):
    with pytest.warns(UserWarning, match="com.example:Foo x3, com.example:Bar x1"):
        model = load_onnx(_custom_ops_graph(tmp_path), allow_unsupported=True)
    assert [layer.name for layer in model.layers] == ["relu", "foo0", "foo1", "foo2", "bar", "conv"]
    for name in ("foo0", "foo1", "foo2", "bar"):
        layer = model.layers[model.index[name]]
        assert layer.op is OpKind.ELEMENTWISE
        assert layer.vector_ops == 0 and layer.macs == 0
        assert layer.output_elems == 4 * 8 * 8
    assert model.predecessors("conv") == ["bar"]
    # The pass-throughs keep their input's shape, so the conv after them is sized.
    assert model.macs == 2 * 4 * 8 * 8


def test_3d_convolutions_are_unsupported(tmp_path):
    path = _save(
        tmp_path / "vol.onnx",
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        [_value("x", [1, 2, 4, 4, 4])],
        {"y": 5},
        [_weight("w", 3, 2, 1, 1, 1)],
    )
    with pytest.raises(OnnxImportError, match=r"unsupported operators: Conv \(3-D\) x1 "):
        load_onnx(path)


def test_shape_unknown_after_inference_names_node_and_tensor(tmp_path):
    # The Reshape target is a runtime input, so the conv's input dims stay unknown.
    path = _save(
        tmp_path / "dynreshape.onnx",
        [
            helper.make_node("Reshape", ["x", "target"], ["r"]),
            helper.make_node("Conv", ["r", "w"], ["y"], name="conv"),
        ],
        [
            _value("x", [1, 4, 8, 8]),
            helper.make_tensor_value_info("target", TensorProto.INT64, [4]),
        ],
        {"y": 4},
        [_weight("w", 2, 4, 1, 1)],
    )
    with pytest.raises(OnnxImportError) as info:
        load_onnx(path)
    assert str(info.value) == (
        f"{path}: node 'conv' (Conv): shape of tensor 'r' unknown after shape inference"
    )


def test_missing_file(tmp_path):
    with pytest.raises(OnnxImportError, match=r"nothere\.onnx: file not found"):
        load_onnx(tmp_path / "nothere.onnx")


@pytest.mark.parametrize("content", [b"\x00\xffgarbage\x13\x37" * 10, b""])
def test_not_an_onnx_file(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(OnnxImportError, match=r"bad\.onnx: not a valid ONNX model \(") as info:
        load_onnx(path)
    assert "\n" not in str(info.value)


def test_symbolic_input_dims_are_listed(tmp_path):
    path = _save(
        tmp_path / "dyn.onnx",
        [helper.make_node("Add", ["x", "y"], ["z"])],
        [_value("x", ["N", 3, 8]), _value("y", [1, 3, None])],
        {"z": 3},
    )
    with pytest.raises(OnnxImportError) as info:
        load_onnx(path)
    assert str(info.value) == (
        f"{path}: graph inputs have unknown dimensions: x dim 0 ('N'), y dim 2 (missing); "
        "export the model with fixed input shapes"
    )


def test_missing_onnx_package(tmp_path, monkeypatch):
    path = _residual_block(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(OnnxImportError, match=r'pip install "mcmsim\[onnx\]"'):
        load_onnx(path)


class _ResNetOnnx:
    """Emits torchvision's ResNet-50 (v1.5: stride on the 3x3 conv) as ONNX nodes."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def node(self, op: str, inputs: list[str], name: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv_bn(self, x: str, name: str, c_in: int, c_out: int, k: int, stride: int = 1) -> str:
        self.inits += [_weight(f"{name}.w", c_out, c_in, k, k)]
        bn = [f"{name}.bn.{p}" for p in ("scale", "bias", "mean", "var")]
        self.inits += [_weight(t, c_out) for t in bn]
        conv = self.node(
            "Conv", [x, f"{name}.w"], name, pads=[k // 2] * 4, strides=[stride, stride]
        )
        return self.node("BatchNormalization", [conv, *bn], f"{name}.bn")

    def bottleneck(self, x: str, name: str, c_in: int, width: int, stride: int) -> str:
        out = self.node("Relu", [self.conv_bn(x, f"{name}.conv1", c_in, width, 1)], f"{name}.r1")
        out = self.conv_bn(out, f"{name}.conv2", width, width, 3, stride)
        out = self.conv_bn(
            self.node("Relu", [out], f"{name}.r2"), f"{name}.conv3", width, 4 * width, 1
        )
        skip = x
        if stride != 1 or c_in != 4 * width:
            skip = self.conv_bn(x, f"{name}.downsample", c_in, 4 * width, 1, stride)
        return self.node("Relu", [self.node("Add", [out, skip], f"{name}.add")], f"{name}.out")

    def build(self, path: Path) -> Path:
        x = self.node("Relu", [self.conv_bn("image", "conv1", 3, 64, 7, 2)], "relu")
        x = self.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
        c_in = 64
        for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], 1):
            for block in range(blocks):
                stride = 2 if block == 0 and stage > 1 else 1
                x = self.bottleneck(x, f"layer{stage}.{block}", c_in, width, stride)
                c_in = 4 * width
        x = self.node("Flatten", [self.node("GlobalAveragePool", [x], "avgpool")], "flatten")
        self.inits += [_weight("fc.w", 1000, 2048), _weight("fc.b", 1000)]
        self.node("Gemm", [x, "fc.w", "fc.b"], "fc", transB=1)
        return _save(path, self.nodes, [_value("image", [1, 3, 224, 224])], {"fc": 2}, self.inits)


@pytest.mark.slow
def test_resnet50_matches_the_zoo(tmp_path):
    try:
        from mcmsim.workloads.zoo import get_model

        zoo = get_model("resnet50")
    except Exception as exc:  # the zoo is written separately; compare only once it exists
        pytest.skip(f"zoo resnet50 unavailable: {exc}")
    model = load_onnx(_ResNetOnnx().build(tmp_path / "resnet50.onnx"))

    def mac_layers(m):
        return [layer for layer in m.layers if layer.op.has_macs]

    assert len(mac_layers(model)) == len(mac_layers(zoo)) == 54
    assert model.macs == zoo.macs
    assert model.params == pytest.approx(zoo.params, rel=1e-3)
    assert model.params == 25_557_032  # torchvision's count
    assert model.input_elems == zoo.input_elems


# --- through the command line and scenarios ------------------------------------------


def _tiny_residual(tmp_path: Path) -> Path:
    return _save(
        tmp_path / "tiny.onnx",
        [
            helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["a"], ["b"], name="relu"),
            helper.make_node("Conv", ["b", "w2"], ["c"], name="conv2", pads=[1, 1, 1, 1]),
            helper.make_node("Add", ["c", "x"], ["y"], name="add"),
        ],
        [_value("x", [1, 8, 16, 16])],
        {"y": 4},
        [_weight("w1", 8, 8, 3, 3), _weight("w2", 8, 8, 3, 3)],
    )


def test_models_show_onnx_json_is_exact(cli, tmp_path):
    result = cli("models", "show", str(_tiny_residual(tmp_path)), "--json")
    assert result.exit_code == 0, result.stderr
    import json

    data = json.loads(result.stdout)
    assert data["macs"] == 2 * 8 * 8 * 3 * 3 * 16 * 16
    assert data["params"] == 2 * 8 * 8 * 3 * 3
    assert data["layers"] == 4


def test_models_show_bad_onnx_files_exit_2(cli, tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xffnot onnx" * 8)
    dynamic = _save(
        tmp_path / "dyn.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [_value("x", ["N", 3, 8])],
        {"y": 3},
    )
    cases = {
        garbage: "not a valid ONNX model",
        _custom_ops_graph(tmp_path): "unsupported operators: com.example:Foo x3",
        dynamic: "graph inputs have unknown dimensions",
    }
    for path, expected in cases.items():
        result = cli("models", "show", str(path), "--json")
        assert result.exit_code == 2, path
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr
    allowed = cli("models", "show", str(_custom_ops_graph(tmp_path)), "--allow-unsupported")
    assert allowed.exit_code == 0


def test_scenario_workload_from_onnx_runs(tmp_path):
    import mcmsim

    _tiny_residual(tmp_path)
    text = """
[package]
layout = [["a", "b"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 1024
[package.chiplet_types.b]
dataflow = "os"
pes = 1024
[[workloads]]
model = "tiny.onnx"
[simulation]
requests = 50
"""
    path = tmp_path / "onnx_scenario.toml"
    path.write_text(text)
    sc = mcmsim.load_scenario(path)
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    assert results.models["tiny"]["completed"] > 0


_PASS_THROUGH_SCENARIO = """
[package]
layout = [["a", "b"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 1024
[package.chiplet_types.b]
dataflow = "os"
pes = 1024
[[workloads]]
model = "net.onnx"
{extra}
[simulation]
requests = 30
"""


def test_workload_allow_unsupported_runs_with_pass_throughs(cli, tmp_path):
    import mcmsim
    from mcmsim.workloads.onnx_import import UnsupportedOperatorWarning

    _custom_ops_graph(tmp_path)
    refused = tmp_path / "refused.toml"
    refused.write_text(_PASS_THROUGH_SCENARIO.format(extra=""))
    with pytest.raises(mcmsim.ScenarioError, match="allow_unsupported = true on the workload"):
        mcmsim.load_scenario(refused)

    allowed = tmp_path / "allowed.toml"
    allowed.write_text(_PASS_THROUGH_SCENARIO.format(extra="allow_unsupported = true"))
    with pytest.warns(UnsupportedOperatorWarning) as caught:
        sc = mcmsim.load_scenario(allowed)
    message = str(caught[0].message)
    assert "com.example:Foo x3, com.example:Bar x1" in message
    assert "layers foo0, foo1, foo2, bar" in message
    # The pass-throughs cost nothing: the model's MACs are the 1x1 conv's alone.
    assert sc.workloads[0].model.macs == 2 * 4 * 8 * 8

    result = cli("run", allowed, "--scheduler", "standalone")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "com.example:Foo x3" in warnings[0]


def test_allow_unsupported_on_a_zoo_model_is_an_error(tmp_path):
    import mcmsim

    text = _PASS_THROUGH_SCENARIO.format(extra="allow_unsupported = true").replace(
        '"net.onnx"', '"resnet50"'
    )
    path = tmp_path / "zoo.toml"
    path.write_text(text)
    with pytest.raises(mcmsim.ScenarioError, match=r"ONNX models .* only"):
        mcmsim.load_scenario(path)


def test_models_show_layers_gives_each_layers_dimensions_macs_and_weights(cli, tmp_path):
    import json

    result = cli("models", "show", str(_tiny_residual(tmp_path)), "--json", "--layers")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["layer_table"]
    assert [r["name"] for r in rows] == ["conv1", "relu", "conv2", "add"]
    conv1 = rows[0]
    assert conv1["op"] == "conv2d"
    assert {d: conv1["dims"][d] for d in "kcpqrs"} == {
        "k": 8,
        "c": 8,
        "p": 16,
        "q": 16,
        "r": 3,
        "s": 3,
    }
    assert conv1["macs"] == 8 * 8 * 3 * 3 * 16 * 16
    assert conv1["weight_bytes"] == 8 * 8 * 3 * 3  # int8
    assert "conv2" in rows[3]["inputs"]
    table = cli("models", "show", str(_tiny_residual(tmp_path)), "--layers")
    assert table.exit_code == 0
    assert "k8 c8 p16 q16 r3 s3" in table.stdout
