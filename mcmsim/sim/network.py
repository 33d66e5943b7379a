"""Bandwidth sharing: transfers as fluid flows over links and DRAM interfaces.

Every NoP link and DRAM interface is a bandwidth resource. A transfer is one flow
that crosses a set of resources (its XY route, and the DRAM interface for DRAM traffic);
all flows active at once share bandwidth max-min fairly (progressive filling), so two
equal transfers over one link each take twice as long as one alone. Rates are
recomputed only when a flow starts or ends, so a transfer costs a handful of events
however many bytes it moves. Propagation latency (per hop, DRAM access) is added
after the bytes have moved and does not hold bandwidth.

A flow need not move all its bytes over every resource: an interleaved DRAM transfer
sends a share of its bytes through each interface and its NoP route. Such a flow has
one rate ``x`` (bytes of the transfer per ps) and loads each resource with
``x * share``; its parts advance in lockstep, as fine-grained address interleaving
makes them do, and finish together. Fair sharing is then weighted max-min: at a
bottleneck every flow gets the same transfer rate, ``spare / sum of shares``.

A flow may also have a maximum rate (a weight stream consumed no faster than the layers
use it): progressive filling fixes a flow at its cap when the cap is reached before
any resource it crosses saturates.

Many transfers often start at one instant (a burst of arrivals each reading its input).
The first round of progressive filling is kept up to date as flows join: each
resource's share sum, in the order the flows joined, and the smallest cap. While every
flow crosses the first bottleneck and no cap binds, all flows get that one rate, so a
flow that joins costs a look at the resources, not at every flow, and the rates are
the very floats the full filling gives. Otherwise the full filling runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import simpy

__all__ = ["FlowNetwork"]


# eq=False: a flow is one transfer, compared by identity, not
# field by field.
@dataclass(slots=True, eq=False)
class _Flow:
    resources: tuple[int, ...]
    resource_bytes: tuple[int, ...]
    remaining: float
    nbytes: int
    started_ps: int
    ideal_ps: float
    latency_ps: int
    done: simpy.Event
    cap: float
    # (resource, share of the transfer's bytes it carries), aligned with ``resources``.
    uses: tuple[tuple[int, float], ...]
    rate: float = 0.0


@dataclass(slots=True)
class _FirstRound:
    """The first round of progressive filling over the active flows, kept as they join.

    ``counts`` sums each resource's shares in the order the flows joined (the order the
    full filling adds them in, so the floats are the same), ``crossing`` counts the
    flows through each resource and ``min_cap`` is the smallest cap.
    """

    counts: dict[int, float] = field(default_factory=dict)
    crossing: dict[int, int] = field(default_factory=dict)
    min_cap: float = math.inf

    def join(self, flow: _Flow) -> None:
        for r, w in flow.uses:
            self.counts[r] = self.counts.get(r, 0.0) + w
            self.crossing[r] = self.crossing.get(r, 0) + 1
        self.min_cap = min(self.min_cap, flow.cap)


def _tightest(
    counts: dict[int, float], spare: Sequence[float] | dict[int, float]
) -> tuple[float, int]:
    """The smallest fair share ``spare[r] / counts[r]`` and its resource (lowest id on ties)."""
    level, bottleneck = math.inf, -1
    for r, count in counts.items():
        fair = spare[r] / count
        if fair < level or (fair == level and r < bottleneck):
            level, bottleneck = fair, r
    return level, bottleneck


@dataclass
class FlowNetwork:
    """Max-min fair sharing of resources with given capacities (bytes per picosecond).

    Attributes
    ----------
    busy_ps : list of int
        Time each resource carried at least one flow, up to the last change of the
        flows (:meth:`busy_now` counts up to now).
    bytes : list of int
        Bytes each resource carried (counted when a flow completes).

    wait_ps : list of float
        Summed slowdown of the flows through each resource (actual minus alone).
    flows_done : list of int
        Completed flows through each resource.
    """

    env: simpy.Environment
    capacity: Sequence[float]
    busy_ps: list[int] = field(init=False)
    bytes: list[int] = field(init=False)
    wait_ps: list[float] = field(init=False)
    flows_done: list[int] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.capacity)
        self.busy_ps = [0] * n
        self.bytes = [0] * n
        self.wait_ps = [0.0] * n
        self.flows_done = [0] * n
        self._flows: list[_Flow] = []
        self._last_ps = 0
        self._generation = 0
        self._round = _FirstRound()
        # The one rate of every flow while they all share it (their ``rate`` fields are
        # then written only when read: ``_materialise``), else None.
        self._uniform_rate: float | None = None
        self._rates_stale = False
        self._min_remaining = math.inf

    def transfer(
        self,
        resources: tuple[int, ...],
        nbytes: int,
        latency_ps: int = 0,
        resource_bytes: tuple[int, ...] | None = None,
        max_rate: float = math.inf,
    ) -> simpy.Event:
        """An event that fires when ``nbytes`` have crossed ``resources`` plus ``latency_ps``.

        ``resource_bytes`` (aligned with ``resources``) gives the bytes each resource
        carries when that is not all of them (a part of an interleaved transfer);
        ``max_rate`` caps the transfer's rate (bytes per ps).
        """
        done = self.env.event()
        if nbytes <= 0 or not resources:
            if latency_ps > 0:
                return self.env.timeout(latency_ps)
            done.succeed()
            return done
        self._advance()
        if resource_bytes is None:
            resource_bytes = (nbytes,) * len(resources)
            shares = (1.0,) * len(resources)
        else:
            # A part too small to get a whole byte crosses nothing.
            carried = [(r, b) for r, b in zip(resources, resource_bytes, strict=True) if b > 0]
            resources = tuple(r for r, _ in carried)
            resource_bytes = tuple(b for _, b in carried)
            shares = tuple(b / nbytes for b in resource_bytes)
        alone = min(self.capacity[r] / w for r, w in zip(resources, shares, strict=True))
        ideal = nbytes / min(alone, max_rate)
        flow = _Flow(
            resources,
            resource_bytes,
            float(nbytes),
            nbytes,
            self.env.now,
            ideal,
            latency_ps,
            done,
            max_rate,
            tuple(zip(resources, shares, strict=True)),
        )
        self._flows.append(flow)
        self._round.join(flow)
        self._min_remaining = min(self._min_remaining, flow.remaining)
        self._set_rates()
        self._schedule_timer()
        return done

    def busy_now(self) -> list[int]:
        """Time each resource has been busy so far, the time since the last change included."""
        busy = list(self.busy_ps)
        elapsed = self.env.now - self._last_ps
        if elapsed > 0:
            for r in {r for flow in self._flows for r in flow.resources}:
                busy[r] += elapsed
        return busy

    def bytes_moved(self) -> list[float]:
        """Bytes each resource has carried so far, the moved part of flows under way included."""
        self._materialise()
        moved = [float(b) for b in self.bytes]
        elapsed = self.env.now - self._last_ps
        for flow in self._flows:
            done = flow.nbytes - max(flow.remaining - flow.rate * elapsed, 0.0)
            for r, w in flow.uses:
                moved[r] += done * w
        return moved

    def _advance(self) -> None:
        now = self.env.now
        elapsed = now - self._last_ps
        if elapsed > 0 and self._flows:
            self._materialise()
            active: set[int] = set()
            least = math.inf
            for flow in self._flows:
                flow.remaining -= flow.rate * elapsed
                least = min(least, flow.remaining)
                active.update(flow.resources)
            for r in active:
                self.busy_ps[r] += elapsed
            self._min_remaining = least
        self._last_ps = now

    def _materialise(self) -> None:
        """Write the shared rate into every flow, if it changed since they were written."""
        if self._rates_stale:
            rate = self._uniform_rate
            for flow in self._flows:
                flow.rate = rate  # type: ignore[assignment]
            self._rates_stale = False

    def _set_rates(self) -> None:
        """Rates after the flows changed: the shared rate when the first round fixes
        every flow at one bottleneck, else the full progressive filling."""
        rnd = self._round
        level, bottleneck = _tightest(rnd.counts, self.capacity)
        if rnd.crossing.get(bottleneck) == len(self._flows) and not rnd.min_cap < level:
            self._uniform_rate = level
            self._rates_stale = True
            return
        self._uniform_rate = None
        self._rates_stale = False
        self._assign_rates()

    def _assign_rates(self) -> None:
        # Progressive filling: the resource with the smallest fair share fixes the rate
        # of its flows; remove them and repeat (max-min fairness).
        unfixed = self._flows
        capacity = self.capacity
        spare = {r: capacity[r] for f in unfixed for r in f.resources}
        while unfixed:
            counts: dict[int, float] = {}
            for flow in unfixed:
                for r, w in flow.uses:
                    counts[r] = counts.get(r, 0.0) + w
            level, bottleneck = _tightest(counts, spare)
            still: list[_Flow] = []
            if any(flow.cap < level for flow in unfixed):
                for flow in unfixed:
                    if flow.cap < level:
                        flow.rate = flow.cap
                        for r, w in flow.uses:
                            spare[r] -= flow.cap * w
                    else:
                        still.append(flow)
                unfixed = still
                continue
            for flow in unfixed:
                if bottleneck in flow.resources:
                    flow.rate = level
                    for r, w in flow.uses:
                        spare[r] -= level * w
                else:
                    still.append(flow)
            unfixed = still

    def _schedule_timer(self) -> None:
        self._generation += 1
        if not self._flows:
            return
        if self._uniform_rate is not None:
            # ceil and division are monotone: the least remaining finishes first.
            delay = math.ceil(self._min_remaining / self._uniform_rate)
        else:
            delay = min(math.ceil(f.remaining / f.rate) for f in self._flows)
        generation = self._generation
        self.env.timeout(max(delay, 0)).callbacks.append(lambda _ev: self._on_timer(generation))

    def _on_timer(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._advance()
        self._materialise()
        now = self.env.now
        finished: list[_Flow] = []
        going: list[_Flow] = []
        for f in self._flows:
            (finished if f.remaining <= f.rate * 0.5 + 1e-9 else going).append(f)
        self._flows = going
        self._round = _FirstRound()
        for f in going:
            self._round.join(f)
        self._min_remaining = min((f.remaining for f in going), default=math.inf)
        for flow in finished:
            slowdown = (now - flow.started_ps) - flow.ideal_ps
            for r, nbytes in zip(flow.resources, flow.resource_bytes, strict=True):
                self.bytes[r] += nbytes
                self.wait_ps[r] += max(slowdown, 0.0)
                self.flows_done[r] += 1
            if flow.latency_ps > 0:
                self.env.timeout(flow.latency_ps).callbacks.append(
                    lambda _ev, d=flow.done: d.succeed()
                )
            else:
                flow.done.succeed()
        if going:
            self._set_rates()
        self._schedule_timer()
