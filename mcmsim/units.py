"""Unit conversions: simulated time is integer picoseconds, energy is counted in picojoules.

One place for the factors, so a figure converted in the engine, the estimator and the
bound is converted the same way. ``PS_PER_S`` is an integer so integer arithmetic on
simulated time stays exact; the ``*_PER_*`` floats are for figures that are floats anyway.
"""

from __future__ import annotations

__all__ = ["J_PER_PJ", "PJ_PER_J", "PS_PER_MS", "PS_PER_NS", "PS_PER_S", "S_PER_PS"]

PS_PER_S = 10**12
PS_PER_MS = 10**9
PS_PER_NS = 10**3
S_PER_PS = 1e-12
PJ_PER_J = 1e12
J_PER_PJ = 1e-12
