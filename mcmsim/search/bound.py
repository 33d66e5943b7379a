"""An upper bound on throughput: a linear-programming relaxation of every schedule.

Whatever a schedule does, each layer of each request runs on some chiplet, which is
then busy for at least the layer's resident-weights latency, and the package moves at
least the bytes no schedule can avoid through its DRAM interfaces. Dropping everything
else — that a layer runs on one chiplet only, the order of segments, queueing, NoP
contention, transfer latency — leaves a linear program whose optimum no schedule can
beat:

* variables: ``y_m``, requests of model ``m`` per second, and ``g[m, l, t] >= 0``,
  the rate at which layer ``l`` of model ``m`` runs on chiplet type ``t``, with
  ``sum_t g[m, l, t] = y_m`` (a fractional assignment of each layer's work to types);
* chiplet time: ``sum_{m,l} g[m, l, t] * latency[m, l, t] <= n_t`` chiplet-seconds per
  second for each type with ``n_t`` chiplets (latencies per request, summed over its
  micro-batches; the engine holds a chiplet for ``max(compute, streaming) >= compute``);
* DRAM: ``sum_m y_m * dram_m <= total DRAM bandwidth``, where ``dram_m`` is the bytes
  per request no schedule avoids: the model input read and the final outputs written
  per micro-batch, plus the weight streams of the layers that cannot be resident — a
  fractional knapsack of the model's weights into the package's total SRAM, the most
  any schedule keeps resident (the models share that SRAM, so this is loose but sound).
  In batch mode every weight byte is read at least once (loaded, or streamed per
  micro-batch), as windows let SRAM be refilled;
* latency: a request's micro-batches run their layers in sequence and each layer's
  micro-batches share its one chiplet, so a request takes at least the flow-shop bound
  ``L_m = sum_l p_l + (n - 1) max_l p_l`` (``p_l``: the layer on its fastest type). In
  batch mode (one request per model from time zero) the makespan is at least the
  largest ``L_m``; with a closed stream of ``N_m`` requests in flight, Little's law caps
  ``y_m <= N_m / L_m``;
* NoP: not constrained. A schedule may keep a model on chiplets at DRAM interfaces,
  so no link traffic is unavoidable in general.

**The mix.** For a mixed workload "best throughput" needs a mix of models. The bound is
taken along the *measured* mix of the run it is reported for: with ``x_m`` the measured
requests per second of each model, the program maximises ``lambda`` subject to
``y_m >= lambda * x_m - c_m``; the bound is ``lambda* * (measured inferences/s)`` and
``optimality_ratio = achieved / bound = 1 / lambda*``. For closed streams the mix is
whatever the schedule makes of the in-flight counts, so the ratio asks: "at the mix
this schedule served, how far is it from the best any schedule could serve?". Open
streams (every kind with an offered rate, see :mod:`mcmsim.workloads.streams`) cap
each model at ``max(offered rate, measured rate)``. When every stream is open the bound
is the larger of that one and the bound along the *offered* mix (the arrival-rate ratio,
at most the offered load): a schedule that keeps up with its offered load scores 1, and
one that starves a model is measured against serving it (the measured-mix bound alone
would call it optimal as soon as the other model is at its offered rate). Either is
sound, so their maximum is.

``c_m`` makes the bound hold for a finite measured window and not only in the limit: a
request completed inside the window may have run partly before it, so a window of
``T`` seconds can complete up to the requests in flight at its start more than its
capacity allows. ``c_m = in-flight requests / T`` for closed streams (exact). For open
streams it is the mean number in system, but at most one request per chiplet: a queue
that grows under overload holds mostly requests that have not started, and what
completes is paced by chiplets that were each part-way through at most one request
when the window opened (an argument, not a proof, for multi-stage pipelines). Zero in
batch mode, which measures from time zero. With the default 4000 requests it changes
the bound by well under 1%.

Because the achieved run satisfies every constraint at ``lambda = 1``, the bound is
never below the throughput any schedule achieves in simulation (tested against every
built-in scheduler on every shipped scenario). The LP optimum is rounded up by
:data:`LP_TOLERANCE` (relative) to cover the solver's feasibility tolerance.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.units import S_PER_PS

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["ThroughputBound", "bound_for_results", "min_request_latency_s", "throughput_bound"]

# HiGHS meets constraints to ~1e-7 absolute; the bound is rounded up by this much.
LP_TOLERANCE = 1e-6
_CACHE_SIZE = 16


@dataclass(frozen=True)
class ThroughputBound:
    """The LP optimum along a mix.

    Attributes
    ----------
    throughput_per_s : float
        Upper bound on total inferences per second at the mix (``inf`` if nothing
        limits it).
    scale : float
        ``lambda*``: how many times the given mix the package could at best serve.
    binding : str
        The constraint that limits the bound: a chiplet type, ``"dram"``, an offered
        rate or ``"in-flight"``.
    """

    throughput_per_s: float
    scale: float
    binding: str


@dataclass(frozen=True)
class _Program:
    """The mix-independent part of the LP for one scenario."""

    names: list[str]
    batch: np.ndarray
    types: list[str]
    a_eq: sparse.csr_matrix
    a_type: sparse.csr_matrix
    dram_row: np.ndarray
    min_latency_s: np.ndarray
    n_vars: int
    keep: tuple[Any, ...]


_programs: OrderedDict[tuple[Any, ...], _Program] = OrderedDict()


def _program(scenario: Scenario) -> _Program:
    """Build (or fetch) the LP matrices; cached per package and workloads."""
    sim = scenario.simulation
    key = (
        id(scenario.package),
        tuple(id(w) for w in scenario.workloads),
        sim.precision_bytes,
        sim.mode,
    )
    hit = _programs.get(key)
    if hit is not None:
        _programs.move_to_end(key)
        return hit
    from scipy import sparse  # scipy takes a while to import; only the bound needs it

    problem = SchedulingProblem(scenario)
    package = scenario.package
    types = list(package.chiplet_types)
    counts = package.type_counts()
    n_models = len(scenario.workloads)
    total_sram = sum(ch.type.sram_bytes for ch in package.chiplets)
    largest_sram = max(ch.type.sram_bytes for ch in package.chiplets)
    bpe = sim.precision_bytes
    eq_rows, eq_cols, eq_vals = [], [], []
    ty_rows, ty_cols, ty_vals = [], [], []
    dram = np.zeros(n_models)
    min_latency = np.zeros(n_models)
    n_vars = 1 + n_models  # lambda, then y_m, then g
    row = 0
    for m, w in enumerate(scenario.workloads):
        sizes = Counter(w.micro_batch_sizes)
        latency = np.zeros((len(types), len(w.model.layers)))
        stream = np.zeros(len(w.model.layers))
        io_bytes = 0.0
        sink_elems = sum(
            w.model.graph.nodes[n]["layer"].output_elems for n in w.model.output_layers
        )
        for size, count in sizes.items():
            for t, type_name in enumerate(types):
                latency[t] += count * problem.costs(w, type_name, size).latency_ps * S_PER_PS
            stream += count * problem.costs(w, types[0], size).dram_stream_bytes
            io_bytes += count * (w.model.input_elems + sink_elems) * bpe * size
        min_latency[m] = _flow_shop(problem, w, types, sizes)
        weights = problem.costs(w, types[0]).weight_bytes.astype(np.float64)
        if sim.mode == "batch":
            # Resident weights are loaded once, others streamed; windows refill SRAM.
            once = np.where(weights <= largest_sram, np.minimum(weights, stream), stream)
            weight_bytes = float(once.sum())
        else:
            weight_bytes = float(stream.sum()) - _knapsack(stream, weights, total_sram)
        dram[m] = io_bytes + weight_bytes
        # Layers whose latency vectors are proportional are interchangeable in the LP:
        # merge them (GPT-2's twelve identical blocks become one), scaling the demand.
        groups: dict[tuple[float, ...], float] = {}
        for layer in range(latency.shape[1]):
            total = float(latency[:, layer].sum())
            if total > 0:
                shape = tuple(np.round(latency[:, layer] / total, 12))
                groups[shape] = groups.get(shape, 0.0) + total
        for shape, total in groups.items():
            for t in range(len(types)):
                eq_rows.append(row)
                eq_cols.append(n_vars)
                eq_vals.append(1.0)
                ty_rows.append(t)
                ty_cols.append(n_vars)
                ty_vals.append(shape[t] / counts[types[t]])
                n_vars += 1
            eq_rows.append(row)
            eq_cols.append(1 + m)
            eq_vals.append(-total)
            row += 1
    a_eq = sparse.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(row, n_vars))
    a_type = sparse.csr_matrix((ty_vals, (ty_rows, ty_cols)), shape=(len(types), n_vars))
    dram_row = np.zeros(n_vars)
    dram_row[1 : 1 + n_models] = dram / (package.dram_bandwidth_gb_per_s * 1e9)
    program = _Program(
        names=[w.name for w in scenario.workloads],
        batch=np.array([w.batch for w in scenario.workloads], np.float64),
        types=types,
        a_eq=a_eq,
        a_type=a_type,
        dram_row=dram_row,
        min_latency_s=min_latency,
        n_vars=n_vars,
        keep=(scenario.package, scenario.workloads),
    )
    _programs[key] = program
    if len(_programs) > _CACHE_SIZE:
        _programs.popitem(last=False)
    return program


def _flow_shop(
    problem: SchedulingProblem, w: Any, types: list[str], sizes: dict[int, int]
) -> float:
    """Least latency of one request: its micro-batches through its layers (seconds).

    A micro-batch runs its layers one after the other, and each layer runs on a single
    chiplet that takes the request's micro-batches one at a time; with ``p_l`` the
    layer's time on its fastest type, the flow-shop bound over the bottleneck layer
    ``l*`` is ``sum_l p_l + (n - 1) p_l*`` (per micro-batch size).
    """
    main = max(sizes, key=lambda size: (sizes[size], size))
    fastest = {
        size: np.min([problem.costs(w, t, size).latency_ps for t in types], axis=0) * S_PER_PS
        for size in sizes
    }
    chain = float(fastest[main].sum())
    repeats = sum(count * fastest[size] for size, count in sizes.items()) - fastest[main]
    return chain + float(repeats.max(initial=0.0))


def _knapsack(value: np.ndarray, weight: np.ndarray, capacity: float) -> float:
    """Most value a fractional knapsack of ``capacity`` holds (items of zero weight free)."""
    free = weight <= 0
    total = float(value[free].sum())
    order = np.argsort(-(value[~free] / weight[~free]), kind="stable")
    v, wt = value[~free][order], weight[~free][order]
    room = capacity
    for vi, wi in zip(v, wt, strict=True):
        if room <= 0:
            break
        take = min(1.0, room / wi)
        total += take * vi
        room -= take * wi
    return total


def throughput_bound(
    scenario: Scenario,
    mix_per_s: dict[str, float],
    *,
    slack_per_s: dict[str, float] | None = None,
    offered_per_s: dict[str, float] | None = None,
    in_flight: dict[str, int] | None = None,
) -> ThroughputBound:
    """The most inferences per second any schedule serves at the mix ``mix_per_s``.

    Parameters
    ----------
    scenario : Scenario
        Package and workloads.
    mix_per_s : dict
        Inferences per second of each workload (only their ratios matter, except with
        ``slack_per_s`` or ``offered_per_s``); the bound is a multiple of their sum.
    slack_per_s : dict, optional
        Inferences per second a finite window may complete beyond steady-state
        capacity, per workload (see the module docstring).
    offered_per_s : dict, optional
        Inferences per second offered by open streams: the bound serves no model more.
    in_flight : dict, optional
        Requests in flight of closed streams (stream mode): Little's law with the least
        request latency caps those models. In batch mode every model is capped at one
        request per its least latency.

    Returns
    -------
    ThroughputBound

    Raises
    ------
    ValueError
        If the mix names an unknown workload, is negative, or sums to zero, or if the
        LP solver fails.
    """
    program = _program(scenario)
    x = _mix_requests_per_s(program, mix_per_s)
    slack = np.array([(slack_per_s or {}).get(n, 0.0) for n in program.names]) / program.batch
    requests = (
        dict.fromkeys(program.names, 1)
        if scenario.simulation.mode == "batch"
        else dict(in_flight or {})
    )
    caps = [
        *_offered_caps(program, x, offered_per_s or {}),
        *_latency_caps(program, x, slack, requests),
    ]
    return _solve(program, x, slack, caps)


# A cap on the scale of one model's mix: ``coefficient * lambda <= limit``, and its label.
_Cap = tuple[float, float, str]


def _mix_requests_per_s(program: _Program, mix_per_s: dict[str, float]) -> np.ndarray:
    """The mix as requests per second of each workload, in the program's order."""
    unknown = set(mix_per_s) - set(program.names)
    if unknown:
        raise ValueError(f"mix names unknown workloads: {', '.join(sorted(unknown))}")
    x = np.array([mix_per_s.get(n, 0.0) for n in program.names]) / program.batch
    if (x < 0).any() or x.sum() <= 0:
        raise ValueError("the mix must be non-negative with a positive sum")
    return x


