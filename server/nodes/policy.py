"""The playback policy nodes get in their Assignment: URL lifetime cap and export limits, from
the control plane's settings, so one configuration governs the whole fleet and ExportClip
refuses exactly what the nodes would."""

from __future__ import annotations

from server.config import Settings
from server.nodes.desired import PlaybackPolicy


def playback_policy(settings: Settings) -> PlaybackPolicy:
    """The policy of `settings`."""
    return PlaybackPolicy(
        max_url_ttl=settings.playback_url_ttl,
        max_clip_duration=settings.export_max_clip,
        export_cache_bytes=settings.export_cache_bytes,
        exports_per_node=settings.exports_per_node,
        exports_per_principal=settings.exports_per_user,
    )
