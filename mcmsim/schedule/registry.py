"""The Scheduler protocol and the registry of built-in and plugin schedulers.

A scheduler is a class with a ``name``, a one-line ``description``, a pydantic
``Params`` model for its parameters, a constructor taking one validated ``Params``
instance, and ``schedule(problem) -> Schedule`` (see :class:`Scheduler` and
:meth:`BaseScheduler.schedule` for the contract). Third-party packages register theirs
under the ``mcmsim.schedulers`` entry-point group.

Entry points are discovered and loaded once per process, on first use. A plugin that
fails to load is reported as a warning naming it and left out; a plugin whose
constructor raises is a :class:`SchedulerError` naming it when it is asked for; a
built-in that fails to import is an error (a broken installation), never a silent
absence.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from types import NoneType, UnionType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    Protocol,
    Union,
    get_args,
    get_origin,
    runtime_checkable,
)

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, ScheduleError
from mcmsim.suggest import valid_names_hint

__all__ = [
    "BaseScheduler",
    "NoParams",
    "ParamInfo",
    "Scheduler",
    "SchedulerError",
    "SchedulerInfo",
    "available_schedulers",
    "describe_params",
    "make_scheduler",
    "run_scheduler",
    "scheduler_problems",
]

ENTRY_POINT_GROUP = "mcmsim.schedulers"

BUILTINS = {
    "monolithic": "mcmsim.schedulers.monolithic:MonolithicScheduler",
    "standalone": "mcmsim.schedulers.standalone:StandaloneScheduler",
    "homogeneous-pipeline": "mcmsim.schedulers.homogeneous:HomogeneousPipelineScheduler",
    "greedy": "mcmsim.schedulers.greedy:GreedyScheduler",
    "scar": "mcmsim.schedulers.scar:ScarScheduler",
    "local-search": "mcmsim.schedulers.local_search:LocalSearchScheduler",
    "exhaustive": "mcmsim.schedulers.exhaustive:ExhaustiveScheduler",
}


class SchedulerError(ValueError):
    """Unknown scheduler, bad parameters, or a scheduler that failed or broke the rules."""


class NoParams(BaseModel):
    """Parameters of a scheduler that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class Scheduler(Protocol):
    """What the registry and the simulator need of a scheduler class.

    :func:`make_scheduler` validates the user's parameters with ``Params`` (a class
    without one takes none: :class:`NoParams`) and calls ``cls(params)`` with the
    validated instance; then :func:`run_scheduler` calls :meth:`schedule` and checks
    its answer. Subclass :class:`BaseScheduler` to get the constructor for free.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def __init__(self, params: BaseModel) -> None:
        """Keep the validated ``params``; a class must define this (or subclass BaseScheduler).

        Raises
        ------
        TypeError
            Here: the protocol describes scheduler classes and builds none itself.
        """
        raise TypeError(
            f"{type(self).__name__} has no constructor of its own: define "
            "__init__(self, params) or subclass mcmsim.schedule.BaseScheduler"
        )

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        """A valid schedule for ``problem``: see :meth:`BaseScheduler.schedule`."""
        ...


class BaseScheduler:
    """Convenience base: set ``name``, ``description``, ``Params``; implement ``schedule``.

    The constructor keeps the validated parameters as ``self.params`` (default: the
    ``Params`` defaults).
    """

    name: ClassVar[str] = "base"
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        """Map every layer of every workload onto chiplets: the one method to implement.

        What the problem offers
            ``problem.package`` (chiplets with their positions and types, the NoP, the
            DRAM interfaces), ``problem.workloads`` (name, model with its layers in a
            fixed topological order, batch, micro-batch, request stream),
            ``problem.mode`` (``"stream"`` or ``"batch"``) and the per-layer cost tables
            ``problem.costs(workload, chiplet_type)`` and
            ``problem.latency_matrix_ps(workload)``. Nothing of the simulator.

        Read-only
            The problem, its scenario and its cost tables are shared with every other
            scheduler and simulation in the process, so a scheduler must not change
            them. Cost-table arrays are read-only numpy arrays (writing one raises
            ``ValueError``); ``table.latency_ps.copy()`` gives one to work on.

        What is validated
            :func:`run_scheduler` (and so :func:`mcmsim.schedule`) checks the answer with
            :meth:`Schedule.validate`: every layer of every workload mapped exactly
            once and in order, segments non-empty, chiplet ids on the package, exactly
            one window in stream mode (batch mode may regroup chiplets over several).
            A return value that is not a :class:`Schedule`, an invalid schedule, or
            an exception raised here becomes a :class:`SchedulerError` naming the
            scheduler. Raise :class:`SchedulerError` with a message for the user when
            the problem cannot be scheduled (say, a parameter that does not fit it).

        Name the schedule after ``self.name``. Same problem and parameters should give
        the same schedule: take any randomness from a seed parameter.

        Raises
        ------
        NotImplementedError
            Always, here: subclasses implement it.
        """
        raise NotImplementedError


@dataclass(frozen=True)
class SchedulerInfo:
    """A registered scheduler: its name, description, origin and ``module:Class``."""

    name: str
    description: str
    origin: str
    target: str
    cls: type = field(repr=False, compare=False)


def _load(target: str) -> type:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _builtins() -> list[SchedulerInfo]:
    found = []
    for name, target in BUILTINS.items():
        try:
            cls = _load(target)
        except (ImportError, AttributeError) as exc:
            raise ImportError(f"built-in scheduler {name!r} ({target}) failed to import") from exc
        found.append(SchedulerInfo(name, cls.description, "built-in", target, cls))
    return found


def _plugins(taken: set[str]) -> list[SchedulerInfo]:
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            description = str(cls.description)
        except Exception as exc:  # a broken plugin must not take mcmsim down with it
            warnings.warn(
                f"scheduler plugin {ep.name!r} ({ep.value}) failed to load: {exc}", stacklevel=3
            )
            continue
        if ep.name in taken:
            warnings.warn(
                f"scheduler plugin {ep.name!r} shadows a built-in and is ignored", stacklevel=3
            )
            continue
        package = ep.dist.name if ep.dist else ep.value.split(":")[0]
        found.append(SchedulerInfo(ep.name, description, f"package {package}", ep.value, cls))
    return found


@cache
def _registered() -> tuple[SchedulerInfo, ...]:
    """Built-ins, then plugins: discovered and imported once per process."""
    builtins = _builtins()
    return (*builtins, *_plugins({info.name for info in builtins}))


def available_schedulers() -> dict[str, SchedulerInfo]:
    """Built-in and plugin schedulers by name.

    A plugin that fails to load is warned about (once per process) and left out.

    Raises
    ------
    ImportError
        If a built-in scheduler fails to import (a broken installation).
    """
    return {info.name: info for info in _registered()}


@dataclass(frozen=True)
class ParamInfo:
    """One scheduler parameter as ``mcmsim schedulers show`` prints it."""

    name: str
    type: str
    default: str
    help: str


def _type_label(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A short readable type: ``int > 0``, ``latency | energy``, ``float > 0 or none``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _type_label(inner, [*metadata, *extra])
    if origin is Literal:
        return " | ".join(str(v) for v in get_args(annotation))
    if origin in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not NoneType]
        label = " or ".join(_type_label(a) for a in members)
        return f"{label} or none" if len(members) < len(get_args(annotation)) else label
    if origin is dict:
        return "table"
    if origin in (list, tuple):
        return "list"
    label = getattr(annotation, "__name__", str(annotation))
    for bound, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        for item in metadata:
            value = getattr(item, bound, None)
            if value is not None:
                label += f" {sign} {value}"
    return label


def _default_label(field_info: FieldInfo) -> str:
    if field_info.default_factory is not None:
        value = field_info.default_factory()  # type: ignore[call-arg]
    elif field_info.default is PydanticUndefined:
        return "(required)"
    else:
        value = field_info.default
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) if value else "[]"
    return str(value)


def describe_params(name: str) -> list[ParamInfo]:
    """Every parameter of scheduler ``name``: type, default and its one-line help.

    The help is the field's ``description`` in the scheduler's ``Params`` model.

    Raises
    ------
    SchedulerError
        If the name is unknown (the message lists the known ones).
    """
    params_model = _params_model(_known(name))
    return [
        ParamInfo(
            key,
            _type_label(f.annotation, f.metadata),
            _default_label(f),
            (f.description or "").split("\n")[0],
        )
        for key, f in params_model.model_fields.items()
    ]


def _known(name: str) -> SchedulerInfo:
    known = available_schedulers()
    if name not in known:
        raise SchedulerError(
            f"unknown scheduler {name!r}; {valid_names_hint(name, known, 'known')}"
        )
    return known[name]


def _params_model(info: SchedulerInfo) -> type[BaseModel]:
    return getattr(info.cls, "Params", NoParams)


def _param_problems(
    params_model: type[BaseModel], exc: ValidationError
) -> list[tuple[tuple[Any, ...], str]]:
    """(parameter path, message) of each error of ``params_model`` in ``exc``."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and len(loc) == 1:
            valid = valid_names_hint(str(loc[0]), params_model.model_fields, "valid parameters")
            message = f"unknown parameter; {valid}"
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = err["msg"]
        problems.append((loc, message))
    return problems


