"""Chiplet types: a PE array with a dataflow, its on-chip SRAM, clock and energies.

A chiplet type is what a package places at a mesh position. The dataflow decides how
a layer's loop nest is unrolled over the PE array (see :mod:`mcmsim.cost.dataflow`):

* ``ws``: NVDLA-like weight-stationary (input channels x output channels spatial);
* ``os``: ShiDianNao-like output-stationary (output positions spatial);
* ``rs``: Eyeriss-like row-stationary (filter rows x output rows, replicated).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ChipletType", "Dataflow"]


class Dataflow(StrEnum):
    WS = "ws"
    OS = "os"
    RS = "rs"


@dataclass(frozen=True, slots=True)
class ChipletType:
    """One accelerator chiplet design.

    Attributes
    ----------
    name : str
        Name the package layout refers to.
    dataflow : Dataflow
    rows, cols : int
        PE array shape.
    sram_bytes : int
        Shared L2 SRAM (weights and activations).
    sram_bw_bytes_per_cycle : int
        L2 read/write bandwidth.
    freq_hz : int
        Clock.
    mac_energy_pj : float
        One 8-bit MAC including its register-file (L1) accesses.
    sram_energy_pj_per_bit : float
        One L2 access, per bit.
    leakage_w : float
        Static power while the package is on.
    """

    name: str
    dataflow: Dataflow
    rows: int
    cols: int
    sram_bytes: int
    sram_bw_bytes_per_cycle: int
    freq_hz: int
    mac_energy_pj: float
    sram_energy_pj_per_bit: float
    leakage_w: float

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def cycle_ps(self) -> float:
        return 1e12 / self.freq_hz

    @property
    def peak_macs_per_s(self) -> float:
        return self.pes * self.freq_hz
