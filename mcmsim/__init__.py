"""mcmsim: simulate and schedule multi-model DNN inference on chiplet packages.

The API is three calls: :func:`load_scenario`, :func:`schedule`, :func:`simulate`.
"""

from mcmsim.api import schedule, scheduler_params, simulate
from mcmsim.metrics.results import Results
from mcmsim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from mcmsim.schedule.registry import SchedulerError
from mcmsim.schedule.schedule import Schedule, ScheduleError, Segment, Window
from mcmsim.workloads.streams import Stream, StreamError, register_stream_kind

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "ScheduleError",
    "SchedulerError",
    "Segment",
    "Stream",
    "StreamError",
    "Window",
    "load_scenario",
    "parse_scenario",
    "register_stream_kind",
    "schedule",
    "scheduler_params",
    "simulate",
]
__version__ = "0.1.0"
