"""The per-request SLO test: whether one request counts as good.

One small function so that every place that counts good requests (the collector at
completion time) asks the same question; a latency target from elsewhere (a frame
deadline, say) only has to reach ``target_ps``.
"""

from __future__ import annotations

__all__ = ["within_target"]


def within_target(latency_ps: int, target_ps: int | None) -> bool:
    """Whether one request is good: no target, or a latency within the target."""
    return target_ps is None or latency_ps <= target_ps