def _offered_caps(program: _Program, x: np.ndarray, offered_per_s: dict[str, float]) -> list[_Cap]:
    """Open streams: no model is served beyond its offered rate (or its measured one)."""
    caps = []
    for m, name in enumerate(program.names):
        offered = offered_per_s.get(name)
        if offered is not None and x[m] > 0:
            caps.append((x[m], max(offered / program.batch[m], x[m]), f"offered rate of {name}"))
    return caps


def _latency_caps(
    program: _Program, x: np.ndarray, slack: np.ndarray, requests: dict[str, int]
) -> list[_Cap]:
    """Little's law: ``requests`` in flight of least latency ``L_m`` serve ``N_m / L_m``."""
    caps = []
    for m, name in enumerate(program.names):
        count = requests.get(name)
        if count is not None and x[m] > 0 and program.min_latency_s[m] > 0:
            caps.append((x[m], count / program.min_latency_s[m] + slack[m], f"latency of {name}"))
    return caps


def _solve(
    program: _Program, x: np.ndarray, slack: np.ndarray, caps: list[_Cap]
) -> ThroughputBound:
    """Maximise ``lambda`` subject to the program, the mix rows and ``caps``."""
    from scipy import sparse
    from scipy.optimize import linprog

    n_models = len(program.names)
    n = program.n_vars
    # y_m >= lambda x_m - c_m  <=>  lambda x_m - y_m <= c_m
    models = np.arange(n_models)
    mix_rows = sparse.csr_matrix(
        (
            np.concatenate([x, -np.ones(n_models)]),
            (np.tile(models, 2), np.r_[[0] * n_models, 1 + models]),
        ),
        shape=(n_models, n),
    )
    rows = [program.a_type, sparse.csr_matrix(program.dram_row), mix_rows]
    if caps:
        coefficients = [coefficient for coefficient, _, _ in caps]
        rows.append(
            sparse.csr_matrix(
                (coefficients, (np.arange(len(caps)), np.zeros(len(caps), np.int64))),
                shape=(len(caps), n),
            )
        )
    a_ub = sparse.vstack(rows).tocsr()
    b_ub = np.concatenate(
        [np.ones(len(program.types)), [1.0], slack, [limit for _, limit, _ in caps]]
    ).astype(np.float64)
    labels = [*program.types, "dram", *(["in-flight"] * n_models), *(c[2] for c in caps)]
    cost = np.zeros(n)
    cost[0] = -1.0
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=program.a_eq,
        b_eq=np.zeros(program.a_eq.shape[0]),
        bounds=(0, None),
        method="highs",
    )
    if result.status == 3:
        return ThroughputBound(math.inf, math.inf, "nothing")
    if result.status != 0:
        raise ValueError(f"throughput bound LP failed: {result.message}")
    scale = float(result.x[0])
    duals = -np.asarray(result.ineqlin.marginals)
    binding = labels[int(np.argmax(duals))] if duals.size else "nothing"
    inferences = float((x * program.batch).sum())
    return ThroughputBound(scale * inferences * (1 + LP_TOLERANCE), scale, binding)


