"""Frame deadlines: miss rates, late-frame latencies, drops and XRBench's real-time score.

A workload with a deadline (``deadline_ms``, or by default the frame period of a
periodic stream, or a cascade's upstream's period) has every request judged against
``arrival + deadline``. The engine logs each such frame in a :class:`FrameLog`: its
arrival, and its completion or drop. :func:`deadline_results` judges the frames that
arrived in the measured window early enough for their outcome to be known by the end of
the run (``arrival <= end - deadline``):

* *on time*: completed at or before its deadline;
* *late*: completed after it, or still running past it when the run ends;
* *dropped*: under ``late_policy = "drop"``, a frame that had not started when the next
  frame of the same workload arrived.

``miss_rate = (late + dropped) / frames``. Late-frame latency percentiles are exact, over
the late frames that completed.

Real-time score (XRBench, Kwon et al., MLSys 2023; ``HET_scoring-module.hpp`` of
github.com/XRBench/XRBench-MLSys2023): a completed frame scores
``1 / (1 + exp(k * (completion - deadline)))`` with the time in milliseconds and
XRBench's default ``k = 15`` per ms (0.5 exactly at the deadline, 0.18 at 0.1 ms late,
above 0.99 at 0.31 ms early); a dropped frame scores 0. A model's score is XRBench's
with its energy factor left out: the mean frame score times ``(1 - drop rate)``. The
overall score is the mean over the models with deadlines (XRBench multiplies it by
100; we keep 0 to 1). A frame still running at the end of the run is scored at the end
of the run, an upper bound of its score.

XRBench's own runtime drops a frame whose deadline passes before it is dispatched; with
the default deadline (one frame period) that is the moment the next frame arrives, so
the two ``drop`` rules agree there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mcmsim.metrics.raw import DROPPED, PENDING, FrameLog
from mcmsim.metrics.results import DeadlineResults
from mcmsim.units import PS_PER_MS, S_PER_PS

__all__ = [
    "RT_SCORE_K_PER_MS",
    "deadline_results",
    "overall_realtime_score",
    "realtime_score",
]

#: XRBench v0.1's default steepness of the real-time score, per millisecond of slack.
RT_SCORE_K_PER_MS = 15.0


def realtime_score(slack_ps: np.ndarray) -> np.ndarray:
    """XRBench's frame score for ``completion - deadline`` in picoseconds (see module)."""
    x = RT_SCORE_K_PER_MS * np.asarray(slack_ps, np.float64) / PS_PER_MS
    # 1 / (1 + e^x) without overflow.
    return 0.5 * (1.0 - np.tanh(0.5 * x))


def deadline_results(log: FrameLog, start_ps: int, end_ps: int) -> list[DeadlineResults | None]:
    """Judge each model's frames of the window ``[start_ps, end_ps]`` (None: no deadline)."""
    out: list[DeadlineResults | None] = []
    for model, deadline_ps in enumerate(log.deadlines_ps):
        if deadline_ps is None:
            out.append(None)
            continue
        arrival = np.asarray(log.arrival_ps[model], np.int64)
        end = np.asarray(log.end_ps[model], np.int64)
        judged = (arrival >= start_ps) & (arrival <= end_ps - deadline_ps)
        arrival, end = arrival[judged], end[judged]
        dropped = end == DROPPED
        running = end == PENDING
        # A frame still running at the end has been late since its deadline passed.
        finish = np.where(running, end_ps, end)
        due = arrival + deadline_ps
        completed = ~dropped & ~running
        on_time = completed & (end <= due)
        late = ~dropped & ~on_time
        late_done = (end - arrival)[late & completed] * S_PER_PS
        late_latency = (
            {
                "p50": float(np.percentile(late_done, 50)),
                "p95": float(np.percentile(late_done, 95)),
                "p99": float(np.percentile(late_done, 99)),
                "max": float(late_done.max()),
            }
            if late_done.size
            else {}
        )
        frames = int(arrival.size)
        n_dropped = int(dropped.sum())
        score = None
        if frames:
            drop_rate = n_dropped / frames
            frame_scores = np.where(dropped, 0.0, realtime_score(finish - due))
            score = float(frame_scores.mean() * (1.0 - drop_rate))
        out.append(
            DeadlineResults(
                deadline_s=deadline_ps * S_PER_PS,
                late_policy=log.late_policies[model],
                frames=frames,
                on_time=int(on_time.sum()),
                late=int(late.sum()),
                dropped=n_dropped,
                miss_rate=(int(late.sum()) + n_dropped) / frames if frames else None,
                drop_rate=n_dropped / frames if frames else None,
                late_latency_s=late_latency,
                realtime_score=score,
            )
        )
    return out


def overall_realtime_score(results: Sequence[DeadlineResults | None]) -> float | None:
    """Mean real-time score over the models that have one (None if none has)."""
    scores = [r.realtime_score for r in results if r is not None and r.realtime_score is not None]
    return float(np.mean(scores)) if scores else None
