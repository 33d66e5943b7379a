"""Issue 17, item 5: schedules, trace CSVs and ONNX files that are wrong say where.

Every case is a file a user could hand mcmsim. Each must end in exit 2 and one
``error:`` line naming the file and the place in it (a JSON path, a line, an ONNX node),
never a traceback (the ``cli`` fixture fails the test on an escaped exception).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mcmsim.inputs import MAX_MODEL_BYTES, MAX_TRACE_BYTES
from tests.conftest import Cli, CliResult
from tests.test_sim import ONE_CHIPLET

SCENARIO = "scenarios/gpt2_resnet.toml"  # a 2x2 package (chiplets 0-3), stream mode
GPT2_LAYERS = 149  # gpt2 at seq_len 128 in the zoo
RESNET_LAYERS = 174


def one_error(result: CliResult) -> str:
    """The one ``error:`` line of a run that rejected its input."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# --- schedules ----------------------------------------------------------------------------


def _segment(model: str = "gpt2", start: object = 0, stop: object = GPT2_LAYERS, chiplet=0):
    return {"model": model, "start": start, "stop": stop, "chiplet": chiplet}


def _schedule(*windows: list[dict]) -> str:
    return json.dumps({"scheduler": "hand", "windows": [{"segments": w} for w in windows]})


RESNET = _segment("resnet50", 0, RESNET_LAYERS, 1)


def run_schedule(cli: Cli, path: Path) -> CliResult:
    return cli("run", SCENARIO, "--requests", "20", "--schedule", path)


def test_a_valid_hand_written_schedule_still_runs(cli: Cli, write) -> None:
    path = write("schedule.json", _schedule([_segment(), RESNET]))
    result = run_schedule(cli, path)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # bool is an int in Python; JSON true is not a chiplet index.
        (_schedule([_segment(chiplet=True)]), "windows[0].segments[0].chiplet: expected an integer, got true"),
        (_schedule([RESNET, _segment(chiplet=1.7)]), "windows[0].segments[1].chiplet: expected an integer, got 1.7"),
        (_schedule([_segment(chiplet="1")]), 'windows[0].segments[0].chiplet: expected an integer, got "1"'),
        (_schedule([_segment(chiplet=-1)]), "windows[0].segments[0].chiplet: expected an integer 0.."),
        # Infinity, NaN and 1e400 are read by Python's json as floats; none is an index.
        (_schedule([_segment(stop=float("inf"))]), "windows[0].segments[0].stop: expected an integer, got Infinity"),
        (_schedule([_segment(start=float("nan"))]), "windows[0].segments[0].start: expected an integer, got NaN"),
        (_schedule([_segment()]).replace("149", "1e400"), "windows[0].segments[0].stop: expected an integer, got Infinity"),
        (_schedule([_segment()]).replace("149", "1" + "0" * 400), "windows[0].segments[0].stop: expected an integer 0..9223372036854775807"),
        (_schedule([{"model": "gpt2", "start": 0, "stop": 149}]), "windows[0].segments[0].chiplet: missing key"),
        (_schedule([{**_segment(), "chiplt": 1}]), "windows[0].segments[0].chiplt: unknown key"),
        (_schedule([{**_segment(), "a\nb": 1}]), 'windows[0].segments[0]["a\\nb"]: unknown key'),
        (_schedule([_segment(model="")]), "windows[0].segments[0].model: expected a non-empty string"),
        (json.dumps({"windows": {"segments": []}}), "windows: expected an array, got an object"),
        (json.dumps({"segments": []}), "windows: missing key"),
        ("[1, 2]", "(root): expected an object, got an array"),
        # Checks against the scenario: the JSON path of the segment and its field.
        (_schedule([_segment(chiplet=7), RESNET]), "windows[0].segments[0].chiplet: gpt2 layers [0, 149) on chiplet 7, but the package has chiplets 0-3"),
        (_schedule([RESNET, _segment(model="bert")]), "windows[0].segments[1].model: unknown model 'bert'; models: gpt2, resnet50"),
        (_schedule([_segment(stop=0), RESNET]), "windows[0].segments[0].stop: gpt2 segment [0, 0) is empty"),
        (_schedule([_segment(stop=10), _segment(start=12), RESNET]), "windows[0].segments[1].start: gpt2 segment [12, 149) leaves a gap before layer 10"),
        (_schedule([_segment(stop=10), _segment(start=5), RESNET]), "windows[0].segments[1].start: gpt2 segment [5, 149) overlaps layer 10"),
        (_schedule([_segment(stop=10), RESNET]), "windows[0].segments[0].stop: gpt2: layers 10-148 of 149 are not mapped"),
        (_schedule([_segment(stop=200), RESNET]), "windows[0].segments[0].stop: gpt2: segments reach layer 199, model has 149 layers"),
        (_schedule([RESNET]), "windows: gpt2: layers 0-148 of 149 are not mapped"),
        (_schedule(), "windows: the schedule has no windows"),
        (_schedule([_segment(), RESNET], []), "windows: 2 time windows given; stream mode takes one"),
    ],
)  # fmt: skip
def test_schedule_errors_name_the_file_and_the_json_path(
    cli: Cli, write, text: str, message: str
) -> None:
    path = write("schedule.json", text)
    assert one_error(run_schedule(cli, path)).startswith(f"error: {path}: {message}")


