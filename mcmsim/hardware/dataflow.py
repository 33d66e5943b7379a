"""Dataflows as data: which loop dimensions a PE array unrolls, and what stays in the PEs.

A layer is the canonical loop nest over ``N, G, K, C, P, Q, R, S`` (batch, groups,
output channels, input channels, output rows, output columns, filter rows, filter
columns). A :class:`Dataflow` says, as a Timeloop or ZigZag user writes a spatial
mapping, which of those dimensions are unrolled over the array:

* ``spatial_rows`` and ``spatial_cols``: the dimensions on each array axis, outermost
  first; or ``spatial``: dimensions unrolled over the whole array as one list of PEs
  (MAESTRO's 1-D view; the PEs in use form the most compact rectangle).
* An entry is a dimension name (``"K"``) or a cluster (``{dim = "Q", size = 4}``, as
  MAESTRO's ``Cluster``): exactly ``size`` consecutive values of that dimension on
  ``size`` PEs. Plain entries share what the clusters leave of the axis, flattened
  together (``["G", "K"]`` unrolls ``G*K`` over the axis).
* ``stationary``: the operand that stays in the PEs (``weights``, ``inputs``,
  ``outputs``), or ``rows`` for Eyeriss's row stationarity, where a PE holds a filter
  row, an input row and a partial-sum row for one fold only.
* ``feed``: ``broadcast`` (operands reach every PE of a row or column in one cycle;
  the array fills and drains once per layer) or ``systolic`` (operands enter at an edge
  and hop one PE per cycle; every fold pays its own fill and drain).
* ``pe_buffer``: entries of a per-PE scratchpad for the stationary filter rows (Eyeriss:
  224); a PE interleaves as many output channels as it holds, so inputs are re-streamed
  that many times less.

Every dimension not on the array is iterated in time. The cost model
(:mod:`mcmsim.cost.dataflow`) derives folds, utilisation, SRAM traffic and latency from
these fields alone; ``ws``, ``os``, ``rs`` and the others in :data:`PRESETS` are named
descriptions, and a scenario may write its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DIMS",
    "OPERAND_DIMS",
    "PRESETS",
    "Dataflow",
    "Unroll",
    "dataflow_preset",
]

DIMS = ("N", "G", "K", "C", "P", "Q", "R", "S")
# The dimensions each operand's index depends on (inputs through P+R and Q+S).
OPERAND_DIMS: dict[str, frozenset[str]] = {
    "weights": frozenset("GKCRS"),
    "inputs": frozenset("NGCPQRS"),
    "outputs": frozenset("NGKPQ"),
}
Stationary = Literal["weights", "inputs", "outputs", "rows"]
Feed = Literal["broadcast", "systolic"]


@dataclass(frozen=True, slots=True)
class Unroll:
    """One loop dimension on an array axis; ``size`` makes it a cluster of that many PEs."""

    dim: str
    size: int | None = None

    def describe(self) -> str | dict[str, Any]:
        return self.dim if self.size is None else {"dim": self.dim, "size": self.size}


def _unrolls(entries: Iterable[str | Unroll | Mapping[str, Any]]) -> tuple[Unroll, ...]:
    out = []
    for entry in entries:
        if isinstance(entry, Unroll):
            out.append(entry)
        elif isinstance(entry, str):
            out.append(Unroll(entry))
        else:
            out.append(Unroll(**dict(entry)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Dataflow:
    """A spatial mapping of the layer loop nest onto a PE array (see the module docstring).

    Raises
    ------
    ValueError
        For an unknown dimension, stationary operand or feed, a dimension unrolled
        twice, a cluster size below 1, or both ``spatial`` and rows/cols given.
    """

    name: str = "custom"
    spatial_rows: tuple[Unroll, ...] = ()
    spatial_cols: tuple[Unroll, ...] = ()
    spatial: tuple[Unroll, ...] = ()
    stationary: Stationary = "weights"
    feed: Feed = "broadcast"
    pe_buffer: int | None = None

    def __post_init__(self) -> None:
        for name in ("spatial_rows", "spatial_cols", "spatial"):
            object.__setattr__(self, name, _unrolls(getattr(self, name)))
        if self.spatial and (self.spatial_rows or self.spatial_cols):
            raise ValueError(
                "give spatial (the whole array) or spatial_rows/spatial_cols, not both"
            )
        if not (self.spatial or self.spatial_rows or self.spatial_cols):
            raise ValueError(
                "unroll at least one dimension (spatial_rows, spatial_cols or spatial)"
            )
        seen: dict[str, str] = {}
        for axis in ("spatial_rows", "spatial_cols", "spatial"):
            for unroll in getattr(self, axis):
                if unroll.dim not in DIMS:
                    raise ValueError(
                        f"{axis}: unknown dimension {unroll.dim!r}; known: {', '.join(DIMS)}"
                    )
                if unroll.dim in seen:
                    where = "twice on" if seen[unroll.dim] == axis else "on both"
                    other = axis if seen[unroll.dim] == axis else f"{seen[unroll.dim]} and {axis}"
                    raise ValueError(f"dimension {unroll.dim} is unrolled {where} {other}")
                if unroll.size is not None and unroll.size < 1:
                    raise ValueError(f"{axis}: cluster size of {unroll.dim} must be >= 1")
                seen[unroll.dim] = axis
        if self.stationary not in ("weights", "inputs", "outputs", "rows"):
            raise ValueError(
                f"stationary must be weights, inputs, outputs or rows, not {self.stationary!r}"
            )
        if self.feed not in ("broadcast", "systolic"):
            raise ValueError(f"feed must be broadcast or systolic, not {self.feed!r}")
        if self.pe_buffer is not None and self.pe_buffer < 1:
            raise ValueError("pe_buffer must be >= 1")

    def axes(self, rows: int, cols: int) -> tuple[tuple[tuple[Unroll, ...], int], ...]:
        """The array axes with their extents: ``(rows, cols)``, or one of ``rows*cols`` PEs."""
        if self.spatial:
            return ((self.spatial, rows * cols),)
        return ((self.spatial_rows, rows), (self.spatial_cols, cols))

    def check_fits(self, rows: int, cols: int) -> None:
        """Raise ``ValueError`` if the clusters on an axis need more PEs than it has."""
        names = ("spatial",) if self.spatial else ("spatial_rows", "spatial_cols")
        for name, (unrolls, extent) in zip(names, self.axes(rows, cols), strict=True):
            clusters = math.prod(u.size for u in unrolls if u.size is not None)
            if clusters > extent:
                raise ValueError(
                    f"{name}: clusters of {clusters} PEs exceed the array's {extent} "
                    f"({rows}x{cols})"
                )

    def spatial_dims(self) -> frozenset[str]:
        return frozenset(u.dim for u in (*self.spatial_rows, *self.spatial_cols, *self.spatial))

    def streamed_operands(self) -> tuple[str, ...]:
        """Operands that flow through the array every cycle (all but the stationary one)."""
        return tuple(op for op in OPERAND_DIMS if op != self.stationary)

    def full_rate_elems_per_cycle(self, rows: int, cols: int) -> int:
        """L2 elements per cycle the array consumes and produces at full rate.

        Each streamed operand enters through one port per distinct element the array
        uses per cycle (the PEs its dimensions occupy; broadcast along the others),
        at most one array edge (``max(rows, cols)``: an operand every PE needs enters
        at one edge and is forwarded between neighbours). An operand none of whose
        dimensions is spatial is one broadcast element. Outputs that are not
        stationary count twice when a reduction dimension is spatial (partial sums
        leave and return for the next fold). The stationary operand is loaded during
        fill and needs no steady bandwidth.
        """
        edge = max(rows, cols)
        reduces_spatially = bool(self.spatial_dims() - OPERAND_DIMS["outputs"])
        total = 0
        for operand in self.streamed_operands():
            relevant = OPERAND_DIMS[operand]
            ports = 1
            for unrolls, extent in self.axes(rows, cols):
                clusters = math.prod(u.size for u in unrolls if u.size is not None)
                if any(u.dim in relevant and u.size is None for u in unrolls):
                    ports *= max(extent // clusters, 1)
                ports *= math.prod(
                    u.size for u in unrolls if u.size is not None and u.dim in relevant
                )
            ports = min(ports, edge)
            if operand == "outputs" and reduces_spatially:
                ports *= 2
            total += ports
        return max(total, 1)

    def describe(self) -> dict[str, Any]:
        """Plain data: what ``mcmsim costs --json`` lists and a scenario accepts inline."""
        out: dict[str, Any] = {"name": self.name}
        if self.spatial:
            out["spatial"] = [u.describe() for u in self.spatial]
        else:
            out["spatial_rows"] = [u.describe() for u in self.spatial_rows]
            out["spatial_cols"] = [u.describe() for u in self.spatial_cols]
        out["stationary"] = self.stationary
        out["feed"] = self.feed
        if self.pe_buffer is not None:
            out["pe_buffer"] = self.pe_buffer
        return out


# Filter scratchpad entries per PE in Eyeriss (Chen et al., JSSC 2017: 224 x 16 bit).
EYERISS_FILTER_SPAD = 224

PRESETS: dict[str, Dataflow] = {
    # NVDLA-like: input channels x output channels, inputs broadcast, adder-tree reduction.
    "ws": Dataflow("ws", spatial_rows=("C",), spatial_cols=("G", "K"), stationary="weights"),
    # ShiDianNao-like: output positions over the whole array; K, C, R, S in time.
    "os": Dataflow("os", spatial=("N", "P", "Q"), stationary="outputs"),
    # Eyeriss-like: filter rows x channels on rows, filters x output rows on columns.
    "rs": Dataflow(
        "rs",
        spatial_rows=("R", "C"),
        spatial_cols=("G", "K", "N", "P"),
        stationary="rows",
        pe_buffer=EYERISS_FILTER_SPAD,
    ),
    # TPU / Gemmini / SCALE-Sim OS: an output tile (pixels or tokens x channels) stays.
    "os-systolic": Dataflow(
        "os-systolic",
        spatial_rows=("N", "P", "Q"),
        spatial_cols=("G", "K"),
        stationary="outputs",
        feed="systolic",
    ),
    # XRBench's hand-optimised OS (OS.m): output rows across clusters, output columns
    # in clusters of 4, a 16-way spatial reduction over C; K in time.
    "os-xr": Dataflow(
        "os-xr",
        spatial=("P", Unroll("Q", 4), Unroll("C", 16)),
        stationary="outputs",
    ),
    # TPU-like WS (SCALE-Sim): im2col rows C*R*S x output channels, pixels stream through.
    "ws-systolic": Dataflow(
        "ws-systolic",
        spatial_rows=("C", "R", "S"),
        spatial_cols=("G", "K"),
        stationary="weights",
        feed="systolic",
    ),
}


def dataflow_preset(name: str) -> Dataflow:
    """The named preset.

    Raises
    ------
    KeyError
        If ``name`` is not a preset (the message lists them).
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown dataflow {name!r}; known: {', '.join(PRESETS)}") from None
