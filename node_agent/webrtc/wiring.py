"""The WHEP endpoint assembled from the agent's parts: signed links checked like live HLS (the
playback secret, the grant's revocations and lifetime; node_agent.playback_auth), cameras
played from the local nginx-rtmp with one-time tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from camfleet.playback import Grant, verify_playback

from node_agent.config import AgentConfig
from node_agent.grants import GrantCheck
from node_agent.nginx.config import loopback_rtmp
from node_agent.playback_auth import PlaybackSecret
from node_agent.streams import StreamTracker
from node_agent.webrtc.endpoint import WhepEndpoint
from node_agent.webrtc.feed import FeedSettings
from node_agent.webrtc.ice import addresses_for, offer_addresses
from node_agent.webrtc.sessions import WhepSessions


def whep_endpoint(
    config: AgentConfig,
    *,
    play_token: Callable[[str], str],
    secret: PlaybackSecret,
    grants: GrantCheck,
    streams: StreamTracker,
    log_dir: Path,
) -> WhepEndpoint:
    """The endpoint, its sessions bounded by --webrtc-max-sessions, offering ICE candidates on
    --webrtc-address (default: the HTTP listener's address)."""
    offer_addresses(addresses_for(config.http_listen.host, config.webrtc_addresses))
    feeds = FeedSettings(
        ffmpeg=config.ffmpeg_binary,
        rtmp_source=loopback_rtmp(str(config.rtmp_listen)),
        play_token=play_token,
        log_dir=log_dir,
    )

    def authorize(camera_id: str, grant: str, expires: int, signature: str) -> bool:
        decoded = Grant.decode(grant)
        now = time.time()
        return (
            secret.value is not None
            and decoded is not None
            and verify_playback(secret.value, camera_id, expires, signature, now, grant=decoded)
            and grants.allows(decoded, expires, now)
        )

    def is_live(camera_id: str) -> bool:
        live = streams.by_camera(camera_id)
        return live is not None and not live.end_reason

    return WhepEndpoint(WhepSessions(feeds, config.webrtc_max_sessions), authorize, is_live)
