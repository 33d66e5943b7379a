"""The package: chiplets on a 2-D mesh joined by a network-on-package, DRAM at the edges.

The NoP is a :class:`networkx.DiGraph` over mesh positions ``(row, col)`` with one
directed edge per neighbouring pair and direction; each edge is a link of its own
bandwidth. Routes are dimension-ordered (XY): first along the row to the target
column, then along the column.

DRAM interfaces sit at chiplet positions. Where a chiplet's DRAM bytes go is the
package's ``dram_policy``:

* ``"interleaved"`` (the default, what memory controllers do): addresses are interleaved
  over every interface at fine grain, so each transfer is split over all interfaces in
  proportion to their bandwidth, each part crossing the NoP by XY between its interface
  and the chiplet. A lone transfer can use the whole installed bandwidth, less what the
  NoP links it crosses allow.
* ``"nearest"``: a chiplet uses only its nearest interface (fewest hops, then lowest
  index), so it gets one interface's bandwidth.

:meth:`Package.dram_path` gives the parts, the share of the bytes each NoP link and
interface carries, and the uncontended rate of a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from mcmsim.hardware.chiplet import ChipletType

__all__ = [
    "DRAM_POLICIES",
    "Chiplet",
    "DramInterface",
    "DramPart",
    "DramPath",
    "Link",
    "NopConfig",
    "Package",
    "xy_route",
]

DRAM_POLICIES = ("interleaved", "nearest")

Position = tuple[int, int]
Link = tuple[Position, Position]


@dataclass(frozen=True, slots=True)
class NopConfig:
    """Network-on-package parameters (per directed link)."""

    link_bandwidth_gb_per_s: float
    hop_latency_ps: int
    energy_pj_per_bit: float


@dataclass(frozen=True, slots=True)
class DramInterface:
    """One DRAM channel attached at a chiplet position."""

    position: Position
    bandwidth_gb_per_s: float
    latency_ps: int
    energy_pj_per_bit: float


@dataclass(frozen=True, slots=True)
class Chiplet:
    """A placed chiplet: its index (row-major), position and type."""

    id: int
    position: Position
    type: ChipletType


@dataclass(frozen=True, slots=True)
class DramPart:
    """The share of a DRAM transfer served by one interface, and the NoP links it crosses."""

    interface: int
    share: float
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class DramPath:
    """How a chiplet's DRAM transfers in one direction spread over interfaces and links.

    ``link_shares`` gives, per NoP link crossed, the share of the transfer's bytes it
    carries (parts from several interfaces may share a link); ``rate_gb_per_s`` is the rate
    of one transfer alone: every interface and link at its capacity over its share.
    """

    parts: tuple[DramPart, ...]
    link_shares: dict[Link, float]
    rate_gb_per_s: float
    latency_ps: int


def xy_route(src: Position, dst: Position) -> list[Link]:
    """Links of the XY (column first, then row) route from ``src`` to ``dst``."""
    links: list[Link] = []
    row, col = src
    step = 1 if dst[1] > col else -1
    while col != dst[1]:
        links.append(((row, col), (row, col + step)))
        col += step
    step = 1 if dst[0] > row else -1
    while row != dst[0]:
        links.append(((row, col), (row + step, col)))
        row += step
    return links


@dataclass(frozen=True)
class Package:
    """A rows x cols mesh of chiplets with its NoP and DRAM interfaces."""

    rows: int
    cols: int
    chiplets: tuple[Chiplet, ...]
    nop: NopConfig
    dram: tuple[DramInterface, ...]
    dram_policy: str = "interleaved"

    def __post_init__(self) -> None:
        if self.dram_policy not in DRAM_POLICIES:
            raise ValueError(
                f"dram_policy must be one of {', '.join(DRAM_POLICIES)}, not {self.dram_policy!r}"
            )

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The NoP mesh: nodes are positions (attribute ``chiplet``), edges are links."""
        graph = nx.DiGraph()
        for chiplet in self.chiplets:
            graph.add_node(chiplet.position, chiplet=chiplet.id)
        for r in range(self.rows):
            for c in range(self.cols):
                for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < self.rows and 0 <= nc < self.cols:
                        graph.add_edge((r, c), (nr, nc))
        return graph

    @property
    def links(self) -> list[Link]:
        return sorted(self.graph.edges)

    @cached_property
    def chiplet_types(self) -> dict[str, ChipletType]:
        """Distinct chiplet types in the package, by name, in first-placed order."""
        types: dict[str, ChipletType] = {}
        for chiplet in self.chiplets:
            types.setdefault(chiplet.type.name, chiplet.type)
        return types

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for chiplet in self.chiplets:
            counts[chiplet.type.name] = counts.get(chiplet.type.name, 0) + 1
        return counts

    def route(self, src_chiplet: int, dst_chiplet: int) -> list[Link]:
        return xy_route(self.chiplets[src_chiplet].position, self.chiplets[dst_chiplet].position)

    def hops(self, src_chiplet: int, dst_chiplet: int) -> int:
        (r0, c0), (r1, c1) = (
            self.chiplets[src_chiplet].position,
            self.chiplets[dst_chiplet].position,
        )
        return abs(r0 - r1) + abs(c0 - c1)

    def neighbours(self, chiplet_id: int) -> list[int]:
        pos = self.chiplets[chiplet_id].position
        return sorted(self.graph.nodes[n]["chiplet"] for n in self.graph.successors(pos))

    @cached_property
    def nearest_dram(self) -> tuple[int, ...]:
        """Index of the DRAM interface each chiplet uses (fewest hops, then lowest index)."""

        def distance(chiplet: Chiplet, iface: DramInterface) -> int:
            return abs(chiplet.position[0] - iface.position[0]) + abs(
                chiplet.position[1] - iface.position[1]
            )

        return tuple(
            min(range(len(self.dram)), key=lambda i, ch=ch: (distance(ch, self.dram[i]), i))
            for ch in self.chiplets
        )

    def dram_route(self, chiplet_id: int, interface: int, to_chiplet: bool) -> list[Link]:
        """NoP links between a chiplet and a DRAM interface, in the direction of the data."""
        iface = self.dram[interface].position
        here = self.chiplets[chiplet_id].position
        return xy_route(iface, here) if to_chiplet else xy_route(here, iface)

    def dram_path(self, chiplet_id: int, to_chiplet: bool) -> DramPath:
        """The interfaces and links a chiplet's DRAM transfers use under ``dram_policy``."""
        return self._dram_paths[(chiplet_id, to_chiplet)]

    @cached_property
    def _dram_paths(self) -> dict[tuple[int, bool], DramPath]:
        total = self.dram_bandwidth_gb_per_s
        paths = {}
        for chiplet in self.chiplets:
            if self.dram_policy == "nearest":
                shares = {self.nearest_dram[chiplet.id]: 1.0}
            else:
                shares = {i: d.bandwidth_gb_per_s / total for i, d in enumerate(self.dram)}
            for to_chiplet in (True, False):
                parts = tuple(
                    DramPart(i, share, tuple(self.dram_route(chiplet.id, i, to_chiplet)))
                    for i, share in shares.items()
                )
                link_shares: dict[Link, float] = {}
                for part in parts:
                    for link in part.links:
                        link_shares[link] = link_shares.get(link, 0.0) + part.share
                rate = min(
                    [self.dram[p.interface].bandwidth_gb_per_s / p.share for p in parts]
                    + [self.nop.link_bandwidth_gb_per_s / share for share in link_shares.values()]
                )
                latency = max(
                    self.dram[p.interface].latency_ps + len(p.links) * self.nop.hop_latency_ps
                    for p in parts
                )
                paths[(chiplet.id, to_chiplet)] = DramPath(parts, link_shares, rate, latency)
        return paths

    @cached_property
    def dram_stream_bandwidth_gb_per_s(self) -> float:
        """Weight-streaming bandwidth of the slowest chiplet's DRAM path, uncontended.

        Cost tables stream weights at this rate (``latency_streamed_ps``); under
        ``"interleaved"`` on the default interface placement it is the total bandwidth.
        """
        return min(self.dram_path(c.id, True).rate_gb_per_s for c in self.chiplets)

    @property
    def total_pes(self) -> int:
        return sum(ch.type.pes for ch in self.chiplets)

    @property
    def dram_bandwidth_gb_per_s(self) -> float:
        return sum(d.bandwidth_gb_per_s for d in self.dram)
