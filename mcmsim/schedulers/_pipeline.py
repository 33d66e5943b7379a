"""Building blocks shared by the pipelining schedulers (homogeneous, greedy, scar).

A pipelined model is cut into contiguous segments of its topological layer order, one
per chiplet, so that consecutive requests overlap in different segments. Choosing the
cuts needs an estimate of what a segment costs on a chiplet type; :class:`StageModel`
gives it analytically, the way SCAR does: the sum of the segment's layer latencies
(from the cost tables), its input load and its output transfer. Unlike SCAR's bare
sum, a segment whose weights do not fit in SRAM is bounded below by the time to
stream the overflow from DRAM, mirroring the simulator's residency rule
(:mod:`mcmsim.sim.plan`), because for LLM-sized models that bound often dominates.

The other helpers: :func:`allocate` (chiplet counts proportional to work, at least one
each), :func:`snake_order` (a Hamiltonian path through the mesh),
:func:`partition_path` (min-max cut points along a fixed sequence of chiplets),
:func:`relax` (one step of those cut DPs) and :func:`share_chiplets` (whole models onto
fewer chiplets than models).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from mcmsim.hardware.package import Package
from mcmsim.scenario import Workload
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Segment

__all__ = [
    "StageModel",
    "allocate",
    "partition_path",
    "relax",
    "share_chiplets",
    "snake_order",
]

# Ties in a min-max comparison are broken by the sum of stages, weighted this little so
# that it never overrides a bottleneck difference larger than a few nanoseconds.
TIE = 1e-6


def allocate(weights: Sequence[float], n: int) -> list[int]:
    """Split ``n`` items in proportion to ``weights``, at least one each.

    Largest-remainder rounding; requires ``n >= len(weights)``.

    Raises
    ------
    ValueError
        If there are fewer items than weights.
    """
    m = len(weights)
    if n < m:
        raise ValueError(f"cannot give {m} models at least one of {n} chiplets")
    total = float(sum(weights))
    # All-zero work (e.g. models of pure data movement) splits evenly.
    shares = [w / total * n for w in weights] if total > 0 else [n / m] * m
    counts = [max(1, int(s)) for s in shares]
    # The minimum of one can overshoot: take back from the most over-served model that
    # can spare one. Then hand out what is left by largest remainder.
    while sum(counts) > n:
        i = max((j for j in range(m) if counts[j] > 1), key=lambda j: counts[j] - shares[j])
        counts[i] -= 1
    order = sorted(range(m), key=lambda j: (counts[j] - shares[j], -weights[j]))
    k = 0
    while sum(counts) < n:
        counts[order[k % m]] += 1
        k += 1
    return counts


def snake_order(package: Package) -> list[int]:
    """Chiplet ids row by row, alternating direction: consecutive ids are neighbours."""
    by_position = {ch.position: ch.id for ch in package.chiplets}
    order = []
    for r in range(package.rows):
        cols = range(package.cols) if r % 2 == 0 else range(package.cols - 1, -1, -1)
        order.extend(by_position[(r, c)] for c in cols)
    return order


class StageModel:
    """Analytical cost of any contiguous segment of one workload on each chiplet type.

    All quantities are per execution of one micro-batch. Times are float picoseconds,
    energies float picojoules. Built from prefix sums, so one segment costs O(1) and a
    whole (segments x segments) matrix one vectorised expression.

    Simplifications against the simulator: the SRAM left for weights is what remains
    after the model's largest single-layer activation footprint (the simulator reserves
    only the footprint of the chiplet's own layers, so this estimate streams more);
    streaming runs at the mean per-interface DRAM bandwidth, as if no two chiplets
    shared an interface; and nothing queues.
    """

    def __init__(self, problem: SchedulingProblem, workload: Workload) -> None:
        package = problem.package
        self.workload = workload
        self.types = list(package.chiplet_types)
        model = workload.model
        n = len(model.layers)
        self.n_layers = n
        bpe = problem.scenario.simulation.precision_bytes
        micro = workload.micro_batch
        # Package-wide link and DRAM figures; a placement's actual hop counts are applied
        # by the caller (``hops_in`` / ``hops_out``).
        nop = package.nop
        self.link_ps_per_byte = 1000.0 / nop.link_bandwidth_gb_per_s
        self.hop_ps = float(nop.hop_latency_ps)
        self.nop_pj_per_byte = nop.energy_pj_per_bit * 8
        dram_bw = package.dram_bandwidth_gb_per_s / len(package.dram)
        self.dram_ps_per_byte = 1000.0 / dram_bw
        self.dram_latency_ps = float(np.mean([d.latency_ps for d in package.dram]))
        self.dram_pj_per_byte = float(np.mean([d.energy_pj_per_bit for d in package.dram])) * 8

        self.latency: dict[str, np.ndarray] = {}
        self._lat: dict[str, np.ndarray] = {}
        self._big: dict[str, np.ndarray] = {}
        self._small: dict[str, np.ndarray] = {}
        self._energy: dict[str, np.ndarray] = {}
        self._free: dict[str, float] = {}
        for name, ctype in package.chiplet_types.items():
            table = problem.costs(workload, name)
            reserve = int(np.max(table.input_bytes + table.output_bytes, initial=0))
            free = max(ctype.sram_bytes - reserve, 0)
            big = table.weight_bytes > free
            self.latency[name] = table.latency_ps.astype(np.float64)
            self._lat[name] = _prefix(table.latency_ps)
            self._big[name] = _prefix(np.where(big, table.dram_stream_bytes, 0))
            self._small[name] = _prefix(np.where(big, 0, table.weight_bytes))
            self._energy[name] = _prefix(table.compute_pj + table.sram_pj)
            self._free[name] = float(free)

        # crossing[c]: activation bytes that cross a cut before layer c. Cut 0 is the
        # model input read from DRAM, cut n the model outputs written to DRAM.
        index = model.index
        diff = np.zeros(n + 2, np.float64)
        for u, v, elems in model.graph.edges(data="elems"):
            diff[index[u] + 1] += elems
            diff[index[v] + 1] -= elems
        crossing = np.cumsum(diff)[: n + 1] * bpe * micro
        crossing[0] = model.input_elems * bpe * micro
        crossing[n] = model.output_elems * bpe * micro
        self.crossing = crossing
        self._transposed: dict[tuple[int, int], dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    @cached_property
    def total_latency_ps(self) -> dict[str, float]:
        """Whole-model compute latency on each type (weights resident)."""
        return {t: float(p[-1]) for t, p in self._lat.items()}

    def best_types(self) -> list[str]:
        """Chiplet types ordered from fastest to slowest for the whole model."""
        return sorted(self.types, key=lambda t: (self.total_latency_ps[t], t))

    def _transfer(self, cut: int, hops: int) -> tuple[float, float]:
        """Time and energy of moving the activations at ``cut`` over ``hops`` links."""
        nbytes = float(self.crossing[cut])
        if cut in (0, self.n_layers):
            return (
                self.dram_latency_ps + nbytes * self.dram_ps_per_byte,
                nbytes * self.dram_pj_per_byte,
            )
        return (
            hops * self.hop_ps + nbytes * self.link_ps_per_byte,
            hops * nbytes * self.nop_pj_per_byte,
        )

    def stage(
        self, ctype: str, start: int, stop: int, hops_in: int = 1, hops_out: int = 1
    ) -> tuple[float, float]:
        """Time (ps) and energy (pJ) of layers ``[start, stop)`` on ``ctype``.

        Time is ``max(compute, weight streaming) + input load + output transfer``.
        """
        compute = self._lat[ctype][stop] - self._lat[ctype][start]
        small = self._small[ctype][stop] - self._small[ctype][start]
        streamed = self._big[ctype][stop] - self._big[ctype][start]
        streamed += max(small - self._free[ctype], 0.0)
        t_in, e_in = self._transfer(start, hops_in)
        t_out, e_out = self._transfer(stop, hops_out)
        time = max(compute, streamed * self.dram_ps_per_byte) + t_in + t_out
        energy = (
            self._energy[ctype][stop]
            - self._energy[ctype][start]
            + streamed * self.dram_pj_per_byte
            + e_in
            + e_out
        )
        return float(time), float(energy)

    def transposed(self, lo: int, hi: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per type, (time, energy) of every segment ``[lo + i, lo + j)`` as ``[j, i]``
        (end cut first: the cut DPs' argmin over start cuts then runs along contiguous
        memory).

        Entries with ``j <= i`` are ``inf``. Transfers assume one hop. Each entry is
        what :meth:`stage` gives, by the same operations.
        """
        key = (lo, hi)
        if key in self._transposed:
            return self._transposed[key]
        cuts = np.arange(lo, hi + 1)
        valid = cuts[:, None] > cuts[None, :]
        # A cut is the output transfer of the segment before it and the input load of
        # the one after, so one vector serves both ends.
        t_cut, e_cut = np.array([self._transfer(int(c), 1) for c in cuts]).T
        result = {}
        for ctype in self.types:
            lat = self._lat[ctype][cuts]
            small = self._small[ctype][cuts]
            big = self._big[ctype][cuts]
            compute = lat[:, None] - lat[None, :]
            streamed = big[:, None] - big[None, :]
            streamed = streamed + np.maximum(small[:, None] - small[None, :] - self._free[ctype], 0)
            time = np.maximum(compute, streamed * self.dram_ps_per_byte)
            time = time + t_cut[None, :] + t_cut[:, None]
            energy = self._energy[ctype][cuts]
            energy = (
                energy[:, None]
                - energy[None, :]
                + streamed * self.dram_pj_per_byte
                + e_cut[None, :]
                + e_cut[:, None]
            )
            result[ctype] = (np.where(valid, time, np.inf), np.where(valid, energy, np.inf))
        self._transposed[key] = result
        return result


