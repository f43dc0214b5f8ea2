"""The node's current Assignment (desired state from the control plane, node_agent.desired): its
validation, the ACK/NACK decision, persistence, and stream key ↔ camera lookups.

As in Envoy's xDS, an assignment that cannot be applied is NACKed and the last good one stays.
A camera assigned under an older placement epoch than this node has seen (node_agent.fencing)
is left out of the assignment it applies, never run, and named in the result.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from node_agent.desired import AssignedCamera, Assignment, Ingest
from node_agent.fencing import EpochFence, StaleCamera
from node_agent.state import DataDir, load_assignment, save_assignment

log = logging.getLogger(__name__)

# Keys become nginx's HLS directory names (hls_nested): no dots, no slashes, ever.
STREAM_KEY = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def validate_assignment(assignment: Assignment) -> str | None:
    """Why `assignment` cannot be applied, or None when it can."""
    if assignment.version <= 0:
        return f"version must be positive, got {assignment.version}"
    cameras: set[str] = set()
    keys: set[str] = set()
    for index, camera in enumerate(assignment.cameras):
        where = f"camera {camera.camera_id!r}" if camera.camera_id else f"cameras[{index}]"
        if not camera.camera_id:
            return f"{where}: camera_id is empty"
        if camera.camera_id in cameras:
            return f"{where}: assigned twice"
        cameras.add(camera.camera_id)
        if camera.ingest is Ingest.UNSPECIFIED:
            return f"{where}: ingest must be push or pull"
        # A pull camera's puller publishes into nginx under its key (node_agent.pull), so a
        # key names its HLS directory as a push key does; without one it is not pulled (the
        # puller says so), which is no reason to refuse the rest of the assignment.
        if camera.ingest is Ingest.PUSH and not camera.stream_key:
            return f"{where}: a push camera needs a stream key"
        if camera.stream_key and not STREAM_KEY.match(camera.stream_key):
            return f"{where}: stream key has characters other than A-Z a-z 0-9 _ -"
        if camera.stream_key and camera.stream_key in keys:
            return f"{where}: stream key shared with another camera"
        keys.add(camera.stream_key)
        if camera.ingest is Ingest.PULL and not camera.source_url:
            return f"{where}: a pull camera needs a source URL"
    return None


@dataclass(frozen=True)
class ApplyResult:
    """The reply to an Assignment: an ACK (error empty) or a NACK with the reason."""

    version: int
    error: str = ""
    # Cameras left out for a stale placement epoch (the rest of the assignment applied).
    stale: tuple[StaleCamera, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.error


class CurrentAssignment:
    """The last good assignment, persisted to DATA_DIR/assignment.bin."""

    def __init__(self, data_dir: DataDir) -> None:
        self._data_dir = data_dir
        self.fence = EpochFence(data_dir)
        self._assignment = Assignment()
        self._by_key: dict[str, AssignedCamera] = {}
        self._by_camera: dict[str, AssignedCamera] = {}

    def load(self) -> None:
        """Take the persisted placement epochs and assignment, if there is a valid one (without
        any camera whose epoch is older than seen: a crash came between the two writes)."""
        self.fence.load()
        stored = load_assignment(self._data_dir)
        if stored is None:
            return
        error = validate_assignment(stored)
        if error:
            log.warning("ignoring the stored assignment: %s", error)
            return
        stored, stale = self.fence.admit(stored)
        for camera in stale:
            log.warning("stored assignment: camera %s %s", camera.camera_id, camera.message)
        self._swap(stored)
        log.info(
            "using the stored assignment version %d (%d cameras)",
            stored.version,
            len(stored.cameras),
        )

    @property
    def version(self) -> int:
        """Version of the assignment in force; 0 before the first one."""
        return self._assignment.version

    @property
    def assignment(self) -> Assignment:
        """The assignment in force (immutable: a new one replaces it)."""
        return self._assignment

    def camera_for_key(self, stream_key: str) -> AssignedCamera | None:
        """The camera publishing with `stream_key`, if assigned here: a push camera, or a pull
        camera (whose key only this node's puller may publish: node_agent.publish_auth)."""
        return self._by_key.get(stream_key)

    def camera(self, camera_id: str) -> AssignedCamera | None:
        """The assigned camera `camera_id`, if any."""
        return self._by_camera.get(camera_id)

    def epoch_of(self, camera_id: str) -> int:
        """The placement epoch `camera_id` runs (or last ran) under here: its segments'."""
        return self.fence.seen(camera_id)

    def decide(self, assignment: Assignment) -> ApplyResult:
        """ACK or NACK `assignment` without applying it."""
        error = validate_assignment(assignment)
        if error is None and assignment.version < self.version:
            error = f"stale version {assignment.version}: version {self.version} is in force"
        return ApplyResult(assignment.version, error or "")

    async def apply(self, assignment: Assignment) -> ApplyResult:
        """Validate, persist and swap in `assignment` without its stale cameras (named in the
        result); a NACK leaves the old one in force."""
        result = self.decide(assignment)
        if not result.accepted:
            log.warning("rejected assignment version %d: %s", assignment.version, result.error)
            return result
        assignment, stale = self.fence.admit(assignment)
        for camera in stale:
            log.warning(
                "assignment version %d: camera %s %s",
                assignment.version,
                camera.camera_id,
                camera.message,
            )
        try:
            # The epochs first: a crash before the assignment is stored leaves the old one,
            # whose epochs are no newer (load() re-checks them).
            await asyncio.to_thread(self.fence.record, assignment)
            await asyncio.to_thread(save_assignment, self._data_dir, assignment)
        except OSError as exc:
            # Not persisted means not safe to run after a restart: say so and keep the old one.
            log.error("cannot store assignment version %d: %s", assignment.version, exc)
            return ApplyResult(assignment.version, f"cannot store the assignment: {exc}")
        self._swap(assignment)
        log.info(
            "applied assignment version %d (%d cameras)",
            assignment.version,
            len(assignment.cameras),
        )
        return ApplyResult(result.version, stale=stale)

    def _swap(self, assignment: Assignment) -> None:
        self._assignment = assignment
        self._by_camera = {c.camera_id: c for c in assignment.cameras}
        self._by_key = {c.stream_key: c for c in assignment.cameras if c.stream_key}
