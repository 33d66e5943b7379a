"""The ``mcmsim`` command line: a thin Typer layer over the Python API.

Every command turns a known bad input (scenario, schedule, trace, scheduler, model
file) into one clear line on stderr and exit code 2, and writes its output files only
after everything they hold has been computed. Text that comes from the user or a plugin
(names, paths, values) goes through rich only escaped, so ``[ws]`` prints as written.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mcmsim.files import folder_problem, write_atomically
from mcmsim.inputs import InputFileError
from mcmsim.metrics.objectives import (
    DEFAULT_OBJECTIVE,
    LEGACY_OBJECTIVES,
    OBJECTIVES,
    GameableObjectiveWarning,
    resolve_objective,
)
from mcmsim.scenario import DeprecatedKeyWarning, ScenarioError, load_scenario
from mcmsim.schedule.registry import SchedulerError, available_schedulers
from mcmsim.schedule.schedule import Schedule, ScheduleError
from mcmsim.workloads.maestro_import import MaestroImportError, is_maestro_ref, load_maestro_ref
from mcmsim.workloads.zoo import UnknownModelError, get_model, list_models

__all__ = ["app", "main"]

app = typer.Typer(
    name="mcmsim",
    help="Simulate and schedule multi-model DNN inference on heterogeneous chiplet packages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: typer's rich help shows every flag as "--json <bool>".
    rich_markup_mode=None,
)
models_app = typer.Typer(help="List the model zoo or show one model.", invoke_without_command=True)
app.add_typer(models_app, name="models")
schedulers_app = typer.Typer(
    help="List the schedulers or show one with its parameters.", invoke_without_command=True
)
app.add_typer(schedulers_app, name="schedulers")

console = Console()
if not console.is_terminal:
    # Piped or logged output has no width to follow; 80 columns would truncate the tables.
    console = Console(width=120)
err_console = Console(stderr=True)


class UsageError(Exception):
    """A bad input the CLI reports in one line with exit code 2."""


@app.callback()
def _root() -> None:
    """mcmsim: multi-model inference on chiplet packages (run, validate, models, ...)."""


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [
        ScenarioError,
        InputFileError,
        SchedulerError,
        ScheduleError,
        UnknownModelError,
        UsageError,
        MaestroImportError,
    ]
    try:
        from mcmsim.workloads.onnx_import import OnnxImportError

        errors.append(OnnxImportError)
    except ImportError:
        pass
    return tuple(errors)


def _one_line_warnings() -> tuple[type[Warning], ...]:
    """Warnings about the user's input, each shown as one ``warning:`` line."""
    ours: tuple[type[Warning], ...] = (DeprecatedKeyWarning, GameableObjectiveWarning)
    try:
        from mcmsim.workloads.onnx_import import UnsupportedOperatorWarning
    except ImportError:
        return ours
    return (*ours, UnsupportedOperatorWarning)


@contextmanager
def _deprecations_on_one_line() -> Iterator[None]:
    """Show a deprecated scenario key, a gameable objective or an ONNX pass-through as one
    ``warning:`` line; other warnings as usual."""
    with warnings.catch_warnings():
        show = warnings.showwarning
        ours = _one_line_warnings()

        def one_line(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, ours):
                line = f"warning: {message}"
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                show(message, category, *args, **kwargs)

        warnings.showwarning = one_line
        yield


@contextmanager
def user_errors() -> Iterator[None]:
    """Report bad input as one line per problem on stderr and exit 2."""
    try:
        with _deprecations_on_one_line():
            yield
    except _user_errors() as exc:
        message = str(exc)
        for line in message.splitlines() or [message]:
            err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def check_out(out: Path | None) -> None:
    """Fail before the work when ``--out`` cannot be a folder to write into.

    Raises
    ------
    UsageError
        If ``out`` names a file, or a folder that cannot be created or written.
    """
    problem = folder_problem(out) if out is not None else None
    if problem is not None:
        raise UsageError(f"--out {out}: {problem}")


@contextmanager
def writing_out(out: Path) -> Iterator[None]:
    """Report an ``--out`` folder that fails while its files are written as one line."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write: {exc.strerror or exc}") from None


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse, else as strings."""
    from mcmsim.schedule.spec import parse_value

    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {pair!r}: expected key=value")
        params[key] = parse_value(value)
    return params


