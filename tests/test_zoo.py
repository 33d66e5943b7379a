"""Tests of the model zoo against published sizes and independently derived MAC counts."""

from __future__ import annotations

import networkx as nx
import pytest

from mcmsim.workloads.layer import OpKind
from mcmsim.workloads.zoo import ZOO, UnknownModelError, get_model

ALL_MODELS = [
    "resnet50",
    "googlenet",
    "mobilenet-v2",
    "unet",
    "gpt2",
    "gpt2-medium",
    "gpt2-large",
    "gpt2-xl",
    "bert-base",
    "bert-large",
    "vit-b16",
]

# Published figures: (MACs, params, relative tolerance).
PUBLISHED = {
    # torchvision model tables (ImageNet, 224x224): "GFLOPS" there are MACs.
    "resnet50": (4.09e9, 25.557e6, 0.02),
    "googlenet": (1.50e9, 6.624e6, 0.02),
    "vit-b16": (17.56e9, 86.568e6, 0.02),
    # Sandler et al. 2018, Table 4: 300 M multiply-adds; torchvision table: 3.505 M params.
    "mobilenet-v2": (300e6, 3.505e6, 0.02),
}

# Published parameter counts (Radford et al. 2019 and the released checkpoints; Devlin et
# al. 2019): (params, relative tolerance).
PUBLISHED_PARAMS = {
    "gpt2": (124e6, 0.01),
    "gpt2-medium": (355e6, 0.01),
    "gpt2-large": (774e6, 0.01),
    "gpt2-xl": (1558e6, 0.01),
    "bert-base": (110e6, 0.01),
    "bert-large": (335e6, 0.01),
    # Ronneberger et al. 2015 network: about 31.0 M parameters.
    "unet": (31.0e6, 0.02),
}

GPT2_SIZES = {  # layers, d
    "gpt2": (12, 768),
    "gpt2-medium": (24, 1024),
    "gpt2-large": (36, 1280),
    "gpt2-xl": (48, 1600),
}
GPT2_VOCAB, GPT2_POSITIONS = 50257, 1024
BERT_SIZES = {"bert-base": (12, 768), "bert-large": (24, 1024)}


@pytest.fixture(scope="module")
def models():
    return {name: get_model(name) for name in ALL_MODELS}


def encoder_macs(layers: int, d: int, tokens: int, span: int | None = None) -> int:
    """MACs of ``layers`` transformer blocks: QKV (3d²) + projection (d²) + MLP (8d²) per
    token, and the two attention products (``tokens x span x d`` each)."""
    span = tokens if span is None else span
    return layers * (12 * d * d * tokens + 2 * tokens * span * d)


def unet_macs(size: int, c_in: int, classes: int) -> int:
    """U-Net MACs with 'same' 3x3 convolutions, summed per level by hand."""

    def conv3(ci: int, co: int, hw: int) -> int:
        return 9 * ci * co * hw * hw

    widths = [64, 128, 256, 512]
    total = 0
    channels = c_in
    for level, w in enumerate(widths):  # encoder: two 3x3 convolutions per level
        hw = size >> level
        total += conv3(channels, w, hw) + conv3(w, w, hw)
        channels = w
    total += conv3(512, 1024, size >> 4) + conv3(1024, 1024, size >> 4)  # bottleneck
    for level, w in reversed(list(enumerate(widths))):  # decoder
        hw = size >> level
        total += 2 * w * w * hw * hw  # 2x2 up-convolution: 2w -> w, one MAC per output tap
        total += conv3(2 * w, w, hw) + conv3(w, w, hw)  # after concatenation with the skip
    return total + 64 * classes * size * size  # final 1x1 convolution


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_cnn_and_vit_match_published(models, name):
    macs, params, rel = PUBLISHED[name]
    assert models[name].macs == pytest.approx(macs, rel=rel)
    assert models[name].params == pytest.approx(params, rel=rel)


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_params_match_published(models, name):
    params, rel = PUBLISHED_PARAMS[name]
    assert models[name].params == pytest.approx(params, rel=rel)


def test_exact_parameter_counts(models):
    # Counts of the reference implementations (torchvision, Hugging Face checkpoints).
    assert models["resnet50"].params == 25_557_032
    assert models["googlenet"].params == 6_624_904
    assert models["mobilenet-v2"].params == 3_504_872
    assert models["vit-b16"].params == 86_567_656
    assert models["gpt2"].params == 124_439_808
    assert models["bert-base"].params == 109_482_240
    assert models["bert-large"].params == 335_141_888


def test_unet_macs_from_formula(models):
    assert models["unet"].macs == unet_macs(512, 1, 2)
    assert get_model("unet", image_size=256, in_channels=3, classes=5).macs == unet_macs(256, 3, 5)


@pytest.mark.parametrize("name", sorted(GPT2_SIZES))
def test_gpt2_prefill_macs_and_params_from_formula(models, name):
    n_layers, d = GPT2_SIZES[name]
    seq = 128
    lm_head = seq * d * GPT2_VOCAB
    assert models[name].macs == encoder_macs(n_layers, d, seq) + lm_head
    # Per block: 12d² weights + 13d biases and LN; embeddings; final LN; tied head adds 0.
    params = (GPT2_VOCAB + GPT2_POSITIONS) * d + n_layers * (12 * d * d + 13 * d) + 2 * d
    assert models[name].params == params


