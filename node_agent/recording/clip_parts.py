"""The parts of a clip that other nodes (or the cold tier) hold, fetched for this node to
assemble a clip spanning a failover, and the concat list that joins them to its own segments.

The control plane gives the parts (AgentService.GetClipParts, asked as this node with the
clip URL's signed parameters): each a signed download URL at its node or a presigned URL of its
cold object. Only those URLs are fetched, never one from a caller, and each fetch is bounded:
http(s) only, no redirects, a connect and a read timeout and a whole-part deadline, at most
the part's indexed size (a longer body is cut off and refused; a shorter one, a node that died
mid-body, is refused too), a few at once. A part that cannot be fetched fails the clip with a
sentence naming its node and times (PartFetchFailed): the media exists, so the clip is not
made without it.

The concat list keeps the range's real time. It stays on one node's recording while that one
goes on, and changes node only where it ends: a node that came back after a failover and
recorded a few seconds more before it heard the camera had moved would otherwise be switched
to and from for nothing. Where a file overlaps the one before it (two nodes recorded the same
seconds during a make-before-break move) the earlier one stops where it begins (`outpoint`, a
decoding timestamp of the file: its first one is probed; cutting the later one's start instead
would leave frames referring to ones left out). A stream with B-frames needs three more
things there, or the clip repeats or reorders picture times at the junction (CI 2026-12-06:
"non monotonically increasing dts"): the junction is put on the earlier file's frame grid; the
earlier file stops before the first frame it would decode there that shows after the junction
(a frame decoded before B-frames shows after them); and it stops the later file's lead before
the junction (its first frame decodes that long before it shows). `duration` keeps the junction
where it is; the earlier file's last frames before it are left out (a few hundredths of a
second of picture held).
A file followed by a hole (nothing was recorded: the seconds a
failover takes) is given the length up to the next file (`duration`), so the picture holds
across the hole and the clip's times stay the range's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

# Overlap or hole shorter than this is rounding between segments: no directive.
ROUNDING_S = 0.5
CONNECT_TIMEOUT_S = 10.0
# No byte for this long: the node holding the part is gone.
READ_TIMEOUT_S = 20.0
PART_TIMEOUT_S = 300.0
PARTS_AT_ONCE = 3
# Below any frame interval: a timestamp compared or written this much early.
_EPSILON_S = 0.0005
# A part whose size the index does not know is cut off here.
UNKNOWN_SIZE_LIMIT = 1 << 30
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemotePart:
    """A segment this node does not hold, as the control plane gave it."""

    recording_id: str
    start: datetime
    end: datetime
    size_bytes: int
    url: str
    node_name: str


@dataclass(frozen=True)
class Piece:
    """One file of a clip's concat list, the time it holds and the node that recorded it
    ("": this one)."""

    path: Path
    start: datetime
    end: datetime
    node: str = ""


@dataclass(frozen=True)
class FileTimes:
    """A file's timestamps, in seconds: its first one (ffprobe's format start_time) and its
    video packets as (decoding, presentation) time in decoding order."""

    start: float
    packets: tuple[tuple[float, float], ...] = ()

    @property
    def lead(self) -> float:
        """How long before it shows the first frame decodes (B-frames; 0 without)."""
        return max(0.0, self.packets[0][1] - self.packets[0][0]) if self.packets else 0.0

    @property
    def frame_s(self) -> float | None:
        """The time between two frames (None: fewer than two)."""
        shown = sorted({round(pts, 6) for _, pts in self.packets})
        steps = [b - a for a, b in itertools.pairwise(shown) if b - a > 1e-4]
        return min(steps) if steps else None

    def stop_before(self, junction: float, at_most: float) -> float:
        """An outpoint (a decoding time) at or before `at_most` before which no frame decoded
        shows at or after `junction` (both timestamps of this file)."""
        for dts, pts in self.packets:
            if pts >= junction - _EPSILON_S:
                return min(at_most, dts)
        return at_most


class PartsUnavailable(Exception):
    """The control plane could not say which parts other nodes hold (a sentence)."""


class PartFetchFailed(Exception):
    """A part could not be fetched (a sentence naming its node and times)."""


@dataclass(frozen=True)
class SpreadClip:
    """A spread clip URL's signed parameters, as this node received them."""

    camera_id: str
    start_ms: int
    end_ms: int
    grant: str
    expires: int
    signature: str


