"""HLS VOD playlists of recorded segments, written the same way by the node agent (a range on its
own disks) and the control plane (a range spread over nodes and the cold tier): a discontinuity
between segments that do not follow each other, each run with its wall-clock time so players can
show and seek by it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# Segments closer than this count as contiguous (no discontinuity).
CONTIGUOUS_S = 0.5
MEDIA_TYPE = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class PlaylistEntry:
    """One segment: its media time, duration and where a player fetches it."""

    start: datetime
    end: datetime
    duration_s: float
    url: str


def vod_playlist(entries: Sequence[PlaylistEntry]) -> str:
    """An HLS VOD playlist of `entries` (oldest first, at least one)."""
    target = max(1, math.ceil(max(e.duration_s for e in entries)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    previous: PlaylistEntry | None = None
    for entry in entries:
        if previous is not None and (
            abs((entry.start - previous.end).total_seconds()) > CONTIGUOUS_S
        ):
            lines.append("#EXT-X-DISCONTINUITY")
        if previous is None or lines[-1] == "#EXT-X-DISCONTINUITY":
            when = entry.start.astimezone(UTC).isoformat(timespec="milliseconds")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{when.replace('+00:00', 'Z')}")
        lines += [f"#EXTINF:{entry.duration_s:.3f},", entry.url]
        previous = entry
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
