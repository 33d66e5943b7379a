"""Issue 17: what the fuzz suite still found on main after the hardening branches merged.

Regression tests for: deep inline tables rejected in linear work, a sweep file missing
``base`` or ``[axes]`` named at line 1 with the key, a schedule whose root is not an
object named at ``(root)``, and a run next to an exhausted trace that ends once nothing
can bring the stopping rule closer (and every run within its event budget).
"""

from __future__ import annotations

import cProfile
import json
import pstats
from collections.abc import Callable
from pathlib import Path

import pytest

from mcmsim.scenario import MAX_NESTING_DEPTH, ScenarioError, parse_toml
from mcmsim.sim.stopping import EVENTS_PER_REQUEST
from tests.conftest import ROOT, Cli

Write = Callable[[str, str], Path]


# --- A: deep nesting is refused in linear work ------------------------------------------


def _calls_to_refuse(text: str) -> int:
    """Python and C function calls made while refusing ``text`` as nested too deep."""
    profile = cProfile.Profile()
    profile.enable()
    with pytest.raises(ScenarioError, match="nested") as caught:
        parse_toml(text, "d.toml")
    profile.disable()
    assert str(caught.value).startswith("d.toml:1: ")
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "opening, closing",
    [("{ a = ", " }"), ("[", "]"), ("[{ a = [", "]}]")],
    ids=["inline tables", "arrays", "mixed"],
)
def test_deep_nesting_is_refused_in_work_linear_in_the_depth(opening: str, closing: str) -> None:
    # Found by the fuzz suite: 630 inline tables (4 KB) took 2 s, every key noting each
    # prefix of its path (cubic). Four times the depth may cost four times the calls
    # (with slack for fixed costs), never the sixteen of quadratic work.
    def nested(depth: int) -> str:
        return "x = " + opening * depth + "1" + closing * depth + "\n"

    small, large = 2 * MAX_NESTING_DEPTH, 8 * MAX_NESTING_DEPTH
    assert _calls_to_refuse(nested(large)) <= 5 * _calls_to_refuse(nested(small))


def test_the_fuzz_case_of_630_inline_tables_is_refused_at_its_line(cli: Cli, write: Write) -> None:
    path = write("d.toml", "x = " + "{ a = " * 630 + "1" + " }" * 630 + "\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}:1: arrays or inline tables nested 630 deep; "
        f"at most {MAX_NESTING_DEPTH} levels are read\n"
    )


def test_keys_within_the_depth_limit_keep_their_lines() -> None:
    # The prefix bookkeeping that made deep nesting cubic still finds every path.
    text = 'a = { b = { c = 1, d = [1, { e = 2 }] } }\n[t]\n"x.y" = { z = 3 }\n'
    _, where = parse_toml(text, "k.toml")
    for path in [("a",), ("a", "b", "c"), ("a", "b", "d", 1, "e"), ("t", "x.y", "z")]:
        assert where.lines[path] == (1 if path[0] == "a" else 3)
    assert where.lines[("t", "x", "y", "z")] == 3


# --- B: a sweep file missing base or [axes] ---------------------------------------------

BASE = ROOT / "scenarios" / "gpt2_resnet.toml"


@pytest.mark.parametrize(
    "text, key",
    [
        ('[axes]\n"simulation.seed" = [1, 2]\n', "base"),
        (f'base = "{BASE}"\n[overrides]\n"simulation.requests" = 50\n', "axes"),
    ],
)
def test_a_sweep_missing_a_key_or_table_names_line_1_and_its_path(
    cli: Cli, write: Write, text: str, key: str
) -> None:
    path = write("sweep.toml", 'name = "s"\n' + text)
    result = cli("sweep", path, "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:1: {key}: missing ")
    assert result.stderr.count("error:") == 1


# --- C: a schedule whose root is not an object ------------------------------------------


@pytest.mark.parametrize("root, shown", [("[]", "an array"), ("3", "3"), ('"s"', '"s"')])
def test_a_schedule_root_that_is_not_an_object_is_named_root(
    cli: Cli, write: Write, root: str, shown: str
) -> None:
    schedule = write("s.json", root)
    result = cli("run", "scenarios/scar_fig2.toml", "--schedule", schedule)
    assert result.exit_code == 2
    assert result.stderr == f"error: {schedule}: (root): expected an object, got {shown}\n"