def _resolve_jobs(jobs: int | None) -> int | None:
    """``--jobs`` as a number of processes: 0 means one per CPU, None the default.

    Raises
    ------
    UsageError
        For a negative number.
    """
    if jobs is None or jobs > 0:
        return jobs
    if jobs == 0:
        return os.cpu_count() or 1
    raise UsageError(f"--jobs {jobs}: expected 0 (one per CPU) or a positive number of processes")


def _objective_names() -> list[str]:
    return [*OBJECTIVES, *LEGACY_OBJECTIVES]


def _check_objective(name: str) -> None:
    """Raise :class:`UsageError` for an unknown objective; warn for a gameable one."""
    try:
        resolve_objective(name)
    except ValueError as exc:
        raise UsageError(f"--objective: {exc}") from None


# --- validate ----------------------------------------------------------------------


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="scenario TOML file")]) -> None:
    """Check a scenario file and summarise what it describes."""
    from mcmsim.report.summary import print_scenario_summary

    with user_errors():
        sc = load_scenario(scenario)
    print_scenario_summary(sc, console, str(scenario))


# --- models ------------------------------------------------------------------------


@models_app.callback()
def models(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the zoo models (a subcommand ``show NAME`` gives one in detail)."""
    if ctx.invoked_subcommand is not None:
        return
    zoo = list_models()
    if as_json:
        described = {
            n: {"description": e.description, "defaults": e.defaults} for n, e in zoo.items()
        }
        print(json.dumps(described, indent=2))
        return
    for name, entry in zoo.items():
        defaults = ", ".join(f"{k}={v}" for k, v in entry.defaults.items())
        console.print(
            f"[bold]{escape(f'{name:14}')}[/bold] {escape(entry.description)}  "
            f"[dim]({escape(defaults)})[/dim]"
        )


@models_app.command("show")
def models_show(
    name: Annotated[
        str, typer.Argument(help="zoo model name, .onnx file or MAESTRO file.m[#Network]")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value model parameter")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    layers: Annotated[
        bool, typer.Option("--layers", help="one row per layer: type, dimensions, MACs, weights")
    ] = False,
    allow_unsupported: Annotated[
        bool,
        typer.Option(
            "--allow-unsupported", help="ONNX: unknown operators become zero-cost pass-throughs"
        ),
    ] = False,
) -> None:
    """Show one model: layers, MACs, parameters, weight bytes (--layers: per layer)."""
    from mcmsim.report.summary import (
        layer_rows,
        model_summary,
        print_layer_table,
        print_model_summary,
    )

    with user_errors():
        params = parse_params(param)
        if name.endswith(".onnx"):
            from mcmsim.workloads.onnx_import import load_onnx

            model = load_onnx(name, allow_unsupported=allow_unsupported)
        elif is_maestro_ref(name):
            model = load_maestro_ref(name)
        else:
            try:
                model = get_model(name, **params)
            except (TypeError, ValueError) as exc:
                raise UsageError(f"model {name!r}: {exc}") from None
    summary = model_summary(model)
    if layers:
        summary["layer_table"] = layer_rows(model)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    print_model_summary(summary, console)
    if layers:
        print_layer_table(summary["layer_table"], console)


# --- costs -------------------------------------------------------------------------


@app.command()
def costs(
    scenario: Annotated[Path, typer.Argument(help="scenario TOML file")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Per-layer latency and energy of every workload on every chiplet type."""
    from mcmsim.report.costs import cost_report, print_cost_totals

    with user_errors():
        sc = load_scenario(scenario)
    if as_json:
        print(json.dumps(cost_report(sc)))
        return
    print_cost_totals(sc, console)


# --- schedulers --------------------------------------------------------------------


@schedulers_app.callback()
def schedulers(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the schedulers: built-in and those installed by plugin packages."""
    if ctx.invoked_subcommand is not None:
        return
    found = available_schedulers()
    if as_json:
        print(
            json.dumps(
                {n: {"description": i.description, "origin": i.origin} for n, i in found.items()},
                indent=2,
            )
        )
        return
    for name, info in found.items():
        console.print(
            f"[bold]{escape(f'{name:22}')}[/bold] {escape(info.description)}  "
            f"[dim]({escape(info.origin)})[/dim]"
        )


@schedulers_app.command("show")
def schedulers_show(
    name: Annotated[str, typer.Argument(help="scheduler name")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One scheduler: its description and every parameter with type, default and help.

    Set parameters with --param KEY=VALUE (run), NAME[KEY=VALUE,...] (run, compare)
    or in the scenario's [scheduler] table.
    """
    from dataclasses import asdict

    from mcmsim.schedule.registry import describe_params

    with user_errors():
        params = describe_params(name)
    info = available_schedulers()[name]
    if as_json:
        described = {
            "name": name,
            "description": info.description,
            "origin": info.origin,
            "params": [asdict(p) for p in params],
        }
        print(json.dumps(described, indent=2))
        return
    console.print(
        f"[bold]{escape(name)}[/bold]: {escape(info.description)}  "
        f"[dim]({escape(info.origin)})[/dim]"
    )
    if not params:
        console.print("  no parameters")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("parameter", "type", "default", "help"):
        table.add_column(column, overflow="fold")
    for p in params:
        table.add_row(*(escape(str(cell)) for cell in (p.name, p.type, p.default, p.help)))
    console.print(table)


# --- run ---------------------------------------------------------------------------


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario TOML file")],
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", "-s", help="scheduler name, or NAME[KEY=VALUE,...] with parameters"
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="scheduler key=value")
    ] = None,
    schedule_file: Annotated[
        Path | None,
        typer.Option("--schedule", help="simulate this schedule.json instead of scheduling"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (overrides the scenario)")] = None,
    requests: Annotated[int | None, typer.Option(help="completed requests to simulate")] = None,
    mode: Annotated[str | None, typer.Option(help="stream or batch")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="write results, schedule, records.npz, timeline.png"),
    ] = None,
    trace: Annotated[
        bool, typer.Option("--trace", help="with --out: also write trace.json for Perfetto")
    ] = False,
    trace_window: Annotated[
        str | None,
        typer.Option(
            "--trace-window", help="FROM_MS,TO_MS: trace only the events overlapping this window"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results JSON only")] = False,
) -> None:
    """Schedule a scenario, simulate it, and report throughput, latency and energy.

    --out DIR keeps compact records of every execution and transfer (records.npz, which
    `mcmsim plot timeline DIR` redraws) and draws the steady-state timeline.
    """
    import mcmsim
    from mcmsim.report.outputs import write_run_dir

    with user_errors():
        if (trace or trace_window) and out is None:
            raise UsageError("--trace and --trace-window write into --out DIR: give --out")
        check_out(out)
        window_ps = _ms_window(trace_window, "--trace-window") if trace_window else None
        sc = load_scenario(scenario)
        overrides = {
            k: v
            for k, v in (("seed", seed), ("requests", requests), ("mode", mode))
            if v is not None
        }
        if overrides:
            sc = sc.with_overrides(**overrides)
        if schedule_file is not None:
            sched = Schedule.load(schedule_file)
        else:
            sched = mcmsim.schedule(sc, scheduler, parse_params(param))
        with _progress(not as_json, f"simulating {sc.name} with {sched.scheduler}") as update:
            results = mcmsim.simulate(sc, sched, activity=out is not None, progress=update)
    if out is not None:
        with user_errors(), writing_out(out):
            written = write_run_dir(results, sched, out, trace or bool(window_ps), window_ps)
    _warn_about(results)
    if as_json:
        print(results.to_json())
        return
    from mcmsim.report.objectives import print_objectives
    from mcmsim.report.tables import print_results

    print_results(results, console)
    print_objectives(results, console)
    if out is not None:
        console.print(f"wrote {', '.join(p.name for p in written)} to {out}", markup=False)


def _ms_window(text: str, option: str) -> tuple[int, int]:
    """``FROM_MS,TO_MS`` as picoseconds.

    Raises
    ------
    UsageError
        If it is not two numbers with 0 <= FROM < TO.
    """
    from mcmsim.units import PS_PER_MS

    parts = text.replace(":", ",").split(",")
    try:
        start, end = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected FROM_MS,TO_MS") from None
    if not 0 <= start < end:
        raise UsageError(f"{option} {text!r}: expected 0 <= FROM_MS < TO_MS")
    return round(start * PS_PER_MS), round(end * PS_PER_MS)


def _warn_about(results: Any, prefix: str = "") -> None:
    """Say on stderr what makes a run's figures unsafe to quote (see ``run_warnings``)."""
    from mcmsim.report.tables import run_warnings

    for line in run_warnings(results):
        err_console.print(f"warning: {prefix}{line}", markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _progress_bar(show: bool, *extra_columns: Any) -> Iterator[Any]:
    """A transient rich progress bar on stderr, only on an interactive terminal."""
    if not show or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        yield bar


@contextmanager
def _progress(show: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """Completed requests out of the target."""
    with _progress_bar(show) as bar:
        if bar is None:
            yield None
            return
        task = bar.add_task(label, total=None)

        def update(completed: int, target: int) -> None:
            bar.update(task, completed=min(completed, target), total=target)

        yield update


# --- search ------------------------------------------------------------------------


@app.command()
def search(
    scenario: Annotated[Path, typer.Argument(help="scenario TOML file")],
    objective: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(_objective_names())} (default: {DEFAULT_OBJECTIVE})"),
    ] = None,
    budget: Annotated[int | None, typer.Option(help="schedules evaluated (default 1000)")] = None,
    seed: Annotated[int | None, typer.Option(help="search seed (default 0)")] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="simulator processes (default 1); 0: one per CPU"),
    ] = None,
    p99_ms: Annotated[
        list[str] | None, typer.Option("--p99-ms", help="MODEL=MS p99 latency bound, repeatable")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="other local-search key=value")
    ] = None,
    requests: Annotated[int | None, typer.Option(help="completed requests per final run")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="write results, schedule, search.csv, search.png"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results JSON only")] = False,
) -> None:
    """Local search for the best schedule, with the gap to the LP upper bound.

    Options override the scenario's [scheduler] table when it names local-search.
    """
    import mcmsim
    from mcmsim.report.outputs import write_search_dir
    from mcmsim.schedule.registry import make_scheduler

    with user_errors():
        check_out(out)
        sc = load_scenario(scenario)
        if requests is not None:
            sc = sc.with_overrides(requests=requests)
        given = {"objective": objective, "budget": budget, "seed": seed}
        given["jobs"] = _resolve_jobs(jobs)
        params = {**parse_params(param), **{k: v for k, v in given.items() if v is not None}}
        bounds = parse_latency_bounds(p99_ms)
        listed = params.get("constraints", {})
        if bounds and isinstance(listed, dict):  # (else local-search reports the bad --param)
            # Added to any constraints given with --param, as to the scenario's.
            params["constraints"] = {**listed, **bounds}
        searcher = make_scheduler(
            "local-search", mcmsim.scheduler_params(sc, "local-search", params)
        )
        with _search_progress(not as_json, searcher.params.objective) as update:
            searcher.progress = update
            mcmsim.schedule(sc, searcher)
    outcome = searcher.outcome
    if out is not None:
        title = f"{sc.name}: local search ({searcher.params.objective})"
        with user_errors(), writing_out(out):
            written = write_search_dir(outcome, out, title)
    _warn_about(outcome.results)
    if as_json:
        print(outcome.results.to_json())
        return
    from mcmsim.report.objectives import print_objectives
    from mcmsim.report.tables import print_results

    print_results(outcome.results, console)
    print_objectives(outcome.results, console)
    report = outcome.report
    results = outcome.results
    bound = (
        f"the makespan lower bound {results['makespan_lower_bound_s'] * 1e3:.4g} ms"
        if results.run.mode == "batch"
        else f"the LP bound {results['throughput_upper_bound_per_s']:.4g} inferences/s"
    )
    console.print(
        f"search: {report['evaluations']} evaluations, {report['simulations']} simulations in "
        f"{report['wall_s']:.1f} s; best {report['objective']} {report['best_objective']:.4g} "
        f"{report['objective_unit']} (start: {report['start_best']}); optimality ratio "
        f"{results['optimality_ratio']:.3f} of {bound}",
        markup=False,
    )
    if report.get("note"):
        err_console.print(f"warning: {report['note']}", markup=False, highlight=False)
    if out is not None:
        console.print(f"wrote {', '.join(p.name for p in written)} to {out}", markup=False)


