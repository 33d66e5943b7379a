"""Dataflows as data: presets obey physics and the hand formulas of their mappings,
inline descriptions cost like the preset they copy, fusion and leakage follow their rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mcmsim.cost.dataflow import map_layers
from mcmsim.cost.table import cost_table, layer_arrays
from mcmsim.hardware.chiplet import ChipletType
from mcmsim.hardware.dataflow import PRESETS, Dataflow, dataflow_preset
from mcmsim.scenario import parse_scenario
from mcmsim.workloads import builders
from mcmsim.workloads.model import Model, ModelBuilder
from mcmsim.workloads.zoo import get_model
from tests.conftest import Cli

FREQ_HZ = 500_000_000


def chiplet(
    dataflow: str | Dataflow, rows: int = 64, cols: int = 64, *, bw: int | None = None, fusion=True
) -> ChipletType:
    df = dataflow_preset(dataflow) if isinstance(dataflow, str) else dataflow
    return ChipletType(
        name=f"{df.name}-{rows}x{cols}-{bw}-{fusion}",
        dataflow=df,
        rows=rows,
        cols=cols,
        sram_bytes=10 << 20,
        sram_bw_bytes_per_cycle=bw or df.full_rate_elems_per_cycle(rows, cols),
        freq_hz=FREQ_HZ,
        mac_energy_pj=0.1,
        sram_energy_pj_per_bit=0.23,
        leakage_w=0.0,
        fusion=fusion,
    )


def gemm(m: int, k: int, n: int) -> Model:
    layer = builders.matmul("gemm", m, k, n)
    builder = ModelBuilder("gemm", layer.input_elems)
    builder.add(layer)
    return builder.build()


# --- physics ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet50", "gpt2", "mobilenet-v2"])
@pytest.mark.parametrize("dataflow", list(PRESETS))
def test_every_preset_obeys_physics(name: str, dataflow: str) -> None:
    model = get_model(name)
    ch = chiplet(dataflow)
    table = cost_table(model, ch, 2)
    peak_ps = table.macs / ch.pes * 1e12 / ch.freq_hz
    assert np.all(table.latency_ps >= np.floor(peak_ps))
    mac = table.macs > 0
    assert np.all(table.utilization[mac] > 0)
    assert np.all(table.utilization <= 1 + 1e-12)
    assert np.all(table.spatial_utilization[mac] > 0)
    assert np.all(table.spatial_utilization <= 1 + 1e-12)
    base = table.latency_ps
    for rows, cols in ((128, 64), (64, 128), (128, 128)):
        bigger = cost_table(model, chiplet(dataflow, rows, cols), 2).latency_ps
        assert np.all(bigger <= base), f"{rows}x{cols} slower on some layer"


def test_systolic_output_stationary_fills_the_array_on_a_gemm_shidiannao_does_not() -> None:
    model = gemm(128, 768, 768)
    systolic = cost_table(model, chiplet("os-systolic"))
    assert systolic.spatial_utilization[0] > 0.95
    shidiannao = map_layers(layer_arrays(model), chiplet("os"), 1)
    assert shidiannao.active_pes[0] <= 128
    # A fold is T + rows + cols cycles: 2 x 12 folds of 768 reduction steps.
    folds, reduction = 2 * 12, 768
    mapped = map_layers(layer_arrays(model), chiplet("os-systolic"), 1)
    assert mapped.compute_cycles[0] == folds * reduction
    assert mapped.fill_cycles[0] == folds * (64 + 64)


def test_resnet_first_convolution_is_faster_on_shidiannao_than_on_weight_stationary() -> None:
    model = get_model("resnet50")
    i = model.index["conv1"]
    assert (
        cost_table(model, chiplet("os")).latency_ps[i]
        < cost_table(model, chiplet("ws")).latency_ps[i]
    )


# --- presets against the hand formulas of their mappings ----------------------------


def _cdiv(a, b):
    return -(-a // b)


def hand_formula(dataflow: str, layers, n: int, rows: int, cols: int):
    """Compute cycles and L2 accesses of MAC layers as each mapping is described in README."""
    g, k, c, p, q, r, s = layers.g, layers.k, layers.c, layers.p, layers.q, layers.r, layers.s
    w = np.where(layers.is_embedding, n * layers.output_elems, layers.weight_elems)
    i, o = n * layers.input_elems, n * layers.output_elems
    if dataflow == "ws":
        f_c = _cdiv(c, rows)
        cycles = f_c * _cdiv(g * k, cols) * n * p * q * r * s
        sram = w + i * _cdiv(k, cols) + o * (2 * f_c - 1)
    elif dataflow == "os":
        f = _cdiv(n * p * q, rows * cols)
        cycles = f * g * k * c * r * s
        sram = w * f + i + o
    else:  # rs: inputs re-stream over the group's own filters, interleaved 224 / S per PE
        f_r = _cdiv(r * c, rows)
        cycles = f_r * _cdiv(g * k * n * p, cols) * q * s
        together = (cols // np.minimum(n * p, cols)) * np.maximum(224 // s, 1)
        sram = w * _cdiv(n * p, cols) + i * _cdiv(k, together) + o * (2 * f_r - 1)
    return cycles, sram


@pytest.mark.parametrize("name", ["resnet50", "gpt2"])
@pytest.mark.parametrize("dataflow", ["ws", "os", "rs"])
@pytest.mark.parametrize("batch", [1, 3])
def test_classic_presets_match_their_hand_formulas(name: str, dataflow: str, batch: int) -> None:
    model = get_model(name)
    layers = layer_arrays(model)
    mapped = map_layers(layers, chiplet(dataflow), batch)
    cycles, sram = hand_formula(dataflow, layers, batch, 64, 64)
    mac = layers.has_macs
    np.testing.assert_array_equal(mapped.compute_cycles[mac], cycles[mac])
    np.testing.assert_array_equal(mapped.sram_elems[mac], sram[mac])


def test_default_bandwidth_is_what_the_array_edges_move_per_cycle() -> None:
    # ws: C enters on 64 rows, partial sums leave and return on 64 columns.
    assert dataflow_preset("ws").full_rate_elems_per_cycle(64, 32) == 64 + 2 * 32
    # os-systolic: inputs on the rows, weights on the columns, outputs stay.
    assert dataflow_preset("os-systolic").full_rate_elems_per_cycle(64, 32) == 64 + 32
    # ShiDianNao: one broadcast weight plus one edge of forwarded inputs.
    assert dataflow_preset("os").full_rate_elems_per_cycle(64, 64) == 1 + 64


def test_os_xr_spreads_output_rows_columns_and_channels_as_xrbench() -> None:
    # 16 x 4 clusters leave 4096 / 64 = 64 groups for output rows: a 64 x 8 x 32 conv
    # output with C = 32 fills 64 * 4 * 16 PEs in 2 (Q) x 2 (C) folds of K * R * S steps.
    layer = builders.conv2d("c", 32, 16, 64, 8, 3, 1, 1)
    builder = ModelBuilder("x", layer.input_elems)
    builder.add(layer)
    model = builder.build()
    mapped = map_layers(layer_arrays(model), chiplet("os-xr"), 1)
    assert mapped.active_pes[0] == 4096
    assert mapped.compute_cycles[0] == 2 * 2 * 16 * 3 * 3


# --- inline descriptions and scenario errors ----------------------------------------

SCENARIO = """
[package]
layout = [["a", "b"]]

