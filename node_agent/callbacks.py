"""The agent's answers to nginx's callbacks (node_agent.http_api.Callbacks), each from the part
of the agent that decides it: publishes from the PublishGate, signed HLS from the PlaybackGate,
recorders' plays from their one-time tokens."""

from __future__ import annotations

from node_agent.http_api import PublishDecision
from node_agent.live_access import HlsLinks, PlayTokens
from node_agent.playback_auth import PlaybackGate
from node_agent.publish_auth import PublishGate
from node_agent.streams import StreamTracker


class AgentCallbacks:
    """node_agent.http_api.Callbacks: publishes to the PublishGate, HLS to the PlaybackGate,
    recorders' plays to their one-time tokens."""

    def __init__(
        self,
        publish: PublishGate,
        playback: PlaybackGate,
        streams: StreamTracker,
        tokens: PlayTokens,
        links: HlsLinks,
    ) -> None:
        self._publish = publish
        self._playback = playback
        self._streams = streams
        self._tokens = tokens
        self._links = links

    async def on_publish(self, stream_key: str, remote_address: str) -> PublishDecision:
        """Decide on a publish."""
        return await self._publish.on_publish(stream_key, remote_address)

    async def on_publish_done(self, stream_key: str, remote_address: str) -> None:
        """A publisher went away."""
        await self._publish.on_publish_done(stream_key, remote_address)

    def hls_allowed(self, camera_id: str, grant: str, expires: int, signature: str) -> bool:
        """A valid signed HLS URL: its camera's link points at the stream's directory."""
        key = self._playback.hls_stream_dir(camera_id, grant, expires, signature)
        return key is not None and self._links.link(camera_id, key)

    def on_play(self, camera_id: str, token: str) -> str | None:
        """The key of `camera_id`'s live stream, for a recorder holding a token for it."""
        if not self._tokens.redeem(camera_id, token):
            return None
        live = self._streams.by_camera(camera_id)
        return live.stream_key if live is not None and not live.end_reason else None
