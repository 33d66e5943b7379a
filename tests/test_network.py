"""Bandwidth sharing: transfers that share a resource share its bandwidth, max-min fairly."""

from __future__ import annotations

import pytest
import simpy

from mcmsim.sim.network import FlowNetwork


def finish_times(capacity: list[float], flows: list[tuple[tuple[int, ...], int, int]]) -> list[int]:
    """Start each (resources, bytes, start_ps) flow; return when each finished."""
    env = simpy.Environment()
    net = FlowNetwork(env, capacity)
    done: list[int] = [0] * len(flows)

    def start(i: int, resources: tuple[int, ...], nbytes: int, at: int):
        yield env.timeout(at)
        yield net.transfer(resources, nbytes)
        done[i] = env.now

    for i, (resources, nbytes, at) in enumerate(flows):
        env.process(start(i, resources, nbytes, at))
    env.run()
    return done


def test_single_transfer_takes_bytes_over_bandwidth() -> None:
    assert finish_times([0.1], [((0,), 1_000_000, 0)]) == [10_000_000]


def test_two_equal_transfers_each_take_twice_as_long() -> None:
    alone = finish_times([0.1], [((0,), 1_000_000, 0)])[0]
    both = finish_times([0.1], [((0,), 1_000_000, 0), ((0,), 1_000_000, 0)])
    for t in both:
        assert t == pytest.approx(2 * alone, rel=1e-6)


def test_transfers_on_different_links_do_not_interfere() -> None:
    times = finish_times([0.1, 0.1], [((0,), 1_000_000, 0), ((1,), 1_000_000, 0)])
    assert times == [10_000_000, 10_000_000]


def test_late_arrival_shares_only_while_both_active() -> None:
    # B starts halfway through A: A has 0.5 MB left, both then run at half rate.
    times = finish_times([0.1], [((0,), 1_000_000, 0), ((0,), 1_000_000, 5_000_000)])
    assert times[0] == pytest.approx(15_000_000, rel=1e-6)
    assert times[1] == pytest.approx(20_000_000, rel=1e-6)


def test_max_min_fairness_across_two_links() -> None:
    # A crosses links 0 and 1; B uses 0, C uses 1: every flow gets half a link.
    times = finish_times(
        [0.1, 0.1], [((0, 1), 1_000_000, 0), ((0,), 1_000_000, 0), ((1,), 1_000_000, 0)]
    )
    assert times == pytest.approx([20_000_000] * 3, rel=1e-6)


def test_bottleneck_frees_bandwidth_elsewhere() -> None:
    # Link 0 is slow; A (0 and 1) is capped by it, so B on link 1 gets the rest.
    times = finish_times([0.02, 0.1], [((0, 1), 200_000, 0), ((1,), 800_000, 0)])
    assert times[0] == pytest.approx(10_000_000, rel=1e-6)
    assert times[1] == pytest.approx(10_000_000, rel=1e-6)


def test_busy_time_and_bytes_are_counted() -> None:
    env = simpy.Environment()
    net = FlowNetwork(env, [0.1])
    net.transfer((0,), 1_000_000, latency_ps=500)
    net.transfer((0,), 1_000_000)
    env.run()
    assert net.busy_ps[0] == 20_000_000
    assert net.bytes[0] == 2_000_000
    assert net.flows_done[0] == 2
    assert net.wait_ps[0] == pytest.approx(20_000_000, rel=1e-6)
