"""The node's index of recorded segments: one SQLite row per closed segment file, in the data
directory (WAL, so a crash of the agent never leaves half a row).

A row is written only once its file is complete (closed by ffmpeg, or finalized after a
crash), so the index never names a file that is still growing. `reported` says the segment's
CLOSED event is in the event spool, which keeps it until the control plane has stored it.
Paths are kept relative to their tier's root; `Segment.path` is where the file is now.

`tier` and `profile` hold the numbers of StorageTier (node_agent.recording.tiers) and
RecordingProfile (node_agent.desired). Agents before those enums wrote camfleet.v1's StorageTier
and RecordingProfile numbers here; the domain enums keep exactly those numbers, so an index
written by an earlier agent reads as it is, with no migration. Only HOT and WARM tiers and the
five profiles were ever written, all members.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from node_agent.desired import RecordingProfile
from node_agent.recording.tiers import StorageTier, Tier

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    camera_id TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    duration REAL NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    tier INTEGER NOT NULL,
    profile INTEGER NOT NULL,
    container TEXT NOT NULL,
    recovered INTEGER NOT NULL,
    path TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0,
    object_bucket TEXT NOT NULL DEFAULT '',
    object_key TEXT NOT NULL DEFAULT '',
    UNIQUE (tier, path)
);
CREATE INDEX IF NOT EXISTS segments_by_camera ON segments (camera_id, start);
CREATE INDEX IF NOT EXISTS segments_by_age ON segments (end);
"""
_COLUMNS = (
    "id, camera_id, start, end, duration, size, sha256, tier, profile, container, recovered, "
    "path, reported, epoch, object_bucket, object_key"
)
# Columns added since the first index: (name, definition), added to an older file on open.
_ADDED = (
    ("epoch", "INTEGER NOT NULL DEFAULT 0"),
    # The cold tier's object of a COLD row (node_agent.recording.cold); path stays the
    # relative path the file had on the node's disks.
    ("object_bucket", "TEXT NOT NULL DEFAULT ''"),
    ("object_key", "TEXT NOT NULL DEFAULT ''"),
)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("datetimes given to the segment index must be timezone-aware")
    return moment.timestamp()


@dataclass(frozen=True)
class Segment:
    """One closed segment file and what is known about it."""

    id: str
    camera_id: str
    start: datetime
    end: datetime
    # Media duration as measured by ffprobe.
    duration_s: float
    size_bytes: int
    sha256: str
    tier: StorageTier
    profile: RecordingProfile
    container: str
    # The recorder died mid-segment; the file was finalized afterwards.
    recovered: bool
    # Relative to its tier's root (as stored) and absolute (where the file is now).
    relative_path: str
    path: Path
    # Its CLOSED event is spooled (delivered, or waiting to be).
    reported: bool = False
    # The placement epoch the camera was recorded under (node_agent.fencing; 0: none known).
    epoch: int = 0
    # COLD only: where its object is.
    object_bucket: str = ""
    object_key: str = ""


