"""Which live-metrics reports become STREAM_UPDATED events.

Heartbeats carry every stream's metrics each second; watchers need to hear only of changes a
person would notice, and not more often than every few seconds per camera.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from server.nodes.live import LiveStream

# How often live metrics may produce a STREAM_UPDATED event per camera, and what counts as a
# change worth showing.
METRICS_EVENT_EVERY_S = 5.0
_RELATIVE_CHANGE = 0.2


def worth_showing(old: LiveStream, new: LiveStream) -> bool:
    """A different picture, codec, audience or status, or bitrate or frame rate moved a lot."""
    a, b = old.metrics, new.metrics
    if a is b and old.status is new.status:
        return False  # the same report again (heartbeat_from keeps an unchanged one)
    return (
        (a.width, a.height, a.video_codec, a.audio_codec, a.clients, old.status)
        != (b.width, b.height, b.video_codec, b.audio_codec, b.clients, new.status)
        or _moved(a.bitrate_bps, b.bitrate_bps)
        or _moved(a.fps, b.fps)
    )


def _moved(a: float, b: float) -> bool:
    # Module level, not a closure: this runs for every stream of every heartbeat.
    return abs(a - b) > _RELATIVE_CHANGE * max(a, b, 1.0)


def describe(stream: LiveStream) -> str:
    """The event's one-line message."""
    m = stream.metrics
    size = f"{m.width}x{m.height}" if m.width else "unknown size"
    return (
        f"stream {stream.camera_id}: {size} {m.video_codec or '?'} "
        f"{m.fps:.0f} fps {m.bitrate_bps // 1000} kbit/s, {m.clients} clients"
    )


@dataclass
class MetricsThrottle:
    """The streams last shown to watchers (per session), and when."""

    every_s: float = METRICS_EVENT_EVERY_S
    _shown: dict[str, tuple[LiveStream, float]] = field(default_factory=dict)

    def due(self, stream: LiveStream, now: float) -> bool:
        """Whether `should_publish` has anything to do for this report (changes nothing): a
        first report to remember, or one worth showing."""
        return self.any_due((stream,), now)

    def any_due(self, streams: Iterable[LiveStream], now: float) -> bool:
        """Whether `due` holds for any of a heartbeat's streams (one call per heartbeat, not one
        per stream: this runs for every heartbeat)."""
        shown, every = self._shown, self.every_s
        for stream in streams:
            previous = shown.get(stream.camera_id)
            if previous is None or (
                now - previous[1] >= every and worth_showing(previous[0], stream)
            ):
                return True
        return False

    def should_publish(self, stream: LiveStream, now: float) -> bool:
        """Whether this report (at monotonic `now`) becomes an event; remembers it if so."""
        previous = self._shown.get(stream.camera_id)
        if previous is None:
            # The first report of a stream adds nothing to the status event that announced it;
            # publishing it cost a connect storm ten event appends per node.
            self._shown[stream.camera_id] = (stream, now)
            return False
        if now - previous[1] < self.every_s or not worth_showing(previous[0], stream):
            return False
        self._shown[stream.camera_id] = (stream, now)
        return True

    def forget(self, camera_id: str) -> None:
        """The stream ended: its next report is a first one again."""
        self._shown.pop(camera_id, None)
