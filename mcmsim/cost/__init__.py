"""Cost model: analytical, dataflow-aware per-layer costs on each chiplet type."""

from mcmsim.cost.table import CostTable, cost_table

__all__ = ["CostTable", "cost_table"]