@pytest.mark.parametrize("name", sorted(BERT_SIZES))
def test_bert_macs_from_formula(models, name):
    n_layers, d = BERT_SIZES[name]
    assert models[name].macs == encoder_macs(n_layers, d, 128) + d * d  # + pooler


def test_vit_macs_from_formula(models):
    tokens = 14 * 14 + 1
    patch_embed = 768 * 3 * 16 * 16 * 14 * 14
    assert models["vit-b16"].macs == encoder_macs(12, 768, tokens) + patch_embed + 768 * 1000


@pytest.mark.parametrize("name", ["gpt2", "gpt2-xl"])
def test_decode_is_cheap_and_grows_with_kv_len(models, name):
    n_layers, d = GPT2_SIZES[name]
    prefill = models[name].macs
    macs = {}
    for kv_len in (16, 128, 1000):
        model = get_model(name, phase="decode", kv_len=kv_len)
        macs[kv_len] = model.macs
        # One token attending to the cache and itself, plus its logits.
        assert model.macs == encoder_macs(n_layers, d, 1, kv_len + 1) + d * GPT2_VOCAB
        assert model.input_elems == 1
        assert model.params == models[name].params
    assert macs[16] < macs[128] < macs[1000]
    assert macs[128] < prefill / 50
    # Without kv_len the decode step follows a prompt of seq_len tokens.
    assert get_model(name, phase="decode", seq_len=128).macs == macs[128]


def test_decode_attention_reads_the_cache():
    short = get_model("gpt2", phase="decode", kv_len=10)
    long = get_model("gpt2", phase="decode", kv_len=1000)
    index = short.index["h0.attn.scores"]
    assert short.layers[index].weight_elems == 0
    assert long.layers[index].input_elems > short.layers[index].input_elems


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("gpt2", {"phase": "train"}),
        ("gpt2", {"kv_len": 10}),  # kv_len only makes sense for decode
        ("gpt2", {"seq_len": 2048}),
        ("gpt2", {"phase": "decode", "kv_len": 1024}),
        ("bert-base", {"seq_len": 513}),
        ("vit-b16", {"image_size": 200}),
        ("unet", {"image_size": 500}),
    ],
)
def test_invalid_values_raise(name, params):
    with pytest.raises(ValueError):
        get_model(name, **params)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_dag_is_acyclic_topological_and_connected(models, name):
    model = models[name]
    graph = model.graph
    assert nx.is_directed_acyclic_graph(graph)
    assert set(graph.nodes) == {layer.name for layer in model.layers}
    assert len(graph) == len(model.layers)  # names are unique
    for u, v in graph.edges:
        assert model.index[u] < model.index[v]
    assert nx.is_weakly_connected(graph)
    assert len(model.output_layers) == 1
    # Only the first layer and parameter tables read the model input directly.
    sources = [n for n in graph.nodes if graph.in_degree(n) == 0]
    for source in sources:
        layer = graph.nodes[source]["layer"]
        assert source == model.layers[0].name or layer.op is OpKind.EMBEDDING


@pytest.mark.parametrize("name", ALL_MODELS)
def test_residual_adds_have_two_predecessors(models, name):
    model = models[name]
    adds = [
        layer.name
        for layer in model.layers
        if layer.name.rsplit(".", 1)[-1] in ("add", "add1", "add2")
        and not layer.name.startswith("embed")
    ]
    expected = {
        "resnet50": 16,
        "googlenet": 0,
        "mobilenet-v2": 10,
        "unet": 0,
        "bert-base": 24,
        "bert-large": 48,
        "vit-b16": 24,
    }.get(name, 2 * GPT2_SIZES.get(name, (0, 0))[0])
    assert len(adds) == expected
    for add in adds:
        assert len(model.predecessors(add)) == 2


def test_true_dag_joins(models):
    gpt = models["gpt2"]
    assert set(gpt.predecessors("h0.attn.context")) == {"h0.attn.softmax", "h0.attn.qkv"}
    assert set(gpt.predecessors("h1.add1")) == {"h0.add2", "h1.attn.proj"}
    assert set(gpt.predecessors("embed.add")) == {"wte", "wpe"}
    assert len(models["bert-base"].predecessors("embed.add")) == 3
    # Concatenations: U-Net skip + up-convolution, GoogLeNet's four branches.
    assert set(models["unet"].predecessors("up1.conv1")) == {"down1.relu2", "up1.upconv"}
    assert len(models["googlenet"].predecessors("inception3b.branch1.conv")) == 4
    assert len(models["googlenet"].predecessors("maxpool3")) == 4
    assert set(models["resnet50"].predecessors("layer1.0.downsample.0")) == {"maxpool"}


def test_input_elems(models):
    assert models["resnet50"].input_elems == 3 * 224 * 224
    assert models["unet"].input_elems == 512 * 512
    assert models["gpt2"].input_elems == 128
    assert models["bert-base"].input_elems == 128


def test_image_size_scales_cnns():
    small, large = get_model("resnet50"), get_model("resnet50", image_size=448)
    assert small.params == large.params
    assert large.macs == pytest.approx(4 * small.macs, rel=0.01)


def test_unknown_model_lists_known_names():
    with pytest.raises(UnknownModelError) as excinfo:
        get_model("resnet51")
    for name in ALL_MODELS:
        assert name in str(excinfo.value)
    assert set(ALL_MODELS) <= set(ZOO)


def test_unknown_parameter_raises_type_error():
    with pytest.raises(TypeError):
        get_model("resnet50", depth=101)
    with pytest.raises(TypeError):
        get_model("bert-base", phase="decode")
