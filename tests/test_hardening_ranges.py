"""Issue 17, item 1: every scenario number has a physical range, every name a shape.

Each case of the issue is a scenario that used to be accepted (and then crashed, hung or
gave nonsense at run time) or rejected without a line. Here ``mcmsim validate`` must
exit 2 with ``file:line: key: message`` for it, and never show a traceback; the ``cli``
fixture fails the test if an exception escapes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcmsim.ranges import RATE_PER_S, SIMULATED_TIME_S
from mcmsim.scenario import ScenarioError, load_scenario
from mcmsim.units import PS_PER_S
from tests.conftest import Cli

INT64_MAX = 2**63 - 1

# Line numbers below count from this text: [package.chiplet_types.a] is line 4.
BASE = """\
[package]
layout = [["a"]]

[package.chiplet_types.a]
dataflow = "ws"
pes = 4096

[[workloads]]
model = "resnet50"
"""


def scenario(chiplet: str = "", workload: str = "", tail: str = "") -> str:
    """BASE with lines added to the chiplet type (after line 6), the workload (after
    line 9) and at the end."""
    head, rest = BASE.split("\n[[workloads]]\n")
    return f"{head}{chiplet}\n[[workloads]]\n{rest}{workload}\n{tail}"


def assert_rejected(cli: Cli, path: Path, line: int, key: str, message: str = "") -> str:
    """``validate`` exits 2 naming ``path:line: key:`` (and ``message``); its stderr."""
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    expected = f"error: {path}:{line}: {key}: {message}"
    assert expected in result.stderr, result.stderr
    return result.stderr


CASES = [
    # (id, chiplet lines, workload lines, tail, line, key, message start)
    ("freq rounds to 0 Hz", "freq_mhz = 1e-7", "", "", 7, "package.chiplet_types.a.freq_mhz", ""),
    ("freq 1 PHz", "freq_mhz = 1e12", "", "", 7, "package.chiplet_types.a.freq_mhz", ""),
    ("sram_mib 1e308", "sram_mib = 1e308", "", "", 7, "package.chiplet_types.a.sram_mib", ""),
    (
        "mac energy 1e308",
        "mac_energy_pj = 1e308",
        "",
        "",
        7,
        "package.chiplet_types.a.mac_energy_pj",
        "",
    ),
    ("pes 2**64", "", "", "", 6, "package.chiplet_types.a.pes", ""),
    ("pes 0", "", "", "", 6, "package.chiplet_types.a.pes", "Input should be greater than 0"),
    (
        "rows contradict pes",
        "rows = 1",
        "",
        "",
        4,
        "package.chiplet_types.a",
        "rows without cols",
    ),
    (
        "nop energy inf",
        "",
        "",
        "[nop]\nenergy_pj_per_bit = inf",
        12,
        "nop.energy_pj_per_bit",
        "Input should be a finite number",
    ),
    (
        "nop energy nan",
        "",
        "",
        "[nop]\nenergy_pj_per_bit = nan",
        12,
        "nop.energy_pj_per_bit",
        "Input should be a finite number",
    ),
    ("no dram interfaces", "", "", "[dram]\ninterfaces = []", 12, "dram.interfaces", ""),
    ("batch 2**64", "", f"batch = {2**64}", "", 10, "workloads.0.batch", ""),
    (
        "poisson 1e-300",
        "",
        'stream = { kind = "poisson", rate_per_s = 1e-300 }',
        "",
        10,
        "workloads.0.stream.rate_per_s",
        "",
    ),
    (
        "poisson 1e308",
        "",
        'stream = { kind = "poisson", rate_per_s = 1e308 }',
        "",
        10,
        "workloads.0.stream.rate_per_s",
        "",
    ),
    (
        "periodic fps 1e-300",
        "",
        'stream = { kind = "periodic", fps = 1e-300 }',
        "",
        10,
        "workloads.0.stream.fps",
        "",
    ),
    ("empty name", "", 'name = ""', "", 10, "workloads.0.name", "expected a non-empty name"),
    ("blank name", "", 'name = "   "', "", 10, "workloads.0.name", "expected a non-empty name"),
    (
        "name over two lines",
        "",
        'name = "a\\nb"',
        "",
        10,
        "workloads.0.name",
        "a name must be printable on one line",
    ),
    ("negative seed", "", "", "[simulation]\nseed = -1", 12, "simulation.seed", ""),
    (
        "max_time_s 1e308",
        "",
        "",
        "[simulation]\nmax_time_s = 1e308",
        12,
        "simulation.max_time_s",
        "",
    ),
    (
        "precision_bytes 2**63",
        "",
        "",
        f"[simulation]\nprecision_bytes = {2**63}",
        12,
        "simulation.precision_bytes",
        "",
    ),
    (
        "unknown scheduler",
        "",
        "",
        '[scheduler]\nname = "scarr"',
        12,
        "scheduler.name",
        "unknown scheduler 'scarr'",
    ),
    (
        "unknown scheduler parameter",
        "",
        "",
        '[scheduler]\nname = "scar"\nbogus = 3',
        13,
        "scheduler.bogus",
        "unknown parameter",
    ),
    (
        "bad scheduler parameter value",
        "",
        "",
        '[scheduler]\nname = "local-search"\npatience = "soon"',
        13,
        "scheduler.patience",
        "",
    ),
]


@pytest.mark.parametrize(
    ("chiplet", "workload", "tail", "line", "key", "message"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_out_of_range_or_malformed_value_is_a_line_error(
    chiplet: str, workload: str, tail: str, line: int, key: str, message: str, cli: Cli, write
) -> None:
    text = scenario(chiplet, workload, tail)
    if key.endswith(".pes"):
        value = 0 if "greater than 0" in message else 2**64
        text = text.replace("pes = 4096", f"pes = {value}")
    assert_rejected(cli, write("bad.toml", text), line, key, message)


def test_every_error_is_reported_at_once(cli: Cli, write) -> None:
    text = scenario(tail='[scheduler]\nname = "nope"').replace("pes = 4096", "pes = 0")
    path = write("bad.toml", text.replace('"resnet50"', '"resnet51"'))
    stderr = assert_rejected(cli, path, 6, "package.chiplet_types.a.pes")
    assert f"{path}:9: workloads.0.model: unknown model 'resnet51'" in stderr
    assert f"{path}:12: scheduler.name: unknown scheduler 'nope'" in stderr


def test_unknown_scheduler_is_rejected_by_run_with_its_line(cli: Cli, write) -> None:
    path = write("bad.toml", scenario(tail='[scheduler]\nname = "scarr"'))
    result = cli("run", path, "--requests", "5")
    assert result.exit_code == 2
    assert f"{path}:12: scheduler.name: unknown scheduler 'scarr'" in result.stderr


def test_a_chiplet_type_name_must_be_a_name(cli: Cli, write) -> None:
    text = scenario().replace('[["a"]]', '[["a\\tb"]]')
    stderr = assert_rejected(cli, write("bad.toml", text), 2, "package.layout.0.0")
    assert "printable on one line" in stderr


def test_cli_overrides_meet_the_same_ranges(cli: Cli, write) -> None:
    result = cli("run", write("ok.toml", scenario()), "--seed", "-1")
    assert result.exit_code == 2
    assert "simulation.seed: override -1: Input should be greater than or equal to 0" in (
        result.stderr
    )


def test_rows_and_cols_must_agree_with_pes(write) -> None:
    text = scenario("rows = 32\ncols = 64")
    with pytest.raises(ScenarioError, match=r"rows x cols = 2048 differs from pes = 4096"):
        load_scenario(write("bad.toml", text))
    # rows and cols alone (no pes) give the array: 32 x 64 = 2048 PEs, not isqrt-based.
    sc = load_scenario(write("ok.toml", text.replace("pes = 4096\n", "")))
    assert sc.package.chiplet_types["a"].pes == 2048


def test_published_chips_fit_the_ranges(write) -> None:
    # Wafer-scale SRAM (Cerebras WSE-3: 44 GB ~ 42,000 MiB, 900,000 cores), a 4.5 GHz
    # clock, eight HBM3e stacks (~8 x 1.2 TB/s) and a 1 TB/s NoP link all validate.
    chiplet = "sram_mib = 42000\nfreq_mhz = 4500"
    tail = "[dram]\nbandwidth_gb_per_s = 9600\n[nop]\nlink_bandwidth_gb_per_s = 1000"
    text = scenario(chiplet, tail=tail).replace("pes = 4096", "pes = 900601")  # 949**2
    chip = load_scenario(write("big.toml", text)).package.chiplet_types["a"]
    assert chip.freq_hz == 4_500_000_000
    assert chip.sram_bytes == 42000 << 20
    assert chip.pes == 949**2


def test_range_ends_keep_picoseconds_in_int64() -> None:
    # The longest run and the longest mean gap between arrivals must fit numpy's int64
    # picoseconds (9.2e18): both are 1e18 ps at the ends of the ranges.
    assert SIMULATED_TIME_S[1] * PS_PER_S <= INT64_MAX
    assert PS_PER_S / RATE_PER_S[0] <= INT64_MAX
    # The fastest stream still has a gap of at least one picosecond.
    assert PS_PER_S / RATE_PER_S[1] >= 1


def test_ranges_are_stated_in_the_field_descriptions() -> None:
    from mcmsim.scenario import ChipletTypeSpec

    described = ChipletTypeSpec.model_fields["freq_mhz"].description or ""
    assert "MHz" in described
    assert re.search(r"\[1, 100000\]", described)
