"""The ``mcmsim`` command line: a thin Typer layer over the Python API.

Every command turns a known bad input (scenario, schedule, trace, scheduler, model
file) into one clear line on stderr and exit code 2, and writes its output files only
after everything they hold has been computed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mcmsim.files import write_atomically
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
)
models_app = typer.Typer(help="List the model zoo or show one model.", invoke_without_command=True)
app.add_typer(models_app, name="models")

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


@contextmanager
def _deprecations_on_one_line() -> Iterator[None]:
    """Show a deprecated scenario key or a gameable objective as one ``warning:`` line;
    other warnings as usual."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def one_line(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, DeprecatedKeyWarning | GameableObjectiveWarning):
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


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse, else as strings."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {pair!r}: expected key=value")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


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
        console.print(f"[bold]{name:14}[/bold] {entry.description}  [dim]({defaults})[/dim]")


@models_app.command("show")
def models_show(
    name: Annotated[
        str, typer.Argument(help="zoo model name, .onnx file or MAESTRO file.m[#Network]")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value model parameter")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    allow_unsupported: Annotated[
        bool,
        typer.Option(
            "--allow-unsupported", help="ONNX: unknown operators become zero-cost pass-throughs"
        ),
    ] = False,
) -> None:
    """Show one model: layers, MACs, parameters, weight bytes."""
    from mcmsim.report.summary import model_summary, print_model_summary

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
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    print_model_summary(summary, console)


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


@app.command()
def schedulers(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the schedulers: built-in and those installed by plugin packages."""
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
        console.print(f"[bold]{name:22}[/bold] {info.description}  [dim]({info.origin})[/dim]")


# --- run ---------------------------------------------------------------------------


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario TOML file")],
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", "-s", help="scheduler name")
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
        Path | None, typer.Option("--out", "-o", help="write results, schedule, trace, timeline")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results JSON only")] = False,
) -> None:
    """Schedule a scenario, simulate it, and report throughput, latency and energy."""
    import mcmsim
    from mcmsim.report.outputs import write_run_dir

    with user_errors():
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
            results = mcmsim.simulate(sc, sched, trace=out is not None, progress=update)
    if out is not None:
        write_run_dir(results, sched, out)
    if as_json:
        print(results.to_json())
        return
    from mcmsim.report.objectives import print_objectives
    from mcmsim.report.tables import print_results

    print_results(results, console)
    print_objectives(results, console)
    if out is not None:
        console.print(f"wrote results.json, schedule.json, trace.json, timeline.png to {out}")


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
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="simulator processes")] = None,
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
        sc = load_scenario(scenario)
        if requests is not None:
            sc = sc.with_overrides(requests=requests)
        given = {"objective": objective, "budget": budget, "seed": seed, "jobs": jobs}
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
        write_search_dir(outcome, out, title)
    if as_json:
        print(outcome.results.to_json())
        return
    from mcmsim.report.objectives import print_objectives
    from mcmsim.report.tables import print_results

    print_results(outcome.results, console)
    print_objectives(outcome.results, console)
    report = outcome.report
    console.print(
        f"search: {report['evaluations']} evaluations, {report['simulations']} simulations in "
        f"{report['wall_s']:.1f} s; best {report['objective']} {report['best_objective']:.4g} "
        f"{report['objective_unit']} (start: {report['start_best']}); optimality ratio "
        f"{outcome.results['optimality_ratio']:.3f} of the LP bound "
        f"{outcome.results['throughput_upper_bound_per_s']:.4g} inferences/s"
    )
    if report.get("note"):
        err_console.print(f"warning: {report['note']}", markup=False, highlight=False)
    if out is not None:
        console.print(f"wrote results.json, schedule.json, search.csv, search.png to {out}")


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
        int | None, typer.Option("--jobs", "-j", help="worker processes (default: CPUs)")
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
        spec = load_sweep(sweep_file)
        if dry_run:
            describe_sweep(spec, console)
            return
        if out is None:
            raise UsageError("--out DIR is required (or use --dry-run)")
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
    console.print(f"wrote {path}")


@app.command()
def compare(
    scenarios: Annotated[
        list[str], typer.Argument(help="scenario TOML files; FILE@a,b runs a and b on FILE only")
    ],
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", "-s", help="comma-separated schedulers for every FILE"),
    ] = None,
    requests: Annotated[int | None, typer.Option(help="completed requests per run")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write compare.csv and compare.png here")
    ] = None,
    objective: Annotated[
        str,
        typer.Option(help=f"rank by this objective: {', '.join(_objective_names())}"),
    ] = DEFAULT_OBJECTIVE,
) -> None:
    """Run (scenario, scheduler) pairs; tabulate objectives, p99, energy, EDP, ratios, winner."""
    from mcmsim.report import compare as comparison

    with user_errors():
        _check_objective(objective)
        pairs = comparison.parse_pairs(scenarios, scheduler)
        rows = comparison.table_rows(comparison.run_pairs(pairs, requests))
    comparison.print_table(rows, console, objective)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(out / "compare.csv", lambda tmp: comparison.write_csv(rows, tmp))
        write_atomically(
            out / "compare.png", lambda tmp: comparison.plot_bars(rows, tmp, objective)
        )
        console.print(f"wrote compare.csv and compare.png to {out}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
