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
* latency: a request's micro-batches run their layers along the model's DAG and each
  layer's micro-batches share its one chiplet, so a request takes at least the
  flow-shop bound ``L_m``: the longest path through the layer DAG, plus the other
  micro-batches at the bottleneck layer (``sum_l p_l + (n - 1) max_l p_l`` for a
  chain; ``p_l``: the layer on its fastest type). Branches placed on different
  chiplets overlap, so the sum over all layers would not be a bound. In
  batch mode (one request per model from time zero) the makespan is at least the
  largest ``L_m``; with a closed stream of ``N_m`` requests in flight, Little's law caps
  ``y_m <= N_m / L_m``;
* NoP: not constrained. A schedule may keep a model on chiplets at DRAM interfaces,
  so no link traffic is unavoidable in general.

Nothing here depends on which interface serves a transfer: the DRAM row counts bytes
against the sum of all interfaces' bandwidths, an upper bound on what they deliver
together whether a chiplet reads its nearest interface only or every transfer is
interleaved over all of them, and the NoP traffic interleaving adds is not
constrained.

**Closed streams are scaled, open streams are demands.** A closed stream's rate is
whatever the schedule makes of its in-flight count, so for the closed models the bound
is taken along the *measured* mix of the run: with ``x_m`` the measured requests per
second of each closed model, the program maximises ``lambda`` subject to
``y_m >= lambda * x_m - c_m``. An open stream's rate is not the schedule's to choose:
its offered rate is a demand. The program serves each open model at least what the run
served, ``y_m >= served_m - c_m``, not its offered rate: a schedule that starved an open
model freed capacity for the closed ones, and a bound computed at the full offered
demand could be below what it achieved. Starving shows in the open models' own term:

* ``closed_scale = lambda*``, and the closed part's ratio ``1 / lambda*`` (up to
  :data:`LP_TOLERANCE`): "at the closed mix this schedule served, while serving the
  open streams as it did, how far is it from the best any schedule could serve?";
* each open model's service ratio ``min(1, served / offered)``, divided by the most
  any schedule could serve of the offered load, ``min(1, mu*)`` (below);
* ``optimality_ratio`` is the least of these. Whenever the package can carry the
  offered load (``mu* >= 1``) it is therefore at most ``served / offered`` of every
  open model, and a schedule that leaves idle the chiplets the closed streams could
  use scores ``1 / lambda*`` however well it serves the open ones. ``binding`` names
  what sets it: the closed LP's binding constraint (a chiplet type, ``"dram"``,
  ``"latency of m"``, ``"in-flight"``: the window slack) or ``"service of m"``.

``mu*`` (``open_capacity_scale``) says whether starving an open stream is the
schedule's fault: the LP's most of the open streams' offered load, as a multiple of
it, that any schedule could serve with the closed streams idle (steady state, no
window slack). Below 1 no schedule keeps up with every open stream (the stability
report flags each), and service is measured against the best uniform fraction: a
schedule that serves every open stream at ``mu*`` of its offered rate scores 1 on
this term, one that starves one of them below that does not. Dividing by ``mu*`` is
what keeps schedules comparable under overload; without it every schedule would score
at most ``mu*``.

``throughput_upper_bound_per_s`` is the LP optimum's total at that point: ``lambda*``
times the measured closed inferences/s plus the served open inferences/s — the most any
schedule serves at this run's closed mix while serving each open stream as this run
did. It is never below the achieved throughput, but with open streams the ratio is no
longer ``achieved / bound``. The two degenerate cases:

* every stream closed (and batch mode, where every model is one request from time
  zero): no open term; ratio ``= achieved / bound = 1 / lambda*``, as before open
  streams were demands. In batch mode results.json gives the same number as
  ``makespan_lower_bound_s / makespan_s`` (:mod:`mcmsim.search.makespan_bound`);
