"""Placement epochs as fencing tokens: the highest epoch this node has seen for each camera,
kept in the data directory, so the node never runs a camera under an older placement than one
it already ran it under — not after a restart, not when a deposed control-plane leader (or a
replica reading old rows) sends an assignment from before a move.

Every placement change bumps the camera's epoch on the control plane (server/placement); each
AssignedCamera carries it. A camera whose epoch is below the one seen here is left out of the
assignment (never run) and reported with an ERROR stream event; the rest of the assignment
applies, as a partial rejection that does not stop the node's other cameras.

The file is replaced atomically (node_agent.state.write_private) *before* the assignment that
raised an epoch is stored or run: a crash in between leaves a stored assignment whose cameras
are at most as new as the file, which loading it re-checks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from node_agent.desired import Assignment
from node_agent.state import DataDir, read_private, write_private

log = logging.getLogger(__name__)

_FORMAT = 1


@dataclass(frozen=True)
class StaleCamera:
    """A camera assigned under an epoch older than one this node has seen for it."""

    camera_id: str
    epoch: int
    seen: int

    @property
    def message(self) -> str:
        """What the camera's ERROR stream event says."""
        return f"stale placement epoch {self.epoch} < {self.seen}: not run on this node"


def _encode(epochs: dict[str, int]) -> bytes:
    return json.dumps({"format": _FORMAT, "epochs": epochs}, sort_keys=True).encode()


def _decode(data: bytes) -> dict[str, int]:
    """The epochs of a file _encode wrote; ValueError if it is not one."""
    try:
        document = json.loads(data)
        if document["format"] != _FORMAT:
            raise ValueError(f"unknown epochs format {document['format']!r}")
        epochs = {str(k): int(v) for k, v in document["epochs"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an epochs file: {exc!r}") from None
    return epochs


class EpochFence:
    """The highest placement epoch seen per camera (DATA_DIR/epochs.json)."""

    def __init__(self, data_dir: DataDir) -> None:
        self._path = data_dir.epochs
        self._seen: dict[str, int] = {}

    def load(self) -> None:
        """Read what earlier runs saw. A damaged file (only a broken disk makes one: writes
        are atomic) is reported and read as empty: the control plane's assignment still wins."""
        try:
            data = read_private(self._path)
        except OSError as exc:
            log.error("cannot read %s (%s); placement epochs start afresh", self._path, exc)
            return
        if data is None:
            return
        try:
            self._seen = _decode(data)
        except ValueError as exc:
            log.error("%s is damaged (%s); placement epochs start afresh", self._path, exc)

    def seen(self, camera_id: str) -> int:
        """The highest epoch seen for `camera_id` (0: none): the one it runs, or last ran,
        under here, which its segments carry."""
        return self._seen.get(camera_id, 0)

    def admit(self, assignment: Assignment) -> tuple[Assignment, tuple[StaleCamera, ...]]:
        """`assignment` without its stale cameras, and those cameras."""
        stale = tuple(
            StaleCamera(c.camera_id, c.epoch, self.seen(c.camera_id))
            for c in assignment.cameras
            if c.epoch < self.seen(c.camera_id)
        )
        if not stale:
            return assignment, ()
        left_out = {s.camera_id for s in stale}
        kept = tuple(c for c in assignment.cameras if c.camera_id not in left_out)
        return replace(assignment, cameras=kept), stale

    def record(self, assignment: Assignment) -> None:
        """Raise the seen epochs to those of `assignment` (admitted: none is lower), on disk
        first; OSError if they cannot be stored (then nothing changed)."""
        raised = {
            c.camera_id: c.epoch for c in assignment.cameras if c.epoch > self.seen(c.camera_id)
        }
        if not raised:
            return
        epochs = {**self._seen, **raised}
        write_private(self._path, _encode(epochs))
        self._seen = epochs
