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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import simpy

__all__ = ["FlowNetwork"]


# eq=False: flows are compared by identity (``_on_timer``'s ``f not in finished``), not
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
        self._flows.append(
            _Flow(
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
        )
        self._reschedule()
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
            active: set[int] = set()
            for flow in self._flows:
                flow.remaining -= flow.rate * elapsed
                active.update(flow.resources)
            for r in active:
                self.busy_ps[r] += elapsed
        self._last_ps = now

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
            level, bottleneck = math.inf, -1
            for r, count in counts.items():
                fair = spare[r] / count
                if fair < level or (fair == level and r < bottleneck):
                    level, bottleneck = fair, r
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

    def _reschedule(self) -> None:
        self._assign_rates()
        self._generation += 1
        if not self._flows:
            return
        delay = min(math.ceil(f.remaining / f.rate) for f in self._flows)
        generation = self._generation
        self.env.timeout(max(delay, 0)).callbacks.append(lambda _ev: self._on_timer(generation))

    def _on_timer(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._advance()
        now = self.env.now
        finished = [f for f in self._flows if f.remaining <= f.rate * 0.5 + 1e-9]
        self._flows = [f for f in self._flows if f not in finished]
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
        self._reschedule()
