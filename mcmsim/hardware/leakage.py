"""Leakage presets: static power of a chiplet from its SRAM size and PE count, with sources.

A chiplet leaks ``sram_mw_per_mib`` for every MiB of L2 SRAM plus ``pe_uw`` for every
PE while the package is on. The figures are for 28 nm at room temperature:

==================  =============  ======  ==============================================
preset              SRAM mW/MiB    PE uW   source
==================  =============  ======  ==============================================
``none``            0              0       MAESTRO, SCAR, ZigZag and Stream model none;
                                           use it to compare with them
``cacti-itrs-hp``   133            7       CACTI 7, 1 MiB scratchpad, ITRS high-performance
                                           cells; PE at the top of the 2-7 uW range
``cacti-itrs-lop``  27             2       CACTI 7, ITRS low-operating-power cells
``cacti-itrs-lstp`` 0.02           2       CACTI 7, ITRS low-standby-power cells
``memory-compiler`` 2              2       a foundry memory compiler's typical corner
==================  =============  ======  ==============================================

The PE figure is an int8 MAC with its registers, 2-7 uW at 28 nm in Aladdin's and
Accelergy's tables scaled from 40/45 nm; only ``cacti-itrs-hp`` pairs it with
high-performance logic, the others take the low end (no source gives LSTP logic).

The default is ``memory-compiler``: an accelerator's scratchpad is built from a
foundry compiler's SRAM macros, not from CACTI's ITRS cell models, and its typical
corner is the figure such a design is signed off with.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LEAKAGE", "LEAKAGE_PRESETS", "LeakagePreset"]


@dataclass(frozen=True, slots=True)
class LeakagePreset:
    """Static power per MiB of SRAM and per PE."""

    sram_mw_per_mib: float
    pe_uw: float
    source: str

    def chiplet_mw(self, sram_mib: float, pes: int) -> float:
        """Leakage of one chiplet in mW."""
        return self.sram_mw_per_mib * sram_mib + self.pe_uw * pes / 1000.0


LEAKAGE_PRESETS: dict[str, LeakagePreset] = {
    "none": LeakagePreset(0.0, 0.0, "no leakage, as MAESTRO, SCAR, ZigZag and Stream"),
    "cacti-itrs-hp": LeakagePreset(133.0, 7.0, "CACTI 7 28 nm 1 MiB, ITRS-HP; PE 7 uW"),
    "cacti-itrs-lop": LeakagePreset(27.0, 2.0, "CACTI 7 28 nm 1 MiB, ITRS-LOP; PE 2 uW"),
    "cacti-itrs-lstp": LeakagePreset(0.02, 2.0, "CACTI 7 28 nm 1 MiB, ITRS-LSTP; PE 2 uW"),
    "memory-compiler": LeakagePreset(2.0, 2.0, "28 nm memory compiler, typical; PE 2 uW"),
}
DEFAULT_LEAKAGE = "memory-compiler"
