"""The Scheduler protocol and the registry of built-in and plugin schedulers.

A scheduler is a class with a ``name``, a one-line ``description``, a pydantic
``Params`` model for its parameters, and ``schedule(problem) -> Schedule``. Third-party
packages register theirs under the ``mcmsim.schedulers`` entry-point group; a plugin
that fails to load is reported as a warning naming it, never a crash.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.schedule import Schedule, ScheduleError

__all__ = [
    "BaseScheduler",
    "NoParams",
    "Scheduler",
    "SchedulerError",
    "SchedulerInfo",
    "available_schedulers",
    "make_scheduler",
    "run_scheduler",
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
    """What the simulator needs of a scheduler."""

    name: ClassVar[str]
    description: ClassVar[str]

    def schedule(self, problem: SchedulingProblem) -> Schedule: ...


class BaseScheduler:
    """Convenience base: set ``name``, ``description``, ``Params``; implement ``schedule``."""

    name: ClassVar[str] = "base"
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def schedule(self, problem: SchedulingProblem) -> Schedule:
        raise NotImplementedError


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    description: str
    origin: str
    target: str


def _load(target: str) -> type:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def available_schedulers() -> dict[str, SchedulerInfo]:
    """Built-in and plugin schedulers by name; a plugin that fails to load is warned about."""
    found: dict[str, SchedulerInfo] = {}
    for name, target in BUILTINS.items():
        try:
            cls = _load(target)
        except (ImportError, AttributeError):
            continue
        found[name] = SchedulerInfo(name, cls.description, "built-in", target)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            description = str(cls.description)
        except Exception as exc:  # a broken plugin must not take mcmsim down with it
            warnings.warn(
                f"scheduler plugin {ep.name!r} ({ep.value}) failed to load: {exc}", stacklevel=2
            )
            continue
        if ep.name in found:
            warnings.warn(
                f"scheduler plugin {ep.name!r} shadows a built-in and is ignored", stacklevel=2
            )
            continue
        package = ep.dist.name if ep.dist else ep.value.split(":")[0]
        found[ep.name] = SchedulerInfo(ep.name, description, f"package {package}", ep.value)
    return found


def make_scheduler(name: str, params: dict[str, Any] | None = None) -> Scheduler:
    """Instantiate scheduler ``name`` with ``params`` validated by its ``Params`` model.

    Raises
    ------
    SchedulerError
        If the name is unknown (the message lists the known ones) or a parameter is
        unknown or ill-typed.
    """
    known = available_schedulers()
    if name not in known:
        raise SchedulerError(f"unknown scheduler {name!r}; known: {', '.join(sorted(known))}")
    cls = _load(known[name].target)
    params_model = getattr(cls, "Params", NoParams)
    try:
        validated = params_model.model_validate(params or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = "unknown parameter" if first["type"] == "extra_forbidden" else first["msg"]
        raise SchedulerError(f"scheduler {name!r}: parameter {key}: {message}") from None
    return cls(validated)


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
