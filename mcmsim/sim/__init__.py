"""The SimPy simulator: chiplets, NoP links and DRAM interfaces as resources."""

from mcmsim.sim.engine import RawRun, TraceEvent, run_engine
from mcmsim.sim.network import FlowNetwork

__all__ = ["FlowNetwork", "RawRun", "TraceEvent", "run_engine"]
