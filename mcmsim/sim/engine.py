"""The discrete-event engine: requests walk their model's segment DAG across the package.

Resources are SimPy objects: each chiplet is a ``simpy.Resource`` of capacity one (one
segment executes at a time, first come first served), and NoP links and DRAM interfaces
are bandwidth resources of a :class:`~mcmsim.sim.network.FlowNetwork`. One request
(``batch`` inferences) is split into micro-batches that pipeline through the segments:

1. the segments holding the model's source layers read the model input from DRAM; a
   request's micro-batches read their inputs in order, each after the previous one;
2. a segment starts when every activation it consumes has arrived (not in list
   order: branches of the model DAG placed on different chiplets overlap), takes its
   chiplet and holds it for the longer of its layer-by-layer time and its weight
   stream. A layer whose weights are not resident streams them while it computes, so
   it takes ``max(compute, stream)`` at the nominal streaming bandwidth, and the
   segment the sum over its layers (:mod:`mcmsim.sim.plan`). The segment's streamed
   bytes go as one DRAM transfer, paced: its rate is capped at its bytes over the
   segment's layered time, the pace at which the layers consume them, and it shares
   bandwidth with all other transfers; the chiplet is released no earlier than it
   completes. Without contention that is exact. With contention the transfer falls
   behind its pace and the segment stretches; averaging the stream's demand over the
   segment spreads the contention of its DRAM-bound layers over its compute-bound ones
   too, so it is slightly optimistic for a segment that mixes both (exact for one that
   does not). Resident weights are loaded once, on first use;
3. on release, activations leave for the chiplets of the segments that consume them
   along the XY route, and final outputs are written to DRAM. DRAM transfers follow the
   package's DRAM policy: interleaved over every interface (each part crossing the NoP
   from or to its interface) or from the nearest interface.

In batch mode the schedule's windows are barriers: a segment of window ``w + 1``
starts only when every segment execution of window ``w`` has finished.

Events are coarse: a handful per segment execution and per transfer, never per layer.
A micro-batch is one process that runs a chain of segments; a segment that becomes
ready while that process is busy elsewhere (a branch) gets a process of its own.
The run reports how many events SimPy scheduled (timeouts, process starts and
resumptions, resource grants, transfer completions, conditions). Time is integer
picoseconds; each open stream draws its arrival gaps from its own seeded numpy
Generator, so a scenario and a seed give identical results. The engine asks a
workload's stream whether it is closed (then reissues each finished request) and
otherwise for its gaps; when a request completes it tells the streams subscribed to
that workload (``upstream_workloads``), which answer how many requests to issue (a
cascade). It never asks which kind the stream is. A generation workload's requests are served by
its :class:`~mcmsim.sim.generation.GenerationServer` instead of walking the segments.

Frames of workloads with a deadline are logged (arrival, completion or drop) for
:mod:`mcmsim.metrics.deadlines`. Under ``late_policy = "drop"`` a frame that has not
started when the next frame of its workload arrives is dropped: it leaves the system at
once, and gives its turn away the moment it would have taken a chiplet.

Counters for the metrics: per chiplet the time it was held (occupancy) and the time its
array computed (the segments' resident compute time: activity); per link and DRAM
interface the time any transfer was under way and the bytes it carried.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from mcmsim.metrics.activity import (
    ACTIVATIONS,
    INPUT_READ,
    OUTPUT_WRITE,
    WEIGHTS,
    ActivityLog,
)
from mcmsim.metrics.collector import Collector
from mcmsim.metrics.raw import E_COMPUTE, E_DRAM, E_NOP, E_SRAM, FrameLog, RawRun
from mcmsim.metrics.tracks import dram_track, link_key, link_track
from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule
from mcmsim.sim.generation import start_generation
from mcmsim.sim.network import FlowNetwork
from mcmsim.sim.plan import SegmentPlan, WorkloadPlan, build_plans, residency
from mcmsim.sim.stopping import StoppingRule, backlog_bound, event_budget
from mcmsim.units import PS_PER_S

__all__ = ["CountingEnvironment", "run_engine"]


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it schedules.

    Every event reaches the queue through :meth:`schedule`; counting there costs one
    call per event (about 1% of a run) and needs nothing private to SimPy. When the
    count reaches ``max_events``, ``on_budget`` is called once (it ends the run).
    """

    def __init__(
        self, max_events: int | None = None, on_budget: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self.events_scheduled = 0
        self.max_events = max_events
        self.on_budget = on_budget

    def schedule(
        self,
        event: simpy.Event,
        priority: simpy.events.EventPriority = simpy.events.NORMAL,
        delay: int | float = 0,
    ) -> None:
        self.events_scheduled += 1
        super().schedule(event, priority, delay)
        if self.events_scheduled == self.max_events and self.on_budget is not None:
            self.on_budget()


class _Frame:
    """One request's state for the late policy: whether it started, and its drop event;
    ``request`` numbers the requests in arrival order (for activity records)."""

    __slots__ = ("dropped", "index", "request", "started")

    def __init__(self, index: int | None, dropped: simpy.Event | None) -> None:
        self.index = index
        self.started = False
        self.dropped = dropped
        self.request = -1

    def cancelled(self) -> bool:
        return self.dropped is not None and self.dropped.triggered


@dataclass(slots=True)
class _DramRoute:
    """A chiplet's DRAM transfers in one direction, as network resources.

    ``resources`` are the interfaces, then the NoP links; ``crossing[i]`` lists the
    parts (one per interface) whose bytes cross resource ``i``.
    """

    resources: tuple[int, ...]
    crossing: tuple[tuple[int, ...], ...]
    shares: tuple[float, ...]
    part_pj_per_byte: tuple[float, ...]
    part_nop_pj_per_byte: tuple[float, ...]
    latency_ps: int
    # Transfer sizes recur (a segment streams the same bytes every execution).
    _splits: dict[int, tuple[tuple[int, ...] | None, float, float]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        package: Any,
        link_index: dict[Any, int],
        chiplet: int,
        to_chiplet: bool,
        nop_pj_per_byte: float,
    ) -> _DramRoute:
        path = package.dram_path(chiplet, to_chiplet)
        n_links = len(link_index)
        crossing: dict[int, list[int]] = {}
        for p, part in enumerate(path.parts):
            crossing[n_links + part.interface] = [p]
        for p, part in enumerate(path.parts):
            for link in part.links:
                crossing.setdefault(link_index[link], []).append(p)
        return cls(
            resources=tuple(crossing),
            crossing=tuple(tuple(parts) for parts in crossing.values()),
            shares=tuple(part.share for part in path.parts),
            part_pj_per_byte=tuple(
                package.dram[part.interface].energy_pj_per_bit * 8 for part in path.parts
            ),
            part_nop_pj_per_byte=tuple(len(part.links) * nop_pj_per_byte for part in path.parts),
            latency_ps=path.latency_ps,
        )

    def split(self, nbytes: int) -> tuple[tuple[int, ...] | None, float, float]:
        """Bytes per resource (None: all bytes everywhere), DRAM pJ and NoP pJ.

        Parts get whole bytes in proportion to their shares, the remainder going to the
        largest fractions, so the interfaces together carry exactly ``nbytes``.
        """
        if len(self.shares) == 1:
            return None, nbytes * self.part_pj_per_byte[0], nbytes * self.part_nop_pj_per_byte[0]
        hit = self._splits.get(nbytes)
        if hit is not None:
            return hit
        exact = [nbytes * share for share in self.shares]
        parts = [int(x) for x in exact]
        short = nbytes - sum(parts)
        for p in sorted(range(len(parts)), key=lambda p: (parts[p] - exact[p], p))[:short]:
            parts[p] += 1
        dram_pj = sum(b * pj for b, pj in zip(parts, self.part_pj_per_byte, strict=True))
        nop_pj = sum(b * pj for b, pj in zip(parts, self.part_nop_pj_per_byte, strict=True))
        resource_bytes = tuple(sum(parts[p] for p in across) for across in self.crossing)
        split = self._splits[nbytes] = (resource_bytes, dram_pj, nop_pj)
        return split


@dataclass(slots=True)
class _MicroBatch:
    """One micro-batch of a request on its way through the segment DAG."""

    model: int
    plan: WorkloadPlan
    energy: list[float]
    done: simpy.Event
    frame: _Frame
    # Per segment, inputs not yet arrived (activations, model input, window barrier).
    waiting: list[int]
    # Segment executions and output writes still to finish.
    left: int
    reads_left: int

    @classmethod
    def start(
        cls,
        model: int,
        plan: WorkloadPlan,
        energy: list[float],
        done: simpy.Event,
        frame: _Frame,
    ) -> _MicroBatch:
        return cls(
            model,
            plan,
            energy,
            done,
            frame,
            list(plan.input_counts),
            len(plan.segments) + plan.output_writes,
            plan.input_reads,
        )


class _Engine:
    def __init__(
        self,
        scenario: Scenario,
        schedule: Schedule,
        activity: bool,
        records: bool,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.scenario = scenario
        self.keep_records = records or activity
        self.progress = progress
        self.problem = SchedulingProblem(scenario)
        self.package = scenario.package
        self.sim = scenario.simulation
        self.activity = ActivityLog() if activity else None
        self.next_request = 0
        self.env = CountingEnvironment(event_budget(self.sim), self._out_of_events)
        package = self.package
        self.n_chiplets = len(package.chiplets)
        self.workloads = list(scenario.workloads)
        self.n_models = len(self.workloads)
        # Closed streams reissue each finished request (stream mode).
        self.reissue = [w.stream.is_closed and self.sim.mode == "stream" for w in self.workloads]
        # Open streams' backlogs are bounded (see mcmsim.sim.stopping); closed ones are.
        bound = backlog_bound(self.sim)
        self.max_in_system = [
            None if w.stream.is_closed or self.sim.mode == "batch" else bound
            for w in self.workloads
        ]
        self.overloaded: list[int] = []
        self.rngs = [np.random.default_rng([self.sim.seed, m]) for m in range(self.n_models)]
        # Streams driven by a workload's completions, by that workload's index.
        index_of = {w.name: m for m, w in enumerate(self.workloads)}
        self.subscribers: list[list[int]] = [[] for _ in self.workloads]
        self.upstreams: list[list[int]] = [[] for _ in self.workloads]
        for m, w in enumerate(self.workloads):
            for upstream in w.stream.upstream_workloads():
                self.subscribers[index_of[upstream]].append(m)
                self.upstreams[m].append(index_of[upstream])
        # Whether each stream's own arrivals are over, and its requests issued but not yet
        # started (a process starts after the event that made it): with nothing in the
        # system either, the stream can complete nothing more (see _ended).
        self.arrivals_over = [False] * self.n_models
        self.starting = [0] * self.n_models
        self.frames = FrameLog(
            [w.deadline_ps for w in self.workloads], [w.late_policy for w in self.workloads]
        )
        self.logs_frames = [w.deadline_ps is not None for w in self.workloads]
        self.drops = [w.late_policy == "drop" and self.sim.mode == "stream" for w in self.workloads]
        self.waiting: list[_Frame | None] = [None] * self.n_models

        self.links = package.links
        self.link_index = {link: i for i, link in enumerate(self.links)}
        n_links, n_dram = len(self.links), len(package.dram)
        capacity = [package.nop.link_bandwidth_gb_per_s / 1000.0] * n_links + [
            d.bandwidth_gb_per_s / 1000.0 for d in package.dram
        ]
        self.capacity = capacity
        self.net = FlowNetwork(self.env, capacity)
        self.n_resources = n_links + n_dram
        self.chiplets = [simpy.Resource(self.env, capacity=1) for _ in package.chiplets]

        self.plans = build_plans(self.problem, schedule)
        self.windows = len(schedule.windows)
        # Per window: chiplet -> its residency, and (model, layer) -> weights resident.
        self.residency_per_chiplet, self.resident_layers = residency(self.problem, schedule)
        self.resident_bytes = np.zeros(self.n_chiplets, np.int64)
        for window in self.residency_per_chiplet:
            for cid, res in window.items():
                self.resident_bytes[cid] = max(self.resident_bytes[cid], res.resident_weight_bytes)
        self.loaded: set[tuple[int, str, int]] = set()

        # Counters, cumulative over the run; a snapshot is one flat vector of them all.
        self.chiplet_busy_ps = [0] * self.n_chiplets
        self.chiplet_compute_ps = [0] * self.n_chiplets
        self.model_busy_ps = [0] * self.n_models
        # (start, model, compute) of the execution under way on each chiplet, so snapshots
        # count it.
        self.running: list[tuple[int, int, int] | None] = [None] * self.n_chiplets
        self.streamed_bytes = [0] * self.n_chiplets
        self.energy = [0.0, 0.0, 0.0, 0.0]
        self.area = [0.0] * self.n_models
        self.in_system = [0] * self.n_models
        self.area_last_ps = [0] * self.n_models
        n_c, n_r, n_m = self.n_chiplets, self.n_resources, self.n_models
        sizes = {
            "chiplet_busy": n_c,
            "chiplet_compute": n_c,
            "streamed": n_c,
            "res_busy": n_r,
            "res_bytes": n_r,
            "res_wait": n_r,
            "res_flows": n_r,
            "res_moved": n_r,
            "energy": 4,
            "area": n_m,
            "model_busy": n_m,
        }
        self.layout: dict[str, slice] = {}
        start = 0
        for key, size in sizes.items():
            self.layout[key] = slice(start, start + size)
            start += size

        self.arrived = np.zeros(n_m, np.int64)
        self.completed = np.zeros(n_m, np.int64)
        self.total_completed = 0
        self.collector = Collector(
            n_m, latency_target_ps=[w.latency_target_ps for w in self.workloads]
        )
        self.target_requests = n_m if self.sim.mode == "batch" else self.sim.requests
        self.stopping_rule = StoppingRule(self.sim, n_m) if self.sim.mode == "stream" else None
        self.stop_reason = "batch done"
        self.stop = self.env.event()
        self.stopping = False
        self.records: list[tuple[int, int, int, int, float]] = []

        self.nop_pj_per_byte = package.nop.energy_pj_per_bit * 8
        self.link_names = [link_track(link_key(a, b)) for a, b in self.links]
        self.dram_names = [dram_track(i, d.position) for i, d in enumerate(package.dram)]
        self._routes: dict[tuple[int, int], tuple[int, ...]] = {}
        self._dram_paths: dict[tuple[int, bool], _DramRoute] = {}
        self._activity_routes: dict[tuple[int, int], int] = {}

    # --- counters ---------------------------------------------------------------------

    def snapshot(self) -> np.ndarray:
        now = self.env.now
        area = [
            self.area[m] + self.in_system[m] * (now - self.area_last_ps[m])
            for m in range(self.n_models)
        ]
        chiplet_busy = list(self.chiplet_busy_ps)
        chiplet_compute = list(self.chiplet_compute_ps)
        model_busy = list(self.model_busy_ps)
        for c, running in enumerate(self.running):
            if running is not None:
                held = now - running[0]
                chiplet_busy[c] += held
                chiplet_compute[c] += min(held, running[2])
                model_busy[running[1]] += held
        return np.concatenate(
            [
                np.asarray(chiplet_busy, np.float64),
                np.asarray(chiplet_compute, np.float64),
                np.asarray(self.streamed_bytes, np.float64),
                # Up to now, as for chiplets: a snapshot that lagged at the window's start
                # counted busy time twice and gave shares above 1.
                np.asarray(self.net.busy_now(), np.float64),
                np.asarray(self.net.bytes, np.float64),
                np.asarray(self.net.wait_ps, np.float64),
                np.asarray(self.net.flows_done, np.float64),
                np.asarray(self.net.bytes_moved(), np.float64),
                np.asarray(self.energy, np.float64),
                np.asarray(area, np.float64),
                np.asarray(model_busy, np.float64),
            ]
        )

    def _in_system(self, model: int, delta: int) -> None:
        now = self.env.now
        self.area[model] += self.in_system[model] * (now - self.area_last_ps[model])
        self.area_last_ps[model] = now
        self.in_system[model] += delta

    # --- transfers ----------------------------------------------------------------------

    def _route(self, src: int, dst: int) -> tuple[int, ...]:
        key = (src, dst)
        if key not in self._routes:
            self._routes[key] = tuple(
                self.link_index[link] for link in self.package.route(src, dst)
            )
        return self._routes[key]

    def _dram_path(self, chiplet: int, to_chiplet: bool) -> _DramRoute:
        key = (chiplet, to_chiplet)
        route = self._dram_paths.get(key)
        if route is None:
            route = self._dram_paths[key] = _DramRoute.build(
                self.package, self.link_index, chiplet, to_chiplet, self.nop_pj_per_byte
            )
        return route

    def dram_transfer(
        self,
        chiplet: int,
        nbytes: int,
        to_chiplet: bool,
        kind: int,
        model: int,
        request: int,
        pace_ps: int = 0,
    ) -> tuple[simpy.Event, float]:
        """Move ``nbytes`` between a chiplet and DRAM; returns the event and its energy (pJ).

        With ``pace_ps`` the transfer is consumed at that pace: its rate is capped so
        that, alone, it completes (latency included) no earlier than ``pace_ps``.
        ``kind`` (of :mod:`mcmsim.metrics.activity`), ``model`` and ``request`` label
        its activity record.
        """
        route = self._dram_path(chiplet, to_chiplet)
        resource_bytes, dram_pj, nop_pj = route.split(nbytes)
        self.energy[E_DRAM] += dram_pj
        self.energy[E_NOP] += nop_pj
        cap = nbytes / (pace_ps - route.latency_ps) if pace_ps > route.latency_ps else math.inf
        event = self.net.transfer(
            route.resources, nbytes, route.latency_ps, resource_bytes, max_rate=cap
        )
        if self.activity is not None:
            key = (chiplet, -1 if to_chiplet else -2)
            route_id = self._activity_routes.get(key)
            if route_id is None:
                label = "dram read" if to_chiplet else "dram write"
                shares = tuple(sum(route.shares[p] for p in across) for across in route.crossing)
                route_id = self._activity_routes[key] = self.activity.route(
                    label, route.resources, shares
                )
            self._record_flow(event, route_id, kind, model, request, nbytes)
        return event, dram_pj + nop_pj

    def nop_transfer(
        self, src: int, dst: int, nbytes: int, model: int, request: int
    ) -> tuple[simpy.Event, float]:
        route = self._route(src, dst)
        nop_pj = nbytes * len(route) * self.nop_pj_per_byte
        self.energy[E_NOP] += nop_pj
        event = self.net.transfer(route, nbytes, len(route) * self.package.nop.hop_latency_ps)
        if self.activity is not None:
            route_id = self._activity_routes.get((src, dst))
            if route_id is None:
                label = f"activations {src}->{dst}"
                route_id = self._activity_routes[(src, dst)] = self.activity.route(
                    label, route, (1.0,) * len(route)
                )
            self._record_flow(event, route_id, ACTIVATIONS, model, request, nbytes)
        return event, nop_pj

    def _record_flow(
        self, event: simpy.Event, route: int, kind: int, model: int, request: int, nbytes: int
    ) -> None:
        """Append the transfer's activity record when it completes."""
        start = self.env.now
        rows = self.activity.transfers  # type: ignore[union-attr]

        def done(_ev: simpy.Event) -> None:
            rows.append((kind, model, request, route, start, self.env.now, nbytes))

        event.callbacks.append(done)

    # --- requests ----------------------------------------------------------------------

    def request(self, model: int, arrival_ps: int) -> Generator[Any, Any, None]:
        workload = self.workloads[model]
        self.starting[model] -= 1
        self.arrived[model] += 1
        self._in_system(model, +1)
        bound = self.max_in_system[model]
        if bound is not None and self.in_system[model] > bound and not self.stopping:
            self.overloaded.append(model)
            self._end_early("backlog bound")
        frame = self._frame(model, arrival_ps)
        frame.request = self.next_request
        self.next_request += 1
        energy = [0.0]
        inferences = workload.batch
        server = self.generation.get(model)
        if server is not None:
            served = yield from server.serve(arrival_ps)
            if served is None:  # rejected at arrival: counted by the server
                self._in_system(model, -1)
                return
            inferences, energy[0] = served
        else:
            micro = [
                _MicroBatch.start(
                    model, self.plans[(workload.name, size)], energy, self.env.event(), frame
                )
                for size in workload.micro_batch_sizes
            ]
            for mb in micro:
                self._wait_barriers(mb)
            self._read_inputs(micro, 0)
            done = micro[0].done if len(micro) == 1 else self.env.all_of([mb.done for mb in micro])
            yield done if frame.dropped is None else self.env.any_of([done, frame.dropped])
        self._in_system(model, -1)
        if frame.cancelled():
            return
        now = self.env.now
        if frame.index is not None:
            self.frames.complete(model, frame.index, now)
        self.completed[model] += 1
        self.total_completed += 1
        if self.keep_records:
            self.records.append((model, arrival_ps, now, inferences, energy[0]))
        if self.collector.record(model, now - arrival_ps, inferences, energy[0], now):
            self.collector.close_block(self.snapshot())
            if self.progress is not None:
                self.progress(self.total_completed, self.target_requests)
        if self.stopping_rule is not None and not self.stop.triggered:
            reason = self.stopping_rule.completed(model, now)
            if reason is not None:
                self._end_early(reason)
        if self.stopping:
            return
        if self.reissue[model]:
            self._issue(model, now)
        for downstream in self.subscribers[model]:
            stream = self.workloads[downstream].stream
            for _ in range(stream._arrivals_on_completion(workload.name, self.rngs[downstream])):
                self._issue(downstream, now)
        rule = self.stopping_rule
        if rule is not None and rule.total_reached and all(map(self._ended, rule.short_models())):
            self._end_early("stream ended")

    def _issue(self, model: int, arrival_ps: int) -> simpy.Process:
        """Start a request of ``model`` that arrives now."""
        self.starting[model] += 1
        return self.env.process(self.request(model, arrival_ps))

    def _ended(self, model: int) -> bool:
        """Whether ``model`` can complete no more requests: its stream's arrivals are
        over, none of its requests is in the system and no upstream can drive it."""
        return (
            self.arrivals_over[model]
            and self.in_system[model] == 0
            and self.starting[model] == 0
            and all(map(self._ended, self.upstreams[model]))
        )

    def _end_early(self, reason: str) -> None:
        """Stop the run for ``reason``: no more arrivals, and the loop ends now."""
        self.stop_reason = reason
        self.stopping = True
        if not self.stop.triggered:
            self.stop.succeed()

    def _out_of_events(self) -> None:
        if not self.stopping:
            self._end_early("event budget")

    def _frame(self, model: int, now: int) -> _Frame:
        """Log a request's arrival; under the drop policy, drop the frame still waiting."""
        index = self.frames.arrive(model, now) if self.logs_frames[model] else None
        if not self.drops[model]:
            return _Frame(index, None)
        waiting = self.waiting[model]
        if waiting is not None and not waiting.started and not waiting.cancelled():
            waiting.dropped.succeed()
            if waiting.index is not None:
                self.frames.drop(model, waiting.index)
        frame = _Frame(index, self.env.event())
        self.waiting[model] = frame
        return frame

    def _wait_barriers(self, mb: _MicroBatch) -> None:
        """In batch mode a segment of a later window also waits for that window to open."""
        if self.windows == 1:
            return
        plan = mb.plan
        for j, w in enumerate(plan.segment_windows):
            if w > 0:
                mb.waiting[j] += 1
                barrier = self.barriers[w]
                if barrier.processed:
                    self._resolve(mb, j)
                else:
                    barrier.callbacks.append(lambda _ev, j=j: self._resolve(mb, j))

    def _read_inputs(self, micro: list[_MicroBatch], k: int) -> None:
        """Read micro-batch ``k``'s model input for each of its source segments from DRAM.

        A request's micro-batches read their inputs in order: ``k + 1`` starts reading
        when ``k``'s reads have ended, so the first micro-batch is not slowed by all
        the others' reads.
        """
        mb = micro[k]

        def read_done(j: int) -> None:
            self._resolve(mb, j)
            mb.reads_left -= 1
            if mb.reads_left == 0 and k + 1 < len(micro):
                self._read_inputs(micro, k + 1)

        for j, seg in enumerate(mb.plan.segments):
            if seg.input_dram_bytes:
                event, pj = self.dram_transfer(
                    seg.chiplet,
                    seg.input_dram_bytes,
                    True,
                    INPUT_READ,
                    mb.model,
                    mb.frame.request,
                )
                mb.energy[0] += pj
                event.callbacks.append(lambda _ev, j=j: read_done(j))

    def _resolve(self, mb: _MicroBatch, j: int) -> None:
        """One input of segment ``j`` has arrived; start it when it has them all."""
        mb.waiting[j] -= 1
        if mb.waiting[j] == 0:
            self.env.process(self.segments_from(mb, j, None))

    def segments_from(
        self, mb: _MicroBatch, j: int, arriving: simpy.Event | None
    ) -> Generator[Any, Any, None]:
        """Run segment ``j`` and then, while one is ready, a segment it feeds.

        A segment starts when every input has arrived. Rather than start a process per
        segment, the process that ran a producer goes on with one consumer whose last
        input it delivers (waiting for that transfer, ``arriving``); other consumers that
        become ready get processes of their own, so branches on different chiplets
        overlap while a chain of segments costs one process.
        """
        while True:
            if arriving is not None and not arriving.processed:
                yield arriving
            seg = mb.plan.segments[j]
            window = mb.plan.segment_windows[j]
            if not (yield from self.execute(mb.model, seg, window, mb.energy, mb.frame)):
                return
            nxt = self._deliver(mb, j)
            if nxt is None:
                return
            j, arriving = nxt

    def _deliver(self, mb: _MicroBatch, j: int) -> tuple[int, simpy.Event | None] | None:
        """Send segment ``j``'s outputs; return a consumer this process may run next."""
        plan = mb.plan
        seg = plan.segments[j]
        request = mb.frame.request
        follow: tuple[int, simpy.Event | None] | None = None
        for target, nbytes in plan.consumers[j]:
            dst = plan.segments[target].chiplet
            if dst == seg.chiplet:
                mb.waiting[target] -= 1
                if mb.waiting[target] == 0:
                    if follow is None:
                        follow = (target, None)
                    else:
                        self.env.process(self.segments_from(mb, target, None))
                continue
            event, pj = self.nop_transfer(seg.chiplet, dst, nbytes, mb.model, request)
            mb.energy[0] += pj
            if follow is None and mb.waiting[target] == 1:
                mb.waiting[target] = 0
                follow = (target, event)
            else:
                event.callbacks.append(lambda _ev, t=target: self._resolve(mb, t))
        if seg.output_dram_bytes:
            event, pj = self.dram_transfer(
                seg.chiplet, seg.output_dram_bytes, False, OUTPUT_WRITE, mb.model, request
            )
            mb.energy[0] += pj
            event.callbacks.append(lambda _ev: self._part_done(mb))
        self._part_done(mb)
        if self.windows > 1:
            w = plan.segment_windows[j]
            self.window_left[w] -= 1
            if self.window_left[w] == 0:
                self.barriers[w + 1].succeed()
        return follow

    def _part_done(self, mb: _MicroBatch) -> None:
        mb.left -= 1
        if mb.left == 0:
            mb.done.succeed()

    def execute(
        self,
        model: int,
        seg: SegmentPlan,
        window: int,
        energy: list[float],
        frame: _Frame | None = None,
    ) -> Generator[Any, Any, bool]:
        """Hold the chiplet for the segment's layers, its weight stream alongside.

        Returns False, without running, if the frame was dropped before it could start
        (no ``frame``: work that is never dropped, such as a generation iteration, whose
        activity records carry request id -1).

        The chiplet is held for the longer of the layer-by-layer time at the nominal
        streaming bandwidth (``layered_ps``, see :mod:`mcmsim.sim.plan`) and the
        completion of the segment's streamed bytes, one DRAM transfer paced at that
        time. Uncontended, the transfer completes with the layers unless the DRAM
        latency dominates; contended, it falls behind and the segment stretches.
        """
        c = seg.chiplet
        chiplet = self.chiplets[c]
        request = chiplet.request()
        if self.activity is not None:
            self.activity.queue.append((self.env.now, c, len(chiplet.queue)))
        yield request
        if frame is not None:
            if frame.cancelled():
                chiplet.release(request)
                return False
            frame.started = True
        request_id = frame.request if frame is not None else -1
        start = self.env.now
        self.running[c] = (start, model, seg.compute_ps)
        stream = seg.stream_bytes
        paced = seg.layered_ps
        first_use = (window, seg.segment.model, seg.segment.start)
        if seg.load_bytes and first_use not in self.loaded:
            self.loaded.add(first_use)
            stream += seg.load_bytes
            paced = seg.first_use_layered_ps
        if stream:
            self.streamed_bytes[c] += stream
            fetch, pj = self.dram_transfer(c, stream, True, WEIGHTS, model, request_id, paced)
            energy[0] += pj
            yield self.env.timeout(paced)
            if not fetch.processed:
                yield fetch
        else:
            yield self.env.timeout(paced)
        duration = self.env.now - start
        chiplet.release(request)
        self.running[c] = None
        self.chiplet_busy_ps[c] += duration
        self.chiplet_compute_ps[c] += seg.compute_ps
        self.model_busy_ps[model] += duration
        self.energy[E_COMPUTE] += seg.compute_pj
        self.energy[E_SRAM] += seg.sram_pj
        energy[0] += seg.compute_pj + seg.sram_pj
        if self.activity is not None:
            # Layers and DRAM stalls are derived from the segment's layer table later
            # (Activity.layer_intervals), so one row per execution is enough here.
            log = self.activity
            log.executions.append(
                (c, model, request_id, log.segment(seg, model), start, self.env.now)
            )
            log.queue.append((self.env.now, c, len(chiplet.queue)))
        return True

    def _finish_activity(self, records: np.ndarray | None) -> Any:
        if self.activity is None:
            return None
        meta = {
            "models": [w.name for w in self.workloads],
            "chiplet_types": [c.type.name for c in self.package.chiplets],
            "resource_names": [*self.link_names, *self.dram_names],
            "n_links": len(self.links),
            "capacity_bytes_per_ps": list(self.capacity),
        }
        return self.activity.finish(records, meta, self.env.now)

    # --- arrivals ----------------------------------------------------------------------

    def source(self, model: int) -> Generator[Any, Any, None]:
        stream = self.workloads[model].stream
        in_flight = stream._requests_in_flight()
        if in_flight is None:
            for gap_ps in stream._arrival_gaps_ps(self.rngs[model]):
                if self.stopping:
                    return
                yield self.env.timeout(gap_ps)
                if self.stopping:
                    return
                self._issue(model, self.env.now)
        else:  # closed: reissued on completion
            for _ in range(in_flight):
                self._issue(model, self.env.now)
        self.arrivals_over[model] = True

    def run(self) -> RawRun:
        self.generation = start_generation(self)
        if self.sim.mode == "batch":
            # A window closes when every segment execution in it has finished.
            self.window_left = [0] * self.windows
            for w in self.workloads:
                for size in w.micro_batch_sizes:
                    for k, window in enumerate(self.plans[(w.name, size)].windows):
                        self.window_left[k] += len(window)
            self.barriers = [self.env.event() for _ in range(self.windows + 1)]
            for k, left in enumerate(self.window_left):
                if left == 0:
                    self.barriers[k].callbacks.append(
                        lambda _ev, k=k: self.barriers[k + 1].succeed()
                    )
            self.barriers[0].succeed()
            procs = [self._issue(m, 0) for m in range(self.n_models)]
            done = self.env.all_of(procs)
            for end in (done, self.stop):
                end.callbacks.append(simpy.core.StopSimulation.callback)
            self.env.run()
            if not (done.triggered or self.stopping):
                raise RuntimeError("batch run deadlocked: requests left with no event to run")
        else:
            self.window_left = []
            self.barriers = []
            for m in range(self.n_models):
                self.env.process(self.source(m))
            limit = (
                self.env.timeout(round(self.sim.max_time_s * PS_PER_S))
                if self.sim.max_time_s
                else None
            )
            until = self.env.any_of([self.stop, limit]) if limit is not None else self.stop
            # Stop there, or when nothing is left to do (finite streams replayed and served).
            until.callbacks.append(simpy.core.StopSimulation.callback)
            self.env.run()
            if not self.stop.triggered:
                self.stop_reason = "max_time_s" if until.triggered else "arrivals ended"
        self.collector.finish(self.snapshot())
        records = None
        if self.keep_records:
            records = np.array(
                self.records,
                dtype=[
                    ("model", np.int32),
                    ("arrival_ps", np.int64),
                    ("completion_ps", np.int64),
                    ("inferences", np.int32),
                    ("energy_pj", np.float64),
                ],
            )
        return RawRun(
            collector=self.collector,
            now_ps=self.env.now,
            arrived=self.arrived.copy(),
            completed=self.completed.copy(),
            in_flight=np.asarray(self.in_system, np.int64),
            layout=self.layout,
            resident_bytes=self.resident_bytes,
            link_names=self.link_names,
            dram_names=self.dram_names,
            static_power_w=sum(ch.type.leakage_w for ch in self.package.chiplets),
            events_scheduled=self.env.events_scheduled,
            offered_requests_per_s=tuple(w.stream._offered_rate_per_s() for w in self.workloads),
            inferences_per_request=tuple(w.batch for w in self.workloads),
            stop_reason=self.stop_reason,
            overloaded=tuple(self.overloaded),
            min_requests_per_model=(
                self.stopping_rule.min_per_model if self.stopping_rule is not None else None
            ),
            records=records,
            frames=self.frames,
            activity=self._finish_activity(records),
            capacity_bytes_per_ps=self.capacity,
            generation={self.workloads[m].name: s.log for m, s in self.generation.items()},
        )


def run_engine(
    scenario: Scenario,
    schedule: Schedule,
    activity: bool = False,
    records: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RawRun:
    """Simulate ``schedule`` on ``scenario``.

    ``activity`` keeps every segment execution, transfer and queue change (see
    :mod:`mcmsim.metrics.activity`) and the request records, ``records`` only the
    requests; ``progress(completed, target)`` is called as blocks of requests complete.
    """
    return _Engine(scenario, schedule, activity, records, progress).run()
