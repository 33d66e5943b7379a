"""Hardware: chiplet types, the package mesh with its NoP, and DRAM interfaces."""

from mcmsim.hardware.chiplet import ChipletType, Dataflow
from mcmsim.hardware.package import Chiplet, DramInterface, NopConfig, Package, xy_route

__all__ = [
    "Chiplet",
    "ChipletType",
    "Dataflow",
    "DramInterface",
    "NopConfig",
    "Package",
    "xy_route",
]
