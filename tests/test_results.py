"""Results are typed, built once and never mutated; track names have one spelling."""

from __future__ import annotations

import dataclasses
import json
import pickle
from functools import cache

import pytest

import mcmsim
from mcmsim.metrics.tracks import chiplet_track, dram_track, link_key, link_key_of_track, link_track

TWO_CHIPLETS = """\
[package]
layout = [["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 1024
[[workloads]]
name = "mlp"
layers = [
  { name = "fc1", op = "matmul", m = 64, k = 512, n = 512 },
  { name = "fc2", op = "matmul", m = 64, k = 512, n = 512 },
]
stream = { kind = "closed", in_flight = 2 }
[simulation]
seed = 5
requests = 200
"""


@cache
def traced() -> tuple[mcmsim.Scenario, mcmsim.Results]:
    sc = mcmsim.parse_scenario(TWO_CHIPLETS, "two.toml")
    schedule = mcmsim.Schedule.single(
        "split", [mcmsim.Segment("mlp", 0, 1, 0), mcmsim.Segment("mlp", 1, 2, 1)]
    )
    return sc, mcmsim.simulate(sc, schedule, trace=True)


def test_results_cannot_be_changed_after_construction() -> None:
    _, results = traced()
    with pytest.raises(dataclasses.FrozenInstanceError):
        results.throughput_per_s = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        results.models["mlp"].latency_s.p99 = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        results.models["other"] = results.models["mlp"]  # type: ignore[index]
    data = results.to_dict()
    data["models"]["mlp"]["completed"] = -1
    assert results.models["mlp"].completed > 0


def test_attribute_and_key_access_agree_with_the_json() -> None:
    _, results = traced()
    data = json.loads(results.to_json())
    model = results.models["mlp"]
    assert (
        model.latency_s.p99
        == model["latency_s"]["p99"]
        == data["models"]["mlp"]["latency_s"]["p99"]
    )
    assert results["throughput_per_s"] == results.throughput_per_s == data["throughput_per_s"]
    assert results["chiplets"]["1"].type == "a"
    energy = results.energy_j
    assert energy.total == pytest.approx(
        energy.compute + energy.sram + energy.nop + energy.dram + energy.static
    )
    with pytest.raises(KeyError):
        model["not_a_key"]


def test_bound_and_search_are_added_by_copying() -> None:
    _, results = traced()
    assert results.bound is not None
    assert results["throughput_upper_bound_per_s"] >= results.throughput_per_s
    renamed = dataclasses.replace(
        results, run=dataclasses.replace(results.run, scheduler="other"), search={"steps": 3}
    )
    assert renamed["scheduler"] == "other" and renamed["search"] == {"steps": 3}
    assert results["scheduler"] == "split" and "search" not in results.to_dict()


def test_results_survive_pickling() -> None:
    # Worker processes of the search hand Results back to the parent.
    _, results = traced()
    again = pickle.loads(pickle.dumps(results))
    assert again == results
    assert again.to_json() == results.to_json()


def test_link_track_names_round_trip() -> None:
    key = link_key((0, 1), (1, 1))
    assert key == "0,1->1,1"
    assert link_key_of_track(link_track(key)) == key
    with pytest.raises(ValueError, match="not a link track"):
        link_key_of_track(chiplet_track(0))


def test_every_traced_track_is_a_resource_of_the_results() -> None:
    sc, results = traced()
    package = sc.package
    assert list(results.links) == [link_key(a, b) for a, b in package.links]
    assert list(results.dram) == [dram_track(i, d.position) for i, d in enumerate(package.dram)]
    tracks = {chiplet_track(int(c)) for c in results.chiplets}
    tracks |= {link_track(k) for k in results.links} | set(results.dram)
    used = {e.track for e in results.events}
    assert used <= tracks
    # The split model sends activations from chiplet 0 to chiplet 1 over the link between.
    assert link_track(link_key((0, 0), (0, 1))) in used
    assert results.links[link_key((0, 0), (0, 1))].bytes > 0
