"""The engine's modelling choices against hand arithmetic.

Layer-granular weight streaming, DRAM address interleaving, DAG-parallel segments and
the difference between a chiplet being held and its array computing.
"""

from __future__ import annotations

import pytest

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, Segment

MIB = 1 << 20


def ps(nbytes: int, gb_per_s: float) -> float:
    """Time to move ``nbytes`` at ``gb_per_s`` GB/s, in picoseconds."""
    return nbytes * 1000 / gb_per_s


# --- layer-granular streaming ---------------------------------------------------------

# A resident matmul (128 KiB of weights) then a GEMV whose 8 MiB of weights cannot be
# resident in 2 MiB of SRAM; one chiplet, one 16 GB/s DRAM interface, no DRAM latency.
MATMUL_THEN_GEMV = """\
[package]
layout = [["a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
sram_mib = 2
[dram]
bandwidth_gb_per_s = 16
latency_ns = 0
policy = "{policy}"
[[workloads]]
name = "net"
layers = [
  {{ name = "mm", op = "matmul", m = 2048, k = 256, n = 512 }},
  {{ name = "gemv", op = "matmul", m = 1, k = 2048, n = 4096 }},
]
stream = {{ kind = "closed", in_flight = 1 }}
[simulation]
requests = 60
"""


@pytest.mark.parametrize("policy", ["interleaved", "nearest"])
def test_segment_takes_the_sum_of_per_layer_max_of_compute_and_stream(policy: str) -> None:
    sc = mcmsim.parse_scenario(MATMUL_THEN_GEMV.format(policy=policy))
    table = SchedulingProblem(sc).costs("net", "a")
    mm_ps, gemv_ps = (int(x) for x in table.latency_ps)
    weights = 2048 * 4096
    stream_ps = ps(weights, 16)
    # The GEMV is DRAM-bound, the matmul compute-bound: the segment costs the matmul's
    # compute plus the GEMV's stream, where max(sum compute, sum stream) would give
    # only the stream.
    assert gemv_ps < stream_ps < mm_ps + stream_ps
    io_ps = ps(2048 * 256, 16) + ps(4096, 16)  # input read, output write
    expected_s = (mm_ps + stream_ps + io_ps) * 1e-12
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    assert results.models["net"]["latency_s"]["mean"] == pytest.approx(expected_s, rel=0.01)
    old_rule_s = (max(mm_ps + gemv_ps, stream_ps) + io_ps) * 1e-12
    assert results.models["net"]["latency_s"]["mean"] > 1.2 * old_rule_s
    assert results["chiplets"]["0"]["streamed_weight_bytes"] > 0


def test_costs_latency_streamed_is_the_layer_rule() -> None:
    sc = mcmsim.parse_scenario(MATMUL_THEN_GEMV.format(policy="interleaved"))
    table = SchedulingProblem(sc).costs("net", "a")
    gemv_streamed = int(table.latency_streamed_ps[1])
    assert gemv_streamed == pytest.approx(ps(2048 * 4096, 16), rel=0.01)
    assert int(table.latency_streamed_ps[0]) == int(table.latency_ps[0])


# --- DRAM interleaving -----------------------------------------------------------------

# One GEMV with 32 MiB of weights on chiplet 0 of a 2x2 package with four 16 GB/s
# interfaces (one per chiplet); nothing else runs. Its SRAM is fast enough for DRAM to bind.
LONE_GEMV = """\
[package]
layout = [["a", "a"], ["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
sram_bw_bytes_per_cycle = 1024
[nop]
link_bandwidth_gb_per_s = {link}
hop_latency_ns = 0
[dram]
bandwidth_gb_per_s = 64
latency_ns = 0
policy = "{policy}"
[[workloads]]
name = "gemv"
layers = [{{ name = "gemv", op = "matmul", m = 1, k = 4096, n = 8192 }}]
stream = {{ kind = "closed", in_flight = 1 }}
[simulation]
mode = "batch"
"""
GEMV_WEIGHTS = 4096 * 8192
GEMV_IO = 4096 + 8192


