"""The discrete-event engine: requests walk their model's segments across the package.

Resources are SimPy objects: each chiplet is a ``simpy.Resource`` of capacity one (one
segment executes at a time, first come first served), and NoP links and DRAM interfaces
are bandwidth resources of a :class:`~mcmsim.sim.network.FlowNetwork`. One request
(``batch`` inferences) is split into micro-batches that pipeline through the segments:

1. the segment holding the model's source layers reads the model input from DRAM;
2. a segment waits for the activations it consumes from earlier segments, takes its
   chiplet, and runs for ``max(compute, weight streaming)``: weights that are not
   resident stream from the chiplet's DRAM interface while the array computes
   (double-buffered); resident weights are loaded once, on first use;
3. on release, activations leave for the chiplets of the segments that consume them
   along the XY route, and final outputs are written to DRAM.

Events are coarse: a handful per segment execution and per transfer; the run reports
how many events SimPy scheduled (timeouts, process starts and resumptions, resource
grants, transfer completions, conditions). Time is integer picoseconds; each open
stream draws its arrival gaps from its own seeded numpy Generator, so a scenario and a
seed give identical results. The engine asks a workload's stream whether it is closed
(then reissues each finished request) and otherwise for its gaps; it never asks which
kind the stream is. A generation workload's requests are served by its
:class:`~mcmsim.sim.generation.GenerationServer` instead of walking the segments.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from mcmsim.metrics.collector import Collector
from mcmsim.metrics.raw import E_COMPUTE, E_DRAM, E_NOP, E_SRAM, RawRun, TraceEvent
from mcmsim.metrics.tracks import chiplet_track, dram_track, link_key, link_track
from mcmsim.scenario import Scenario
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule
from mcmsim.sim.generation import start_generation
from mcmsim.sim.network import FlowNetwork
from mcmsim.sim.plan import SegmentPlan, WorkloadPlan, build_plans, residency
from mcmsim.units import PS_PER_S

__all__ = ["CountingEnvironment", "run_engine"]


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it schedules.

    Every event reaches the queue through :meth:`schedule`; counting there costs one
    call per event (about 1% of a run) and needs nothing private to SimPy.
    """

    def __init__(self) -> None:
        super().__init__()
        self.events_scheduled = 0

    def schedule(
        self,
        event: simpy.Event,
        priority: simpy.events.EventPriority = simpy.events.NORMAL,
        delay: int | float = 0,
    ) -> None:
        self.events_scheduled += 1
        super().schedule(event, priority, delay)