# Elements of the key array of one block of the segmentation DP: small enough that its
# temporaries stay in cache.
BLOCK_ELEMENTS = 1 << 15


def relax(
    mode: str,
    segments: int,
    prev: np.ndarray,
    time_t: np.ndarray,
    energy_t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One type's step of the segmentation DP for a batch of mixes of ``segments`` segments.

    ``prev[f, k]`` holds the (bottleneck, sum, energy) row of the mix one segment short of
    the batch's mix ``k``; ``time_t[j, i]`` and ``energy_t[j, i]`` cost the segment from
    cut ``i`` to cut ``j``. For every mix and end cut ``j >= segments`` returns the best
    start cut (the first on ties), its key, and the bottleneck, sum and energy it gives,
    each as a (mixes, end cuts) array. End cuts go in blocks, and
    a block searches only the start cuts that can be finite: from ``segments - 1`` (the
    earlier segments need that many layers) to before its last end cut (a segment is
    not empty); the others have infinite keys, so the argmin is that of the whole row.
    """
    p_mx, p_sm, p_en = prev
    n_mixes, n1 = len(p_mx), time_t.shape[0]
    first = segments - 1
    width = max(8, BLOCK_ELEMENTS // (n_mixes * n1))
    arg = np.empty((n_mixes, n1 - segments), np.intp)
    # Two scratch buffers serve every block: no allocation in the loop.
    scratch = np.empty((2, n_mixes * width * n1))
    for c0 in range(segments, n1, width):
        c1 = min(c0 + width, n1)
        rows = slice(first, c1 - 1)
        shape = (n_mixes, c1 - c0, c1 - 1 - first)
        size = shape[0] * shape[1] * shape[2]
        keys = scratch[0, :size].reshape(shape)
        tie = scratch[1, :size].reshape(shape)
        block = time_t[None, c0:c1, rows]
        if mode == "max":
            np.maximum(p_mx[:, None, rows], block, out=keys)
            np.add(p_sm[:, None, rows], block, out=tie)
        elif mode == "sum":
            np.add(p_sm[:, None, rows], block, out=keys)
            np.maximum(p_mx[:, None, rows], block, out=tie)
        else:
            np.add(p_en[:, None, rows], energy_t[None, c0:c1, rows], out=keys)
            np.add(p_sm[:, None, rows], block, out=tie)
        np.multiply(tie, TIE, out=tie)
        np.add(keys, tie, out=keys)
        arg[:, c0 - segments : c1 - segments] = np.argmin(keys, axis=2) + first
    # The winners' figures, recomputed with the same operations as their keys.
    cols = np.arange(segments, n1)
    lanes = np.arange(n_mixes)[:, None]
    chosen = time_t[cols, arg]
    c_mx = np.maximum(p_mx[lanes, arg], chosen)
    c_sm = p_sm[lanes, arg] + chosen
    c_en = p_en[lanes, arg] + energy_t[cols, arg]
    if mode == "energy":
        return arg, c_en + TIE * c_sm, c_mx, c_sm, c_en
    value = c_mx + TIE * c_sm if mode == "max" else c_sm + TIE * c_mx
    return arg, value, c_mx, c_sm, c_en


def _prefix(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])


def partition_path(
    stages: StageModel, lo: int, hi: int, path_types: Sequence[str]
) -> list[tuple[int, int, int]]:
    """Cut layers ``[lo, hi)`` along a sequence of chiplets to minimise the bottleneck.

    Segment ``k`` goes to position ``k`` of ``path_types`` or later: a chiplet may be
    skipped when using it would not lower the bottleneck (ties go to fewer, then
    cheaper, stages). Dynamic programming over (chiplets considered, layers placed),
    O(len(path) * (hi - lo)^2) vectorised
    with :func:`relax`.

    Returns
    -------
    list of (start, stop, position)
        The segments in order, each with its index into ``path_types``.
    """
    n = hi - lo
    transposed = stages.transposed(lo, hi)
    # best[j]: (bottleneck + TIE * sum) of placing the first j layers on chiplets so far.
    best = np.full((3, 1, n + 1), np.inf)
    best[:, 0, 0] = 0.0
    parents: list[np.ndarray] = []
    for ctype in path_types:
        time_t, energy_t = transposed[ctype]
        # No layer placed (column 0) always keeps the previous value.
        arg, _, new_max, new_sum, _ = relax("max", 1, best, time_t, energy_t)
        best_max, best_sum = best[0, 0, 1:], best[1, 0, 1:]
        # Skipping this chiplet keeps the previous value; prefer it on ties.
        keep = best_max + TIE * best_sum <= new_max[0] + TIE * new_sum[0]
        parent = np.concatenate([[-1], np.where(keep, -1, arg[0])])
        best[0, 0, 1:] = np.where(keep, best_max, new_max[0])
        best[1, 0, 1:] = np.where(keep, best_sum, new_sum[0])
        parents.append(parent)
    segments = []
    j = n
    for position in range(len(path_types) - 1, -1, -1):
        i = int(parents[position][j])
        if i < 0:
            continue
        segments.append((lo + i, lo + j, position))
        j = i
    if j != 0:  # unreachable with a non-empty path: one chiplet can take everything
        raise AssertionError("partition did not cover the layers")
    return segments[::-1]


def share_chiplets(
    problem: SchedulingProblem,
    loads: dict[str, dict[str, float]],
    chiplets: Sequence[int],
    ranges: dict[str, tuple[int, int]] | None = None,
) -> list[Segment]:
    """Whole models onto fewer chiplets than models: longest processing time first.

    ``loads[model][type]`` is the model's latency on each chiplet type; each model, the
    longest first, goes to the chiplet where it would finish earliest given what that
    chiplet already holds. ``ranges`` restricts a model to a layer range (default all).
    """
    package = problem.package
    busy = dict.fromkeys(chiplets, 0.0)
    order = sorted(loads, key=lambda m: (-min(loads[m].values()), m))
    segments = []
    for model in order:
        chosen = min(
            chiplets,
            key=lambda c: (busy[c] + loads[model][package.chiplets[c].type.name], c),
        )
        busy[chosen] += loads[model][package.chiplets[chosen].type.name]
        start, stop = (ranges or {}).get(model, (0, len(problem.workload(model).model.layers)))
        segments.append(Segment(model, start, stop, chosen))
    return segments
