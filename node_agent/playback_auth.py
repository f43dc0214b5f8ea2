"""Which HLS directory a signed playback URL opens: checked with the playback secret from the
control plane (kept on disk, so playback works while the control plane is away), and its grant
against the revocations and URL lifetime of the current assignment (node_agent.grants)."""

from __future__ import annotations

import time

from camfleet.playback import Grant, verify_playback

from node_agent.assignment import CurrentAssignment
from node_agent.desired import Ingest
from node_agent.grants import GrantCheck
from node_agent.state import DataDir, load_playback_secret, save_playback_secret
from node_agent.streams import StreamTracker


class PlaybackSecret:
    """The current playback secret, persisted to DATA_DIR/playback.key."""

    def __init__(self, data_dir: DataDir) -> None:
        self._data_dir = data_dir
        self.value: bytes | None = None

    def load(self) -> None:
        """Take the persisted secret, if any."""
        self.value = load_playback_secret(self._data_dir)

    def update(self, secret: bytes) -> bool:
        """Persist and use `secret`; False when it was already in use."""
        if not secret or secret == self.value:
            return False
        save_playback_secret(self._data_dir, secret)
        self.value = secret
        return True


class PlaybackGate:
    """nginx's auth_request for HLS: a stream directory for a valid URL, else None."""

    def __init__(
        self, secret: PlaybackSecret, streams: StreamTracker, assignment: CurrentAssignment
    ) -> None:
        self._secret = secret
        self._streams = streams
        self._assignment = assignment
        self.grants = GrantCheck(assignment)

    def hls_stream_dir(
        self, camera_id: str, grant: str, expires: int, signature: str
    ) -> str | None:
        """The HLS directory (the stream key) of a validly signed, unexpired camera URL whose
        grant still holds."""
        secret = self._secret.value
        decoded = Grant.decode(grant)
        now = time.time()
        if (
            secret is None
            or decoded is None
            or not verify_playback(secret, camera_id, expires, signature, now, grant=decoded)
            or not self.grants.allows(decoded, expires, now)
        ):
            return None
        live = self._streams.by_camera(camera_id)
        if live is not None:
            return live.stream_key
        camera = self._assignment.camera(camera_id)
        if camera is not None and camera.ingest is Ingest.PUSH:
            return camera.stream_key
        return None