def scheduler_problems(
    name: str, params: dict[str, Any] | None = None
) -> list[tuple[tuple[Any, ...], str]]:
    """Every problem with scheduler ``name`` and its ``params``, without creating it.

    Returns (key path, message) pairs: ``("name",)`` for an unknown scheduler, the
    parameter's path for an unknown or ill-typed parameter; empty when both are fine.
    :func:`make_scheduler` raises for the first of them.
    """
    try:
        info = _known(name)
    except SchedulerError as exc:
        return [(("name",), str(exc))]
    params_model = _params_model(info)
    try:
        params_model.model_validate(params or {})
    except ValidationError as exc:
        return _param_problems(params_model, exc)
    return []


def make_scheduler(name: str, params: dict[str, Any] | None = None) -> Scheduler:
    """Instantiate scheduler ``name`` with ``params`` validated by its ``Params`` model.

    Raises
    ------
    SchedulerError
        If the name is unknown (the message lists the known ones), a parameter is
        unknown (the message lists the valid ones, with the closest) or ill-typed, or
        the scheduler's constructor raises (the message names the scheduler and its
        ``module:Class``).
    """
    info = _known(name)
    params_model = _params_model(info)
    try:
        validated = params_model.model_validate(params or {})
    except ValidationError as exc:
        loc, message = _param_problems(params_model, exc)[0]
        key = ".".join(str(p) for p in loc)
        raise SchedulerError(f"scheduler {name!r}: parameter {key}: {message}") from None
    try:
        return info.cls(validated)
    except Exception as exc:
        raise SchedulerError(
            f"scheduler {name!r} ({info.target}) could not be created: {type(exc).__name__}: {exc}"
        ) from exc


def run_scheduler(scheduler: Scheduler, problem: SchedulingProblem) -> Schedule:
    """Call ``scheduler.schedule`` and validate what it returns.

    Raises
    ------
    SchedulerError
        If the scheduler raises, returns something other than a Schedule, or returns
        an invalid schedule (the message names the scheduler and the first violation).
    """
    try:
        result = scheduler.schedule(problem)
    except SchedulerError:
        raise
    except Exception as exc:
        raise SchedulerError(
            f"scheduler {scheduler.name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, Schedule):
        raise SchedulerError(
            f"scheduler {scheduler.name!r} returned {type(result).__name__}, not a Schedule"
        )
    try:
        result.validate(problem.layer_counts(), problem.n_chiplets, problem.mode == "stream")
    except ScheduleError as exc:
        raise SchedulerError(
            f"scheduler {scheduler.name!r} returned an invalid schedule: {exc}"
        ) from None
    return result
