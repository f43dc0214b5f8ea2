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

The concat list keeps the range's real time: where a file overlaps the one before it (two
nodes recorded the same seconds during a make-before-break move) the earlier one stops where it
begins (`outpoint`, a decoding timestamp of the file: its first one is probed; cutting the
later one's start instead would leave frames referring to ones left out), and a file followed
by a hole
(nothing was recorded: the seconds a failover takes) is given the length up to the next file
(`duration`), so the picture holds across the hole and the clip's times stay the range's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
    """One file of a clip's concat list and the time it holds."""

    path: Path
    start: datetime
    end: datetime


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
                return Piece(path, part.start, part.end)

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
    """`pieces` in time order keeping the range's real time (see above); one wholly inside
    what comes before it is left out."""
    kept: list[Piece] = []
    covered: datetime | None = None
    for piece in sorted(pieces, key=lambda p: (p.start, p.end)):
        if covered is not None and (piece.end - covered).total_seconds() <= ROUNDING_S:
            continue
        kept.append(piece)
        covered = piece.end if covered is None else max(covered, piece.end)
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
    entries: Sequence[ConcatEntry], starts: Mapping[Path, float], offset_s: float = 0.0
) -> str:
    """The ffconcat list of `entries`, the first one entered `offset_s` in. ffmpeg's `inpoint`
    and `outpoint` are timestamps of their file, not offsets into it (`starts`: each file's
    first one), and decoding times: the copy begins at the keyframe at or before the inpoint,
    and what is kept before an outpoint decodes whole. A cut in a file whose first timestamp
    is unknown is not made (its overlap plays twice rather than garbled)."""
    lines = ["ffconcat version 1.0\n"]
    for i, entry in enumerate(entries):
        lines.append(_file_line(entry.piece.path))
        start = starts.get(entry.piece.path)
        skip = offset_s if i == 0 and start is not None else 0.0
        if skip and start is not None:
            lines.append(f"inpoint {start + skip:.3f}\n")
        if entry.cut_s is not None and start is not None:
            lines.append(f"outpoint {start + entry.cut_s:.3f}\n")
        if entry.length_s is not None:
            lines.append(f"duration {entry.length_s - skip:.3f}\n")
    return "".join(lines)


async def first_timestamp(ffprobe: str, path: Path, timeout_s: float = 30.0) -> float | None:
    """The file's first timestamp in seconds (ffprobe's format start_time); None if unknown."""
    proc = await asyncio.create_subprocess_exec(
        ffprobe, "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", str(path),
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
    try:
        return float(out.decode().strip()) if proc.returncode == 0 else None
    except ValueError:
        return None


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