* every stream open: nothing to scale, so the ratio is the least service term. The
  bound is then the most any schedule serves along the *offered* mix (capped at each
  offered rate), or along the measured mix if that is larger (a window may complete a
  little more than offered). As that bound is at most ``min(1, mu*)`` times the
  offered load (up to the window's slack), its ratio ``achieved / bound`` is a
  weighted mean of the service terms, never below their least: the least is the
  stricter verdict, and the one that shows a starved stream.

``served / offered`` is measured over the window: with random arrivals it carries the
sampling error of the arrival count (about ``1 / sqrt(arrivals)`` for Poisson, 2% at
2,000 arrivals), so a schedule that keeps up may score a few percent below 1 on it.

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
never below the throughput any schedule achieves in simulation and ``lambda* >= 1``
(tested against every built-in scheduler on every shipped scenario and on mixed
closed/open ones). The LP optimum is rounded up by
:data:`LP_TOLERANCE` (relative) to cover the solver's feasibility tolerance.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mcmsim.metrics.results import BoundDetail, ReadOnlyMap
from mcmsim.scenario import Scenario, Workload
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
        Upper bound on total inferences per second: ``scale`` times the mix, plus the
        fixed demands (``inf`` if nothing limits it).
    scale : float
        ``lambda*``: how many times the given mix the package could at best serve.
    binding : str
        The constraint that limits the bound: a chiplet type, ``"dram"``, an offered
        rate, a model's latency, a model's demand or ``"in-flight"``.
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


@dataclass(frozen=True)
class _RequestNeeds:
    """What one request of a model needs, whatever the schedule."""

    latency_s: np.ndarray
    """Busy time per chiplet type and layer, summed over the micro-batches, (types, layers)."""
    dram_bytes: float
    """Bytes no schedule avoids moving through the DRAM interfaces."""
    min_latency_s: float
    """Least latency (flow-shop bound)."""


_programs: OrderedDict[tuple[Any, ...], _Program] = OrderedDict()


def _program(scenario: Scenario) -> _Program:
    """The LP matrices of ``scenario``; cached per package and workloads."""
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
    program = _build_program(scenario)
    _programs[key] = program
    if len(_programs) > _CACHE_SIZE:
        _programs.popitem(last=False)
    return program


def _build_program(scenario: Scenario) -> _Program:
    """Variables ``lambda``, ``y_m``, then ``g[m, group, t]``; rows of chiplet time and DRAM."""
    problem = SchedulingProblem(scenario)
    package = scenario.package
    types = list(package.chiplet_types)
    needs = [_request_needs(problem, w, types) for w in scenario.workloads]
    a_eq, a_type, n_vars = _assignment_rows(needs, types, package.type_counts())
    dram_row = np.zeros(n_vars)
    dram_row[1 : 1 + len(needs)] = [n.dram_bytes for n in needs]
    dram_row /= package.dram_bandwidth_gb_per_s * 1e9
    return _Program(
        names=[w.name for w in scenario.workloads],
        batch=np.array([w.batch for w in scenario.workloads], np.float64),
        types=types,
        a_eq=a_eq,
        a_type=a_type,
        dram_row=dram_row,
        min_latency_s=np.array([n.min_latency_s for n in needs]),
        n_vars=n_vars,
        keep=(scenario.package, scenario.workloads),
    )


def _request_needs(problem: SchedulingProblem, w: Workload, types: list[str]) -> _RequestNeeds:
    """Chiplet time per type and layer, unavoidable DRAM bytes and least latency of a request."""
    scenario = problem.scenario
    sizes = Counter(w.micro_batch_sizes)
    bytes_per_elem = scenario.simulation.precision_bytes
    latency = np.zeros((len(types), len(w.model.layers)))
    stream = np.zeros(len(w.model.layers))
    io_bytes = 0.0
    sink_elems = sum(w.model.graph.nodes[n]["layer"].output_elems for n in w.model.output_layers)
    for size, count in sizes.items():
        for t, type_name in enumerate(types):
            latency[t] += count * problem.costs(w, type_name, size).latency_ps * S_PER_PS
        stream += count * problem.costs(w, types[0], size).dram_stream_bytes
        io_bytes += count * (w.model.input_elems + sink_elems) * bytes_per_elem * size
    weights = problem.costs(w, types[0]).weight_bytes.astype(np.float64)
    return _RequestNeeds(
        latency_s=latency,
        dram_bytes=io_bytes + _weight_dram_bytes(scenario, stream, weights),
        min_latency_s=_flow_shop(problem, w, types, sizes),
    )


def _weight_dram_bytes(scenario: Scenario, stream: np.ndarray, weights: np.ndarray) -> float:
    """Weight bytes per request no schedule avoids reading (``stream``: per layer, if streamed)."""
    chiplets = scenario.package.chiplets
    if scenario.simulation.mode == "batch":
        # Resident weights are loaded once, others streamed; windows refill SRAM.
        largest_sram = max(ch.type.sram_bytes for ch in chiplets)
        once = np.where(weights <= largest_sram, np.minimum(weights, stream), stream)
        return float(once.sum())
    total_sram = sum(ch.type.sram_bytes for ch in chiplets)
    return float(stream.sum()) - _knapsack(stream, weights, total_sram)


def _interchangeable_layers(latency: np.ndarray) -> dict[tuple[float, ...], float]:
    """Layers grouped by the shape of their latency over types: shape -> summed latency.

    Layers whose latency vectors are proportional are interchangeable in the LP, so they
    merge (GPT-2's twelve identical blocks become one) with their demands added.
    """
    groups: dict[tuple[float, ...], float] = {}
    for layer in range(latency.shape[1]):
        total = float(latency[:, layer].sum())
        if total > 0:
            shape = tuple(np.round(latency[:, layer] / total, 12))
            groups[shape] = groups.get(shape, 0.0) + total
    return groups


def _assignment_rows(
    needs: list[_RequestNeeds], types: list[str], counts: dict[str, int]
) -> tuple[sparse.csr_matrix, sparse.csr_matrix, int]:
    """``sum_t g = y_m`` per layer group (equalities) and chiplet time per type (<= 1).

    ``g`` is measured in latency-weighted units (the group's latency over types times
    its rate), so a type's row divides by its chiplet count.
    """
    from scipy import sparse  # scipy takes a while to import; only the bound needs it

    eq_rows, eq_cols, eq_vals = [], [], []
    ty_rows, ty_cols, ty_vals = [], [], []
    n_vars = 1 + len(needs)  # lambda, then y_m, then g
    row = 0
    for m, need in enumerate(needs):
        for shape, total in _interchangeable_layers(need.latency_s).items():
            for t, type_name in enumerate(types):
                eq_rows.append(row)
                eq_cols.append(n_vars)
                eq_vals.append(1.0)
                ty_rows.append(t)
                ty_cols.append(n_vars)
                ty_vals.append(shape[t] / counts[type_name])
                n_vars += 1
            eq_rows.append(row)
            eq_cols.append(1 + m)
            eq_vals.append(-total)
            row += 1
    a_eq = sparse.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(row, n_vars))
    a_type = sparse.csr_matrix((ty_vals, (ty_rows, ty_cols)), shape=(len(types), n_vars))
    return a_eq, a_type, n_vars


