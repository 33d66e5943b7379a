"""Schedules, their validation, the Scheduler protocol and the scheduler registry."""

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import (
    BaseScheduler,
    NoParams,
    ParamInfo,
    Scheduler,
    SchedulerError,
    available_schedulers,
    describe_params,
    make_scheduler,
    run_scheduler,
)
from mcmsim.schedule.schedule import Schedule, ScheduleError, Segment, Window
from mcmsim.schedule.spec import SchedulerSpec, parse_scheduler_list, parse_scheduler_spec

__all__ = [
    "BaseScheduler",
    "NoParams",
    "ParamInfo",
    "Schedule",
    "ScheduleError",
    "Scheduler",
    "SchedulerError",
    "SchedulerSpec",
    "SchedulingProblem",
    "Segment",
    "Window",
    "available_schedulers",
    "describe_params",
    "make_scheduler",
    "parse_scheduler_list",
    "parse_scheduler_spec",
    "run_scheduler",
]
