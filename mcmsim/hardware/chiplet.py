"""Chiplet types: a PE array with a dataflow, its on-chip SRAM, clock and energies.

A chiplet type is what a package places at a mesh position. The dataflow decides how
a layer's loop nest is unrolled over the PE array: it is a description
(:class:`~mcmsim.hardware.dataflow.Dataflow`), either one of the named presets
(``ws``, ``os``, ``rs``, ``os-systolic``, ``os-xr``, ``ws-systolic``) or written in the
scenario; :mod:`mcmsim.cost.dataflow` derives every cost from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcmsim.hardware.dataflow import Dataflow

__all__ = ["ChipletType", "Dataflow"]


@dataclass(frozen=True, slots=True)
class ChipletType:
    """One accelerator chiplet design.

    Attributes
    ----------
    name : str
        Name the package layout refers to.
    dataflow : Dataflow
        How layers unroll over the array.
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
    fusion : bool
        Elementwise and normalisation layers fuse into the layer that produces their
        input when both run here (post-processing on the array's output path, as
        NVDLA's SDP): no separate SRAM pass, no separate fill.

    Raises
    ------
    ValueError
        If the dataflow's clusters need more PEs than an axis has.
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
    fusion: bool = True

    def __post_init__(self) -> None:
        self.dataflow.check_fits(self.rows, self.cols)

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def cycle_ps(self) -> float:
        return 1e12 / self.freq_hz

    @property
    def peak_macs_per_s(self) -> float:
        return self.pes * self.freq_hz