def min_request_latency_s(scenario: Scenario) -> dict[str, float]:
    """Least latency any schedule gives one request of each workload (flow-shop bound)."""
    program = _program(scenario)
    return dict(zip(program.names, map(float, program.min_latency_s), strict=True))


def _offered(scenario: Scenario) -> dict[str, float]:
    """Inferences per second offered by each open stream."""
    offered: dict[str, float] = {}
    for w in scenario.workloads:
        rate = w.stream._offered_rate_per_s()
        if rate is not None:
            offered[w.name] = rate * w.batch
    return offered


def _in_flight(scenario: Scenario) -> dict[str, int]:
    """Requests in flight of each closed stream."""
    counts = {w.name: w.stream._requests_in_flight() for w in scenario.workloads}
    return {name: count for name, count in counts.items() if count is not None}


def bound_for_results(scenario: Scenario, data: dict[str, Any]) -> dict[str, Any]:
    """``throughput_upper_bound_per_s`` and ``optimality_ratio`` for a run's results data.

    The mix is the run's measured per-model throughput (when every stream is open, the
    offered mix too, and the larger bound counts); a run that completed nothing is
    bounded along its streams' nominal mix (in-flight counts or offered rates).

    Raises
    ------
    ValueError
        If the LP solver fails.
    """
    measured_s = float(data["measured_s"])
    mix = {name: float(m["throughput_per_s"]) for name, m in data["models"].items()}
    in_flight = _in_flight(scenario)
    if sum(mix.values()) <= 0:
        offered = _offered(scenario)
        mix = {
            w.name: offered.get(w.name, in_flight.get(w.name, 1) * w.batch)
            for w in scenario.workloads
        }
    slack: dict[str, float] = {}
    if data["mode"] == "stream" and measured_s > 0:
        for w in scenario.workloads:
            in_system = (
                in_flight[w.name]
                if w.name in in_flight
                else min(data["models"][w.name]["mean_in_system"], len(scenario.package.chiplets))
            )
            slack[w.name] = in_system * w.batch / measured_s
    offered = _offered(scenario) if data["mode"] == "stream" else None
    bound = throughput_bound(
        scenario, mix, slack_per_s=slack, offered_per_s=offered, in_flight=in_flight
    ).throughput_per_s
    if offered is not None and len(offered) == len(scenario.workloads):
        along_offered = throughput_bound(
            scenario, offered, slack_per_s=slack, offered_per_s=offered
        ).throughput_per_s
        bound = max(bound, along_offered)
    achieved = float(data["throughput_per_s"])
    if not math.isfinite(bound):
        return {"throughput_upper_bound_per_s": None, "optimality_ratio": None}
    return {
        "throughput_upper_bound_per_s": bound,
        "optimality_ratio": achieved / bound if bound else 0.0,
    }
