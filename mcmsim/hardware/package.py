"""The package: chiplets on a 2-D mesh joined by a network-on-package, DRAM at the edges.

The NoP is a :class:`networkx.DiGraph` over mesh positions ``(row, col)`` with one
directed edge per neighbouring pair and direction; each edge is a link of its own
bandwidth. Routes are dimension-ordered (XY): first along the row to the target
column, then along the column. DRAM interfaces sit at chiplet positions; a chiplet
uses the nearest one (fewest hops, then lowest index), and DRAM traffic crosses the
NoP between that interface and the chiplet.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from mcmsim.hardware.chiplet import ChipletType

__all__ = ["Chiplet", "DramInterface", "Link", "NopConfig", "Package", "xy_route"]

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

    def dram_route(self, chiplet_id: int, to_chiplet: bool) -> list[Link]:
        """NoP links between a chiplet and its DRAM interface, in the direction of the data."""
        iface = self.dram[self.nearest_dram[chiplet_id]].position
        here = self.chiplets[chiplet_id].position
        return xy_route(iface, here) if to_chiplet else xy_route(here, iface)

    @property
    def total_pes(self) -> int:
        return sum(ch.type.pes for ch in self.chiplets)

    @property
    def dram_bandwidth_gb_per_s(self) -> float:
        return sum(d.bandwidth_gb_per_s for d in self.dram)