def lone_gemv(policy: str, link_gb_per_s: float = 100) -> mcmsim.Results:
    sc = mcmsim.parse_scenario(LONE_GEMV.format(policy=policy, link=link_gb_per_s))
    schedule = Schedule.single("test", [Segment("gemv", 0, 1, 0)])
    return mcmsim.simulate(sc, schedule)


@pytest.mark.parametrize(
    ("policy", "link_gb_per_s", "stream_gb_per_s"),
    [
        ("interleaved", 100, 64),  # all four interfaces
        ("nearest", 100, 16),  # its own interface only
        # Parts from (1,0) and (1,1) share the link (1,0)->(0,0): half the bytes on 20 GB/s.
        ("interleaved", 20, 40),
    ],
)
def test_lone_dram_bound_model_streams_at_the_policy_bandwidth(
    policy: str, link_gb_per_s: float, stream_gb_per_s: float
) -> None:
    results = lone_gemv(policy, link_gb_per_s)
    # Batch mode measures the whole run: input read, stream, output write, one after another.
    reads = ps(GEMV_WEIGHTS, stream_gb_per_s) + ps(GEMV_IO, stream_gb_per_s)
    assert results["makespan_s"] == pytest.approx(reads * 1e-12, rel=0.01)


@pytest.mark.parametrize("policy", ["interleaved", "nearest"])
def test_dram_bytes_are_conserved_and_interleaving_spreads_them(policy: str) -> None:
    results = lone_gemv(policy)
    per_interface = [d["bytes"] for d in results["dram"].values()]
    assert sum(per_interface) == GEMV_WEIGHTS + GEMV_IO
    if policy == "interleaved":
        # Each interface gets its share (a quarter) of every transfer, to a byte.
        for nbytes in per_interface:
            assert abs(nbytes - (GEMV_WEIGHTS + GEMV_IO) / 4) <= 3
        # The parts from the three other interfaces cross the NoP into chiplet 0.
        into_0 = results["links"]["0,1->0,0"]["bytes"] + results["links"]["1,0->0,0"]["bytes"]
        assert into_0 == pytest.approx(0.75 * (GEMV_WEIGHTS + 4096), abs=4)
    else:
        assert per_interface[0] == GEMV_WEIGHTS + GEMV_IO
        assert all(d["bytes"] == 0 for d in results["links"].values())


def test_interleaving_pays_nop_energy_per_hop() -> None:
    nearest = lone_gemv("nearest")["energy_j"]
    interleaved = lone_gemv("interleaved")["energy_j"]
    assert nearest["nop"] == 0
    assert interleaved["dram"] == pytest.approx(nearest["dram"])
    # Quarters of the bytes cross 0, 1, 1 and 2 hops: one hop per byte on average.
    moved = GEMV_WEIGHTS + GEMV_IO
    assert interleaved["nop"] == pytest.approx(moved * 8 * 2.04e-12, rel=1e-3)


def test_bad_dram_policy_is_named() -> None:
    with pytest.raises(mcmsim.ScenarioError, match=r"dram\.policy"):
        mcmsim.parse_scenario(LONE_GEMV.format(policy="closest", link=100))


# --- DAG-parallel segments -------------------------------------------------------------

# A source layer feeds two heavy matmuls joined by an add; no hop or DRAM latency.
BRANCHES = """\
[package]
layout = [["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[nop]
hop_latency_ns = 0
[dram]
latency_ns = 0
[[workloads]]
name = "fork"
layers = [
  { name = "src", op = "elementwise", elems = 65536 },
  { name = "left", op = "matmul", m = 256, k = 256, n = 2048, inputs = ["src"] },
  { name = "right", op = "matmul", m = 256, k = 256, n = 2048, inputs = ["src"] },
  { name = "join", op = "elementwise", elems = 524288, inputs = ["left", "right"] },
]
stream = { kind = "closed", in_flight = 1 }
[simulation]
requests = 40
"""


