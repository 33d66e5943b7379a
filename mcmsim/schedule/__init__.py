"""Schedules, their validation, the Scheduler protocol and the scheduler registry."""

from mcmsim.schedule.problem import SchedulingProblem
from mcmsim.schedule.registry import (
    BaseScheduler,
    NoParams,
    Scheduler,
    SchedulerError,
    available_schedulers,
    make_scheduler,
    run_scheduler,
)
from mcmsim.schedule.schedule import Schedule, ScheduleError, Segment, Window

__all__ = [
    "BaseScheduler",
    "NoParams",
    "Schedule",
    "ScheduleError",
    "Scheduler",
    "SchedulerError",
    "SchedulingProblem",
    "Segment",
    "Window",
    "available_schedulers",
    "make_scheduler",
    "run_scheduler",
]