def _flow_shop(
    problem: SchedulingProblem, w: Workload, types: list[str], sizes: dict[int, int]
) -> float:
    """Least latency of one request: its micro-batches through its layer DAG (seconds).

    A micro-batch runs a layer only after all its producers, so it takes at least the
    longest path of the DAG (branches on different chiplets overlap); and each layer
    runs on a single chiplet that takes the request's micro-batches one at a time. With
    ``p_l`` the layer's time on its fastest type, ``head_l`` and ``tail_l`` the longest
    paths into and out of it (at the micro-batch size that makes them shortest), the
    request takes at least ``head_l + sum over micro-batches of p_l + tail_l`` for
    every layer: the flow-shop bound, which for a chain of one micro-batch size is
    ``sum_l p_l + (n - 1) max_l p_l``.
    """
    model = w.model
    index = model.index
    producers = [[index[p] for p in model.predecessors(layer.name)] for layer in model.layers]
    ordered = sorted(sizes)
    fastest = np.stack(
        [
            np.min([problem.costs(w, t, size).latency_ps for t in types], axis=0) * S_PER_PS
            for size in ordered
        ]
    )
    head = np.zeros_like(fastest)
    for layer, into in enumerate(producers):
        if into:
            head[:, layer] = np.max(head[:, into] + fastest[:, into], axis=1)
    tail = np.zeros_like(fastest)
    for layer in range(len(producers) - 1, -1, -1):
        for producer in producers[layer]:
            tail[:, producer] = np.maximum(tail[:, producer], tail[:, layer] + fastest[:, layer])
    path = float((head + fastest + tail).max(initial=0.0))
    counts = np.array([sizes[size] for size in ordered], np.float64)
    through = head.min(axis=0) + counts @ fastest + tail.min(axis=0)
    return max(path, float(through.max(initial=0.0)))


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
    demand_per_s: dict[str, float] | None = None,
) -> ThroughputBound:
    """The most inferences per second any schedule serves at the mix ``mix_per_s``.

    Parameters
    ----------
    scenario : Scenario
        Package and workloads.
    mix_per_s : dict
        Inferences per second of each workload the bound scales (only their ratios
        matter, except with ``slack_per_s`` or ``offered_per_s``); the bound is a
        multiple of their sum, plus ``demand_per_s``.
    slack_per_s : dict, optional
        Inferences per second a finite window may complete beyond steady-state
        capacity, per workload (see the module docstring).
    offered_per_s : dict, optional
        Inferences per second offered by open streams: the bound serves no model of
        the mix more.
    in_flight : dict, optional
        Requests in flight of closed streams (stream mode): Little's law with the least
        request latency caps those models. In batch mode every model is capped at one
        request per its least latency.
    demand_per_s : dict, optional
        Inferences per second of workloads served at a fixed rate, not scaled (open
        streams): the LP serves each at least this much, less its slack, and the mix
        must give them no rate.

    Returns
    -------
    ThroughputBound

    Raises
    ------
    ValueError
        If the mix or the demands name an unknown workload or are negative, if the mix
        sums to zero or gives a rate to a workload with a demand, or if the LP solver
        fails.
    """
    program = _program(scenario)
    x = _mix_requests_per_s(program, mix_per_s)
    demand = _demand_requests_per_s(program, demand_per_s or {}, x)
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
    return _solve(program, x, slack, demand, caps)


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


