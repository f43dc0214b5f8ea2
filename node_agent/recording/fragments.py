"""nginx-rtmp's live HLS fragments of one stream, read as a recording source.

nginx-rtmp already writes every stream to disk as MPEG-TS fragments cut on keyframes (its
live HLS). With `hls_fragment_naming system` a fragment's name is the wall time, in
milliseconds, at which its first packet arrived; index.m3u8 lists the fragments nginx closed,
with their media durations. A fragment stays on disk for about three playlist lengths
(`hls_cleanup`), so a recorder that died can take up again where it stopped.

A rung of the camera's live ladder (node_agent.ladder: ffmpeg's HLS, `v1_12.ts` listed in
`v1.m3u8` with #EXT-X-PROGRAM-DATE-TIME) is read the same way when a recording profile equals
the rung (scan_stamped): the rung's encode is recorded, not made a second time.

Stdlib only: node_agent.recording.collector imports this and starts once per camera.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PLAYLIST = "index.m3u8"
_SUFFIX = ".ts"
# nginx appends each packet to the fragment it writes as it arrives (every few tens of ms): a
# fragment still this long, unclosed or closed this long before the next one started, was cut
# off (its nginx died, killed or with the agent), and its mtime is where its media ends.
STILL_S = 1.0


@dataclass(frozen=True)
class Fragment:
    """One closed fragment."""

    path: Path
    # Wall time (seconds since the epoch) of its first packet, from its name.
    start: float
    # Media seconds: the playlist's EXTINF, or up to the next fragment's start.
    duration: float


def playlist_durations(text: str) -> dict[str, float]:
    """File name -> EXTINF seconds of every fragment a playlist lists."""
    durations: dict[str, float] = {}
    pending: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            try:
                pending = float(line[len("#EXTINF:") :].split(",", 1)[0])
            except ValueError:
                pending = None
        elif line and not line.startswith("#"):
            if pending is not None and pending > 0:
                durations[line.rsplit("/", 1)[-1]] = pending
            pending = None
    return durations


def _name_time(name: str) -> float | None:
    stem = name[: -len(_SUFFIX)]
    return int(stem) / 1000 if stem.isdigit() and len(stem) >= 10 else None


@dataclass(frozen=True)
class Scan:
    """What a stream's fragment directory holds now."""

    closed: list[Fragment]
    # The fragment nginx is still writing, if any.
    writing: Path | None


def scan(directory: Path) -> Scan:
    """The fragments nginx has finished, oldest first, and the one it is writing.

    A fragment is finished when the playlist lists it or a newer one exists; the newest file
    that the playlist does not list is the one nginx is still writing. Files not named by
    time (another naming, a stray file) are ignored.
    """
    try:
        names = [n for n in os.listdir(directory) if n.endswith(_SUFFIX)]
    except FileNotFoundError:
        return Scan([], None)
    try:
        listed = playlist_durations((directory / PLAYLIST).read_text(errors="replace"))
    except FileNotFoundError:
        listed = {}
    timed = sorted((t, n) for n in names if (t := _name_time(n)) is not None)
    closed: list[Fragment] = []
    for i, (start, name) in enumerate(timed):
        duration = listed.get(name)
        if duration is None:
            if i + 1 == len(timed):
                return Scan(closed, directory / name)
            duration = _unlisted_duration(directory / name, start, timed[i + 1][0])
        closed.append(Fragment(directory / name, start, duration))
    return Scan(closed, None)


def _unlisted_duration(path: Path, start: float, next_start: float) -> float:
    """Media seconds of a fragment the playlist does not list but a newer one follows: up to
    the next one's start (nginx closes one as it opens the next), unless its last write came
    well before that. Then an nginx died writing it and the next one is a new nginx's, after
    an outage: counting the outage as this fragment's media would date its media wrongly and
    make the recording look unbroken across the hole (chaos soak, an nginx kill)."""
    written = _last_write(path)
    if written is not None and start < written < next_start - STILL_S:
        return written - start
    return next_start - start


def _last_write(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return None


def cut_off(path: Path, now: float) -> Fragment | None:
    """The fragment nginx was writing (Scan.writing), up to its last write, if nothing has
    written to it for STILL_S: its nginx died and will never close it. None while written."""
    start, written = _name_time(path.name), _last_write(path)
    if start is None or written is None or written <= start or now - written < STILL_S:
        return None
    return Fragment(path, start, written - start)


_STAMP = "#EXT-X-PROGRAM-DATE-TIME:"


def _stamp(text: str) -> float | None:
    """ffmpeg's program date time (`2026-12-06T09:41:02.123+0000`) as epoch seconds."""
    value = text.strip()
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = f"{value[:-2]}:{value[-2:]}"  # +0000 -> +00:00 (fromisoformat before 3.11)
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def scan_stamped(directory: Path, playlist: str) -> Scan:
    """The fragments of an ffmpeg HLS playlist that stamps each with its wall time (a ladder
    rung, `-hls_flags program_date_time`), oldest first. ffmpeg lists a fragment only once it
    closed it, so every listed one still on disk is finished; a fragment whose stamp is missing
    follows the one before it."""
    try:
        text = (directory / playlist).read_text(errors="replace")
    except FileNotFoundError:
        return Scan([], None)
    closed: list[Fragment] = []
    start: float | None = None
    duration: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(_STAMP):
            start = _stamp(line[len(_STAMP) :])
        elif line.startswith("#EXTINF:"):
            try:
                duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line and not line.startswith("#"):
            if start is not None and duration is not None and duration > 0:
                path = directory / line.rsplit("/", 1)[-1]
                if path.exists():
                    closed.append(Fragment(path, start, duration))
                start += duration
            duration = None
    return Scan(closed, None)


def taken_from(fragments: list[Fragment], since: float) -> list[Fragment]:
    """The fragments a recorder resuming at wall time `since` takes: those mostly after it.

    Fragment times come from arrival times and durations from media, so a resumed recorder's
    `since` (where its previous file ended) lands a few milliseconds either side of a fragment
    boundary; the midpoint rule takes the right fragment in both cases.
    """
    return [f for f in fragments if f.start + f.duration / 2 > since]
