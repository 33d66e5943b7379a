"""Issue 17, items 3 and 4: reading an input file never crashes or hangs, and every
error is one ``error:`` line that names the line of the file where it has one."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from mcmsim import inputs
from mcmsim.inputs import InputFileError, read_input_bytes, read_input_text
from mcmsim.scenario import MAX_NESTING_DEPTH, locate_keys
from tests.conftest import ROOT, Cli, CliResult

SCENARIO = (ROOT / "scenarios" / "gpt2_resnet.toml").read_text(encoding="utf-8")
SWEEP = (ROOT / "scenarios" / "sweeps" / "layouts_2x2.toml").read_text(encoding="utf-8")


def one_error(result: CliResult, where: str) -> str:
    """The single ``error:`` line of a failed command, which must start with ``where``."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {where}"), result.output
    return lines[0]


def line_of_text(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` containing ``needle``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def scenario_with(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- item 3: special, missing, huge and undecodable files ------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("command", ["validate", "sweep"])
def test_a_fifo_is_an_error_not_a_hang(cli: Cli, tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block for ever
    args = [command, fifo] + (["--dry-run"] if command == "sweep" else [])
    line = one_error(cli(*args), f"{fifo}: ")
    assert "FIFO" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_sweep_base_that_is_a_fifo_is_an_error(cli: Cli, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "base.toml")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "base.toml"\n[axes]\n"simulation.seed" = [1, 2]\n')
    one_error(cli("sweep", sweep, "--dry-run"), f"{sweep}:1: base: ")


def test_a_directory_is_an_error(cli: Cli, tmp_path: Path) -> None:
    line = one_error(cli("validate", tmp_path), f"{tmp_path}: ")
    assert "is a directory" in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_an_error_not_an_endless_read(cli: Cli) -> None:
    line = one_error(cli("validate", "/dev/zero"), "/dev/zero: ")
    assert "device" in line


def test_a_missing_file_says_so(cli: Cli, tmp_path: Path) -> None:
    line = one_error(cli("validate", tmp_path / "nope.toml"), f"{tmp_path / 'nope.toml'}: ")
    assert line.endswith("file not found")


def test_a_path_through_a_file_says_so(cli: Cli, tmp_path: Path) -> None:
    plain = scenario_with(tmp_path, SCENARIO)
    line = one_error(cli("validate", plain / "x.toml"), f"{plain / 'x.toml'}: ")
    assert "not found" in line


def test_an_over_long_path_is_one_short_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / ("a" * 5000 + ".toml")
    result = cli("validate", path)
    line = one_error(result, str(tmp_path)[:20])
    assert "path too long" in line
    assert f"({len(str(path))} characters)" in line
    assert len(line) < 400  # the path is shortened, not printed twice in full


def test_a_path_with_a_nul_character_is_an_error() -> None:
    with pytest.raises(InputFileError, match="NUL"):
        read_input_text("a\0b.toml", "scenario")


def test_a_file_over_the_limit_is_not_read(cli: Cli, tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as handle:  # sparse: nothing is written to disk
        handle.truncate(inputs.MAX_TEXT_BYTES + 1)
    line = one_error(cli("validate", huge), f"{huge}: ")
    assert f"at most {inputs.MAX_TEXT_BYTES >> 20} MiB" in line


def test_the_limit_is_checked_on_what_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"x" * 11)
    assert read_input_bytes(path, "trace", limit_bytes=11) == b"x" * 11
    with pytest.raises(InputFileError, match="at most"):
        read_input_bytes(path, "trace", limit_bytes=10)


def test_undecodable_bytes_name_their_line_and_offset(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    before = b'name = "x"\n\nseed = "'
    path.write_bytes(before + b'\xff"\n')
    line = one_error(cli("validate", path), f"{path}:3: ")
    assert "not UTF-8" in line
    assert f"byte offset {len(before)})" in line
    assert "0xff" in line


def test_utf16_is_named(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "wide.toml"
    path.write_bytes(SCENARIO.encode("utf-16"))
    line = one_error(cli("validate", path), f"{path}:1: ")
    assert "UTF-16" in line


def test_a_utf8_byte_order_mark_is_accepted(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SCENARIO.encode())
    assert cli("validate", path).exit_code == 0


def test_an_undecodable_sweep_file_names_its_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_bytes(b'base = "x.toml"\n# \xc3\x28\n')
    line = one_error(cli("sweep", path, "--dry-run"), f"{path}:2: ")
    assert "not UTF-8" in line


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_scenario_is_one_line_not_a_usage_box(cli: Cli, tmp_path: Path) -> None:
    path = scenario_with(tmp_path, SCENARIO)
    path.chmod(0)
    line = one_error(cli("validate", path), f"{path}: ")
    assert "permission denied" in line


def test_a_permission_error_is_one_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the test above, for a user (root) who can read every file."""
    path = scenario_with(tmp_path, SCENARIO)
    real_open = os.open

    def denied(name, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(inputs.os, "open", denied)
    line = one_error(cli("validate", path), f"{path}: ")
    assert line.endswith("permission denied")
    assert "Usage" not in line


@pytest.mark.parametrize("open_close", [("[", "]"), ("{a = ", "}")])
@pytest.mark.parametrize("depth", [2000, MAX_NESTING_DEPTH + 1])
def test_deep_nesting_is_an_error_at_its_line(
    cli: Cli, tmp_path: Path, open_close: tuple[str, str], depth: int
) -> None:
    opening, closing = open_close
    deep = opening * depth + ("1" if opening != "[" else "") + closing * depth
    text = SCENARIO.replace('name = "scar"', f'name = "scar"\nfoo = {deep}')
    path = scenario_with(tmp_path, text)
    line = one_error(cli("validate", path), f"{path}:{line_of_text(text, 'foo =')}: ")
    assert f"nested {depth} deep" in line


def test_nesting_up_to_the_limit_is_read() -> None:
    deep = "[" * MAX_NESTING_DEPTH + "]" * MAX_NESTING_DEPTH
    assert locate_keys(f"x = {deep}\n").deepest == MAX_NESTING_DEPTH


def test_deep_nesting_in_a_sweep_is_an_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text('base = "x.toml"\n[axes]\n"a.b" = ' + "[" * 2000 + "]" * 2000 + "\n")
    line = one_error(cli("sweep", path, "--dry-run"), f"{path}:3: ")
    assert "nested 2000 deep" in line


@pytest.mark.parametrize(
    "line",
    [
        " " * 20_000,  # quadratic before: 1,500 spaces took 4 s
        "a" * 20_000,
        "a " * 10_000,
        '"a".' * 5_000,
        "[" + " " * 20_000,
        "x = " + "[1, " * 5_000,
        "# " + "=" * 20_000,
    ],
)
def test_the_key_locator_reads_long_lines(line: str) -> None:
    """Lines that made the old regular expressions backtrack quadratically (20,000
    characters would take minutes) are read; the time is in benchmarks/bench_parsing.py."""
    located = locate_keys(f"a = 1\n{line}\nb = 2\n")
    assert located.lines[("a",)] == 1
    assert located.last_line == 4


def test_a_whitespace_line_does_not_stop_validation(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace("[scheduler]", " " * 4000 + "\n[scheduler]")
    assert cli("validate", scenario_with(tmp_path, text)).exit_code == 0


# --- item 4: every error names its line --------------------------------------------


def test_a_continuation_line_ending_in_brackets_is_not_a_header(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace('["os", "ws"]]', '["os", "ws"]]\nbogus = 1')
    path = scenario_with(tmp_path, text)
    line = one_error(cli("validate", path), f"{path}:{line_of_text(text, 'bogus')}: ")
    assert "package.bogus: unknown key" in line


def test_an_unknown_key_after_a_multiline_array_at_the_top(tmp_path: Path, cli: Cli) -> None:
    text = 'layout_note = [\n  ["a"],\n  ["b"]]\nbogus = 1\n' + SCENARIO.replace(
        'name = "gpt2_resnet"\n', ""
    )
    path = scenario_with(tmp_path, text)
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"{path}:4: bogus: unknown key" in result.stderr
    assert f"{path}:1: layout_note: unknown key" in result.stderr


def test_a_quoted_non_ascii_key_has_its_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace("seed = 1", 'seed = 1\n"café" = 1')
    path = scenario_with(tmp_path, text)
    line = one_error(cli("validate", path), f"{path}:{line_of_text(text, 'café')}: ")
    assert "simulation.café: unknown key" in line


def test_an_escaped_quoted_key_has_its_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace("seed = 1", 'seed = 1\n"caf\\u00e9" = 1')
    path = scenario_with(tmp_path, text)
    line = one_error(cli("validate", path), f"{path}:{line_of_text(text, 'caf')}: ")
    assert "simulation.café: unknown key" in line


def test_a_key_given_only_as_a_dotted_key_has_its_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace("[simulation]\n", "").replace(
        "seed = 1", "simulation.seed = 1\nsimulation.bogus = 2"
    )
    text = text.replace('mode = "stream"\n', "").replace("requests = 4000\n", "")
    text = text.replace("[scheduler]", "simulation.mode = 'stream'\n[scheduler]")
    # Dotted keys must come before the first table: move them to the top.
    moved = [ln for ln in text.splitlines() if ln.startswith("simulation.")]
    rest = [ln for ln in text.splitlines() if not ln.startswith("simulation.")]
    text = "\n".join(moved + rest) + "\n"
    path = scenario_with(tmp_path, text)
    line = one_error(cli("validate", path), f"{path}:{line_of_text(text, 'bogus')}: ")
    assert "simulation.bogus: unknown key" in line


def test_a_dotted_key_in_a_table_has_its_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace("[package.chiplet_types.os]\n", "").replace(
        'dataflow = "os"\npes = 4096\n', ""
    )
    text = text.replace(
        '["os", "ws"]]\n',
        '["os", "ws"]]\nchiplet_types.os.dataflow = "os"\nchiplet_types.os.pes = 0\n',
    )
    path = scenario_with(tmp_path, text)
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    pes_line = line_of_text(text, "chiplet_types.os.pes")
    assert f"{path}:{pes_line}: package.chiplet_types.os.pes" in result.stderr


def test_an_inline_table_key_on_its_own_line_has_that_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace(
        'stream = { kind = "closed", in_flight = 4 }\n\n[[workloads]]',
        'stream = { kind = "closed", in_flight = 4 }\n\n[[workloads]]',
    ).replace(
        "[scheduler]",
        '[[workloads]]\nname = "extra"\nlayers = [\n  { name = "l0", op = "elementwise", elems = 8 },\n'
        '  { name = "l1", op = "elementwise", elems = 0 },\n]\n\n[scheduler]',
    )
    path = scenario_with(tmp_path, text)
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    bad = line_of_text(text, '"l1"')
    assert f"{path}:{bad}: workloads.2.layers.1.elems" in result.stderr


def test_a_syntax_error_at_the_end_of_the_document_names_the_last_line(
    cli: Cli, tmp_path: Path
) -> None:
    text = SCENARIO + "\n[simulation2\n\n"
    path = scenario_with(tmp_path, text)
    line = one_error(cli("validate", path), f"{path}:{len(text.rstrip().splitlines())}: ")
    assert "TOML syntax error" in line


def test_a_missing_package_table_is_reported_at_line_1(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO[: SCENARIO.index("[package]")]
    text += '[[workloads]]\nmodel = "resnet50"\n'
    path = scenario_with(tmp_path, text)
    one_error(cli("validate", path), f"{path}:1: package: Field required")


def test_a_missing_layout_is_reported_at_its_table(cli: Cli, tmp_path: Path) -> None:
    text = re.sub(r"layout = \[\[.*?\]\]\n", "", SCENARIO, flags=re.S)
    path = scenario_with(tmp_path, text)
    line = line_of_text(text, "[package]")
    one_error(cli("validate", path), f"{path}:{line}: package.layout: Field required")


def test_a_truncated_file_has_a_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO[: SCENARIO.index("[package.chiplet_types.os]")]
    path = scenario_with(tmp_path, text)
    result = cli("validate", path)
    assert result.exit_code == 2
    for error in result.stderr.splitlines():
        assert re.match(rf"error: {re.escape(str(path))}:\d+: ", error), error


def test_a_newline_in_a_key_stays_on_one_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace("seed = 1", 'seed = 1\n"a\\nb" = 1')
    path = scenario_with(tmp_path, text)
    number = line_of_text(text, "a\\nb")
    line = one_error(cli("validate", path), f"{path}:{number}: ")
    assert "simulation.a\\nb: unknown key" in line


def test_a_newline_in_a_value_stays_on_one_line(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace('model = "resnet50"', 'model = "res\\nnet\\u001b[31m"')
    path = scenario_with(tmp_path, text)
    number = line_of_text(text, "res\\n")
    line = one_error(cli("validate", path), f"{path}:{number}: ")
    assert "\x1b" not in line


def test_a_control_character_in_a_file_name_is_escaped(cli: Cli, tmp_path: Path) -> None:
    result = cli("validate", tmp_path / "a\nb.toml")
    one_error(result, f"{tmp_path}/a\\nb.toml: file not found")


def test_a_missing_onnx_file_is_blamed_on_the_model_key(cli: Cli, tmp_path: Path) -> None:
    text = SCENARIO.replace('model = "resnet50"', 'model = "missing.onnx"\nimage_size = 224')
    path = scenario_with(tmp_path, text)
    line = line_of_text(text, "missing.onnx")
    one_error(cli("validate", path), f"{path}:{line}: workloads.1.model: ")


def test_sweep_axis_lines_still_found() -> None:
    located = locate_keys(SWEEP)
    line = line_of_text(SWEEP, '"nop.link_bandwidth_gb_per_s"')
    assert located.lines[("axes", "nop.link_bandwidth_gb_per_s")] == line
    assert located.lines[("axes", "nop", "link_bandwidth_gb_per_s")] == line
    assert located.lines[("axes", "package.layout", "all-os")] == line_of_text(SWEEP, "all-os")


def test_array_elements_and_arrays_of_tables_have_their_lines() -> None:
    text = (
        '[[w]]\nm = "a"\n[[w]]\nm = "b"\n[[w.s]]\nk = 1\n'
        "[t]\nrows = [\n  [1, 2],\n  [3, 4]]\nx = '''\n[not]\n'''\ny = 2\n"
    )
    lines = locate_keys(text).lines
    assert lines[("w", 1, "m")] == 4
    assert lines[("w", 1, "s", 0, "k")] == 6
    assert lines[("t", "rows", 1)] == 10
    assert lines[("t", "rows", 1, 1)] == 10
    assert ("not",) not in lines
    assert lines[("t", "y")] == 14