def _demand_requests_per_s(
    program: _Program, demand_per_s: dict[str, float], x: np.ndarray
) -> np.ndarray:
    """Fixed demands as requests per second of each workload, in the program's order."""
    unknown = set(demand_per_s) - set(program.names)
    if unknown:
        raise ValueError(f"demands name unknown workloads: {', '.join(sorted(unknown))}")
    d = np.array([demand_per_s.get(n, 0.0) for n in program.names]) / program.batch
    if (d < 0).any():
        raise ValueError("demands must be non-negative")
    both = [n for n, xm, dm in zip(program.names, x, d, strict=True) if xm > 0 and dm > 0]
    if both:
        raise ValueError(f"workloads both in the mix and with a demand: {', '.join(both)}")
    return d


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
    program: _Program, x: np.ndarray, slack: np.ndarray, demand: np.ndarray, caps: list[_Cap]
) -> ThroughputBound:
    """Maximise ``lambda`` subject to the program, the mix and demand rows and ``caps``."""
    from scipy import sparse
    from scipy.optimize import linprog

    n_models = len(program.names)
    n = program.n_vars
    # y_m >= lambda x_m + d_m - c_m  <=>  lambda x_m - y_m <= c_m - d_m
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
        [np.ones(len(program.types)), [1.0], slack - demand, [limit for _, limit, _ in caps]]
    ).astype(np.float64)
    mix_labels = [
        f"demand of {name}" if d > 0 else "in-flight"
        for name, d in zip(program.names, demand, strict=True)
    ]
    labels = [*program.types, "dram", *mix_labels, *(c[2] for c in caps)]
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
    inferences = float((x * program.batch).sum()) * scale + float((demand * program.batch).sum())
    return ThroughputBound(inferences * (1 + LP_TOLERANCE), scale, binding)


def min_request_latency_s(scenario: Scenario) -> dict[str, float]:
    """Least latency any schedule gives one request of each workload (flow-shop bound)."""
    program = _program(scenario)
    return dict(zip(program.names, map(float, program.min_latency_s), strict=True))


# --- the bound of a run --------------------------------------------------------------------


@dataclass(frozen=True)
class _RunRates:
    """A run's rates by workload, in inferences per second (and its streams' in-flight counts).

    ``offered`` holds the open streams of a stream-mode run only: in batch mode every
    model is one request from time zero, which the bound scales like a closed stream.
    """

    measured: dict[str, float]
    offered: dict[str, float]
    in_flight: dict[str, int]
    slack: dict[str, float]

    @classmethod
    def of(cls, scenario: Scenario, data: Mapping[str, Any]) -> _RunRates:
        stream_mode = data["mode"] == "stream"
        measured_s = float(data["measured_s"])
        models = data["models"]
        offered = _offered(scenario) if stream_mode else {}
        in_flight = _in_flight(scenario)
        slack: dict[str, float] = {}
        if stream_mode and measured_s > 0:
            for w in scenario.workloads:
                in_system = (
                    in_flight[w.name]
                    if w.name in in_flight
                    else min(models[w.name]["mean_in_system"], len(scenario.package.chiplets))
                )
                slack[w.name] = in_system * w.batch / measured_s
        return cls(
            measured={name: float(m["throughput_per_s"]) for name, m in models.items()},
            offered=offered,
            in_flight=in_flight,
            slack=slack,
        )


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


