"""A Hypothesis strategy for valid scenarios: every built-in scheduler, stream kind, mode.

Packages are small (up to 2x3 chiplets of up to 1024 PEs) and models are a few inline
layers (or GPT-2 generating a few tokens), so a run of a few dozen requests takes well
under a second. A scenario is returned as its TOML document plus the side files it
names (trace CSVs), to be written next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

__all__ = ["SCHEDULERS", "STREAM_KINDS", "ValidScenario", "valid_scenarios"]

SCHEDULERS = (
    "monolithic",
    "standalone",
    "homogeneous-pipeline",
    "greedy",
    "scar",
    "local-search",
    "exhaustive",
)
STREAM_KINDS = ("closed", "poisson", "gamma", "periodic", "cascade", "trace", "generation_trace")
DATAFLOWS = ("ws", "os", "rs", "os-systolic", "os-xr", "ws-systolic")


@dataclass(frozen=True)
class ValidScenario:
    """A scenario document and the files it refers to (name -> text)."""

    document: dict[str, Any]
    files: dict[str, str]


_sizes = st.sampled_from((8, 16, 32, 64, 128))


@st.composite
def _layer(draw: st.DrawFn, index: int) -> dict[str, Any]:
    op = draw(st.sampled_from(("matmul", "conv2d", "elementwise", "norm", "softmax", "pool")))
    name = f"l{index}"
    if op == "matmul":
        return {
            "name": name,
            "op": op,
            "m": draw(_sizes),
            "k": draw(_sizes),
            "n": draw(_sizes),
            "weights": draw(st.booleans()),
        }
    if op == "conv2d":
        return {
            "name": name,
            "op": op,
            "c_in": draw(_sizes),
            "c_out": draw(_sizes),
            "h_in": draw(st.sampled_from((8, 14))),
            "w_in": 8,
            "kernel": draw(st.sampled_from((1, 3))),
            "pad": 1,
        }
    if op == "pool":
        return {
            "name": name,
            "op": op,
            "c_in": draw(_sizes),
            "h_in": 8,
            "w_in": 8,
            "kernel": 2,
            "stride": 2,
        }
    return {"name": name, "op": op, "elems": draw(st.integers(1, 100_000))}


def _chiplet_type(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"dataflow": draw(st.sampled_from(DATAFLOWS))}
    if draw(st.booleans()):
        spec["pes"] = draw(st.sampled_from((64, 256, 1024)))
    else:
        spec["rows"] = draw(st.sampled_from((8, 16, 32)))
        spec["cols"] = draw(st.sampled_from((8, 16, 32)))
    if draw(st.booleans()):
        spec["sram_mib"] = draw(st.sampled_from((0.25, 1.0, 4.0, 10.0)))
        spec["freq_mhz"] = draw(st.sampled_from((200.0, 500.0, 1000.0)))
        spec["leakage"] = draw(st.sampled_from(("none", "memory-compiler", "cacti-itrs-hp")))
    return spec


def _trace_csv(draw: st.DrawFn, name: str) -> str:
    gaps_ms = draw(st.lists(st.floats(0.01, 5.0), min_size=2, max_size=40))
    rows, t_s = [], 0.0
    for gap in gaps_ms:
        t_s += gap / 1000
        rows.append(f"{t_s:.9f},{name}")
    return "arrival_s,model\n" + "\n".join(rows) + "\n"


def _generation_csv(draw: st.DrawFn) -> str:
    n = draw(st.integers(2, 12))
    rows = [
        f"{i * 0.002:.6f},{draw(st.integers(1, 32))},{draw(st.integers(1, 6))}" for i in range(n)
    ]
    return "arrived_at,num_prefill_tokens,num_decode_tokens\n" + "\n".join(rows) + "\n"


def _can_trigger(workload: dict[str, Any]) -> bool:
    """Whether a cascade may name this workload upstream (an open, non-generation stream)."""
    return "generation" not in workload and workload["stream"]["kind"] not in ("closed",)


@st.composite
def valid_scenarios(draw: st.DrawFn) -> ValidScenario:
    """A valid scenario over a drawn scheduler, mode and per-workload stream kind."""
    mode = draw(st.sampled_from(("stream", "batch")))
    scheduler = draw(st.sampled_from(SCHEDULERS))
    rows, cols = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    if scheduler == "exhaustive":
        rows, cols = 1, draw(st.integers(1, 2))
    n_types = draw(st.integers(1, 2))
    types = {f"t{i}": _chiplet_type(draw) for i in range(n_types)}
    layout = [[draw(st.sampled_from(sorted(types))) for _ in range(cols)] for _ in range(rows)]
    files: dict[str, str] = {}
    workloads: list[dict[str, Any]] = []
    n_workloads = 1 if scheduler == "exhaustive" else draw(st.integers(1, 3))
    for i in range(n_workloads):
        name = f"m{i}"
        kinds = ["closed", "poisson", "gamma", "periodic", "trace"]
        if mode == "stream":
            kinds.append("generation_trace")
            # A cascade is triggered by the completions of an open upstream.
            if any(_can_trigger(w) for w in workloads):
                kinds.append("cascade")
        kind = draw(st.sampled_from(kinds))
        if kind == "generation_trace" and scheduler == "exhaustive":
            kind = "poisson"  # GPT-2's 149 layers are beyond exhaustive enumeration
        if kind == "generation_trace" or (
            mode == "stream"
            and scheduler != "exhaustive"
            and kind == "poisson"
            and draw(st.integers(0, 7)) == 0
        ):
            workload: dict[str, Any] = {
                "name": name,
                "model": "gpt2",
                "generation": {
                    "prompt_tokens": draw(st.integers(1, 32)),
                    "output_tokens": draw(st.integers(1, 6)),
                    "max_batch": draw(st.integers(1, 8)),
                },
            }
        else:
            n_layers = 1 if scheduler == "exhaustive" else draw(st.integers(1, 4))
            workload = {"name": name, "layers": [draw(_layer(j)) for j in range(n_layers)]}
            batch = draw(st.integers(1, 4))
            if batch > 1:
                workload["batch"] = batch
                if draw(st.booleans()):
                    workload["micro_batch"] = draw(st.integers(1, batch))
        if kind == "closed":
            stream: dict[str, Any] = {"kind": kind, "in_flight": draw(st.integers(1, 4))}
        elif kind in ("poisson", "gamma"):
            stream = {"kind": kind, "rate_per_s": draw(st.floats(10.0, 5000.0))}
            if kind == "gamma":
                stream["cv"] = draw(st.floats(0.2, 4.0))
        elif kind == "periodic":
            stream = {
                "kind": kind,
                "fps": draw(st.floats(10.0, 2000.0)),
                "offset_ms": draw(st.floats(0.0, 5.0)),
            }
            if draw(st.booleans()):
                workload["late_policy"] = "drop"
        elif kind == "cascade":
            upstreams = [w["name"] for w in workloads if _can_trigger(w)]
            stream = {
                "kind": kind,
                "upstream": draw(st.sampled_from(upstreams)),
                "probability": draw(st.floats(0.05, 1.0)),
            }
        elif kind == "trace":
            files[f"{name}.csv"] = _trace_csv(draw, name)
            stream = {"kind": kind, "file": f"{name}.csv"}
        else:
            files[f"{name}.csv"] = _generation_csv(draw)
            stream = {"kind": kind, "file": f"{name}.csv"}
        workload["stream"] = stream
        if draw(st.integers(0, 3)) == 0:
            workload["slo"] = {
                "latency_ms": draw(st.floats(0.01, 100.0)),
                "percentile": draw(st.sampled_from((50.0, 99.0))),
            }
        workloads.append(workload)
    params: dict[str, Any] = {"name": scheduler}
    if scheduler == "local-search":
        params["budget"] = draw(st.integers(1, 5))
    elif scheduler == "scar":
        params["objective"] = draw(st.sampled_from(("latency", "energy", "edp", "throughput")))
    elif scheduler == "exhaustive":
        params["max_schedules"] = 64
    document = {
        "name": "fuzz_valid",
        "package": {"layout": layout, "chiplet_types": types},
        "workloads": workloads,
        "scheduler": params,
        "simulation": {
            "mode": mode,
            "seed": draw(st.integers(0, 2**31)),
            "requests": draw(st.integers(5, 60)),
            "warmup": draw(st.sampled_from(("mser5", "none"))),
        },
    }
    if draw(st.booleans()):
        document["nop"] = {"link_bandwidth_gb_per_s": draw(st.floats(1.0, 1000.0))}
        document["dram"] = {
            "bandwidth_gb_per_s": draw(st.floats(1.0, 512.0)),
            "policy": draw(st.sampled_from(("interleaved", "nearest"))),
        }
    return ValidScenario(document, files)