def parse_latency_bounds(bounds: list[str] | None) -> dict[str, Any]:
    """``MODEL=MS`` pairs as local-search constraints: ``{model: {"p99_ms": ms}}``."""
    constraints: dict[str, Any] = {}
    for bound in bounds or []:
        model, sep, value = bound.partition("=")
        try:
            limit = float(value)
        except ValueError:
            limit = None
        if not sep or not model or limit is None:
            raise UsageError(f"--p99-ms {bound!r}: expected MODEL=MILLISECONDS")
        constraints[model] = {"p99_ms": limit}
    return constraints


@contextmanager
def _search_progress(show: bool, objective: str) -> Iterator[Any]:
    """Evaluations out of the budget, with the best objective so far."""
    with _progress_bar(show, f"best {objective}: {{task.fields[best]}}") as bar:
        if bar is None:
            yield None
            return
        task = bar.add_task("searching", total=None, best="-")

        def update(evaluations: int, budget: int, best: float | None) -> None:
            shown = "-" if best is None else f"{best:.4g}"
            bar.update(task, completed=evaluations, total=budget, best=shown)

        yield update


# --- sweep, plot -------------------------------------------------------------------

plot_app = typer.Typer(help="Redraw plots from stored results.", no_args_is_help=True)
app.add_typer(plot_app, name="plot")


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="sweep TOML file")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="folder for the store and exports")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="worker processes (default, and 0: one per CPU)"),
    ] = None,
    backend: Annotated[str, typer.Option(help="local (process pool) or dask")] = "local",
    scheduler_address: Annotated[
        str | None, typer.Option(help="Dask scheduler tcp://host:port (default: LocalCluster)")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="skip the points already stored in --out")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the number of points and the first ones")
    ] = False,
) -> None:
    """Run a design-space sweep: every point stored in OUT/sweep.sqlite as it finishes.

    Exit code 1 when some points failed or did not run, 2 for bad input, 130 on Ctrl-C.
    """
    from mcmsim.sweep import describe_sweep, load_sweep, print_report, run_sweep

    with user_errors():
        jobs = _resolve_jobs(jobs)
        spec = load_sweep(sweep_file)
        if dry_run:
            describe_sweep(spec, console)
            return
        if out is None:
            raise UsageError("--out DIR is required (or use --dry-run)")
        check_out(out)
        report = run_sweep(
            spec,
            out,
            backend=backend,
            jobs=jobs,
            scheduler_address=scheduler_address,
            resume=resume,
            console=err_console,
        )
    print_report(report, console)
    raise typer.Exit(report.exit_code)