# --- D: a run next to an exhausted trace ends -------------------------------------------

# The fuzz case (shortened): a fast closed model shares the package with a GPT-2
# generation stream whose 6-row trace ends long before the closed model has run its
# 20 requests; the generation model cannot reach its minimum of 5 in the latter half.
# It ran 4 M events (25 s), stopping only on the starvation cap (10x simulated time).
EXHAUSTED = """\
[package]
layout = [["t1"], ["t1"]]
[package.chiplet_types.t1]
dataflow = "rs"
rows = 32
cols = 32
sram_mib = 0.25
freq_mhz = 500.0
leakage = "none"

[[workloads]]
name = "m0"
batch = 2
micro_batch = 2
layers = [
  {{ name = "l0", op = "pool", c_in = 8, h_in = 8, w_in = 8, kernel = 2, stride = 2 }},
  {{ name = "l1", op = "matmul", m = 8, k = 128, n = 8, weights = false }},
]
stream = {{ kind = "closed", in_flight = 1 }}

[[workloads]]
name = "m1"
model = "gpt2"
generation = {{ prompt_tokens = 16, output_tokens = 6, max_batch = 3 }}
stream = {{ kind = "generation_trace", file = "m1.csv" }}

[scheduler]
name = "monolithic"

[simulation]
mode = "stream"
seed = 11592774
requests = 20
min_requests_per_model = 8
warmup = "none"
{extra}
"""

TRACE = """\
arrived_at,num_prefill_tokens,num_decode_tokens
0.000000,32,6
0.002000,31,4
0.004000,26,2
0.006000,11,6
0.008000,17,6
0.010000,19,6
"""


def _run(cli: Cli, write: Write, extra: str = "") -> tuple[dict, str]:
    write("m1.csv", TRACE)
    result = cli("run", write("s.toml", EXHAUSTED.format(extra=extra)), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_a_run_ends_when_an_exhausted_trace_leaves_nothing_to_wait_for(
    cli: Cli, write: Write
) -> None:
    d, stderr = _run(cli, write)
    assert d["stop_reason"] == "stream ended"
    # Every row of the trace was served before the run ended: none was cut off.
    assert d["models"]["m1"]["completed_total"] == 6
    assert d["models"]["m1"]["in_flight_at_end"] == 0
    # Far inside the default budget (the run used it all up, 400,000 events, before).
    assert d["simulated_events"] < EVENTS_PER_REQUEST * 20 // 10
    assert "stopped early (stream ended)" in stderr and "no arrivals left" in stderr


def test_a_generation_run_stops_within_its_event_budget(cli: Cli, write: Write) -> None:
    d, stderr = _run(cli, write, "max_events = 200")
    assert d["stop_reason"] == "event budget"
    assert 200 <= d["simulated_events"] < 200 + 20
    assert "simulation.max_events" in stderr


CASCADE = """\
[package]
layout = [["a", "a"]]
[package.chiplet_types.a]
dataflow = "ws"
pes = 4096
[[workloads]]
name = "fast"
layers = [{ name = "fc", op = "matmul", m = 16, k = 256, n = 256 }]
stream = { kind = "closed" }
[[workloads]]
name = "detect"
layers = [{ name = "fc", op = "matmul", m = 512, k = 1024, n = 1024 }]
stream = { kind = "trace", file = "detect.csv" }
[[workloads]]
name = "track"
layers = [{ name = "fc", op = "matmul", m = 16, k = 256, n = 256 }]
stream = { kind = "cascade", upstream = "detect" }
[simulation]
requests = 60
min_requests_per_model = 10
"""


def test_a_cascade_fed_by_an_exhausted_trace_finishes_before_the_run_ends(
    cli: Cli, write: Write
) -> None:
    # Each detect completion issues one track request, which is quick: when the last
    # detect request completes, track has nothing in the system and the request just
    # issued has not started yet. The run must wait for it, not call track ended.
    write("detect.csv", "arrival_s,model\n0.0001,detect\n0.0002,detect\n0.0003,detect\n")
    result = cli("run", write("c.toml", CASCADE), "--json", "--scheduler", "greedy")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["stop_reason"] == "stream ended"
    assert d["models"]["detect"]["completed_total"] == 3
    assert d["models"]["track"]["completed_total"] == 3