[package.chiplet_types.a]
dataflow = "{preset}"
pes = 4096

[package.chiplet_types.b]
{inline}
pes = 4096

[[workloads]]
model = "{model}"
"""


def _inline(dataflow: Dataflow) -> str:
    described = dataflow.describe()
    described.pop("name")
    parts = []
    for key, value in described.items():
        if isinstance(value, list):
            items = [
                f'"{v}"' if isinstance(v, str) else f'{{ dim = "{v["dim"]}", size = {v["size"]} }}'
                for v in value
            ]
            parts.append(f"{key} = [{', '.join(items)}]")
        else:
            parts.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
    return "dataflow = { " + ", ".join(parts) + " }"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_inline_dataflow_costs_like_the_preset_it_copies(preset: str) -> None:
    text = SCENARIO.format(preset=preset, inline=_inline(PRESETS[preset]), model="resnet50")
    sc = parse_scenario(text)
    a, b = sc.package.chiplet_types["a"], sc.package.chiplet_types["b"]
    assert a.sram_bw_bytes_per_cycle == b.sram_bw_bytes_per_cycle
    model = sc.workloads[0].model
    np.testing.assert_array_equal(cost_table(model, a).latency_ps, cost_table(model, b).latency_ps)
    np.testing.assert_array_equal(cost_table(model, a).sram_pj, cost_table(model, b).sram_pj)


@pytest.mark.parametrize(
    ("inline", "message"),
    [
        ('dataflow = { spatial_rows = ["X"], stationary = "weights" }', "unknown dimension 'X'"),
        (
            'dataflow = { spatial_rows = ["K"], spatial_cols = ["K"], stationary = "weights" }',
            "dimension K is unrolled on both",
        ),
        (
            'dataflow = { spatial = [{ dim = "C", size = 8192 }], stationary = "outputs" }',
            "exceed the array's 4096",
        ),
        ('dataflow = { spatial_rows = ["K"], stationary = "psums" }', "stationary"),
        ('dataflow = "zz"', "unknown dataflow 'zz'"),
    ],
)
def test_bad_dataflow_is_a_file_line_error_exit_2(
    cli: Cli, write, inline: str, message: str
) -> None:
    path = write("bad.toml", SCENARIO.format(preset="ws", inline=inline, model="resnet50"))
    line = next(
        i
        for i, text in enumerate(path.read_text().splitlines(), 1)
        if "dataflow" in text and text != 'dataflow = "ws"'
    )
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"bad.toml:{line}:" in result.stderr
    assert message in result.stderr


def test_costs_json_lists_each_chiplet_types_dataflow_description(cli: Cli, write) -> None:
    inline = 'dataflow = { spatial_rows = ["K"], spatial_cols = ["C"], stationary = "weights", feed = "systolic" }'
    path = write("ok.toml", SCENARIO.format(preset="os-xr", inline=inline, model="gpt2"))
    result = cli("costs", path, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chiplet_types"]["a"]["dataflow_description"] == PRESETS["os-xr"].describe()
    described = data["chiplet_types"]["b"]["dataflow_description"]
    assert described["spatial_rows"] == ["K"] and described["feed"] == "systolic"
    assert any(row["sram_bound"] for row in data["rows"])


# --- fusion -------------------------------------------------------------------------


def conv_bn_relu() -> Model:
    conv = builders.conv2d("conv", 64, 64, 56, 56, 3, 1, 1)
    builder = ModelBuilder("cbr", conv.input_elems)
    builder.add(conv)
    builder.add(builders.norm("bn", conv.output_elems, 64))
    builder.add(builders.elementwise("relu", conv.output_elems))
    return builder.build()


def test_fused_layers_keep_only_their_vector_cycles() -> None:
    model = conv_bn_relu()
    ch = chiplet("ws")
    fused = cost_table(model, ch)
    unfused = cost_table(model, chiplet("ws", fusion=False))
    assert list(fused.fused) == [False, True, True]
    assert not unfused.fused.any()
    cycle_ps = 1e12 / FREQ_HZ
    for i in (1, 2):
        vector_cycles = math.ceil(model.layers[i].vector_ops / ch.pes)
        assert fused.latency_ps[i] == vector_cycles * cycle_ps
        assert fused.sram_pj[i] == 0
        assert unfused.latency_ps[i] > fused.latency_ps[i]
    # A segment that starts at the norm has no producer on its chiplet.
    assert fused.segment_latency_ps(1, 3)[0] == unfused.latency_ps[1]
    assert fused.segment_latency_ps(0, 3).sum() == fused.latency_ps.sum()


def test_residual_add_fuses_but_reads_its_skip_operand() -> None:
    model = get_model("resnet50")
    table = cost_table(model, chiplet("ws"))
    adds = [
        i
        for i, layer in enumerate(model.layers)
        if layer.op.value == "elementwise" and len(model.predecessors(layer.name)) == 2
    ]
    assert adds and all(table.fused[adds])
    skip_bytes = np.array([model.layers[i].output_elems for i in adds])
    np.testing.assert_allclose(table.sram_pj[adds], skip_bytes * 8 * 0.23)


def test_fusion_switch_in_the_scenario_changes_the_simulated_time() -> None:
    import mcmsim

    text = SCENARIO.format(preset="ws", inline='dataflow = "ws"', model="resnet50")
    off = text.replace('dataflow = "ws"\npes', 'dataflow = "ws"\nfusion = false\npes')
    runs = []
    for source in (text, off):
        sc = parse_scenario(source).with_overrides(requests=3, mode="batch", warmup="none")
        runs.append(mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone")))
    assert runs[0].throughput_per_s > runs[1].throughput_per_s


# --- leakage ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "mw"),
    [
        ("none", 0.0),
        ("memory-compiler", 2.0 * 10 + 2e-3 * 4096),
        ("cacti-itrs-hp", 133.0 * 10 + 7e-3 * 4096),
        ("cacti-itrs-lstp", 0.02 * 10 + 2e-3 * 4096),
    ],
)
def test_leakage_presets(preset: str, mw: float) -> None:
    text = SCENARIO.format(
        preset="ws", inline=f'dataflow = "os"\nleakage = "{preset}"', model="gpt2"
    )
    sc = parse_scenario(text)
    assert sc.package.chiplet_types["b"].leakage_w == pytest.approx(mw / 1000)
    # The default is the memory compiler's typical corner.
    assert sc.package.chiplet_types["a"].leakage_w == pytest.approx((20 + 8.192) / 1000)
