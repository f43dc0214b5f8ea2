"""Which live-metrics reports become STREAM_UPDATED events (server/nodes/metrics_events.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from server.cameras.model import CameraStatus
from server.nodes.live import LiveStream, StreamMetrics
from server.nodes.metrics_events import METRICS_EVENT_EVERY_S, MetricsThrottle, describe

STREAM = LiveStream(
    camera_id="cam",
    status=CameraStatus.ONLINE,
    node_id="node",
    updated=datetime(2026, 12, 5, tzinfo=UTC),
    metrics=StreamMetrics(
        bitrate_bps=2_000_000, fps=25.0, width=1280, height=720, video_codec="H264", clients=1
    ),
)


def with_metrics(**changes: Any) -> LiveStream:
    """STREAM with some of its metrics changed."""
    return replace(STREAM, metrics=replace(STREAM.metrics, **changes))


LATER = METRICS_EVENT_EVERY_S + 0.1


def test_the_first_report_of_a_stream_is_not_an_event() -> None:
    assert not MetricsThrottle().should_publish(STREAM, 0.0)


def test_a_visible_change_is_an_event_once_the_interval_passed() -> None:
    throttle = MetricsThrottle()
    throttle.should_publish(STREAM, 0.0)
    more_viewers = with_metrics(clients=3)
    assert not throttle.should_publish(more_viewers, 1.0)
    assert throttle.should_publish(more_viewers, LATER)
    # Shown now: the same numbers again are no news.
    assert not throttle.should_publish(more_viewers, 2 * LATER)


def test_small_moves_of_bitrate_and_frame_rate_are_not_events() -> None:
    throttle = MetricsThrottle()
    throttle.should_publish(STREAM, 0.0)
    assert not throttle.should_publish(with_metrics(bitrate_bps=2_200_000, fps=24.0), LATER)
    assert throttle.should_publish(with_metrics(bitrate_bps=1_000_000), LATER)


def test_an_ended_stream_starts_over() -> None:
    throttle = MetricsThrottle()
    throttle.should_publish(STREAM, 0.0)
    throttle.forget("cam")
    assert not throttle.should_publish(with_metrics(clients=9), LATER)


def test_the_message_says_what_a_viewer_gets() -> None:
    assert describe(STREAM) == "stream cam: 1280x720 H264 25 fps 2000 kbit/s, 1 clients"
    assert "unknown size" in describe(with_metrics(width=0, video_codec=""))


def test_due_says_what_should_publish_would_do_without_doing_it() -> None:
    throttle = MetricsThrottle()
    assert throttle.due(STREAM, 0.0)  # a first report, to remember
    assert throttle.due(STREAM, 0.0)  # still: due changed nothing
    throttle.should_publish(STREAM, 0.0)
    assert not throttle.due(STREAM, LATER)  # the same report again
    assert not throttle.due(with_metrics(width=1920), 1.0)  # too soon
    assert throttle.due(with_metrics(width=1920), LATER)
    assert throttle.should_publish(with_metrics(width=1920), LATER)
