"""Recording profiles that equal a rung of the camera's live ladder: recorded from the rung.

A re-encoding profile (node_agent.recording.media.PROFILES: libx264 veryfast at a height and
bitrate) and a ladder rung of the same height and bitrate (node_agent.ladder.plan) are the same
encode; the default ladder's 360p rung is the `low` profile. Such a camera's ladder is pinned
(it runs whether or not anyone watches) and its recorder joins the rung's fragments as the
`original` profile's collector joins nginx's, so the node encodes once for both.

The rung's playlist is known once the ladder has planned its rungs (it probes the source
first); until then the camera's recorder waits (a second or two). A rung the ladder does not
make for this source (above its height), or a ladder that could not probe the source, leaves
the profile to its own ffmpeg. A ladder that restarts keeps its rungs' order, so the recorder
keeps its spec and waits for the fragments to come back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from node_agent.desired import AssignedCamera
from node_agent.ladder.plan import Rung
from node_agent.recording.media import PROFILES
from node_agent.recording.spec import RecorderSpec, RungSource


def matching_rung(camera: AssignedCamera) -> str | None:
    """The rung of the camera's ladder its recording profile equals, if any ("360p")."""
    encoding = PROFILES.get(camera.record_profile)
    if encoding is None:
        return None
    rung = Rung(encoding.height)
    if rung.name not in camera.ladder or rung.video_kbps != encoding.bitrate_kbps:
        return None
    return rung.name


class RungReuse:
    """Which recorders take a ladder rung, and the ladders they keep running."""

    def __init__(self) -> None:
        # Set once the agent has its ladders (None: every profile encodes on its own).
        self.source: RungSource | None = None
        # camera id -> (directory, playlist) last found ready: kept while its ladder restarts.
        self._known: dict[str, tuple[str, str]] = {}

    def spec(self, camera: AssignedCamera, spec: RecorderSpec) -> RecorderSpec | None:
        """`spec` recorded from the camera's matching rung; `spec` itself when none matches;
        None while its ladder is starting (no recorder yet)."""
        rung = matching_rung(camera)
        if rung is None or self.source is None:
            return spec
        state, playlist = self.source.rung_output(camera.camera_id, rung)
        if state == "ready" and playlist is not None:
            self._known[camera.camera_id] = (str(playlist.parent), playlist.name)
        elif state == "none":
            self._known.pop(camera.camera_id, None)
            return spec
        known = self._known.get(camera.camera_id)
        if known is None:
            return None
        directory, name = known
        return dataclasses.replace(spec, fragments=Path(directory), playlist=name)

    def pin(self, cameras: Iterable[AssignedCamera]) -> None:
        """Keep the ladders of these cameras' matching rungs running (and no others)."""
        if self.source is None:
            return
        ids = [c.camera_id for c in cameras if matching_rung(c) is not None]
        for gone in set(self._known) - set(ids):
            del self._known[gone]
        self.source.pin(ids)