class ClipPartSource(Protocol):
    """Asks the control plane for a spread clip's other parts (node_agent.control_plane)."""

    async def parts(self, clip: SpreadClip) -> list[RemotePart]:
        """The parts, oldest first; PartsUnavailable with the reason when there are none to
        have."""
        ...


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _failed(part: RemotePart, why: str) -> PartFetchFailed:
    return PartFetchFailed(
        f"the part from {_when(part.start)} to {_when(part.end)} on node {part.node_name} "
        f"could not be fetched ({why}); export the clip again later, or export the parts "
        "before and after it"
    )


async def fetch_parts(parts: Sequence[RemotePart], directory: Path, *, budget: int) -> list[Piece]:
    """Fetch `parts` into `directory` (at most `budget` bytes in all); the pieces, in order.
    PartFetchFailed for the first that fails (what was fetched stays for the caller to
    remove with the directory)."""
    if sum(p.size_bytes for p in parts) > budget:
        raise PartFetchFailed(
            f"the parts on other nodes ({sum(p.size_bytes for p in parts) / 1e6:.0f} MB) are "
            f"more than this node's export cache holds ({budget / 1e6:.0f} MB); export a "
            "shorter range"
        )
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    timeout = aiohttp.ClientTimeout(
        total=PART_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S
    )
    gate = asyncio.Semaphore(PARTS_AT_ONCE)
    # No cookies, no proxies from the environment: each URL exactly as given.
    async with aiohttp.ClientSession(
        timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    ) as http:

        async def one(i: int, part: RemotePart) -> Piece:
            async with gate:
                path = directory / f"{i:05d}.ts"
                await _fetch(http, part, path)
                return Piece(path, part.start, part.end, part.node_name)

        tasks = [asyncio.create_task(one(i, p)) for i, p in enumerate(parts)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _fetch(http: aiohttp.ClientSession, part: RemotePart, path: Path) -> None:
    scheme = urlsplit(part.url).scheme
    if scheme not in ("http", "https"):
        raise _failed(part, f"its URL is not http(s) but {scheme or 'nothing'}")
    limit = part.size_bytes or UNKNOWN_SIZE_LIMIT
    got = 0
    try:
        async with http.get(part.url, allow_redirects=False) as response:
            if response.status != 200:
                text = (await response.content.read(300)).decode(errors="replace").strip()
                raise _failed(part, f"HTTP {response.status}" + (f": {text}" if text else ""))
            with path.open("wb") as out:
                async for chunk in response.content.iter_chunked(_CHUNK):
                    got += len(chunk)
                    if got > limit:
                        raise _failed(part, f"it is larger than the {limit} bytes indexed")
                    await asyncio.to_thread(out.write, chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _failed(part, f"{_broken(exc)}, after {got} bytes") from None
    if part.size_bytes and got != part.size_bytes:
        raise _failed(part, f"{got} of its {part.size_bytes} bytes arrived")


def _broken(exc: BaseException) -> str:
    """What went wrong, in words, without the URL (aiohttp's messages repeat it, signed)."""
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection broke mid-file"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"the node could not be reached ({exc.os_error.strerror or 'refused'})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the node closed the connection"
    return f"the transfer failed ({type(exc).__name__})"


@dataclass(frozen=True)
class ConcatEntry:
    """One file of a clip's concat list: where it stops because the next file begins before
    its end (seconds into it; None: it plays whole), and its length in the clip when a hole
    follows it (else None)."""

    piece: Piece
    cut_s: float | None = None
    length_s: float | None = None


def concat_plan(pieces: Iterable[Piece]) -> list[ConcatEntry]:
    """`pieces` in time order keeping the range's real time (see above); one that adds nothing
    to what comes before it is left out."""
    kept = _chosen(sorted(pieces, key=lambda p: (p.start, p.end)))
    while True:
        entries = _entries(kept)
        # A file the next one covers from (almost) its start plays for nothing: leave it out.
        short = [e.piece for e in entries if e.cut_s is not None and e.cut_s <= ROUNDING_S]
        if not short:
            return entries
        kept = [p for p in kept if p not in short]


def _chosen(ordered: Sequence[Piece]) -> list[Piece]:
    """The pieces that cover the range, staying on one node while its recording goes on."""
    kept: list[Piece] = []
    covered: datetime | None = None
    used: set[int] = set()
    i = 0
    while i < len(ordered):
        if i in used or (
            covered is not None and (ordered[i].end - covered).total_seconds() <= ROUNDING_S
        ):
            i += 1  # taken, or adds nothing to what is covered
            continue
        pick = i
        if covered is not None:
            # What goes on from here without a hole: the same node's next file if it has one.
            reach = covered + timedelta(seconds=ROUNDING_S)
            going_on = []
            for j in range(i, len(ordered)):
                if ordered[j].start > reach:
                    break
                if j not in used and (ordered[j].end - covered).total_seconds() > ROUNDING_S:
                    going_on.append(j)
            same = [j for j in going_on if ordered[j].node == kept[-1].node]
            pick = (same or going_on or [i])[0]
        used.add(pick)
        kept.append(ordered[pick])
        covered = ordered[pick].end if covered is None else max(covered, ordered[pick].end)
    return kept


def _entries(kept: Sequence[Piece]) -> list[ConcatEntry]:
    entries = []
    for piece, following in itertools.zip_longest(kept, kept[1:]):
        cut = length = None
        if following is not None:
            gap = (following.start - piece.end).total_seconds()
            if gap > ROUNDING_S:
                # A hole follows: this file lasts until the next begins.
                length = (following.start - piece.start).total_seconds()
            elif gap < -ROUNDING_S:
                # The next file (another node's recording of the same seconds) takes over.
                cut = (following.start - piece.start).total_seconds()
        entries.append(ConcatEntry(piece, cut, length))
    return entries


def concat_text(
    entries: Sequence[ConcatEntry], times: Mapping[Path, FileTimes], offset_s: float = 0.0
) -> str:
    """The ffconcat list of `entries`, the first one entered `offset_s` in. ffmpeg's `inpoint`
    and `outpoint` are timestamps of their file, not offsets into it (`times`: each file's
    probed), and decoding times: the copy begins at the keyframe at or before the inpoint, and
    what is kept before an outpoint decodes whole. A cut in a file whose timestamps are unknown
    is not made (its overlap plays twice rather than garbled)."""
    lines = ["ffconcat version 1.0\n"]
    for i, entry in enumerate(entries):
        lines.append(_file_line(entry.piece.path))
        own = times.get(entry.piece.path)
        skip = offset_s if i == 0 and own is not None else 0.0
        if skip and own is not None:
            lines.append(f"inpoint {own.start + skip:.3f}\n")
        if entry.cut_s is not None and own is not None:
            following = times.get(entries[i + 1].piece.path) if i + 1 < len(entries) else None
            cut = entry.cut_s
            if (frame := own.frame_s) is not None:
                cut = max(frame, round(cut / frame) * frame)  # on this file's frame grid
            junction = own.start + cut
            lead = following.lead if following is not None else 0.0
            # Just before that packet's decoding time: ffmpeg stops at it, and not one sooner.
            outpoint = own.stop_before(junction, junction - lead) - _EPSILON_S
            lines.append(f"outpoint {outpoint:.6f}\n")
            lines.append(f"duration {cut - skip:.6f}\n")
        if entry.length_s is not None:
            lines.append(f"duration {entry.length_s - skip:.3f}\n")
    return "".join(lines)


async def file_times(ffprobe: str, path: Path, timeout_s: float = 30.0) -> FileTimes | None:
    """The file's first timestamp and its video packets' times; None if unknown."""
    proc = await asyncio.create_subprocess_exec(
        ffprobe, "-v", "error", "-select_streams", "v:0",
        "-show_entries", "format=start_time:packet=pts_time,dts_time", "-of", "json", str(path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        return None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
    if proc.returncode != 0:
        return None
    try:
        probed = json.loads(out)
        start = float(probed["format"]["start_time"])
        packets = tuple(
            (float(p["dts_time"]), float(p["pts_time"]))
            for p in probed.get("packets", ())
            if "dts_time" in p and "pts_time" in p
        )
    except (ValueError, KeyError, TypeError):
        return None
    return FileTimes(start, packets)


def _file_line(path: Path) -> str:
    # ffconcat quoting: a single quote ends the string, so it is closed, escaped and reopened.
    return "file '" + str(path).replace("'", "'\\''") + "'\n"


def remove_tree(directory: Path) -> None:
    """Remove a parts directory and the files in it."""
    for path in directory.glob("*") if directory.is_dir() else []:
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        directory.rmdir()