@dataclass(frozen=True)
class _Verdict:
    """The bound's total inferences/s at its point, the ratio, what binds, ``lambda*``."""

    throughput_per_s: float
    ratio: float
    binding: str
    scale: float | None = None


def _closed_part(scenario: Scenario, rates: _RunRates) -> _Verdict:
    """The closed models scaled along their measured mix, the open ones at what they got.

    A run whose closed models completed nothing is bounded along their nominal mix
    (in-flight counts) and scores 0.
    """
    closed = {n: r for n, r in rates.measured.items() if n not in rates.offered}
    achieved = sum(closed.values())
    if achieved <= 0:
        closed = {
            w.name: rates.in_flight.get(w.name, 1) * w.batch
            for w in scenario.workloads
            if w.name in closed
        }
    bound = throughput_bound(
        scenario,
        closed,
        slack_per_s=rates.slack,
        in_flight=rates.in_flight,
        demand_per_s={n: rates.measured[n] for n in rates.offered},
    )
    closed_bound = bound.scale * sum(closed.values()) * (1 + LP_TOLERANCE)
    return _Verdict(bound.throughput_per_s, achieved / closed_bound, bound.binding, bound.scale)


def _all_open_part(scenario: Scenario, rates: _RunRates, service: dict[str, float]) -> _Verdict:
    """Every stream open: the least service term, and the bound along the offered mix.

    A run that completed nothing is bounded along the offered mix alone.
    """
    mix = rates.measured if sum(rates.measured.values()) > 0 else rates.offered
    along = [
        throughput_bound(scenario, m, slack_per_s=rates.slack, offered_per_s=rates.offered)
        for m in (mix, rates.offered)
    ]
    name = min(service, key=service.__getitem__)
    binding = f"service of {name}" if service[name] < 1 else "offered load"
    return _Verdict(max(b.throughput_per_s for b in along), service[name], binding)


def _open_capacity_scale(scenario: Scenario, offered: dict[str, float]) -> float | None:
    """How many times the open streams' offered load the package carries at best (closed idle)."""
    scale = throughput_bound(scenario, offered).scale
    return scale if math.isfinite(scale) else None


def bound_for_results(scenario: Scenario, data: Mapping[str, Any]) -> dict[str, Any]:
    """The bound of a run from its results data, see the module docstring.

    Returns
    -------
    dict
        ``throughput_upper_bound_per_s`` and ``optimality_ratio`` (both None when
        nothing limits the bound), and ``detail``, a
        :class:`~mcmsim.metrics.results.BoundDetail` (results.json's ``bound``).

    Raises
    ------
    ValueError
        If the LP solver fails.
    """
    rates = _RunRates.of(scenario, data)
    served = {n: min(1.0, rates.measured[n] / rate) for n, rate in rates.offered.items()}
    capacity = _open_capacity_scale(scenario, rates.offered) if served else None
    carried = min(1.0, capacity) if capacity is not None else 1.0
    service = {n: min(1.0, r / carried) for n, r in served.items()}
    if len(rates.offered) == len(scenario.workloads):
        part = _all_open_part(scenario, rates, service)
    else:
        part = _closed_part(scenario, rates)
    worst_open = min(service, key=service.__getitem__, default=None)
    ratio, binding = part.ratio, part.binding
    if worst_open is not None and service[worst_open] < ratio:
        ratio, binding = service[worst_open], f"service of {worst_open}"
    bounded = math.isfinite(part.throughput_per_s)
    scale = part.scale if part.scale is not None and bounded else None
    detail = BoundDetail(
        closed_scale=scale,
        closed_ratio=part.ratio if scale is not None else None,
        open_service_ratio=ReadOnlyMap(served),
        open_capacity_scale=capacity,
        binding=binding if bounded else "nothing",
    )
    if not bounded:
        return {"throughput_upper_bound_per_s": None, "optimality_ratio": None, "detail": detail}
    return {
        "throughput_upper_bound_per_s": part.throughput_per_s,
        "optimality_ratio": ratio,
        "detail": detail,
    }