class SegmentIndex:
    """Closed segments by id, camera and time. Thread-safe; every call is one short SQLite
    statement, so async code may call it directly."""

    def __init__(self, path: Path, tiers: Mapping[StorageTier, Tier]) -> None:
        self._path = path
        self._tiers = dict(tiers)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        # Opened on first use, so the agent can hand the index out before its data directory
        # exists; callers hold the lock.
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            present = {str(r[1]) for r in db.execute("PRAGMA table_info(segments)")}
            for name, definition in _ADDED:
                if name not in present:
                    # An index an earlier agent wrote: its segments read as epoch 0.
                    db.execute(f"ALTER TABLE segments ADD COLUMN {name} {definition}")
            self._db = db
        return self._db

    @property
    def tiers(self) -> dict[StorageTier, Tier]:
        """This node's tiers."""
        return dict(self._tiers)

    def tier(self, tier: StorageTier) -> Tier:
        """The Tier of `tier` (KeyError if this node has no such tier)."""
        return self._tiers[tier]

    def _segment(self, row: tuple[object, ...]) -> Segment:
        (id_, camera, start, end, duration, size, sha, tier, profile, container, recovered,
         path, reported, epoch, bucket, key) = row  # fmt: skip
        tier_value = StorageTier(int(str(tier)))
        relative = str(path)
        where = self._tiers.get(tier_value)
        return Segment(
            id=str(id_),
            camera_id=str(camera),
            start=_utc(float(str(start))),
            end=_utc(float(str(end))),
            duration_s=float(str(duration)),
            size_bytes=int(str(size)),
            sha256=str(sha),
            tier=tier_value,
            profile=RecordingProfile(int(str(profile))),
            container=str(container),
            recovered=bool(recovered),
            relative_path=relative,
            # A tier no longer configured: the path it had, under a root that is not there.
            path=where.path_for(relative) if where else Path("/nonexistent") / relative,
            reported=bool(reported),
            epoch=int(str(epoch)),
            object_bucket=str(bucket),
            object_key=str(key),
        )

    def _select(self, where: str, args: Iterable[object]) -> list[Segment]:
        with self._lock:
            # `where` is always one of this module's literals; values go in as parameters.
            query = f"SELECT {_COLUMNS} FROM segments {where}"  # noqa: S608
            rows = self._conn().execute(query, tuple(args))
            return [self._segment(r) for r in rows.fetchall()]

    # ----- reads ------------------------------------------------------------------------------

    def get(self, segment_id: str) -> Segment | None:
        """The segment `segment_id`, or None."""
        found = self._select("WHERE id = ?", (segment_id,))
        return found[0] if found else None

    def for_camera(self, camera_id: str, start: datetime, end: datetime) -> list[Segment]:
        """Segments of `camera_id` overlapping [start, end), oldest first."""
        return self._select(
            "WHERE camera_id = ? AND start < ? AND end > ? ORDER BY start, end",
            (camera_id, _seconds(end), _seconds(start)),
        )

    def by_path(self, tier: StorageTier, relative_path: str) -> Segment | None:
        """The segment stored at `relative_path` in `tier`, if indexed."""
        found = self._select("WHERE tier = ? AND path = ?", (tier, relative_path))
        return found[0] if found else None

    def paths(self, tier: StorageTier) -> set[str]:
        """Relative paths of every indexed segment in `tier`."""
        with self._lock:
            rows = self._conn().execute("SELECT path FROM segments WHERE tier = ?", (tier,))
            return {str(r[0]) for r in rows.fetchall()}

    def unreported(self) -> list[Segment]:
        """Segments whose CLOSED event is not spooled yet, oldest first."""
        return self._select("WHERE reported = 0 ORDER BY start", ())

    def oldest(self, camera_id: str | None = None, limit: int = 100) -> list[Segment]:
        """The oldest segments (of one camera, or of the node), oldest first."""
        if camera_id is None:
            return self._select("ORDER BY end, start LIMIT ?", (limit,))
        return self._select("WHERE camera_id = ? ORDER BY end, start LIMIT ?", (camera_id, limit))

    def ended_before(self, moment: datetime, tier: StorageTier, limit: int = 100) -> list[Segment]:
        """Segments in `tier` that ended before `moment`, oldest first."""
        return self._select(
            "WHERE tier = ? AND end < ? ORDER BY end LIMIT ?", (tier, _seconds(moment), limit)
        )

    def cameras(self) -> list[str]:
        """Every camera with at least one segment."""
        with self._lock:
            rows = self._conn().execute("SELECT DISTINCT camera_id FROM segments").fetchall()
        return [str(r[0]) for r in rows]

    def last_end(self, camera_id: str) -> datetime | None:
        """Where `camera_id`'s latest indexed segment ends (None: it has none)."""
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT MAX(end) FROM segments WHERE camera_id = ?", (camera_id,))
                .fetchone()
            )
        return None if row[0] is None else _utc(float(row[0]))

    def bytes_for(self, camera_id: str, tier: StorageTier | None = None) -> int:
        """Total size of `camera_id`'s segments (in one tier, if given)."""
        query = "SELECT COALESCE(SUM(size), 0) FROM segments WHERE camera_id = ?"
        args: tuple[object, ...] = (camera_id,)
        if tier is not None:
            query, args = query + " AND tier = ?", (camera_id, tier)
        with self._lock:
            row = self._conn().execute(query, args).fetchone()
        return int(row[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM segments").fetchone()[0])

    # ----- writes -----------------------------------------------------------------------------

    def add(self, segment: Segment) -> bool:
        """Index a closed segment; False when the same id or file is indexed already (this add
        is ignored)."""
        with self._lock:
            cursor = self._conn().execute(
                f"INSERT OR IGNORE INTO segments ({_COLUMNS}, created) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    segment.id,
                    segment.camera_id,
                    _seconds(segment.start),
                    _seconds(segment.end),
                    segment.duration_s,
                    segment.size_bytes,
                    segment.sha256,
                    int(segment.tier),
                    int(segment.profile),
                    segment.container,
                    int(segment.recovered),
                    segment.relative_path,
                    int(segment.reported),
                    segment.epoch,
                    segment.object_bucket,
                    segment.object_key,
                    time.time(),
                ),
            )
            return cursor.rowcount == 1

    def mark_reported(self, segment_id: str) -> None:
        """Its CLOSED event is in the spool."""
        with self._lock:
            self._conn().execute("UPDATE segments SET reported = 1 WHERE id = ?", (segment_id,))

    def moved(
        self,
        segment_id: str,
        tier: StorageTier,
        relative_path: str,
        object_bucket: str = "",
        object_key: str = "",
    ) -> Segment | None:
        """The file of `segment_id` now lives in `tier` at `relative_path` (for COLD: in the
        object `object_bucket`/`object_key`); the updated row."""
        with self._lock:
            self._conn().execute(
                "UPDATE segments SET tier = ?, path = ?, object_bucket = ?, object_key = ? "
                "WHERE id = ?",
                (int(tier), relative_path, object_bucket, object_key, segment_id),
            )
        return self.get(segment_id)

    def remove(self, segment_id: str) -> bool:
        """Forget `segment_id`; whether it was indexed."""
        with self._lock:
            cursor = self._conn().execute("DELETE FROM segments WHERE id = ?", (segment_id,))
            return cursor.rowcount > 0

    def close(self) -> None:
        """Close the database (every write is already on disk)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
