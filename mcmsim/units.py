"""Unit conversions: simulated time is integer picoseconds, energy is picojoules."""

__all__ = ["J_PER_PJ", "PS_PER_S", "S_PER_PS"]

PS_PER_S = 10**12
S_PER_PS = 1e-12
J_PER_PJ = 1e-12