def test_parallel_branches_on_two_chiplets_overlap() -> None:
    sc = mcmsim.parse_scenario(BRANCHES)
    table = SchedulingProblem(sc).costs("fork", "a")
    # Each layer is a segment of its own: none is fused into its producer.
    src, left, right, join = (int(table.segment_latency_ps(i, i + 1).sum()) for i in range(4))
    schedule = Schedule.single(
        "test",
        [
            Segment("fork", 0, 1, 0),
            Segment("fork", 1, 2, 0),
            Segment("fork", 2, 3, 1),
            Segment("fork", 3, 4, 0),
        ],
    )
    # Interleaved DRAM on 1x2: each transfer half local, half over one 100 GB/s link,
    # so 64 GB/s. The right branch's input and output cross the one link at 100 GB/s.
    read = ps(65536, 64)
    write = ps(524288, 64)
    right_path = ps(65536, 100) + right + ps(256 * 2048, 100)
    critical = read + src + max(left, right_path) + join + write
    results = mcmsim.simulate(sc, schedule)
    mean_s = results.models["fork"]["latency_s"]["mean"]
    assert mean_s == pytest.approx(critical * 1e-12, rel=0.01)
    # In list order the branches would run one after the other.
    serial = read + src + left + right_path + join + write
    assert mean_s < 0.8 * serial * 1e-12


def test_batch_micro_batches_read_inputs_in_order() -> None:
    # Four micro-batches of one layer on one chiplet: the first starts after one
    # input read, not after all four sharing DRAM bandwidth.
    text = BRANCHES.replace(
        'stream = { kind = "closed", in_flight = 1 }', "batch = 4\nmicro_batch = 1"
    )
    text = text.replace("requests = 40", 'mode = "batch"')
    sc = mcmsim.parse_scenario(text)
    schedule = Schedule.single("test", [Segment("fork", 0, 4, 0)])
    results = mcmsim.simulate(sc, schedule, trace=True)
    first = min(e.start_ps for e in results.events if e.track == "chiplet 0")
    assert first == pytest.approx(ps(65536, 64), rel=0.01)


# --- occupancy and activity -------------------------------------------------------------


def test_occupancy_counts_stalls_activity_only_compute() -> None:
    sc = mcmsim.parse_scenario(MATMUL_THEN_GEMV.format(policy="nearest"))
    table = SchedulingProblem(sc).costs("net", "a")
    compute = int(table.latency_ps.sum())
    held = int(table.latency_ps[0]) + ps(2048 * 4096, 16)
    io = ps(2048 * 256, 16) + ps(4096, 16)
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    chiplet = results["chiplets"]["0"]
    assert chiplet["occupancy"] == pytest.approx(held / (held + io), rel=0.01)
    assert chiplet["utilization"] == chiplet["occupancy"]
    assert chiplet["compute_activity"] == pytest.approx(compute / (held + io), rel=0.01)
    dram = next(iter(results["dram"].values()))
    # The weight stream is paced over the whole segment, so the interface is always busy,
    # but moves only the bytes of the GEMV's weights and the I/O at its 16 GB/s.
    assert dram["busy_share"] == pytest.approx(1.0, rel=0.01)
    moved = ps(2048 * 4096, 16) + io
    assert dram["bandwidth_utilization"] == pytest.approx(moved / (held + io), rel=0.01)


def test_trace_marks_dram_stalls_on_the_chiplet(tmp_path) -> None:
    from mcmsim.metrics.raw import DRAM_STALL
    from mcmsim.report.timeline import plot_timeline

    sc = mcmsim.parse_scenario(MATMUL_THEN_GEMV.format(policy="nearest"))
    table = SchedulingProblem(sc).costs("net", "a")
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"), trace=True)
    stalls = [e for e in results.events if e.name == DRAM_STALL]
    gemv = [e for e in results.events if e.name == "gemv"]
    assert stalls and len(stalls) == len(gemv)
    # The GEMV computes for its resident time and stalls for the rest of its stream.
    stall_ps = ps(2048 * 4096, 16) - int(table.latency_ps[1])
    assert stalls[-1].duration_ps == pytest.approx(stall_ps, rel=0.01)
    assert gemv[-1].duration_ps == int(table.latency_ps[1])
    plot_timeline(results, tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 0
