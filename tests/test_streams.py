"""Stream kinds: one class each, asked the same questions by the engine, scar, the
estimator and the bound; checked against queueing theory and hand arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Literal

import numpy as np
import pytest
from pydantic import PositiveFloat

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import SchedulerError
from mcmsim.search.bound import bound_for_results
from mcmsim.search.estimate import Estimator
from mcmsim.workloads import streams
from mcmsim.workloads.streams import (
    Stream,
    StreamError,
    TraceStream,
    register_stream_kind,
    stream_kinds,
)
from tests.test_sim import ONE_CHIPLET, service_ps

RHO = 0.7


@pytest.fixture(autouse=True)
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kinds a test registers are forgotten after it."""
    monkeypatch.setattr(streams, "_KINDS", dict(streams._KINDS))


@cache
def service_time_ps() -> int:
    return service_ps(
        mcmsim.parse_scenario(ONE_CHIPLET.format(stream='{kind="closed"}', requests=10))
    )


def one_chiplet(stream: str, requests: int = 2000) -> mcmsim.Scenario:
    return mcmsim.parse_scenario(ONE_CHIPLET.format(stream=stream, requests=requests), "x.toml")


def rate_at_rho(rho: float = RHO) -> float:
    """Requests per second that load the one chiplet to ``rho``."""
    return rho / (service_time_ps() * 1e-12)


@cache
def mean_wait_ps(cv: float, requests: int) -> float:
    """Mean queueing wait of the gamma stream at RHO: latency less service and I/O."""
    sc = one_chiplet(f'{{kind="gamma", rate_per_s={rate_at_rho()}, cv={cv}}}', requests)
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    # Input read and output write cross the one 64 GB/s DRAM interface outside the chiplet.
    io_ps = 2 * 512 * 1024 * 1000 / 64
    return results.models["fc"]["latency_s"]["mean"] * 1e12 - service_time_ps() - io_ps


def offered_bound(sc: mcmsim.Scenario) -> float:
    """The bound of a run that completed nothing: along the streams' offered mix."""
    data = {
        "mode": "stream",
        "measured_s": 1.0,
        "throughput_per_s": 0.0,
        "models": {w.name: {"throughput_per_s": 0.0, "mean_in_system": 0.0} for w in sc.workloads},
    }
    return bound_for_results(sc, data)["throughput_upper_bound_per_s"]


# --- a kind defined by a user -------------------------------------------------------------


def test_a_kind_defined_here_runs_through_engine_estimator_bound_and_scar() -> None:
    class Alternating(Stream):
        """Gaps alternate between half and one and a half times the mean."""

        kind: Literal["alternating"]
        rate_per_s: PositiveFloat

        def offered_rate_per_s(self) -> float:
            return self.rate_per_s

        def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[int]:
            mean_ps = 1e12 / self.rate_per_s
            while True:
                yield round(0.5 * mean_ps)
                yield round(1.5 * mean_ps)

    register_stream_kind(Alternating)
    assert "alternating" in stream_kinds()
    rate = rate_at_rho(0.4)
    sc = one_chiplet(f'{{kind="alternating", rate_per_s={rate}}}', requests=400)
    assert isinstance(sc.workloads[0].stream, Alternating)

    schedule = mcmsim.schedule(sc, "scar")
    results = mcmsim.simulate(sc, schedule)
    # Below capacity every arrival is served: the served rate is the offered one.
    assert results.models["fc"]["throughput_per_s"] == pytest.approx(rate, rel=0.02)
    # The shortest gap, half the mean 2.5 D, exceeds service D plus I/O: nobody waits.
    io_ps = 2 * 512 * 1024 * 1000 / 64
    assert results.models["fc"]["latency_s"]["mean"] == pytest.approx(
        (service_time_ps() + io_ps) * 1e-12, rel=1e-6
    )
    estimate = Estimator(SchedulingProblem(sc)).evaluate(schedule)
    assert estimate.model_throughput_per_s["fc"] == pytest.approx(rate, rel=1e-9)
    assert offered_bound(sc) == pytest.approx(rate, rel=1e-5)


