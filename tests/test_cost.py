"""The cost model obeys physics and the known qualitative results of the dataflows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mcmsim.cost.table import cost_table
from mcmsim.hardware.chiplet import ChipletType
from mcmsim.hardware.dataflow import dataflow_preset
from mcmsim.workloads.zoo import get_model

MODELS = ["resnet50", "gpt2", "bert-base", "mobilenet-v2", "googlenet", "vit-b16"]


def chiplet(dataflow: str, rows: int = 64, cols: int = 64) -> ChipletType:
    return ChipletType(
        name=f"{dataflow}{rows}x{cols}",
        dataflow=dataflow_preset(dataflow),
        rows=rows,
        cols=cols,
        sram_bytes=10 << 20,
        sram_bw_bytes_per_cycle=rows + cols,
        freq_hz=500_000_000,
        mac_energy_pj=0.1,
        sram_energy_pj_per_bit=0.23,
        leakage_w=0.1,
    )


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dataflow", ["ws", "os", "rs"])
@pytest.mark.parametrize("batch", [1, 4])
def test_no_layer_beats_peak_and_utilization_in_range(name: str, dataflow: str, batch: int) -> None:
    model = get_model(name)
    ch = chiplet(dataflow)
    table = cost_table(model, ch, batch)
    peak_ps = table.macs / ch.pes * 1e12 / ch.freq_hz
    assert np.all(table.latency_ps >= np.floor(peak_ps))
    mac_layers = table.macs > 0
    assert np.all(table.utilization[mac_layers] > 0)
    assert np.all(table.utilization <= 1 + 1e-12)
    assert np.all(table.latency_ps > 0)
    assert np.all(table.latency_streamed_ps >= table.latency_ps)


def test_early_resnet_conv_prefers_output_stationary() -> None:
    model = get_model("resnet50")
    i = model.index["conv1"]
    ws = cost_table(model, chiplet("ws")).latency_ps[i]
    os_ = cost_table(model, chiplet("os")).latency_ps[i]
    assert os_ < ws / 2


def test_gpt2_projection_with_few_tokens_prefers_weight_stationary() -> None:
    model = get_model("gpt2", seq_len=16)
    i = next(j for j, layer in enumerate(model.layers) if layer.name.endswith("attn.proj"))
    ws = cost_table(model, chiplet("ws")).latency_ps[i]
    os_ = cost_table(model, chiplet("os")).latency_ps[i]
    assert ws < os_ / 2


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dataflow", ["ws", "os", "rs"])
def test_doubling_the_array_never_slows_a_layer(name: str, dataflow: str) -> None:
    model = get_model(name)
    base = cost_table(model, chiplet(dataflow, 64, 64)).latency_ps
    for rows, cols in ((128, 64), (64, 128), (128, 128)):
        bigger = cost_table(model, chiplet(dataflow, rows, cols)).latency_ps
        assert np.all(bigger <= base), f"{rows}x{cols} slower on some layer"


def test_batch_amortises_weights_on_weight_stationary() -> None:
    model = get_model("gpt2")
    one = cost_table(model, chiplet("ws"), 1)
    eight = cost_table(model, chiplet("ws"), 8)
    # Eight inferences in one execution cost less energy than eight executions.
    assert eight.energy_pj.sum() < 8 * one.energy_pj.sum()
    assert np.all(eight.latency_ps >= one.latency_ps)


def test_energy_parts_are_consistent() -> None:
    model = get_model("resnet50")
    ch = chiplet("ws")
    table = cost_table(model, ch)
    assert table.compute_pj.sum() == pytest.approx(
        (model.macs + sum(layer.vector_ops for layer in model.layers)) * ch.mac_energy_pj
    )
    assert np.all(table.unfused_sram_pj > 0)
    assert np.all(table.sram_pj[~table.fused] == table.unfused_sram_pj[~table.fused])
    assert table.dram_stream_bytes.sum() == pytest.approx(
        sum(layer.weight_access_elems for layer in model.layers)
    )


def test_cost_table_is_cached() -> None:
    model = get_model("gpt2-large")
    ch = dataclasses.replace(chiplet("ws"), name="cache-probe")
    first = cost_table(model, ch)
    assert cost_table(model, ch) is first


def test_invalid_batch_rejected() -> None:
    with pytest.raises(ValueError, match="batch"):
        cost_table(get_model("resnet50"), chiplet("ws"), 0)


def test_depthwise_convolution_prefers_row_stationary_over_weight_stationary() -> None:
    # A channel-parallel (NVDLA-like) array has one input and one output channel per
    # depthwise group to spread; Eyeriss-like rows x output rows keep the array busy.
    model = get_model("mobilenet-v2")
    depthwise = [i for i, layer in enumerate(model.layers) if layer.op.value == "dwconv"]
    ws = cost_table(model, chiplet("ws")).latency_ps[depthwise]
    rs = cost_table(model, chiplet("rs")).latency_ps[depthwise]
    assert rs.sum() < ws.sum() / 2


def test_row_stationary_runs_gemms_within_a_small_factor_of_weight_stationary() -> None:
    model = get_model("gpt2")
    ws = cost_table(model, chiplet("ws")).latency_ps.sum()
    rs = cost_table(model, chiplet("rs")).latency_ps.sum()
    assert rs < 3 * ws
