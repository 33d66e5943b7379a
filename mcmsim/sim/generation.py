"""Generation serving: iteration-level (continuous) batching of a decoder on its pipeline.

A generation workload's requests each prefill a prompt and then generate tokens one
at a time. The model's segments form a pipeline that runs *iterations*, as vLLM-style
servers do:

* **Forming an iteration.** Running requests come first, in admission order: a
  decoding request adds its next token, a request still prefilling adds its next
  prompt chunk. Waiting requests are then admitted first come, first served, with a
  prompt chunk each, while the iteration has fewer than ``max_batch`` requests and
  tokens remain in ``max_tokens_per_iteration`` (whole prompts only with
  ``chunked_prefill = false``). A request joins at an iteration boundary and leaves
  when it has generated its last token.
* **Pipeline parallelism.** Up to one iteration per segment is in flight at once; each
  walks the segments like a micro-batch (the chiplets serve them first come, first
  served, alongside other models' segments). The token dependency of a request is
  kept by membership: a request is in at most one iteration in flight, and becomes
  eligible again only when that iteration has left the last segment (its token is
  sampled there). So up to ``segments`` iterations overlap, each with other requests.
* **KV cache.** Each block's keys and values live with the segment that runs its
  attention. Placement ``sram_first``: a segment's chiplet holds KV tokens in the SRAM
  left after its resident weights and activation reserve (shared equally by the
  generation segments placed on it), token by token, first allocated first placed;
  the rest goes to DRAM. Every iteration reads the DRAM-resident KV of its requests
  from DRAM (with the weights that are streamed, in one fetch that overlaps compute)
  and writes the new tokens' KV that does not fit in SRAM back to DRAM. The package's
  KV capacity is that SRAM plus ``kv_dram_mib`` of DRAM. A waiting request is admitted
  only when its whole prompt's KV fits; a running request that cannot grow preempts
  the most recently admitted request not in flight (possibly itself), which frees its
  KV and recomputes its prompt and generated tokens when readmitted (vLLM's recompute
  preemption). A request whose prompt plus output could never fit is rejected at
  arrival and counted.

Events per iteration: a handful per segment (chiplet grant, compute timeout, DRAM
fetch, KV write-back, activation transfer), never per token or per layer. Iteration
costs come from :class:`~mcmsim.sim.iteration_cost.IterationCostModel`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from mcmsim.metrics.activity import INPUT_READ, OUTPUT_WRITE
from mcmsim.metrics.generation import GenerationLog
from mcmsim.sim.iteration_cost import IterationCostModel
from mcmsim.sim.plan import SegmentPlan
from mcmsim.workloads.generation import Generation, apply_context_limit

if TYPE_CHECKING:
    from mcmsim.sim.engine import _Engine

__all__ = ["GenerationServer", "start_generation"]

MIB = 1 << 20
# Iterations serve many requests at once; their activity records name none.
NO_REQUEST = -1


@dataclass(eq=False)
class _Request:
    arrival_ps: int
    prompt: int
    output: int
    n_segments: int
    done: simpy.Event
    prefilled: int = 0
    generated: int = 0
    context: int = 0
    first_token_ps: int = -1
    busy: bool = False
    preemptions: int = 0
    energy_pj: float = 0.0
    sram_tokens: np.ndarray = field(init=False)
    dram_bytes: int = 0

    def __post_init__(self) -> None:
        self.sram_tokens = np.zeros(self.n_segments, np.int64)

    @property
    def to_prefill(self) -> int:
        """Prompt tokens (plus generated ones, after a preemption) not yet cached."""
        return self.prompt + (self.generated if self.preemptions else 0) - self.prefilled

    @property
    def decoding(self) -> bool:
        return self.to_prefill == 0


@dataclass(frozen=True)
class _Iteration:
    """One iteration: its requests with their new tokens, and what it costs to know."""

    batch: list[tuple[_Request, int]]
    tokens: int
    sampled: int
    decode_contexts: np.ndarray
    chunks: list[tuple[int, int]]
    kv_reads: np.ndarray
    kv_writes: np.ndarray
    compute_ps: np.ndarray  # per stage, filled as the iteration walks the pipeline


@dataclass(frozen=True)
class _Stage:
    """One segment of the pipeline and what it needs per iteration."""

    plan: SegmentPlan
    costs: IterationCostModel
    kv_bytes_per_token: int
    consumers: tuple[tuple[int, int, int], ...]  # (stage, chiplet, bytes per token)
    input_bytes_per_token: int
    output_bytes_per_sample: int


class GenerationServer:
    """Continuous batching of one generation workload inside an engine run."""

    def __init__(self, engine: _Engine, model: int, generation: Generation) -> None:
        self.engine = engine
        self.env = engine.env
        self.model = model
        self.workload = engine.workloads[model]
        self.spec = generation.spec
        self.generation = generation
        self.rng = np.random.default_rng([engine.sim.seed, model, 1])
        self.stages = self._stages()
        self.depth = len(self.stages)
        self.n_stages = len(self.stages)
        self.kvb = np.array([s.kv_bytes_per_token for s in self.stages], np.int64)
        self.kv_per_token = int(self.kvb.sum())
        self.dram_capacity = int(self.spec.kv_dram_mib * MIB)
        self.dram_used = 0
        self.running: list[_Request] = []
        self.waiting: deque[_Request] = deque()
        self.in_flight = 0
        self.wake = self.env.event()

    def start(self, sharers: dict[int, int]) -> None:
        """Size the SRAM KV pools (``sharers``: generation stages with KV per chiplet), run."""
        self.initial_slots = self._sram_slots(sharers)
        self.free_slots = self.initial_slots.copy()
        sram_capacity = int((self.initial_slots * self.kvb).sum())
        spec = self.spec
        self.log = GenerationLog(
            self.dram_capacity + sram_capacity,
            sram_capacity,
            spec.max_batch,
            spec.slo_ttft_ms / 1000 if spec.slo_ttft_ms else None,
            spec.slo_tpot_ms / 1000 if spec.slo_tpot_ms else None,
            self._dram_interfaces(),
            tuple(self._one_token_ps(s) for s in self.stages),
        )
        self._kv_last_ps = self.env.now
        self.env.process(self._batcher())

    def _dram_interfaces(self) -> tuple[int, ...]:
        """The DRAM interfaces the stages stream from (sorted)."""
        package = self.engine.package
        return tuple(
            sorted(
                {
                    part.interface
                    for stage in self.stages
                    for part in package.dram_path(stage.plan.chiplet, True).parts
                }
            )
        )

    @staticmethod
    def _one_token_ps(stage: _Stage) -> int:
        """Compute time of an iteration of one token at context one: the part of an
        iteration's compute that does not grow with its tokens."""
        segment = stage.plan.segment
        one = np.ones(1, np.int64)
        return stage.costs.segment(segment.start, segment.stop, 1, 1, one, []).compute_ps

    def kv_chiplets(self) -> list[int]:
        """Chiplets of the stages that hold KV (one entry per stage)."""
        return [s.plan.chiplet for s in self.stages if s.kv_bytes_per_token]

    # --- setup ------------------------------------------------------------------------

    def _stages(self) -> list[_Stage]:
        engine, workload = self.engine, self.workload
        mb = workload.micro_batch
        plan = engine.plans[(workload.name, mb)]
        flat = plan.segments
        resident_map = engine.resident_layers[0]
        model = workload.model
        resident = np.array(
            [bool(resident_map.get((workload.name, i))) for i in range(len(model.layers))]
        )
        decoder = self.generation.decoder
        bpe = engine.sim.precision_bytes
        dram = engine.package.dram[0]
        by_type: dict[str, IterationCostModel] = {}
        stages = []
        for index, seg in enumerate(flat):
            chiplet_type = engine.package.chiplets[seg.chiplet].type
            costs = by_type.get(chiplet_type.name)
            if costs is None:
                costs = IterationCostModel(
                    model,
                    decoder,
                    chiplet_type,
                    resident,
                    bpe,
                    dram.bandwidth_gb_per_s,
                    dram.energy_pj_per_bit,
                )
                by_type[chiplet_type.name] = costs
            consumers = tuple(
                (target, flat[target].chiplet, nbytes // mb)
                for target, nbytes in plan.consumers[index]
            )
            start, stop = seg.segment.start, seg.segment.stop
            stages.append(
                _Stage(
                    seg,
                    costs,
                    decoder.blocks_in(start, stop) * decoder.kv_bytes_per_token_per_block(bpe),
                    consumers,
                    seg.input_dram_bytes // mb,
                    seg.output_dram_bytes // mb,
                )
            )
        return stages

    def _sram_slots(self, sharers: dict[int, int]) -> np.ndarray:
        """KV tokens each stage's chiplet holds in SRAM (see the module docstring)."""
        slots = np.zeros(self.n_stages, np.int64)
        if self.spec.kv_placement == "dram":
            return slots
        for i, stage in enumerate(self.stages):
            if not stage.kv_bytes_per_token:
                continue
            chiplet = stage.plan.chiplet
            held = self.engine.residency_per_chiplet[0][chiplet]
            sram = self.engine.package.chiplets[chiplet].type.sram_bytes
            free = max(sram - held.resident_weight_bytes - held.activation_reserve_bytes, 0)
            slots[i] = free // sharers[chiplet] // stage.kv_bytes_per_token
        return slots

    # --- arrivals ---------------------------------------------------------------------

    def serve(self, arrival_ps: int) -> Generator[Any, Any, tuple[int, float] | None]:
        """One request's life; returns (output tokens, energy pJ), or None if rejected."""
        log = self.log
        log.arrived += 1
        trace = self.generation.trace
        if trace is not None:
            row = (log.arrived - 1) % len(trace)
            prompt, output = int(trace.prompt_tokens[row]), int(trace.output_tokens[row])
        else:
            prompt = int(self.spec.prompt_lengths.sample(self.rng, 1)[0])
            output = int(self.spec.output_lengths.sample(self.rng, 1)[0])
        limit = apply_context_limit(
            np.array([prompt]),
            np.array([output]),
            self.generation.decoder.max_context,
            self.spec.over_context,
        )
        log.truncated += limit.truncated
        prompt, output = int(limit.prompt_tokens[0]), int(limit.output_tokens[0])
        # The last generated token's KV is never computed.
        if limit.rejected[0] or (prompt + output - 1) * self.kv_per_token > log.kv_capacity_bytes:
            log.rejected += 1
            return None
        request = _Request(arrival_ps, prompt, output, self.n_stages, self.env.event())
        self.waiting.append(request)
        self._wake()
        yield request.done
        return output, request.energy_pj

    def _wake(self) -> None:
        if not self.wake.triggered:
            self.wake.succeed()

    # --- KV cache ---------------------------------------------------------------------

    def _kv_account(self) -> None:
        now = self.env.now
        self.log.kv_byte_ps += self._kv_used() * (now - self._kv_last_ps)
        self._kv_last_ps = now

    def _kv_used(self) -> int:
        return self.dram_used + int(((self.initial_slots - self.free_slots) * self.kvb).sum())

    def _dram_needed(self, tokens: int) -> int:
        return int((np.maximum(tokens - self.free_slots, 0) * self.kvb).sum())

    def _grow(self, request: _Request, tokens: int, reads: np.ndarray, writes: np.ndarray) -> bool:
        """Allocate KV for ``tokens`` more tokens; add the DRAM bytes this iteration moves."""
        take = np.minimum(tokens, self.free_slots)
        spill = (tokens - take) * self.kvb
        need = int(spill.sum())
        if self.dram_used + need > self.dram_capacity:
            return False
        reads += (request.context - request.sram_tokens) * self.kvb
        writes += spill
        self.free_slots -= take
        request.sram_tokens += take
        request.dram_bytes += need
        self.dram_used += need
        request.context += tokens
        return True

    def _release(self, request: _Request) -> None:
        self.free_slots += request.sram_tokens
        request.sram_tokens[:] = 0
        self.dram_used -= request.dram_bytes
        request.dram_bytes = 0
        request.context = 0

    def _preempt(self, request: _Request) -> None:
        self._release(request)
        request.prefilled = 0
        request.preemptions += 1
        self.log.preemptions += 1
        self.running.remove(request)
        self.waiting.appendleft(request)

    # --- iterations -------------------------------------------------------------------

    def _batcher(self) -> Generator[Any, Any, None]:
        while True:
            if self.in_flight < self.depth:
                iteration = self._form()
                if iteration is not None:
                    self.in_flight += 1
                    self.env.process(self._iterate(iteration))
                    continue
            self.wake = self.env.event()
            yield self.wake

    def _form(self) -> _Iteration | None:
        spec = self.spec
        budget = spec.max_tokens_per_iteration
        batch: list[tuple[_Request, int]] = []
        reads = np.zeros(self.n_stages, np.int64)
        writes = np.zeros(self.n_stages, np.int64)
        self._kv_account()
        kv_bound = False
        for request in list(self.running):
            if len(batch) == spec.max_batch or budget == 0:
                break
            if request.busy or request not in self.running:
                continue
            tokens = 1 if request.decoding else request.to_prefill
            if spec.chunked_prefill:
                tokens = min(tokens, budget)
            elif tokens > budget and batch:
                continue
            while not self._grow(request, tokens, reads, writes):
                kv_bound = True
                victims = [r for r in self.running if not r.busy and r is not request]
                victim = victims[-1] if victims else request
                self._preempt(victim)
                if victim is request:
                    break
            else:
                request.busy = True
                batch.append((request, tokens))
                budget -= tokens
        while self.waiting and len(batch) < spec.max_batch and budget > 0:
            request = self.waiting[0]
            if self._dram_needed(request.to_prefill) > self.dram_capacity - self.dram_used:
                kv_bound = True
                break
            tokens = request.to_prefill
            if spec.chunked_prefill:
                tokens = min(tokens, budget)
            elif tokens > budget and batch:
                break
            self.waiting.popleft()
            if request.preemptions == 0:
                self.log.admitted += 1
            self.running.append(request)
            self._grow(request, tokens, reads, writes)
            request.busy = True
            batch.append((request, tokens))
            budget -= tokens
        if not batch:
            return None
        left_out = bool(self.waiting) or any(not r.busy for r in self.running)
        if kv_bound:
            limit = "kv_capacity"
        elif left_out and len(batch) == spec.max_batch:
            limit = "max_batch"
        elif left_out:
            limit = "token_budget"
        else:
            limit = "demand"
        tokens = sum(t for _, t in batch)
        log = self.log
        kv_used = self._kv_used()
        log.kv_peak_bytes = max(log.kv_peak_bytes, kv_used)
        log.iteration_kv_bytes.append(kv_used)
        log.iteration_start_ps.append(self.env.now)
        log.iteration_requests.append(len(batch))
        log.iteration_tokens.append(tokens)
        log.iteration_limit.append(limit)
        compute_ps = np.zeros(self.n_stages, np.int64)
        log.stage_compute_ps.append(compute_ps)
        return _Iteration(
            batch=batch,
            tokens=tokens,
            sampled=sum(1 for r, t in batch if r.decoding or t == r.to_prefill),
            decode_contexts=np.array([r.context for r, _ in batch if r.decoding], np.int64),
            chunks=[(t, r.context) for r, t in batch if not r.decoding],
            kv_reads=reads,
            kv_writes=writes,
            compute_ps=compute_ps,
        )

    def _iterate(self, it: _Iteration) -> Generator[Any, Any, None]:
        engine = self.engine
        tokens, sampled = it.tokens, it.sampled
        energy = [0.0]
        arrivals: dict[int, list[simpy.Event]] = {}
        pending: list[simpy.Event] = []
        for index, stage in enumerate(self.stages):
            plan = stage.plan
            waits = arrivals.pop(index, [])
            if stage.input_bytes_per_token:
                event, pj = engine.dram_transfer(
                    plan.chiplet,
                    tokens * stage.input_bytes_per_token,
                    True,
                    INPUT_READ,
                    self.model,
                    NO_REQUEST,
                )
                energy[0] += pj
                waits.append(event)
            if waits:
                yield self.env.all_of(waits)
            cost = stage.costs.segment(
                plan.segment.start,
                plan.segment.stop,
                tokens,
                sampled,
                it.decode_contexts,
                it.chunks,
            )
            kv_read = int(it.kv_reads[index])
            it.compute_ps[index] = cost.compute_ps
            self.log.kv_dram_read_bytes += kv_read
            self.log.weight_dram_bytes += cost.stream_bytes
            step = SegmentPlan(
                segment=plan.segment,
                chiplet=plan.chiplet,
                compute_ps=cost.compute_ps,
                stream_bytes=cost.stream_bytes + kv_read,
                load_bytes=plan.load_bytes,
                compute_pj=cost.compute_pj,
                sram_pj=cost.sram_pj,
                input_dram_bytes=0,
                output_dram_bytes=0,
                inbound=(),
                layer_names=(f"iteration x{len(it.batch)}",),
                layer_ps=(cost.compute_ps,),
                # The iteration's bytes stream alongside its compute as one transfer.
                layer_streamed_ps=(cost.compute_ps,),
                first_use_layered_ps=cost.compute_ps,
            )
            yield from engine.execute(self.model, step, 0, energy)
            kv_write = int(it.kv_writes[index])
            if kv_write:
                self.log.kv_dram_write_bytes += kv_write
                event, pj = engine.dram_transfer(
                    plan.chiplet, kv_write, False, OUTPUT_WRITE, self.model, NO_REQUEST
                )
                energy[0] += pj
                pending.append(event)
            for target, chiplet, per_token in stage.consumers:
                if chiplet == plan.chiplet:
                    continue
                event, pj = engine.nop_transfer(
                    plan.chiplet, chiplet, tokens * per_token, self.model, NO_REQUEST
                )
                energy[0] += pj
                arrivals.setdefault(target, []).append(event)
            if stage.output_bytes_per_sample and sampled:
                event, pj = engine.dram_transfer(
                    plan.chiplet,
                    sampled * stage.output_bytes_per_sample,
                    False,
                    OUTPUT_WRITE,
                    self.model,
                    NO_REQUEST,
                )
                energy[0] += pj
                pending.append(event)
        if pending:
            yield self.env.all_of(pending)
        self._finish_iteration(it.batch, tokens, energy[0])

    def _finish_iteration(
        self, batch: list[tuple[_Request, int]], tokens: int, energy_pj: float
    ) -> None:
        now = self.env.now
        log = self.log
        self._kv_account()
        for request, count in batch:
            request.busy = False
            request.energy_pj += energy_pj * count / tokens
            if not request.decoding:
                request.prefilled += count
                if not request.decoding:
                    continue
            if request.first_token_ps < 0:
                request.first_token_ps = now
            request.generated += 1
            log.output_tokens_generated += 1
            if request.generated == request.output:
                self._release(request)
                self.running.remove(request)
                log.arrival_ps.append(request.arrival_ps)
                log.first_token_ps.append(request.first_token_ps)
                log.finish_ps.append(now)
                log.prompt_tokens.append(request.prompt)
                log.output_tokens.append(request.output)
                request.done.succeed()
        self.in_flight -= 1
        self._wake()


def start_generation(engine: _Engine) -> dict[int, GenerationServer]:
    """Start a server for every generation workload of ``engine``; keyed by model index."""
    servers = {
        m: GenerationServer(engine, m, w.generation)
        for m, w in enumerate(engine.workloads)
        if w.generation is not None
    }
    sharers: dict[int, int] = {}
    for server in servers.values():
        for chiplet in server.kv_chiplets():
            sharers[chiplet] = sharers.get(chiplet, 0) + 1
    for server in servers.values():
        server.start(sharers)
    return servers
