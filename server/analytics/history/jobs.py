"""The history's leader jobs, built once by server/app.py for `leadership.run_while_leader`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from server.analytics.history.health import HealthSampler
from server.analytics.history.hourly import HourlyWriter, TimelineOf, Timelines
from server.analytics.history.intervals import IntervalWriter
from server.analytics.history.loop import Fence
from server.analytics.history.retention import Compactor
from server.db.engine import Sessions
from server.nodes.presence import Presence

Job = Callable[[], Coroutine[Any, Any, None]]


def history_jobs(
    sessions: Sessions, fence: Fence, presence: Presence, timeline: TimelineOf
) -> Mapping[str, Job]:
    """State intervals from the event log, coverage/storage/disk per hour, stream health per
    minute, and their compaction and retention. `timeline`: RecordingService.timeline."""
    return {
        "history_intervals": IntervalWriter(sessions, fence).run,
        "history_hourly": HourlyWriter(sessions, fence, Timelines(timeline), presence).run,
        "history_health": HealthSampler(sessions, fence, presence).run,
        "history_compaction": Compactor(sessions, fence).run,
    }
