"""The study scenarios of the baseline, SCAR Fig. 2 and SCAR-absolute studies load and run."""

from __future__ import annotations

import pytest

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from tests.conftest import ROOT

SCENARIOS = ROOT / "scenarios"
STREAM = [
    "gpt2_resnet_3ws_1os.toml",
    "gpt2_resnet_monolithic_os_xr.toml",
    "gpt2_resnet_monolithic_os_systolic.toml",
]
FIG2 = {
    "resnet_on_shidiannao": "scar_fig2_resnet.toml",
    "resnet_on_nvdla": "scar_fig2_resnet.toml",
    "resnet_heterogeneous": "scar_fig2_resnet.toml",
    "nn_baton": "scar_fig2_nnbaton.toml",
    "sequential_nvdla": "scar_fig2.toml",
    "spatial_split": "scar_fig2.toml",
    "spatial_split_ws": "scar_fig2.toml",
    "two_windows": "scar_fig2.toml",
}


@pytest.mark.parametrize("name", STREAM)
def test_study_scenario_runs(name: str) -> None:
    scenario = mcmsim.load_scenario(SCENARIOS / name).with_overrides(requests=40)
    assert sum(c.type.pes for c in scenario.package.chiplets) == 16384
    results = mcmsim.simulate(scenario, mcmsim.schedule(scenario))
    assert results.requests.completed >= 40
    assert set(results.models) == {"gpt2", "resnet50"}


def test_scar_fig2_package_is_three_nvdla_and_one_shidiannao() -> None:
    scenario = mcmsim.load_scenario(SCENARIOS / "scar_fig2.toml")
    kinds = sorted(c.type.dataflow.name for c in scenario.package.chiplets)
    assert kinds == ["os", "ws", "ws", "ws"]
    assert all(c.type.leakage_w == 0 for c in scenario.package.chiplets)


@pytest.mark.parametrize("schedule", sorted(FIG2))
def test_fig2_hand_schedule_runs_one_inference_per_model(schedule: str) -> None:
    scenario = mcmsim.load_scenario(SCENARIOS / FIG2[schedule])
    plan = mcmsim.Schedule.load(SCENARIOS / "scar_fig2" / f"{schedule}.json")
    results = mcmsim.simulate(scenario, plan)
    for name, model in results.models.items():
        assert model.completed == 1, name
    assert results.run.makespan_s > 0


def _costs(file: str, model: str, chiplet_type: str):
    scenario = mcmsim.load_scenario(SCENARIOS / "scar_maestro" / file)
    return SchedulingProblem(scenario).costs(model, chiplet_type, batch=1)


def test_maestro_nvdla_mapping_uses_one_cluster_on_a_gemm() -> None:
    # XRBench's WS.m spreads output columns over 16 clusters; a GEMM written with
    # tokens as rows has one output column, so at most 256 of 4096 PEs work.
    table = _costs("scar_3_all_ws_maestro.toml", "bert-large", "ws")
    model = mcmsim.load_scenario(SCENARIOS / "scar_3.toml").workloads[1].model
    gemms = [i for i, layer in enumerate(model.layers) if layer.op.name == "MATMUL"]
    assert gemms
    assert table.spatial_utilization[gemms].max() <= 1 / 16 + 1e-12


def test_maestro_shidiannao_mapping_on_a_56x56_convolution() -> None:
    # Output rows over 512 clusters of 8, output columns in the clusters: 56 rows x 8
    # columns busy in each of 7 column folds = 3136 / (7 x 4096) of the PE-cycles.
    scenario = mcmsim.load_scenario(SCENARIOS / "scar_maestro" / "scar_3_ws_sides_maestro.toml")
    resnet = scenario.workloads[2].model
    index = next(
        i
        for i, layer in enumerate(resnet.layers)
        if layer.macs and layer.p == 56 and layer.q == 56 and layer.r == 3
    )
    table = SchedulingProblem(scenario).costs(scenario.workloads[2], "os", batch=1)
    assert table.spatial_utilization[index] == pytest.approx(3136 / (7 * 4096))


@pytest.mark.parametrize("mix", [3, 4, 5])
def test_maestro_variants_load(mix: int) -> None:
    for layout in ("all_ws", "ws_sides"):
        scenario = mcmsim.load_scenario(
            SCENARIOS / "scar_maestro" / f"scar_{mix}_{layout}_maestro.toml"
        )
        assert all(w.micro_batch == 1 for w in scenario.workloads)
        assert scenario.simulation.mode == "batch"
