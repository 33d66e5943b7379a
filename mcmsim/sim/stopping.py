"""The stopping rule of stream mode: enough completions in total and of every model.

A stream-mode run stops at the first completion at which both hold:

* all models together have completed ``simulation.requests`` requests, and
* every model has completed ``simulation.min_requests_per_model`` requests *within the
  latter half of the run's completions* (by completion order). The warm-up cut never
  reaches that half (MSER searches only the first half of the blocks, see
  :mod:`mcmsim.metrics.steady_state`), so every model then has at least its minimum in
  the measured window, whatever warm-up MSER cuts.

When the scenario does not set the minimum it is
``min(200, ceil(requests / (2 n_models)))`` (:data:`DEFAULT_MIN_REQUESTS_PER_MODEL`):
a balanced mix then stops after ``requests`` completions as before, a quick
``--requests 50`` run stays quick, and in a long run every model gets 200 measured
requests, enough for a mean and a p95 (a p99 of 200 requests rests on the top three;
raise the minimum for a tail that matters). A model much slower than the others extends
the run until it has its share.

Caps: ``simulation.max_time_s`` (simulated seconds) stops the run whatever the counts;
the results then say ``stop_reason = "max_time_s"``. A model that cannot reach its
minimum must not hang the run. When it can complete nothing more (its stream's arrivals
are over, a trace that ended, and none of its requests is in the system), the run stops
at the first completion at which the total is reached and every model below its minimum
is in that state (``stop_reason = "stream ended"``): its count in the latter half can
only fall. A model that is merely slow (starved by the schedule) gets time: without
``max_time_s``, once the total is reached at time ``t``, the run stops at the first
completion after :data:`STARVATION_FACTOR` ``x t`` (``stop_reason = "starvation cap"``).
A run whose arrivals all end before either stops with ``"arrivals ended"``. The summary reports each
model's measured completions and warns about every model below its minimum.

Budgets, so that every run ends whatever the scenario asks (both modes):

* ``simulation.max_backlog``: an open stream offered more than its chiplets can serve
  has no steady state; its backlog grows as long as the run lasts, and so do memory and
  the work per event. When the requests of one open stream in the system exceed the
  bound, the run stops (``stop_reason = "backlog bound"``) and that stream is judged
  unstable. Stopping, rather than turning away arrivals, keeps the system the scenario
  describes (an unbounded queue): a finite buffer would report a plausible throughput
  and bounded latencies for a system that has none. The default,
  ``max(requests, 1000)`` (:data:`MIN_BACKLOG_BOUND`), is the point past which more
  requests wait than the run is asked to complete, so the run could not measure them;
  a stable queue gets there with negligible probability (``rho^1000`` for M/M/1).
  Closed streams hold a fixed number in flight and are not bounded.
* ``simulation.max_events``: simulated events (the count results.json reports as
  ``simulated_events``). Past it the run stops with ``stop_reason = "event budget"``.
  The default, :data:`EVENTS_PER_REQUEST` per requested completion, is about twenty
  times what the shipped scenarios use (the LLM serving mix, whose every decode step
  is an event, takes under 1,000 per request).
"""

from __future__ import annotations

import math

from mcmsim.scenario import SimulationSpec

__all__ = [
    "DEFAULT_MIN_REQUESTS_PER_MODEL",
    "EVENTS_PER_REQUEST",
    "MIN_BACKLOG_BOUND",
    "STARVATION_FACTOR",
    "StoppingRule",
    "backlog_bound",
    "event_budget",
    "min_requests_per_model",
]

DEFAULT_MIN_REQUESTS_PER_MODEL = 200
STARVATION_FACTOR = 10
EVENTS_PER_REQUEST = 20_000
MIN_BACKLOG_BOUND = 1000


def event_budget(simulation: SimulationSpec) -> int:
    """Simulated events after which a run stops (the scenario's, else the default)."""
    if simulation.max_events is not None:
        return simulation.max_events
    return EVENTS_PER_REQUEST * simulation.requests


def backlog_bound(simulation: SimulationSpec) -> int:
    """Requests of one open stream in the system past which a run stops as unstable."""
    if simulation.max_backlog is not None:
        return simulation.max_backlog
    return max(simulation.requests, MIN_BACKLOG_BOUND)


def min_requests_per_model(simulation: SimulationSpec, n_models: int) -> int:
    """The per-model minimum the rule applies (the scenario's, else the default)."""
    if simulation.min_requests_per_model is not None:
        return simulation.min_requests_per_model
    return min(DEFAULT_MIN_REQUESTS_PER_MODEL, math.ceil(simulation.requests / (2 * n_models)))


class StoppingRule:
    """Counts completions and says when a stream-mode run has enough; see the module."""

    def __init__(self, simulation: SimulationSpec, n_models: int) -> None:
        self.requests = simulation.requests
        self.min_per_model = min_requests_per_model(simulation, n_models)
        self.time_capped = simulation.max_time_s is not None
        # Which model completed, in order, and each model's count in the latter half.
        self.order: list[int] = []
        self.latter_half = [0] * n_models
        self.short = n_models
        self.cap_ps: int | None = None

    def completed(self, model: int, now_ps: int) -> str | None:
        """Count one completion of ``model``; the stop reason if the run should stop."""
        order = self.order
        order.append(model)
        self._count(model, +1)
        if len(order) % 2 == 0:
            # The latter half is order[len // 2:]; its first element just left it.
            self._count(order[len(order) // 2 - 1], -1)
        if len(order) < self.requests:
            return None
        if self.short == 0:
            return "requests"
        if self.time_capped:
            return None
        if self.cap_ps is None:
            self.cap_ps = STARVATION_FACTOR * now_ps
        return "starvation cap" if now_ps >= self.cap_ps else None

    @property
    def total_reached(self) -> bool:
        """Whether all models together have completed the requests asked for."""
        return len(self.order) >= self.requests

    def short_models(self) -> list[int]:
        """The models below their minimum in the latter half of the completions."""
        least = self.min_per_model
        return [m for m, count in enumerate(self.latter_half) if count < least]

    def _count(self, model: int, delta: int) -> None:
        before = self.latter_half[model]
        self.latter_half[model] = before + delta
        if before < self.min_per_model <= before + delta:
            self.short -= 1
        elif before + delta < self.min_per_model <= before:
            self.short += 1
