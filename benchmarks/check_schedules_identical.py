"""Dump every scheduler's schedule for a fixed set of problems, to compare two code trees.

Run once per tree, then compare::

    PYTHONPATH=<tree A> python benchmarks/check_schedules_identical.py dump a.json
    PYTHONPATH=<tree B> python benchmarks/check_schedules_identical.py dump b.json
    python benchmarks/check_schedules_identical.py compare a.json b.json

The problems: every shipped scenario under ``scenarios/`` (sweep files excluded) in
both stream and batch mode, with ``scar`` under each objective and with exhaustive
provisioning, and ``greedy``, ``homogeneous-pipeline``, ``standalone`` and
``monolithic``; plus (``--six``) a 6x6 set of SCAR datacenter mixes 4 and 5 on
checkerboard and cross layouts and mixed closed/Poisson stream mixes of 4 and 6 models.
Schedules are written as canonical JSON (sorted keys), so a refactoring that claims
identical results must give byte-identical files. ``--only`` keeps the problems whose
key contains a substring; ``--scenarios`` reads scenario files from another root.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import mcmsim
from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import make_scheduler, run_scheduler

ROOT = Path(__file__).resolve().parent.parent
RUNS: list[tuple[str, dict[str, str]]] = [
    ("scar", {}),
    ("scar", {"objective": "throughput"}),
    ("scar", {"objective": "latency"}),
    ("scar", {"objective": "energy"}),
    ("scar", {"provisioning": "exhaustive"}),
    ("greedy", {}),
    ("homogeneous-pipeline", {}),
    ("standalone", {}),
    ("monolithic", {}),
]
MIX_4 = [
    ("gpt2-large", {"seq_len": 128}, 8),
    ("bert-large", {"seq_len": 128}, 24),
    ("unet", {}, 1),
    ("resnet50", {}, 32),
]
MIX_5 = [*MIX_4, ("bert-base", {"seq_len": 128}, 24), ("googlenet", {}, 32)]
STREAM_6 = [
    (model, params, 1)
    for model, params, _ in [*MIX_4, ("bert-base", {"seq_len": 128}, 1), ("googlenet", {}, 1)]
]


def _layout_6x6(kind: str) -> list[list[str]]:
    if kind == "checker":
        return [["ws" if (r + c) % 2 == 0 else "os" for c in range(6)] for r in range(6)]
    return [["ws" if r in (2, 3) or c in (2, 3) else "os" for c in range(6)] for r in range(6)]


def _scenario_6x6(models: list, kind: str, mode: str) -> str:
    rows = _layout_6x6(kind)
    lines = [
        "[package]",
        "layout = [" + ", ".join("[" + ", ".join(f'"{t}"' for t in r) + "]" for r in rows) + "]",
    ]
    for t in ("os", "ws"):
        lines += [f"[package.chiplet_types.{t}]", f'dataflow = "{t}"', "pes = 4096"]
    for i, (model, params, batch) in enumerate(models):
        lines += ["[[workloads]]", f'model = "{model}"']
        lines += [f"{k} = {v}" for k, v in params.items()]
        lines += [f"batch = {batch}", f"micro_batch = {max(1, batch // 4)}"]
        if mode == "stream":
            lines.append(
                'stream = { kind = "closed", in_flight = 4 }'
                if i % 2 == 0
                else 'stream = { kind = "poisson", rate_per_s = 50.0 }'
            )
    lines += ["[simulation]", f'mode = "{mode}"', "seed = 1"]
    return "\n".join(lines)


def six_by_six() -> dict[str, mcmsim.Scenario]:
    """The 6x6 problems: mixes 4 and 5 in batch mode, two mixed stream mixes."""
    texts = {
        "m4_checker": _scenario_6x6(MIX_4, "checker", "batch"),
        "m5_checker": _scenario_6x6(MIX_5, "checker", "batch"),
        "m5_cross": _scenario_6x6(MIX_5, "cross", "batch"),
        "m4_stream": _scenario_6x6(MIX_4, "checker", "stream"),
        "m6_stream": _scenario_6x6(STREAM_6, "checker", "stream"),
    }
    return {f"6x6/{k}": mcmsim.parse_scenario(text, k) for k, text in texts.items()}


def dump(out: Path, scenarios_root: Path, six: bool, only: str) -> None:
    """Write every schedule of the selected problems to ``out`` as canonical JSON."""
    files = sorted(
        f
        for f in scenarios_root.glob("**/*.toml")
        if "sweeps" not in f.relative_to(scenarios_root).parts
    )
    scenarios = {str(f.relative_to(scenarios_root)): mcmsim.load_scenario(f) for f in files}
    if six:
        scenarios |= six_by_six()
    result: dict[str, object] = {}
    for key, scenario in scenarios.items():
        for mode in ("stream", "batch"):
            try:
                problem = SchedulingProblem(scenario.with_overrides(mode=mode))
            except mcmsim.ScenarioError:  # e.g. generation workloads only stream
                continue
            for name, params in RUNS:
                run = f"{key} {mode} {name} {json.dumps(params, sort_keys=True)}"
                if only not in run:
                    continue
                start = time.process_time()
                scheduler = make_scheduler(name, params)
                try:
                    schedule: object = run_scheduler(scheduler, problem).to_dict()
                except Exception as error:  # an error is a result to compare too
                    schedule = f"ERROR {type(error).__name__}: {error}"
                result[run] = schedule
                print(f"{run:80} {time.process_time() - start:7.2f} s", flush=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True))


def compare(a: Path, b: Path) -> int:
    """Print the problems whose schedules differ; 0 when none do."""
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    differ = sorted(k for k in left.keys() & right.keys() if left[k] != right[k])
    missing = sorted(left.keys() ^ right.keys())
    for key in differ:
        print(f"differs: {key}")
    for key in missing:
        print(f"only in one file: {key}")
    print(f"{len(left.keys() & right.keys())} common schedules, {len(differ)} differ")
    return 1 if differ or missing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dumping = sub.add_parser("dump")
    dumping.add_argument("out", type=Path)
    dumping.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    dumping.add_argument("--six", action="store_true", help="add the 6x6 problems")
    dumping.add_argument("--only", default="", help="keep problems whose key contains this")
    comparing = sub.add_parser("compare")
    comparing.add_argument("a", type=Path)
    comparing.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.out, args.scenarios, args.six, args.only)
    else:
        sys.exit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