class _Engine:
    def __init__(
        self,
        scenario: Scenario,
        schedule: Schedule,
        trace: bool,
        records: bool,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.scenario = scenario
        self.keep_records = records or trace
        self.progress = progress
        self.problem = SchedulingProblem(scenario)
        self.package = scenario.package
        self.sim = scenario.simulation
        self.trace = trace
        self.env = CountingEnvironment()
        package = self.package
        self.n_chiplets = len(package.chiplets)
        self.workloads = list(scenario.workloads)
        self.n_models = len(self.workloads)
        # Closed streams reissue each finished request (stream mode).
        self.reissue = [w.stream.is_closed and self.sim.mode == "stream" for w in self.workloads]

        self.links = package.links
        self.link_index = {link: i for i, link in enumerate(self.links)}
        n_links, n_dram = len(self.links), len(package.dram)
        capacity = [package.nop.link_bandwidth_gb_per_s / 1000.0] * n_links + [
            d.bandwidth_gb_per_s / 1000.0 for d in package.dram
        ]
        self.net = FlowNetwork(self.env, capacity)
        self.n_resources = n_links + n_dram
        self.chiplets = [simpy.Resource(self.env, capacity=1) for _ in package.chiplets]

        self.schedule = schedule
        self.plans = build_plans(self.problem, schedule)
        self.windows = len(schedule.windows)
        per_chiplet, _ = residency(self.problem, schedule)
        self.resident_bytes = np.zeros(self.n_chiplets, np.int64)
        for window in per_chiplet:
            for cid, res in window.items():
                self.resident_bytes[cid] = max(self.resident_bytes[cid], res.resident_weight_bytes)
        self.loaded: set[tuple[int, str, int]] = set()

        # Counters, cumulative over the run; a snapshot is one flat vector of them all.
        self.chiplet_busy_ps = [0] * self.n_chiplets
        self.model_busy_ps = [0] * self.n_models
        # (start, model) of the execution under way on each chiplet, so snapshots count it.
        self.running: list[tuple[int, int] | None] = [None] * self.n_chiplets
        self.streamed_bytes = [0] * self.n_chiplets
        self.energy = [0.0, 0.0, 0.0, 0.0]
        self.area = [0.0] * self.n_models
        self.in_system = [0] * self.n_models
        self.area_last_ps = [0] * self.n_models
        n_c, n_r, n_m = self.n_chiplets, self.n_resources, self.n_models
        sizes = {
            "chiplet_busy": n_c,
            "streamed": n_c,
            "res_busy": n_r,
            "res_bytes": n_r,
            "res_wait": n_r,
            "res_flows": n_r,
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
        self.collector = Collector(n_m)
        self.target_requests = n_m if self.sim.mode == "batch" else self.sim.requests
        self.stop = self.env.event()
        self.stopping = False
        self.events: list[TraceEvent] = []
        self.queue_samples: list[tuple[int, str, int]] = []
        self.records: list[tuple[int, int, int, int, float]] = []

        self.nop_pj_per_byte = package.nop.energy_pj_per_bit * 8
        self.link_names = [link_track(link_key(a, b)) for a, b in self.links]
        self.dram_names = [dram_track(i, d.position) for i, d in enumerate(package.dram)]
        self._routes: dict[tuple[int, int], tuple[int, ...]] = {}
        self._dram_paths: dict[tuple[int, bool], tuple[tuple[int, ...], int, float]] = {}

    # --- counters ---------------------------------------------------------------------

    def snapshot(self) -> np.ndarray:
        now = self.env.now
        area = [
            self.area[m] + self.in_system[m] * (now - self.area_last_ps[m])
            for m in range(self.n_models)
        ]
        chiplet_busy = list(self.chiplet_busy_ps)
        model_busy = list(self.model_busy_ps)
        for c, running in enumerate(self.running):
            if running is not None:
                chiplet_busy[c] += now - running[0]
                model_busy[running[1]] += now - running[0]
        return np.concatenate(
            [
                np.asarray(chiplet_busy, np.float64),
                np.asarray(self.streamed_bytes, np.float64),
                np.asarray(self.net.busy_ps, np.float64),
                np.asarray(self.net.bytes, np.float64),
                np.asarray(self.net.wait_ps, np.float64),
                np.asarray(self.net.flows_done, np.float64),
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

    def _dram_path(self, chiplet: int, to_chiplet: bool) -> tuple[tuple[int, ...], int, float]:
        """Resources, latency and NoP pJ/byte between a chiplet and its DRAM interface."""
        key = (chiplet, to_chiplet)
        if key not in self._dram_paths:
            iface = self.package.nearest_dram[chiplet]
            links = tuple(
                self.link_index[ln] for ln in self.package.dram_route(chiplet, to_chiplet)
            )
            latency = (
                self.package.dram[iface].latency_ps + len(links) * self.package.nop.hop_latency_ps
            )
            self._dram_paths[key] = (
                (len(self.links) + iface, *links),
                latency,
                len(links) * self.nop_pj_per_byte,
            )
        return self._dram_paths[key]

    def dram_transfer(
        self, chiplet: int, nbytes: int, to_chiplet: bool, model: str
    ) -> tuple[simpy.Event, float]:
        resources, latency, nop_pj_per_byte = self._dram_path(chiplet, to_chiplet)
        dram_pj = (
            nbytes * 8 * self.package.dram[self.package.nearest_dram[chiplet]].energy_pj_per_bit
        )
        nop_pj = nbytes * nop_pj_per_byte
        self.energy[E_DRAM] += dram_pj
        self.energy[E_NOP] += nop_pj
        event = self.net.transfer(resources, nbytes, latency)
        if self.trace:
            self._trace_flow(event, resources, "dram read" if to_chiplet else "dram write", model)
        return event, dram_pj + nop_pj

    def nop_transfer(
        self, src: int, dst: int, nbytes: int, model: str
    ) -> tuple[simpy.Event, float]:
        route = self._route(src, dst)
        nop_pj = nbytes * len(route) * self.nop_pj_per_byte
        self.energy[E_NOP] += nop_pj
        event = self.net.transfer(route, nbytes, len(route) * self.package.nop.hop_latency_ps)
        if self.trace:
            self._trace_flow(event, route, f"activations {src}->{dst}", model)
        return event, nop_pj

    def _trace_flow(
        self, event: simpy.Event, resources: tuple[int, ...], name: str, model: str
    ) -> None:
        start = self.env.now

        def done(_ev: simpy.Event) -> None:
            for r in resources:
                track = (
                    self.link_names[r]
                    if r < len(self.links)
                    else self.dram_names[r - len(self.links)]
                )
                self.events.append(TraceEvent(track, name, model, start, self.env.now - start))

        event.callbacks.append(done)

    # --- requests ----------------------------------------------------------------------

    def request(self, model: int, arrival_ps: int) -> Generator[Any, Any, None]:
        workload = self.workloads[model]
        self.arrived[model] += 1
        self._in_system(model, +1)
        energy = [0.0]
        inferences = workload.batch
        server = self.generation.get(model)
        if server is None:
            micro = [
                self.env.process(self.micro_batch(model, size, energy))
                for size in workload.micro_batch_sizes
            ]
            yield self.env.all_of(micro)
        else:
            served = yield from server.serve(arrival_ps)
            if served is None:  # rejected at arrival: counted by the server
                self._in_system(model, -1)
                return
            inferences, energy[0] = served
        self._in_system(model, -1)
        now = self.env.now
        self.completed[model] += 1
        self.total_completed += 1
        if self.keep_records:
            self.records.append((model, arrival_ps, now, inferences, energy[0]))
        if self.collector.record(model, now - arrival_ps, inferences, energy[0], now):
            self.collector.close_block(self.snapshot())
            if self.progress is not None:
                self.progress(self.total_completed, self.target_requests)
        if (
            self.sim.mode == "stream"
            and self.total_completed >= self.sim.requests
            and not self.stop.triggered
        ):
            self.stopping = True
            self.stop.succeed()
        if self.reissue[model] and not self.stopping:
            self.env.process(self.request(model, now))

    def micro_batch(self, model: int, size: int, energy: list[float]) -> Generator[Any, Any, None]:
        workload = self.workloads[model]
        name = workload.name
        plan = self.plans[(name, size)]
        arrivals: dict[int, list[simpy.Event]] = {}
        pending: list[simpy.Event] = []
        index = 0
        for w, segments in enumerate(plan.windows):
            if self.windows > 1:
                yield self.barriers[w]
            for seg in segments:
                waits = arrivals.pop(index, [])
                if seg.input_dram_bytes:
                    event, pj = self.dram_transfer(seg.chiplet, seg.input_dram_bytes, True, name)
                    energy[0] += pj
                    waits.append(event)
                if waits:
                    yield self.env.all_of(waits)
                yield from self.execute(model, seg, w, energy)
                for target, nbytes in self.consumers(plan, index):
                    dst = self.segment_chiplet(plan, target)
                    if dst == seg.chiplet:
                        continue
                    event, pj = self.nop_transfer(seg.chiplet, dst, nbytes, name)
                    energy[0] += pj
                    arrivals.setdefault(target, []).append(event)
                if seg.output_dram_bytes:
                    event, pj = self.dram_transfer(seg.chiplet, seg.output_dram_bytes, False, name)
                    energy[0] += pj
                    pending.append(event)
                index += 1
            if self.windows > 1:
                self.window_left[w] -= 1
                if self.window_left[w] == 0:
                    self.barriers[w + 1].succeed()
        if pending:
            yield self.env.all_of(pending)

    def consumers(self, plan: WorkloadPlan, index: int) -> list[tuple[int, int]]:
        key = (plan.workload, plan.micro_batch)
        table = self._consumers.get(key)
        if table is None:
            flat = [seg for window in plan.windows for seg in window]
            table = [[] for _ in flat]
            for j, seg in enumerate(flat):
                for source, nbytes in seg.inbound:
                    table[source].append((j, nbytes))
            self._consumers[key] = table
        return table[index]

    def segment_chiplet(self, plan: WorkloadPlan, index: int) -> int:
        key = (plan.workload, plan.micro_batch)
        chiplets = self._segment_chiplets.get(key)
        if chiplets is None:
            chiplets = [seg.chiplet for window in plan.windows for seg in window]
            self._segment_chiplets[key] = chiplets
        return chiplets[index]

    def execute(
        self, model: int, seg: SegmentPlan, window: int, energy: list[float]
    ) -> Generator[Any, Any, None]:
        chiplet = self.chiplets[seg.chiplet]
        request = chiplet.request()
        if self.trace:
            self.queue_samples.append(
                (self.env.now, chiplet_track(seg.chiplet), len(chiplet.queue))
            )
        yield request
        start = self.env.now
        self.running[seg.chiplet] = (start, model)
        stream = seg.stream_bytes
        first_use = (window, seg.segment.model, seg.segment.start)
        if seg.load_bytes and first_use not in self.loaded:
            self.loaded.add(first_use)
            stream += seg.load_bytes
        compute = self.env.timeout(seg.compute_ps)
        if stream:
            self.streamed_bytes[seg.chiplet] += stream
            fetch, pj = self.dram_transfer(seg.chiplet, stream, True, self.workloads[model].name)
            energy[0] += pj
            yield self.env.all_of([compute, fetch])
        else:
            yield compute
        duration = self.env.now - start
        chiplet.release(request)
        self.running[seg.chiplet] = None
        self.chiplet_busy_ps[seg.chiplet] += duration
        self.model_busy_ps[model] += duration
        self.energy[E_COMPUTE] += seg.compute_pj
        self.energy[E_SRAM] += seg.sram_pj
        energy[0] += seg.compute_pj + seg.sram_pj
        if self.trace:
            self._trace_layers(model, seg, start, duration)
            self.queue_samples.append(
                (self.env.now, chiplet_track(seg.chiplet), len(chiplet.queue))
            )

    def _trace_layers(self, model: int, seg: SegmentPlan, start: int, duration: int) -> None:
        # Layers run back to back; when streaming dominates, each is stretched in proportion.
        total = max(sum(seg.layer_ps), 1)
        t = start
        for name, layer_ps in zip(seg.layer_names, seg.layer_ps, strict=True):
            length = layer_ps * duration // total
            self.events.append(
                TraceEvent(chiplet_track(seg.chiplet), name, self.workloads[model].name, t, length)
            )
            t += length

    # --- arrivals ----------------------------------------------------------------------

    def source(self, model: int) -> Generator[Any, Any, None]:
        stream = self.workloads[model].stream
        in_flight = stream._requests_in_flight()
        if in_flight is not None:
            for _ in range(in_flight):
                self.env.process(self.request(model, self.env.now))
            return
        rng = np.random.default_rng([self.sim.seed, model])
        for gap_ps in stream._arrival_gaps_ps(rng):
            if self.stopping:
                return
            yield self.env.timeout(gap_ps)
            if self.stopping:
                return
            self.env.process(self.request(model, self.env.now))

    def run(self) -> RawRun:
        self._consumers: dict[tuple[str, int], list[list[tuple[int, int]]]] = {}
        self._segment_chiplets: dict[tuple[str, int], list[int]] = {}
        self.generation = start_generation(self)
        if self.sim.mode == "batch":
            total_micro = sum(len(w.micro_batch_sizes) for w in self.workloads)
            self.window_left = [total_micro] * self.windows
            self.barriers = [self.env.event() for _ in range(self.windows + 1)]
            self.barriers[0].succeed()
            procs = [self.env.process(self.request(m, 0)) for m in range(self.n_models)]
            self.env.run(until=self.env.all_of(procs))
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
            records=records,
            events=self.events,
            queue_samples=self.queue_samples,
            generation={self.workloads[m].name: s.log for m, s in self.generation.items()},
        )


def run_engine(
    scenario: Scenario,
    schedule: Schedule,
    trace: bool = False,
    records: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RawRun:
    """Simulate ``schedule`` on ``scenario``.

    ``trace`` keeps every event and request record, ``records`` only the requests;
    ``progress(completed, target)`` is called as blocks of requests complete.
    """
    return _Engine(scenario, schedule, trace, records, progress).run()
