"""The read-only view of a scenario that a scheduler works from.

A :class:`SchedulingProblem` gives a scheduler the package, the workloads (models,
batch sizes, streams) and the per-layer cost tables, and nothing of the simulator.
Cost tables are looked up lazily and cached (see :func:`mcmsim.cost.cost_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcmsim.cost.table import CostTable, cost_table
from mcmsim.hardware.package import Package
from mcmsim.scenario import Scenario, Workload

__all__ = ["SchedulingProblem"]


@dataclass(frozen=True)
class SchedulingProblem:
    """What a scheduler may read: package, workloads and cost tables."""

    scenario: Scenario

    @property
    def package(self) -> Package:
        return self.scenario.package

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return self.scenario.workloads

    @property
    def mode(self) -> str:
        return self.scenario.simulation.mode

    @property
    def n_chiplets(self) -> int:
        return len(self.package.chiplets)

    def workload(self, name: str) -> Workload:
        for w in self.workloads:
            if w.name == name:
                return w
        raise KeyError(name)

    def costs(
        self, workload: str | Workload, chiplet_type: str, batch: int | None = None
    ) -> CostTable:
        """Cost table of a workload's model on a chiplet type (default: its micro-batch).

        Streamed latencies are at the package's weight-streaming bandwidth, which
        depends on the DRAM policy (see :class:`~mcmsim.hardware.package.Package`).
        """
        w = self.workload(workload) if isinstance(workload, str) else workload
        dram = self.package.dram[0]
        return cost_table(
            w.model,
            self.package.chiplet_types[chiplet_type],
            batch or w.micro_batch,
            self.scenario.simulation.precision_bytes,
            self.package.dram_stream_bandwidth_gb_per_s,
            dram.energy_pj_per_bit,
        )

    def latency_matrix_ps(self, workload: str | Workload) -> tuple[list[str], np.ndarray]:
        """Chiplet type names and a (types x layers) array of resident latencies."""
        names = list(self.package.chiplet_types)
        return names, np.stack([self.costs(workload, t).latency_ps for t in names])

    def layer_counts(self) -> dict[str, int]:
        return {w.name: len(w.model.layers) for w in self.workloads}