def test_registering_a_taken_kind_or_a_non_stream_is_refused() -> None:
    class Poisson2(Stream):
        kind: Literal["poisson"]

    with pytest.raises(ValueError, match="stream kind 'poisson' is already PoissonStream"):
        register_stream_kind(Poisson2)
    with pytest.raises(TypeError, match="not a subclass"):
        register_stream_kind(dict)  # type: ignore[arg-type]


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(mcmsim.ScenarioError) as info:
        one_chiplet('{kind="bursty", rate_per_s=5}')
    message = str(info.value)
    assert "x.toml:11: workloads.0.stream.kind: unknown stream kind 'bursty'" in message
    assert "closed, gamma, generation_trace, periodic, poisson, trace" in message


# --- the private validators ------------------------------------------------------------------


def bad_gap_scenario(gap: object) -> mcmsim.Scenario:
    class Bad(Stream):
        kind: Literal["bad"]

        def offered_rate_per_s(self) -> float:
            return 100.0

        def arrival_gaps_ps(self, rng: np.random.Generator) -> Iterator[object]:
            yield 1000
            yield gap

    register_stream_kind(Bad)
    return one_chiplet('{kind="bad"}', requests=10)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (-5, "arrival gap -5: gaps must be >= 0 picoseconds"),
        (2.5, r"arrival gap 2.5 \(float\): gaps must be integers"),
        (float("nan"), r"arrival gap nan \(float\): gaps must be integers"),
        (np.float64(1000.0), r"arrival gap np.float64\(1000.0\) \(float64\)"),
    ],
)
def test_a_bad_gap_from_a_user_stream_is_a_clear_error(gap: object, expected: str) -> None:
    sc = bad_gap_scenario(gap)
    with pytest.raises(StreamError, match=rf"stream kind 'bad': {expected}") as info:
        mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"))
    assert info.value.kind == "bad"
    assert info.value.value is gap


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf"), None])
def test_a_bad_offered_rate_is_a_clear_error_in_scar_estimator_and_bound(rate) -> None:
    class BadRate(Stream):
        kind: Literal["bad_rate"]

        def offered_rate_per_s(self) -> float | None:
            return rate

    register_stream_kind(BadRate)
    sc = one_chiplet('{kind="bad_rate"}')
    expected = r"stream kind 'bad_rate': offered rate .*must be a finite number > 0"
    with pytest.raises(SchedulerError, match=expected) as info:
        mcmsim.schedule(sc, "scar")
    assert isinstance(info.value.__cause__, StreamError)
    with pytest.raises(StreamError, match=expected):
        Estimator(SchedulingProblem(sc))
    with pytest.raises(StreamError, match=expected):
        offered_bound(sc)


# --- gamma ------------------------------------------------------------------------------


def test_gamma_with_cv_1_matches_md1_mean_latency() -> None:
    # Pollaczek-Khinchine for deterministic service: W = rho D / (2 (1 - rho)).
    d_ps = service_time_ps()
    expected_wait_ps = RHO * d_ps / (2 * (1 - RHO))
    io_ps = 2 * 512 * 1024 * 1000 / 64
    expected_latency = d_ps + expected_wait_ps + io_ps
    assert mean_wait_ps(1.0, 10000) + d_ps + io_ps == pytest.approx(expected_latency, rel=0.05)


def test_gamma_burstiness_orders_waits_as_kingman_says() -> None:
    # Kingman: W ~ (ca^2 + cs^2) / 2 x rho / (1 - rho) x D; deterministic service has
    # cs = 0, so the wait scales with cv^2: 4x at cv = 2, a quarter at cv = 0.5.
    poisson = mean_wait_ps(1.0, 10000)
    assert mean_wait_ps(2.0, 5000) > 2 * poisson
    assert mean_wait_ps(0.5, 5000) < 0.5 * poisson