def test_schedule_that_is_not_json_names_the_line(cli: Cli, write) -> None:
    path = write("schedule.json", '{\n  "windows": [\n    {"segments": [}\n  ]\n}')
    assert one_error(run_schedule(cli, path)).startswith(f"error: {path}:3: not JSON (")


def test_utf16_schedule_is_not_utf8(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_bytes(_schedule([_segment(), RESNET]).encode("utf-16"))
    line = one_error(run_schedule(cli, path))
    assert line == f"error: {path}:1: is UTF-16 text; save it as UTF-8"


def test_a_utf8_byte_order_mark_is_accepted(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_bytes(_schedule([_segment(), RESNET]).encode("utf-8-sig"))
    assert run_schedule(cli, path).exit_code == 0


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_schedule_nested_2000_deep(cli: Cli, write, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    path = write("schedule.json", opening * 2000 + "1" + closing * 2000)
    line = one_error(run_schedule(cli, path))
    assert line == f"error: {path}: arrays or objects nested too deep for a schedule"


def test_schedule_that_is_a_directory_missing_or_too_long(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "schedule.json"
    folder.mkdir()
    line = one_error(run_schedule(cli, folder))
    assert line == f"error: {folder}: is a directory, not a schedule file"
    missing = tmp_path / "nope.json"
    assert one_error(run_schedule(cli, missing)) == f"error: {missing}: file not found"
    long = tmp_path / ("s" * 5000 + ".json")
    line = one_error(run_schedule(cli, long))
    assert line.endswith(f"({len(str(long))} characters): path too long for this system")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_schedule_that_is_a_fifo_does_not_hang(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "schedule.json"
    os.mkfifo(fifo)
    line = one_error(run_schedule(cli, fifo))
    assert line == f"error: {fifo}: is a FIFO (named pipe), not a schedule file"


def test_a_scheduler_made_schedule_names_the_json_path_too() -> None:
    from mcmsim.schedule.schedule import Schedule, ScheduleError, Segment

    schedule = Schedule.single("mine", [Segment("gpt2", 0, 149, 9)])
    with pytest.raises(ScheduleError) as info:
        schedule.validate({"gpt2": 149}, 4, stream_mode=True)
    assert str(info.value).startswith("windows[0].segments[0].chiplet: gpt2 layers [0, 149)")


# --- trace CSVs ---------------------------------------------------------------------------


def trace_scenario(tmp_path: Path, body: bytes | str) -> Path:
    """A one-chiplet scenario whose workload ``fc`` replays ``arrivals.csv``."""
    csv = tmp_path / "arrivals.csv"
    csv.write_bytes(body if isinstance(body, bytes) else body.encode())
    scenario = tmp_path / "trace.toml"
    stream = '{ kind = "trace", file = "arrivals.csv" }'
    scenario.write_text(ONE_CHIPLET.format(stream=stream, requests=5))
    return scenario


HEADER = "arrival_s,model\n"


def test_a_valid_trace_validates(cli: Cli, tmp_path: Path) -> None:
    scenario = trace_scenario(tmp_path, HEADER + "\n# a comment\n0.1,fc\n0.2,fc\n")
    assert cli("validate", scenario).exit_code == 0


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        # The quote opened on line 3 used to swallow every following row silently.
        (HEADER + '0.1,fc\n0.2,"fc\n0.3,fc\n0.4,fc\n', 3, "a quote opened on this line is never closed"),
        (HEADER + '0.1,fc\n0.2,"fc\nfc"\n0.3,fc\n', 3, "a quoted field runs on to line 4"),
        (HEADER + '0.1,fc\n0.2,"fc"\n0.3,"fc"x\n', 4, "not CSV ("),
        (HEADER + "0.1,fc\n0.2," + "f" * 200_000 + "\n", 3, "a field is longer than 131,072 characters"),
        (HEADER + "0.1,fc\n1e300,fc\n", 3, "arrival_s must be a time from 0 to 1,000,000 s (about 11.6 days), got 1e300"),
        (HEADER + "0.1,fc\ninf,fc\n", 3, "arrival_s must be a time from 0 to"),
        (HEADER + "0.1,fc\nnan,fc\n", 3, "arrival_s must be a time from 0 to"),
        (HEADER + "0.1,fc\n-0.5,fc\n", 3, "arrival_s must be a time from 0 to"),
        (HEADER + "0.1,fc\n" + "9" * 1000 + ",fc\n", 3, "got 9999999999999999999999999999999999999..."),
        (HEADER + "0.1,fc\nsoon,fc\n", 3, "arrival_s 'soon' is not a number"),
        (HEADER + "\n# comment\n0.1,fc\n0.2,fc,x\n", 5, "expected 2 columns arrival_s,model, got 3"),
        ((HEADER + "0.1,fc\n").encode() + b"0.2,f\xffc\n", 3, "not UTF-8 text: byte 0xff at column 6 (byte offset 28)"),
        ((HEADER + "0.1,fc\n0.2,fc\n").encode("utf-16"), 1, "is UTF-16 text; save it as UTF-8"),
    ],
    ids=["unclosed-quote", "multiline-field", "misplaced-quote", "200k-field", "1e300", "inf",
         "nan", "negative", "1000-digits", "not-a-number", "columns-after-blank", "bad-byte",
         "utf16"],
)  # fmt: skip
def test_trace_errors_name_file_and_line(
    cli: Cli, tmp_path: Path, body: bytes | str, line: int, message: str
) -> None:
    scenario = trace_scenario(tmp_path, body)
    error = one_error(cli("validate", scenario))
    assert error.startswith(f"error: {scenario}:")  # the scenario's line of the stream
    assert f"{tmp_path / 'arrivals.csv'}:{line}: " in error and message in error


def test_trace_that_is_a_directory(cli: Cli, tmp_path: Path) -> None:
    scenario = trace_scenario(tmp_path, "")
    csv = tmp_path / "arrivals.csv"
    csv.unlink()
    csv.mkdir()
    assert f"{csv}: is a directory, not a trace file" in one_error(cli("validate", scenario))


def generation_scenario(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "requests.csv").write_text(
        "arrived_at,num_prefill_tokens,num_decode_tokens\n" + rows
    )
    scenario = tmp_path / "gen.toml"
    scenario.write_text(
        '[package]\nlayout = [["ws"]]\n[package.chiplet_types.ws]\ndataflow = "ws"\n'
        'pes = 4096\n[[workloads]]\nmodel = "gpt2"\n'
        'generation = { trace = "requests.csv" }\n[simulation]\nmode = "stream"\n'
    )
    return scenario


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        (
            "0.0,10,5\n1e300,10,5\n",
            3,
            "arrived_at 1e300 is more than 1,000,000 s (about 11.6 days)",
        ),
        ("0.0,10,5\n5e6,10,5\n", 3, "arrived_at 5e6 is more than 1,000,000 s (about 11.6 days)"),
        ("0.0,10,5\n1.0,10," + "9" * 30 + "\n", 3, "num_decode_tokens must be <= 10,000,000"),
        ('0.0,10,5\n"1.0,10,5\n2.0,10,5\n', 3, "a quote opened on this line is never closed"),
        ("0.0,10,5\n1.0,10," + "5" * 200_000 + "\n", 3, "a field is longer than 131,072"),
    ],
    ids=["1e300", "5e6-s", "30-digit-tokens", "unclosed-quote", "200k-field"],
)
def test_generation_trace_errors_name_file_and_line(
    cli: Cli, tmp_path: Path, rows: str, line: int, message: str
) -> None:
    error = one_error(cli("validate", generation_scenario(tmp_path, rows)))
    assert f"{tmp_path / 'requests.csv'}:{line}: {message}" in error


# --- ONNX files ---------------------------------------------------------------------------

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402  # after the skip


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def _value(name: str, shape: list[int | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _save_onnx(
    path: Path, nodes: list, inputs: list, outputs: list, initializers: list | None = None
) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def _conv(path: Path, x: list[int], w: tuple[int, ...], y: list[int | None], **attrs) -> Path:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", **attrs)
    return _save_onnx(path, [node], [_value("x", x)], [_value("y", y)], [_weight("w", *w)])


def onnx_scenario(tmp_path: Path, model: Path) -> Path:
    scenario = tmp_path / "net.toml"
    scenario.write_text(
        '[package]\nlayout = [["ws"]]\n[package.chiplet_types.ws]\ndataflow = "ws"\n'
        f'pes = 4096\n[[workloads]]\nmodel = "{model.name}"\n'
        'stream = { kind = "closed" }\n'
    )
    return scenario


def test_conv_with_zero_strides_in_models_show(cli: Cli, tmp_path: Path) -> None:
    # The declared output shape spares shape inference the division by the stride, so
    # the stride of 0 reached the layer builder and raised there.
    path = _conv(tmp_path / "s0.onnx", [1, 3, 8, 8], (4, 3, 3, 3), [1, 4, 6, 6], strides=[0, 0])
    line = one_error(cli("models", "show", path))
    assert line == f"error: {path}: node 'conv1' (Conv): strides [0, 0] must all be >= 1"


@pytest.mark.parametrize(
    ("attrs", "w", "message"),
    [
        ({"dilations": [0, 0]}, (4, 3, 3, 3), "dilations [0, 0] must all be >= 1"),
        ({"pads": [-1, -1, -1, -1]}, (4, 3, 3, 3), "pads [-1, -1, -1, -1] must all be >= 0"),
        # A weight with 5 input channels for an input of 3: shape inference lets it pass.
        ({}, (4, 5, 3, 3), "input has 3 channels but weight 'w' of shape [4, 5, 3, 3]"),
        (
            {"group": 2},
            (4, 3, 3, 3),
            "input has 3 channels but weight 'w' of shape [4, 3, 3, 3] with group 2 expects 6",
        ),
    ],
)
def test_bad_conv_attributes_name_the_node(
    cli: Cli, tmp_path: Path, attrs: dict, w: tuple[int, ...], message: str
) -> None:
    path = _conv(tmp_path / "c.onnx", [1, 3, 8, 8], w, [1, 4, None, None], **attrs)
    assert one_error(cli("models", "show", path)).startswith(
        f"error: {path}: node 'conv1' (Conv): {message}"
    )


def test_conv_output_shape_that_contradicts_its_input(cli: Cli, tmp_path: Path) -> None:
    # A 3x3 kernel over a 2x2 input leaves no output pixel; the declared shape hides it.
    path = _conv(tmp_path / "k.onnx", [1, 3, 2, 2], (4, 3, 3, 3), [1, 4, 1, 1])
    line = one_error(cli("models", "show", path))
    assert line == (
        f"error: {path}: node 'conv1' (Conv): output 'y' has spatial shape [1, 1], "
        "but the input, kernel, pads, strides and dilations give [0, 0]"
    )


def test_graph_with_no_nodes_fails_validate(cli: Cli, tmp_path: Path) -> None:
    path = _save_onnx(tmp_path / "empty.onnx", [], [_value("x", [1, 3])], [_value("x", [1, 3])])
    error = one_error(cli("validate", onnx_scenario(tmp_path, path)))
    assert f"{path}: the graph has no node that computes (no nodes): nothing to simulate" in error


def test_graph_of_shape_only_nodes_fails_validate(cli: Cli, tmp_path: Path) -> None:
    node = helper.make_node("Identity", ["x"], ["y"])
    path = _save_onnx(tmp_path / "id.onnx", [node], [_value("x", [1, 3])], [_value("y", [1, 3])])
    error = one_error(cli("validate", onnx_scenario(tmp_path, path)))
    assert f"{path}: the graph has no node that computes (1 nodes, all constant" in error


def test_matmul_of_9_9e27_macs_fails_validate_naming_the_node(cli: Cli, tmp_path: Path) -> None:
    # (1e9 x 1e9) @ (1e9 x 9.9e9): 1e9 * 1e9 * 9.9e9 = 9.9e27 MACs, no weights to store.
    a, b = _value("a", [1, 10**9, 10**9]), _value("b", [1, 10**9, 99 * 10**8])
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    path = _save_onnx(tmp_path / "big.onnx", [node], [a, b], [_value("y", [None] * 3)])
    error = one_error(cli("validate", onnx_scenario(tmp_path, path)))
    assert f"{path}: node 'mm' (MatMul): 9.9e+27 MACs per inference, over the 1e+18" in error


def test_unsupported_operators_name_their_nodes(cli: Cli, tmp_path: Path) -> None:
    node = helper.make_node("NonMaxSuppression", ["x", "x"], ["y"], name="nms")
    path = _save_onnx(tmp_path / "n.onnx", [node], [_value("x", [1, 3, 4])], [_value("y", [None])])
    line = one_error(cli("models", "show", path))
    assert line.startswith(
        f"error: {path}: unsupported operators: NonMaxSuppression x1 at nodes 'nms'"
    )


def test_checker_rejection_names_the_node(cli: Cli, tmp_path: Path) -> None:
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool")  # kernel_shape is required
    path = _save_onnx(
        tmp_path / "p.onnx", [node], [_value("x", [1, 3, 8, 8])], [_value("y", [None] * 4)]
    )
    line = one_error(cli("models", "show", path))
    assert line.startswith(f"error: {path}: not a valid ONNX model (")
    assert line.endswith("at node 'pool' (MaxPool)")


def test_onnx_weights_in_an_external_data_file_are_found_next_to_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    graph = helper.make_graph(
        [node], "ext", [_value("x", [1, 64])], [_value("y", [1, 64])], [_weight("w", 64, 32)]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="w.bin", size_threshold=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the weights file is found next to the model, not in the cwd
    from mcmsim.workloads.onnx_import import load_onnx

    assert load_onnx(path).layers[0].weight_elems == 64 * 32


def test_onnx_path_that_is_a_directory(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "net.onnx"
    folder.mkdir()
    line = one_error(cli("models", "show", folder))
    assert line == f"error: {folder}: is a directory, not an ONNX file"


# --- special files and size limits: every reader goes through mcmsim.inputs ------------
# A FIFO nobody writes to blocks a plain open() for ever. Each call runs in a thread; if
# it is still inside the reader after a while, opening the FIFO's other end releases it
# so that a regression fails the test instead of hanging the suite.

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def without_hanging(fifo: Path, call: Callable[[], CliResult]) -> CliResult:
    """``call()``, failing the test if it is still blocked on ``fifo`` after 20 s."""
    results: list[CliResult] = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():
        with open(fifo, "wb"):  # the blocked reader's open() returns; it then reads EOF
            pass
        thread.join(20)
        pytest.fail(f"reading {fifo} blocked until its other end was opened")
    return results[0]


def stream_line(scenario: Path) -> int:
    """The line of ``scenario`` that names the workload's stream or generation trace."""
    lines = scenario.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "stream =" in line or ".csv" in line)


@needs_fifo
def test_trace_that_is_a_fifo_does_not_hang(cli: Cli, tmp_path: Path) -> None:
    scenario = trace_scenario(tmp_path, "")
    csv = tmp_path / "arrivals.csv"
    csv.unlink()
    os.mkfifo(csv)
    line = one_error(without_hanging(csv, lambda: cli("validate", scenario)))
    assert line == (
        f"error: {scenario}:{stream_line(scenario)}: workloads.0.stream.file: "
        f"{csv}: is a FIFO (named pipe), not a trace file"
    )


@needs_fifo
def test_generation_trace_that_is_a_fifo_does_not_hang(cli: Cli, tmp_path: Path) -> None:
    scenario = generation_scenario(tmp_path, "")
    csv = tmp_path / "requests.csv"
    csv.unlink()
    os.mkfifo(csv)
    line = one_error(without_hanging(csv, lambda: cli("validate", scenario)))
    assert line.startswith(f"error: {scenario}:{stream_line(scenario)}: workloads.0.")
    assert line.endswith(f": {csv}: is a FIFO (named pipe), not a trace file")


@needs_fifo
def test_schedule_fifo_does_not_hang_in_a_run(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "schedule.json"
    os.mkfifo(fifo)
    line = one_error(without_hanging(fifo, lambda: run_schedule(cli, fifo)))
    assert line == f"error: {fifo}: is a FIFO (named pipe), not a schedule file"


@needs_fifo
def test_sweep_base_that_is_a_fifo_is_not_a_regular_file(cli: Cli, tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    os.mkfifo(base)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "base.toml"\n[axes]\n"simulation.seed" = [1, 2]\n')
    line = one_error(without_hanging(base, lambda: cli("sweep", sweep, "--dry-run")))
    assert line == (
        f"error: {sweep}:1: base: base scenario {base}: is a FIFO (named pipe), not a scenario file"
    )


@needs_fifo
def test_onnx_file_that_is_a_fifo_does_not_hang(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "net.onnx"
    os.mkfifo(fifo)
    line = one_error(without_hanging(fifo, lambda: cli("models", "show", fifo)))
    assert line == f"error: {fifo}: is a FIFO (named pipe), not an ONNX file"
    scenario = onnx_scenario(tmp_path, fifo)
    line = one_error(without_hanging(fifo, lambda: cli("validate", scenario)))
    assert line.endswith(f"workloads.0.model: {fifo}: is a FIFO (named pipe), not an ONNX file")


def sparse_file(path: Path, size_bytes: int) -> Path:
    """A file of ``size_bytes`` that takes no disk space (skip where that is impossible)."""
    try:
        with open(path, "wb") as handle:
            handle.truncate(size_bytes)
    except OSError as exc:
        pytest.skip(f"no sparse {size_bytes}-byte file here: {exc}")
    return path


def test_trace_over_its_size_limit_is_not_read(cli: Cli, tmp_path: Path) -> None:
    scenario = trace_scenario(tmp_path, "")
    csv = sparse_file(tmp_path / "arrivals.csv", MAX_TRACE_BYTES + (1 << 20))
    line = one_error(cli("validate", scenario))
    assert line.endswith(f"{csv}: file is 4097 MiB; a trace file is at most 4096 MiB")


def test_onnx_over_its_size_limit_is_not_read(cli: Cli, tmp_path: Path) -> None:
    model = sparse_file(tmp_path / "net.onnx", MAX_MODEL_BYTES + (1 << 20))
    line = one_error(cli("models", "show", model))
    assert line == f"error: {model}: file is 2049 MiB; an ONNX file is at most 2048 MiB"


def test_a_small_file_is_read_without_reserving_its_size_limit(tmp_path: Path) -> None:
    # read(n) allocates n bytes up front: reading a 4 GiB limit at once ran out of
    # memory under the fuzz suite's memory cap.
    import tracemalloc

    from mcmsim.inputs import read_input_bytes

    small = tmp_path / "arrivals.csv"
    small.write_text("time_s,workload\n0.001,a\n")
    tracemalloc.start()
    try:
        data = read_input_bytes(small, "trace", MAX_TRACE_BYTES)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == small.read_bytes()
    assert peak_bytes < 1 << 20


@needs_fifo
def test_maestro_file_that_is_a_fifo_does_not_hang(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "net.m"
    os.mkfifo(fifo)
    line = one_error(without_hanging(fifo, lambda: cli("models", "show", f"{fifo}#Net")))
    assert line == f"error: {fifo}: is a FIFO (named pipe), not a MAESTRO model file"
