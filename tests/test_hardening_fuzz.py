"""Result invariants the fuzz suite (tests/fuzz) found broken: every share stays within 1."""

from __future__ import annotations

import json

import simpy

import mcmsim
from mcmsim.sim.network import FlowNetwork
from tests.fuzz.harness import result_violations


def test_a_link_busy_across_a_snapshot_counts_its_busy_time_up_to_the_snapshot() -> None:
    # One 1000-byte flow at 1 byte/ps: busy from 0 to 1000 ps. Counters snapshotted at
    # 400 ps and at 1000 ps must differ by 600 ps, the window's length: a share of 1.
    env = simpy.Environment()
    net = FlowNetwork(env, [1.0])
    net.transfer((0,), 1000)
    env.run(until=400)
    at_400 = net.busy_now()[0]
    env.run(until=1000)
    assert at_400 == 400
    assert (net.busy_now()[0] - at_400) / (1000 - 400) == 1.0


LAGGING_LINKS = """
name = "fuzz_found_link_share_above_1"

[package]
layout = [["os", "os", "os"], ["os", "os", "os"]]

[package.chiplet_types.os]
dataflow = "os"
pes = 256

[[workloads]]
suite = "xrbench:AR_gaming"
late_policy = "drop"

[workloads.overrides.HT_hand_graph_cnn_half]
fps = 45

[workloads.overrides.DE_midas_v21_small]
fps = 30

[workloads.overrides.PD_Plane_RCNN_Quarter]
fps = 15

[scheduler]
name = "standalone"

[simulation]
seed = 1
requests = 20
"""


def test_shares_of_a_saturated_package_stay_within_one() -> None:
    # Found by the fuzz suite: links busy all window long reported 1.0000000068 (their
    # busy time lagged at the window's start) and chiplets 1.0000000000000002 (seconds
    # converted back to picoseconds).
    scenario = mcmsim.parse_scenario(LAGGING_LINKS)
    results = mcmsim.simulate(scenario, mcmsim.schedule(scenario))
    document = json.loads(results.to_json())
    assert max(link["busy_share"] for link in document["links"].values()) == 1.0
    assert result_violations(document) == []
