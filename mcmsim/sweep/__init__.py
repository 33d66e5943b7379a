"""Design-space sweeps: many scenarios from one base, run in parallel, stored safely.

A sweep file names a base scenario and the keys to vary (see :mod:`mcmsim.sweep.spec`
for the format); every combination, or a seeded sample of them, is a point: a complete
scenario with its own id (:mod:`~mcmsim.sweep.points`). Points run on a local process
pool or a Dask cluster (:mod:`~mcmsim.sweep.backends`), each one scheduled and simulated
independently (:mod:`~mcmsim.sweep.evaluate`), and every result is committed to a
SQLite store in the output folder as it arrives (:mod:`~mcmsim.sweep.store`), so an
interrupted sweep resumes without losing or repeating a point. The store turns into
``results.csv``, ``sweep.json`` and tables (:mod:`~mcmsim.sweep.export`) and a Pareto
chart of throughput against energy per inference (:mod:`~mcmsim.sweep.pareto`).

    >>> from mcmsim.sweep import load_sweep, run_sweep
    >>> spec = load_sweep("scenarios/sweeps/layouts_2x2.toml")
    >>> report = run_sweep(spec, "out/layouts", jobs=2)
    >>> report.ok, report.failed
"""

from mcmsim.sweep.backends import WorkerLost
from mcmsim.sweep.evaluate import PointResult, run_point
from mcmsim.sweep.points import Point, expand
from mcmsim.sweep.runner import SweepReport, describe_sweep, plot_sweep, print_report, run_sweep
from mcmsim.sweep.spec import Axis, Sample, SweepError, SweepSpec, load_sweep
from mcmsim.sweep.store import ResultStore, StoredPoint

__all__ = [
    "Axis",
    "Point",
    "PointResult",
    "ResultStore",
    "Sample",
    "StoredPoint",
    "SweepError",
    "SweepReport",
    "SweepSpec",
    "WorkerLost",
    "describe_sweep",
    "expand",
    "load_sweep",
    "plot_sweep",
    "print_report",
    "run_point",
    "run_sweep",
]
