"""Downloads of recorded media from the node that holds it, resumable.

A file is written as `<name>.part` beside its destination and renamed only once it is whole (and,
when its SHA-256 is known, checked). A `.part` left by a run that was interrupted (Ctrl-C, a full
disk, a dropped connection) is continued with an HTTP Range request: the node's nginx serves
recorded files with Range (206, and 416 past the end), so the next run asks only for the rest.
Signed URLs expire, so each run asks the control plane for a fresh one; the bytes are those of
the same file.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024
# Errors of a write that found no room: the disk (or the user's quota, or a file-size limit) full.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

# Called with (bytes written so far, total bytes or None when unknown).
Progress = Callable[[int, int | None], None]


class TransferError(Exception):
    """A download that did not finish; the message is a sentence for people."""


class NoRoom(TransferError):
    """The disk filled up; what was written is kept in the .part file for a later resume."""


class Interrupted(TransferError):
    """Ctrl-C; what was written is kept in the .part file for a later resume."""


@dataclass(frozen=True)
class Downloaded:
    """A finished download: where it is, its size, and from which byte this run started."""

    path: Path
    size: int
    resumed_from: int


def part_path(dest: Path) -> Path:
    """Where the unfinished bytes of `dest` are kept."""
    return dest.with_name(dest.name + ".part")


def _open(url: str, offset: int, timeout_s: float) -> tuple[int, dict[str, str], object]:
    request = urllib.request.Request(url)  # noqa: S310 - an http(s) URL the control plane signed
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310
    except urllib.error.HTTPError as err:
        body = err.read(300).decode(errors="replace").strip()
        return err.code, dict(err.headers.items()), body
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TransferError(f"The node holding the file could not be reached ({reason}).") from err
    return response.status, dict(response.headers.items()), response


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _finish(part: Path, dest: Path, size: int, sha256: str, resumed_from: int) -> Downloaded:
    if sha256 and _sha256(part) != sha256.lower():
        part.unlink()
        raise TransferError(
            f"The downloaded file does not match the recording's checksum; the partial file "
            f"was removed, run the same command again to download {dest.name} afresh."
        )
    os.replace(part, dest)
    return Downloaded(dest, size, resumed_from)


def download(
    url: str,
    dest: Path,
    *,
    expected_size: int | None = None,
    sha256: str = "",
    progress: Progress | None = None,
    limit_bytes_per_s: int = 0,
    timeout_s: float = 60.0,
) -> Downloaded:
    """Fetch `url` into `dest`, continuing a `.part` left by an earlier run."""
    part = part_path(dest)
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset > expected_size:
        part.unlink()  # not a prefix of this file: start again
        offset = 0
    status, headers, body = _open(url, offset, timeout_s)
    if status == 416 and offset and expected_size in (None, offset):
        # The .part already holds every byte (an earlier run stopped before renaming it).
        return _finish(part, dest, offset, sha256, offset)
    if status == 416:
        part.unlink(missing_ok=True)
        offset = 0
        status, headers, body = _open(url, 0, timeout_s)
    if status not in (200, 206):
        raise TransferError(_refusal(status, str(body)))
    total = _total(status, headers, offset)
    if status == 200 and offset:
        offset = 0  # the server sent the whole file: write it from the start
    elif status == 206:
        match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
        if match is None or int(match[1]) != offset:
            raise TransferError("The node answered a resumed download with the wrong bytes.")
    try:
        written = _write(
            body, part, offset, total=total, progress=progress, limit_bytes_per_s=limit_bytes_per_s
        )
    except KeyboardInterrupt as stop:
        raise Interrupted(
            f"Interrupted: {_kept_bytes(part)} bytes of {dest.name} are kept in {part.name}; run "
            "the same command again to resume."
        ) from stop
    except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
        raise TransferError(
            f"The download of {dest.name} broke off ({err}); {_kept_bytes(part)} bytes are kept "
            f"in {part.name}, run the same command again to resume."
        ) from err
    except OSError as err:
        if err.errno not in _NO_ROOM:
            raise
        raise NoRoom(
            f"No room left to write {dest.name} ({os.strerror(err.errno or 0)}): "
            f"{_kept_bytes(part)} bytes are kept in {part.name}; free some space and run the "
            "same command again to resume."
        ) from err
    finally:
        body.close()  # type: ignore[attr-defined]
    if total is not None and written != total:
        raise TransferError(
            f"The node sent {written} of {total} bytes of {dest.name}; they are kept in "
            f"{part.name}, run the same command again to resume."
        )
    return _finish(part, dest, written, sha256, offset)


def _write(
    body: Any,
    part: Path,
    offset: int,
    *,
    total: int | None,
    progress: Progress | None,
    limit_bytes_per_s: int,
) -> int:
    """Append what `body` sends to `part` from `offset`; the bytes the part then holds."""
    written = offset
    started = time.monotonic()
    with part.open("r+b" if offset else "wb") as out:
        out.seek(offset)
        out.truncate()
        if progress:
            progress(written, total)
        while chunk := body.read(CHUNK):
            out.write(chunk)
            out.flush()  # a full disk shows here, not at close, with what fitted kept
            written += len(chunk)
            if progress:
                progress(written, total)
            if limit_bytes_per_s:
                _throttle(written - offset, limit_bytes_per_s, started)
    return written


def _kept_bytes(part: Path) -> int:
    try:
        return part.stat().st_size
    except OSError:
        return 0


def _total(status: int, headers: dict[str, str], offset: int) -> int | None:
    if status == 206:
        match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
        if match and match[3] != "*":
            return int(match[3])
        return None
    length = headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _throttle(sent: int, limit: int, started: float) -> None:
    ahead = sent / limit - (time.monotonic() - started)
    if ahead > 0:
        time.sleep(ahead)


def _refusal(status: int, body: str) -> str:
    if status == 403:
        return "The node refused the download URL (expired or not valid); run the command again."
    if status == 404:
        return f"The node does not have that file any more ({body or 'not found'})."
    if status == 429:
        return f"The node is busy with other exports; try again shortly ({body})."
    if status == 507:
        return f"The node has no room to assemble that clip ({body})."
    return f"The node answered HTTP {status}: {body or 'no reason given'}."
