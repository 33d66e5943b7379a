"""The SimPy simulator: chiplets, NoP links and DRAM interfaces as resources."""

from mcmsim.sim.engine import run_engine
from mcmsim.sim.network import FlowNetwork

__all__ = ["FlowNetwork", "run_engine"]
