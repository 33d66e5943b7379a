"""A lower bound on the makespan of a batch-mode run, and its optimality ratio.

In batch mode every model is one request (``batch`` inferences in micro-batches) issued
at time zero, and the run ends when the last one completes. No schedule finishes before
the largest of three times, each a relaxation of every schedule:

* **latency**: each model's least request latency (the flow-shop bound of
  :mod:`mcmsim.search.bound`: its micro-batches through the longest path of its layer
  DAG, plus all of them through its bottleneck layer, every layer on its fastest
  chiplet type);
* **compute**: the least ``T`` of a linear program over chiplet types, the throughput
  LP's chiplet-time rows for one request of every model: each layer's work (its
  resident latency summed over its micro-batches) is split fractionally over types,
  and each type's ``n_t`` chiplets work at most ``n_t * T`` seconds in all;
* **dram**: the bytes no schedule avoids (model inputs, final outputs and every weight
  byte at least once; see :mod:`mcmsim.search.bound`) over the package's total DRAM
  bandwidth.

The three constraints share no variable but ``T``, so their maximum is the optimum of
the joint program: it equals ``1 / lambda*`` of the throughput LP for one request of
each model per second in batch mode (the "dual view"), and the throughput bound's
batch-mode ratio was this ratio already. The bound is rounded down by
:data:`~mcmsim.search.bound.LP_TOLERANCE` to cover the solver's feasibility tolerance.

**Optimality ratio in batch mode** is ``makespan_lower_bound_s / makespan_s``, in
``(0, 1]``: 1 means no schedule could finish the batch sooner, 0.5 that the bound
allows finishing it in half the time. It replaces achieved / bound throughput, which in
batch mode is the same number up to the LP's rounding (throughput is inferences over the
makespan for every model), and says it in the unit SCAR's datacenter suite is judged by.
``bound.binding`` names the largest term: ``"latency of <model>"``, ``"compute"`` or
``"dram"``.

What the bound leaves out, and why it can be far below any schedule's makespan: a layer
runs on one chiplet (the LP splits it over types), segments hold their chiplet while
waiting on DRAM, weight streams and NoP transfers take time, and windows are barriers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mcmsim.metrics.results import BoundDetail
from mcmsim.scenario import Scenario
from mcmsim.search.bound import LP_TOLERANCE, _Program, _program, min_request_latency_s

__all__ = ["MakespanBound", "makespan_bound", "with_makespan_bound"]


@dataclass(frozen=True)
class MakespanBound:
    """The makespan bound of a batch-mode scenario and its three terms (seconds).

    Attributes
    ----------
    makespan_s : float
        The lower bound: the largest of the three terms.
    latency_s : dict
        Each model's least request latency.
    compute_s : float
        The chiplet-time LP's optimum: total work spread over the package's types.
    dram_s : float
        Unavoidable DRAM bytes over the total DRAM bandwidth.
    binding : str
        The largest term: ``"latency of <model>"``, ``"compute"`` or ``"dram"``.
    """

    makespan_s: float
    latency_s: dict[str, float]
    compute_s: float
    dram_s: float
    binding: str


def makespan_bound(scenario: Scenario) -> MakespanBound:
    """The least makespan any schedule reaches on a batch-mode scenario.

    Parameters
    ----------
    scenario : Scenario
        A batch-mode scenario (each model one request from time zero).

    Returns
    -------
    MakespanBound

    Raises
    ------
    ValueError
        If the scenario is not in batch mode, or if the LP solver fails.
    """
    if scenario.simulation.mode != "batch":
        raise ValueError("the makespan bound is defined for batch mode only")
    program = _program(scenario)
    latency = min_request_latency_s(scenario)
    terms = {
        **{f"latency of {name}": value for name, value in latency.items()},
        "compute": _compute_s(program),
        "dram": float(program.dram_row[1 : 1 + len(program.names)].sum()),
    }
    binding = max(terms, key=terms.__getitem__)
    return MakespanBound(
        makespan_s=terms[binding] / (1 + LP_TOLERANCE),
        latency_s=latency,
        compute_s=terms["compute"],
        dram_s=terms["dram"],
        binding=binding,
    )


def _compute_s(program: _Program) -> float:
    """Least ``T`` with one request of every model spread over the chiplet types.

    The throughput LP's variables without ``lambda``: ``y_m = 1``, so its assignment
    rows fix each layer group's work, and each type's row (already per chiplet) is at
    most ``T``.
    """
    from scipy import sparse
    from scipy.optimize import linprog

    n_models = len(program.names)
    work = program.a_eq[:, 1 + n_models :]
    b_eq = -np.asarray(program.a_eq[:, 1 : 1 + n_models].sum(axis=1)).ravel()
    if work.shape[1] == 0:
        return 0.0
    a_ub = sparse.hstack(
        [sparse.csr_matrix(-np.ones((len(program.types), 1))), program.a_type[:, 1 + n_models :]]
    ).tocsr()
    a_eq = sparse.hstack([sparse.csr_matrix((work.shape[0], 1)), work]).tocsr()
    cost = np.zeros(a_ub.shape[1])
    cost[0] = 1.0
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(len(program.types)),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        raise ValueError(f"makespan bound LP failed: {result.message}")
    return float(result.x[0])


def with_makespan_bound(
    scenario: Scenario, data: Mapping[str, Any], bound: Mapping[str, Any]
) -> dict[str, Any]:
    """A batch run's bound fields with the makespan bound and its ratio.

    ``bound`` is :func:`~mcmsim.search.bound.bound_for_results`'s answer; the result
    adds ``makespan_lower_bound_s``, sets ``optimality_ratio`` to bound / makespan and
    ``detail.binding`` to the makespan bound's binding term.

    Raises
    ------
    ValueError
        If the run is not in batch mode or has no makespan, or if the LP solver fails.
    """
    makespan = data.get("makespan_s")
    if data["mode"] != "batch" or not makespan:
        raise ValueError("a makespan bound needs a batch-mode run with a makespan")
    lower = makespan_bound(scenario)
    detail: BoundDetail | None = bound.get("detail")
    return {
        **bound,
        "makespan_lower_bound_s": lower.makespan_s,
        "optimality_ratio": lower.makespan_s / float(makespan),
        "detail": replace(detail, binding=lower.binding) if detail is not None else None,
    }
