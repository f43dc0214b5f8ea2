"""What a node agent holds on disk: the segments of its own index (recordings.db, SQLite in WAL
mode, so it can be read beside the running agent) and whether each file is still there. Tests
and benches compare it with what the control plane lists (no segment lost or duplicated)."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskSegment:
    """A segment as a node's own index has it (recordings.db), with whether its file exists."""

    id: str
    camera_id: str
    node: str
    start: float  # Unix seconds
    end: float
    sha256: str
    file_present: bool


def held_segments(data_dir: Path, node: str) -> list[DiskSegment]:
    """Every segment in the index of the agent whose data directory is `data_dir` (named
    `node` in the result); empty before it recorded anything."""
    db = data_dir / "recordings.db"
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as c:
        found = c.execute("SELECT id, camera_id, start, end, sha256, path FROM segments").fetchall()
    hot = data_dir / "recordings"
    return [
        DiskSegment(
            str(id_), str(cam), node, float(start), float(end), str(sha), (hot / str(path)).exists()
        )
        for id_, cam, start, end, sha, path in found
    ]
