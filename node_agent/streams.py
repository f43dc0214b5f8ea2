"""Live streams on this node: accepted publishes, what nginx's /stat says about them, when media
starts flowing, and the StreamReports sent in Hello and every Heartbeat."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from node_agent.nginx.stat import StreamStat
from node_agent.reports import StreamEvent, StreamEventKind, StreamReport, stream_event

# nginx counts audio/video payload only: the sequence headers alone are some tens of bytes, a
# single H.264 keyframe or a second of audio is well over this.
MEDIA_BYTES = 1024
# A publish absent from /stat this long after it was accepted is gone (nginx restarted, so no
# on_publish_done will ever come).
VANISHED_AFTER_S = 5.0
# How long after an accept a publish without media keeps /stat read fast (node_agent.stat_poller):
# long enough for an encoder's start and first keyframe; nginx drops a publisher that sends
# nothing for as long (drop_idle_publisher), and one that trickles too little to count as media
# must not keep nginx polled fast for good.
FAST_WATCH_S = 10.0


@dataclass
class LivePublish:
    """One accepted publish."""

    stream_key: str
    camera_id: str
    remote_address: str
    # Wall clock (for reports) and monotonic (for timeouts) of the accept.
    started: float
    accepted_at: float
    # Version of the assignment in force when the publish was accepted.
    assignment_version: int = 0
    # True when an assignment granted the key (at the accept or since); False while only
    # CheckStreamKey vouches for it. node_agent.revocation decides on this.
    assigned: bool = False
    # Set when the agent ends the publish itself: the UNPUBLISH event's message.
    end_reason: str = ""
    media_flowing: bool = False
    stat: StreamStat | None = None
    missing_since: float | None = None


@dataclass
class StreamTracker:
    """Accepted publishes by stream key; nginx's /stat folded in by observe()."""

    vanished_after_s: float = VANISHED_AFTER_S
    fast_watch_s: float = FAST_WATCH_S
    # Set by every accept, so that the /stat poller starts reading fast at once.
    accepted: asyncio.Event = field(default_factory=asyncio.Event)
    _live: dict[str, LivePublish] = field(default_factory=dict)

    def publish_started(
        self,
        stream_key: str,
        camera_id: str,
        remote_address: str,
        *,
        assignment_version: int = 0,
        assigned: bool = False,
    ) -> None:
        """Remember a publish the agent accepted (`assigned`: the assignment had its key)."""
        self._live[stream_key] = LivePublish(
            stream_key,
            camera_id,
            remote_address,
            time.time(),
            time.monotonic(),
            assignment_version=assignment_version,
            assigned=assigned,
        )
        self.accepted.set()

    def awaiting_media(self, now: float | None = None) -> bool:
        """Whether a publish accepted within fast_watch_s has no media yet (ONLINE waits for the
        next /stat reading that shows it)."""
        now = time.monotonic() if now is None else now
        return any(
            not p.media_flowing and now - p.accepted_at < self.fast_watch_s
            for p in self._live.values()
        )

    def publish_ended(self, stream_key: str) -> LivePublish | None:
        """Forget the publish of `stream_key`; it, if it had been accepted."""
        return self._live.pop(stream_key, None)

    def by_key(self, stream_key: str) -> LivePublish | None:
        """The accepted publish of `stream_key`, if live."""
        return self._live.get(stream_key)

    def by_camera(self, camera_id: str) -> LivePublish | None:
        """The live publish of `camera_id`, whatever key it used."""
        for publish in self._live.values():
            if publish.camera_id == camera_id:
                return publish
        return None

    def live(self) -> list[LivePublish]:
        """Every accepted publish still live."""
        return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)

    def observe(self, stats: list[StreamStat], now: float | None = None) -> list[StreamEvent]:
        """Fold in a /stat reading; the events it implies (MEDIA once per publish, UNPUBLISH for
        publishes nginx no longer has)."""
        now = time.monotonic() if now is None else now
        by_name = {s.name: s for s in stats if s.publishing}
        events: list[StreamEvent] = []
        for key, publish in list(self._live.items()):
            stat = by_name.get(key)
            if stat is None:
                publish.stat = None
                if publish.missing_since is None:
                    publish.missing_since = now
                gone_for = now - max(publish.missing_since, publish.accepted_at)
                if now - publish.accepted_at >= self.vanished_after_s and gone_for >= 1.0:
                    del self._live[key]
                    events.append(
                        stream_event(
                            StreamEventKind.UNPUBLISH,
                            publish.camera_id,
                            publish.end_reason
                            or "the stream is gone from nginx (nginx restarted?)",
                            publish.remote_address,
                        )
                    )
                continue
            publish.stat = stat
            publish.missing_since = None
            if not publish.media_flowing and stat.bytes_in >= MEDIA_BYTES:
                publish.media_flowing = True
                events.append(
                    stream_event(
                        StreamEventKind.MEDIA,
                        publish.camera_id,
                        _describe(stat),
                        publish.remote_address,
                    )
                )
        return events

    def reports(self) -> list[StreamReport]:
        """One StreamReport per live publish."""
        return [_report(p) for p in self._live.values()]


def _describe(stat: StreamStat) -> str:
    parts = [p for p in (stat.video_codec, stat.audio_codec) if p]
    if stat.width and stat.height:
        parts.append(f"{stat.width}x{stat.height}")
    if stat.fps:
        parts.append(f"{stat.fps:g} fps")
    return "media flowing" + (f": {' '.join(parts)}" if parts else "")


def _report(publish: LivePublish) -> StreamReport:
    return StreamReport(publish.camera_id, publish.started, publish.media_flowing, publish.stat)