@plot_app.command("sweep")
def plot_sweep(out_dir: Annotated[Path, typer.Argument(help="folder of a sweep run")]) -> None:
    """Redraw OUT_DIR/pareto.png from the sweep's store."""
    from mcmsim.sweep import plot_sweep as redraw

    with user_errors():
        path = redraw(out_dir)
    console.print(f"wrote {path}", markup=False)


@plot_app.command("timeline")
def plot_timeline_command(
    run_dir: Annotated[Path, typer.Argument(help="folder written by mcmsim run --out")],
    from_ms: Annotated[float | None, typer.Option("--from-ms", help="window start")] = None,
    to_ms: Annotated[float | None, typer.Option("--to-ms", help="window end")] = None,
    requests: Annotated[
        str | None, typer.Option("--requests", help="FIRST-LAST request ids (arrival order)")
    ] = None,
    steady_state: Annotated[
        bool, typer.Option("--steady-state", help="the steady-state window (the default)")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="png, pdf or svg")] = "pdf",
    layers: Annotated[bool, typer.Option("--layers", help="mark layer boundaries")] = False,
    width_in: Annotated[
        float, typer.Option("--width-in", help="figure width: 3.5 one column, 7 two")
    ] = 3.5,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file (default RUN_DIR/timeline.FMT)")
    ] = None,
) -> None:
    """Redraw a run's timeline from RUN_DIR/records.npz for any window, as PNG, PDF or SVG.

    The window: --from-ms/--to-ms, or --requests FIRST-LAST (from the first's arrival to
    the last completion), or --steady-state (default: the last 3 x the slowest model's
    mean latency, after the warm-up).
    """
    from mcmsim.metrics.activity import load_activity
    from mcmsim.report.timeline import FORMATS, plot_timeline
    from mcmsim.units import PS_PER_MS

    with user_errors():
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
        given = [from_ms is not None or to_ms is not None, requests is not None, steady_state]
        if sum(given) > 1:
            raise UsageError("give one of --from-ms/--to-ms, --requests or --steady-state")
        records = run_dir / "records.npz"
        if not records.is_file():
            raise UsageError(f"{records}: not found (write it with mcmsim run --out {run_dir})")
        try:
            activity = load_activity(records)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        window_ps = None
        if from_ms is not None or to_ms is not None:
            start = 0.0 if from_ms is None else from_ms
            end = activity.meta["end_ps"] / PS_PER_MS if to_ms is None else to_ms
            if not 0 <= start < end:
                raise UsageError(f"--from-ms {start:g} --to-ms {end:g}: expected 0 <= FROM < TO")
            window_ps = (round(start * PS_PER_MS), round(end * PS_PER_MS))
        request_range = _request_range(requests) if requests is not None else None
        path = output or run_dir / f"timeline.{fmt}"
        drawn = []
        try:
            write_atomically(
                path,
                lambda tmp: drawn.append(
                    plot_timeline(
                        activity,
                        tmp,
                        window_ps,
                        requests=request_range,
                        layers=layers,
                        fmt=fmt,
                        width_in=width_in,
                    )
                ),
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    console.print(f"wrote {path} ({drawn[0].caption})", markup=False)


def _request_range(text: str) -> tuple[int, int]:
    """``FIRST-LAST`` (or one id) as a pair of request ids."""
    first, sep, last = text.partition("-")
    try:
        pair = (int(first), int(last) if sep else int(first))
    except ValueError:
        raise UsageError(f"--requests {text!r}: expected FIRST-LAST request ids") from None
    if not 0 <= pair[0] <= pair[1]:
        raise UsageError(f"--requests {text!r}: expected 0 <= FIRST <= LAST")
    return pair


@app.command()
def compare(
    scenarios: Annotated[
        list[str], typer.Argument(help="scenario TOML files; FILE@a,b runs a and b on FILE only")
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            "-s",
            help="comma-separated schedulers for every FILE, each NAME or NAME[KEY=VALUE,...]",
        ),
    ] = None,
    requests: Annotated[int | None, typer.Option(help="completed requests per run")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write compare.csv and compare.png here")
    ] = None,
    objective: Annotated[
        str,
        typer.Option(help=f"rank by this objective: {', '.join(_objective_names())}"),
    ] = DEFAULT_OBJECTIVE,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the comparison as JSON only")
    ] = False,
) -> None:
    """Run (scenario, scheduler) pairs; per schedule the objectives, p99, energy, EDP and
    ratios; the winner of every objective (ties named); per model offered and served
    rate, p99 against its SLO, deadline misses, stability, and who serves it best and why."""
    from mcmsim.report import compare as comparison

    with user_errors():
        _check_objective(objective)
        check_out(out)
        pairs = comparison.parse_pairs(scenarios, scheduler)
        runs = comparison.run_pairs(pairs, requests)
        rows = comparison.table_rows(runs)
    for done in runs:
        _warn_about(done.results, f"{done.scenario.name} with {done.schedule.scheduler}: ")
    if as_json:
        print(json.dumps(comparison.document(runs, rows, objective), indent=2))
    else:
        comparison.print_table(rows, console, objective)
        comparison.print_winners(rows, console)
        comparison.print_models(runs, rows, console)
    if out is not None:
        with user_errors(), writing_out(out):
            write_atomically(out / "compare.csv", lambda tmp: comparison.write_csv(rows, tmp))
            write_atomically(
                out / "compare.png", lambda tmp: comparison.plot_bars(rows, tmp, objective)
            )
        if not as_json:
            console.print(f"wrote compare.csv and compare.png to {out}", markup=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