def test_gamma_through_scar_estimator_and_bound() -> None:
    rate = rate_at_rho(0.5)
    sc = one_chiplet(f'{{kind="gamma", rate_per_s={rate}, cv=3}}')
    schedule = mcmsim.schedule(sc, "scar")
    estimate = Estimator(SchedulingProblem(sc)).evaluate(schedule)
    assert estimate.model_throughput_per_s["fc"] == pytest.approx(rate, rel=1e-9)
    assert offered_bound(sc) == pytest.approx(rate, rel=1e-5)


def test_gamma_gaps_have_the_asked_mean_and_cv() -> None:
    stream = one_chiplet('{kind="gamma", rate_per_s=1000, cv=2}').workloads[0].stream
    gaps = np.fromiter(stream._arrival_gaps_ps(np.random.default_rng(0)), float, count=200_000)
    assert gaps.mean() == pytest.approx(1e9, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(2.0, rel=0.03)


# --- trace ------------------------------------------------------------------------------


def trace_scenario(write, rows: str) -> mcmsim.Scenario:
    write("arrivals.csv", "arrival_s,model\n" + rows)
    text = ONE_CHIPLET.format(stream='{ kind = "trace", file = "arrivals.csv" }', requests=5)
    return mcmsim.load_scenario(write("trace.toml", text))


def test_trace_rate_is_one_number_in_scar_estimator_and_bound(write, monkeypatch) -> None:
    # Eleven arrivals 1 ms apart from t = 2 ms: mean gap 1 ms, so 1000 requests/s
    # (the start time and the other model's rows do not count).
    rows = "".join(f"{0.002 + 0.001 * i},fc\n{0.0005 * i},other\n" for i in range(11))
    sc = trace_scenario(write, rows)
    seen: list[float] = []
    original = TraceStream.offered_rate_per_s

    def spy(self: TraceStream) -> float:
        seen.append(original(self))
        return seen[-1]

    monkeypatch.setattr(TraceStream, "offered_rate_per_s", spy)
    for ask in (
        lambda: mcmsim.schedule(sc, "scar"),
        lambda: Estimator(SchedulingProblem(sc)).evaluate(mcmsim.schedule(sc, "standalone")),
        lambda: offered_bound(sc),
    ):
        seen.clear()
        result = ask()
        assert seen
        assert seen == pytest.approx([1000.0] * len(seen), rel=1e-9)
    assert result == pytest.approx(1000.0, rel=1e-5)  # the bound along the offered mix


def test_trace_replays_its_arrival_times(write) -> None:
    sc = trace_scenario(write, "0.004,fc\n0.001,fc\n0.001,fc\n0.0025,fc\n0.010,fc\n")
    stream = sc.workloads[0].stream
    gaps = list(stream._arrival_gaps_ps(np.random.default_rng(0)))
    assert gaps == [10**9, 0, 15 * 10**8, 15 * 10**8, 6 * 10**9]
    assert stream.offered_rate_per_s() == pytest.approx(4 / 0.009)
    results = mcmsim.simulate(sc, mcmsim.schedule(sc, "standalone"), records=True)
    assert results.records is not None
    arrivals = sorted(results.records["arrival_ps"].tolist())
    assert arrivals == [10**9, 10**9, 25 * 10**8, 4 * 10**9, 10**10]


def test_trace_without_two_distinct_times_is_refused(write) -> None:
    with pytest.raises(mcmsim.ScenarioError) as info:
        trace_scenario(write, "0.5,fc\n0.5,fc\n0.7,other\n")
    assert "workloads.0.stream.file" in str(info.value)
    assert "has 2 arrivals of 'fc' at 1 distinct times" in str(info.value)


# --- micro-batches ----------------------------------------------------------------------


def test_micro_batch_sizes_split_a_request() -> None:
    text = ONE_CHIPLET.format(stream='{kind="closed"}', requests=10).replace(
        'stream = {kind="closed"}', 'batch = 10\nmicro_batch = 4\nstream = {kind="closed"}'
    )
    workload = mcmsim.parse_scenario(text).workloads[0]
    assert workload.micro_batch_sizes == (4, 4, 2)
    whole = one_chiplet('{kind="closed"}').workloads[0]
    assert whole.micro_batch_sizes == (1,)
