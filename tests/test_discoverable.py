"""Schedulers, their parameters and scenario keys are discoverable from the command line.

``schedulers show`` lists every parameter; a misspelt parameter, scheduler or scenario
key names the valid ones and the closest; ``run`` and ``compare`` take parameters
with the scheduler in one notation (``scar[objective=throughput]``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mcmsim
from mcmsim.report.compare import parse_pairs, run_pairs
from mcmsim.schedule.registry import SchedulerError, available_schedulers, make_scheduler
from mcmsim.schedule.spec import parse_scheduler_list, parse_scheduler_spec
from mcmsim.schedulers.scar import ScarParams
from mcmsim.suggest import closest
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "gpt2_resnet.toml"
BUILTIN = [n for n, i in available_schedulers().items() if i.origin == "built-in"]


def test_schedulers_show_lists_every_parameter_with_type_default_and_help(cli: Cli) -> None:
    result = cli("schedulers", "show", "scar", "--json")
    assert result.exit_code == 0, result.output
    shown = {p["name"]: p for p in json.loads(result.stdout)["params"]}
    assert list(shown) == list(ScarParams.model_fields)
    assert shown["top_k"]["default"] == "4" and shown["top_k"]["type"] == "int > 0"
    assert set(shown["objective"]["type"].split(" | ")) == {
        "latency",
        "energy",
        "edp",
        "throughput",
    }
    table = cli("schedulers", "show", "scar")
    assert table.exit_code == 0
    for name, field in ScarParams.model_fields.items():
        assert name in table.stdout and str(field.description)[:20] in table.stdout


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_parameter_has_a_one_line_help(cli: Cli, name: str) -> None:
    result = cli("schedulers", "show", name, "--json")
    assert result.exit_code == 0, result.output
    for param in json.loads(result.stdout)["params"]:
        assert param["help"], f"{name}.{param['name']} has no description"


def test_schedulers_show_unknown_name_suggests_the_closest(cli: Cli) -> None:
    result = cli("schedulers", "show", "sacr")
    assert result.exit_code == 2
    assert "did you mean 'scar'?" in result.stderr and "greedy" in result.stderr


def test_unknown_parameter_lists_the_valid_ones(cli: Cli) -> None:
    result = cli("run", SCENARIO, "-s", "scar", "--param", "objectiv=throughput")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for valid in ScarParams.model_fields:
        assert valid in result.stderr
    assert "did you mean 'objective'?" in result.stderr


def test_scheduler_without_parameters_says_so() -> None:
    with pytest.raises(SchedulerError, match="valid parameters: none"):
        make_scheduler("greedy", {"top_k": 3})


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("scar", "scar", {}),
        ("scar[objective=throughput]", "scar", {"objective": "throughput"}),
        ("scar:objective=throughput,top_k=8", "scar", {"objective": "throughput", "top_k": 8}),
        ('local-search[start=["greedy","scar"]]', "local-search", {"start": ["greedy", "scar"]}),
    ],
)
def test_spec_notations(text: str, name: str, params: dict[str, object]) -> None:
    spec = parse_scheduler_spec(text)
    assert (spec.name, spec.params) == (name, params)
    assert parse_scheduler_spec(spec.label) == spec


def test_spec_lists_split_between_schedulers_not_inside_parameters() -> None:
    specs = parse_scheduler_list("greedy,scar:objective=energy,top_k=2,scar[objective=edp]")
    assert [(s.name, s.params) for s in specs] == [
        ("greedy", {}),
        ("scar", {"objective": "energy", "top_k": 2}),
        ("scar", {"objective": "edp"}),
    ]
    with pytest.raises(SchedulerError):
        parse_scheduler_spec("scar[objective=edp")
    with pytest.raises(SchedulerError):
        parse_scheduler_spec("scar:objective")


def test_run_takes_the_bracket_notation(cli: Cli) -> None:
    scenario = mcmsim.load_scenario(SCENARIO)
    expected = mcmsim.schedule(scenario, "scar", {"objective": "throughput"})
    default = mcmsim.schedule(scenario, "scar")
    assert expected != default  # else the parameter would not be tested
    assert mcmsim.schedule(scenario, "scar[objective=throughput]") == expected
    assert mcmsim.schedule(scenario, "scar:objective=throughput") == expected


def test_compare_runs_each_scheduler_with_its_own_parameters() -> None:
    pairs = parse_pairs([str(SCENARIO)], "scar[objective=throughput],scar:objective=edp")
    runs = run_pairs(pairs, requests=60)
    assert [r.scheduler for r in runs] == ["scar[objective=throughput]", "scar[objective=edp]"]
    scenario = mcmsim.load_scenario(SCENARIO)
    for run, objective in zip(runs, ("throughput", "edp"), strict=True):
        assert run.schedule == mcmsim.schedule(scenario, "scar", {"objective": objective})


def test_compare_cli_labels_rows_with_their_parameters(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "compare",
        f"{SCENARIO}@scar[objective=throughput],greedy",
        "--requests",
        "40",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    csv_text = (tmp_path / "compare.csv").read_text(encoding="utf-8")
    assert "scar[objective=throughput]" in csv_text
    bad = cli("compare", SCENARIO, "--scheduler", "scar[top=2]")
    assert bad.exit_code == 2 and "did you mean 'top_k'?" in bad.stderr


MISSPELT = """
[package]
layout = [["a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 64
sram_mbi = 2
[[workloads]]
model = "resnet50"
stream = { kind = "poisson", rate = 3 }
[simulation]
request = 10
"""


def test_unknown_scenario_keys_list_the_valid_keys_at_their_path(cli: Cli, write) -> None:
    result = cli("validate", write("x.toml", MISSPELT))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()

    def line(key: str) -> str:
        return next(x for x in lines if f" {key}: unknown key" in x)

    assert "sram_mib" in line("package.chiplet_types.a.sram_mbi")
    assert "did you mean 'sram_mib'?" in line("package.chiplet_types.a.sram_mbi")
    # The valid keys of a stream depend on its kind.
    assert "valid keys: kind, rate_per_s" in line("workloads.0.stream.rate")
    assert "did you mean 'requests'?" in line("simulation.request")
    assert "max_time_s" in line("simulation.request")


def test_override_with_unknown_key_lists_the_simulation_keys() -> None:
    scenario = mcmsim.load_scenario(SCENARIO)
    with pytest.raises(mcmsim.ScenarioError, match="did you mean 'requests'"):
        scenario.with_overrides(request=3)


def test_closest_falls_back_to_a_unique_prefix() -> None:
    assert closest("rate", ["kind", "rate_per_s"]) == "rate_per_s"
    assert closest("xyz", ["kind", "rate_per_s"]) is None
