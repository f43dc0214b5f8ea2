"""The playback policy nodes get in their Assignment: URL lifetime cap and export limits, from
the control plane's settings, so one configuration governs the whole fleet and ExportClip
refuses exactly what the nodes would."""

from __future__ import annotations

from datetime import timedelta

from camfleet.v1 import agent_pb2
from google.protobuf import duration_pb2

from server.config import Settings


def _duration(value: timedelta) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(value)
    return out


def playback_policy(settings: Settings) -> agent_pb2.PlaybackPolicy:
    """The policy of `settings`."""
    return agent_pb2.PlaybackPolicy(
        max_url_ttl=_duration(settings.playback_url_ttl),
        max_clip_duration=_duration(settings.export_max_clip),
        export_cache_bytes=settings.export_cache_bytes,
        exports_per_node=settings.exports_per_node,
        exports_per_principal=settings.exports_per_user,
    )
