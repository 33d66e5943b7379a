"""Physical ranges of scenario numbers and the shape of names, declared once.

Every number a scenario gives has a unit and a range an architect could defend: wide
enough for any published chip (wafer-scale SRAM, HBM stacks, GHz clocks), narrow enough
that the simulator's arithmetic stays exact and finite. The aliases here are used by the
pydantic schema (:mod:`mcmsim.scenario`, :mod:`mcmsim.workloads.streams`,
:mod:`mcmsim.workloads.generation`), so a value out of range, ``inf`` or ``nan`` is an
error at its ``file:line`` before anything is built.

Why the bounds hold together: simulated time is integer picoseconds in numpy ``int64``
(about 9.2e18 ps, 107 days). Times are at most 1e6 s (1e18 ps); rates are at least 1e-6
per second, so one mean gap is at most 1e18 ps; rates are at most 1e9 per second, one
arrival per nanosecond. Integers that reach numpy (batch, PEs, bytes per element) stay
far below 2**63 even when multiplied together.

Names (workloads, chiplet types, layers, schedulers) are non-empty, printable and on
one line, so every message and table that shows them stays one line.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

__all__ = [
    "BANDWIDTH_GB_PER_S",
    "ENERGY_PJ",
    "FREQUENCY_MHZ",
    "MAX_PES",
    "RATE_PER_S",
    "SIMULATED_TIME_S",
    "ArraySide",
    "BandwidthGBPerS",
    "Batch",
    "BytesPerCycle",
    "BytesPerElement",
    "CoefficientOfVariation",
    "Count",
    "DurationMs",
    "ElementCount",
    "EnergyPJ",
    "FrequencyMHz",
    "InFlight",
    "IterationBatch",
    "LatencyNs",
    "LayerDim",
    "LeakageMW",
    "MeanTokens",
    "Name",
    "OffsetMs",
    "PEs",
    "Padding",
    "PeBufferElems",
    "Percentile",
    "Probability",
    "RatePerS",
    "Reference",
    "Seed",
    "SimulatedTimeS",
    "SizeMiB",
    "Tokens",
    "Weight",
    "check_name",
]

FREQUENCY_MHZ = (1.0, 1e5)
BANDWIDTH_GB_PER_S = (1e-3, 1e5)
ENERGY_PJ = (0.0, 1e6)
RATE_PER_S = (1e-6, 1e9)
SIMULATED_TIME_S = (1e-12, 1e6)
NAME_MAX_CHARS = 200
REFERENCE_MAX_CHARS = 4096
MAX_PES = 2**24


def _finite(low: float, high: float, unit: str, *, low_open: bool = False) -> Any:
    """A pydantic ``Field`` for finite values from ``low`` to ``high`` in ``unit``."""
    lower = {"gt": low} if low_open else {"ge": low}
    side = "(" if low_open else "["
    description = f"{unit}, in {side}{low:g}, {high:g}]"
    return Field(allow_inf_nan=False, le=high, description=description, **lower)


FrequencyMHz = Annotated[float, _finite(*FREQUENCY_MHZ, "clock in MHz (1 MHz to 100 GHz)")]
SizeMiB = Annotated[float, _finite(2**-10, 1e7, "MiB (1 KiB to about 10 TiB)")]
BytesPerCycle = Annotated[int, _finite(0, 2**20, "bytes per cycle", low_open=True)]
BandwidthGBPerS = Annotated[
    float, _finite(*BANDWIDTH_GB_PER_S, "GB/s, 10**9 bytes per second (1 MB/s to 100 TB/s)")
]
EnergyPJ = Annotated[float, _finite(*ENERGY_PJ, "picojoules")]
LeakageMW = Annotated[float, _finite(0.0, 1e6, "milliwatts (up to 1 kW)")]
LatencyNs = Annotated[float, _finite(0.0, 1e6, "nanoseconds (up to 1 ms)")]
DurationMs = Annotated[float, _finite(1e-9, 1e9, "milliseconds (1 ps to 1e6 s)")]
SimulatedTimeS = Annotated[float, _finite(*SIMULATED_TIME_S, "seconds of simulated time")]
RatePerS = Annotated[float, _finite(*RATE_PER_S, "per second")]
CoefficientOfVariation = Annotated[float, _finite(1e-3, 100.0, "standard deviation / mean")]
Weight = Annotated[float, _finite(0.0, 1e6, "relative weight", low_open=True)]
Seed = Annotated[int, _finite(0, 2**63 - 1, "random seed (fits int64)")]
Count = Annotated[int, _finite(0, 10**9, "count", low_open=True)]
Batch = Annotated[int, _finite(0, 2**20, "inferences", low_open=True)]
InFlight = Annotated[int, _finite(0, 10**6, "requests", low_open=True)]
PEs = Annotated[int, _finite(0, MAX_PES, "processing elements", low_open=True)]
ArraySide = Annotated[int, _finite(0, 2**16, "processing elements along one axis", low_open=True)]
BytesPerElement = Annotated[
    int, _finite(0, 16, "bytes per element (int8 to 128-bit)", low_open=True)
]
LayerDim = Annotated[int, _finite(0, 2**24, "elements along one dimension", low_open=True)]
Tokens = Annotated[int, _finite(0, 2**24, "tokens", low_open=True)]
MeanTokens = Annotated[float, _finite(1, 2**24, "tokens")]
IterationBatch = Annotated[int, _finite(0, 2**16, "requests per iteration", low_open=True)]
ElementCount = Annotated[int, _finite(0, 2**40, "elements", low_open=True)]
PeBufferElems = Annotated[int, _finite(0, 2**30, "elements each PE buffers", low_open=True)]
Padding = Annotated[int, _finite(0, 2**24, "elements of padding")]
OffsetMs = Annotated[float, _finite(0.0, 1e9, "milliseconds (up to 1e6 s)")]
Probability = Annotated[float, _finite(0.0, 1.0, "probability", low_open=True)]
Percentile = Annotated[float, _finite(0.0, 100.0, "percent", low_open=True)]


def check_name(value: str, max_chars: int = NAME_MAX_CHARS, what: str = "name") -> str:
    """``value`` if it is a usable name: non-empty, printable, one line, not too long.

    Raises
    ------
    ValueError
        Saying which of those it is not.
    """
    if not value.strip():
        raise ValueError(f"expected a non-empty {what}")
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise ValueError(f"a {what} must be printable on one line (it holds {bad!r})")
    if len(value) > max_chars:
        raise ValueError(f"a {what} has at most {max_chars} characters, not {len(value)}")
    return value


def _check_reference(value: str) -> str:
    return check_name(value, REFERENCE_MAX_CHARS, "model name or file path")


Name = Annotated[str, AfterValidator(check_name)]
Reference = Annotated[str, AfterValidator(_check_reference)]
"""A zoo name or a file path: a name that may be as long as a path."""
