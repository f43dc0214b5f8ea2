"""Reaching a live stream without naming its key: nginx-rtmp names a stream (and its HLS
directory) by the key the camera published with, and the key lets whoever holds it publish.

- PlayTokens: a recorder plays rtmp://127.0.0.1/live/<camera id>?rec=<token>; the token is
  single-use and short-lived (it is in the recorder's arguments, which every local user can
  read), and on_play answers with a redirect to the key. A play without a valid token is
  refused, so nobody else on the host can watch a camera by its id.
- HlsLinks: hls-by-camera/<camera id> -> ../hls/<key>, made when a signed HLS URL is checked,
  so nginx serves the files by camera id and the check answers 200/403 only.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# The camera id part of nginx's HLS location and of recorder URLs.
_CAMERA_ID = re.compile(r"^[0-9a-f-]{36}$")
# A key that names one directory entry (nginx-rtmp's names never hold a slash).
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,255}$")


@dataclass
class PlayTokens:
    """One-time tokens that let a recorder play a camera's live stream."""

    ttl_s: float = 30.0
    # More outstanding tokens than this means something is leaking them: the oldest go.
    max_tokens: int = 4096
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, camera_id: str) -> str:
        """A fresh token for one play of `camera_id`."""
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        self._tokens[token] = (camera_id, now + self.ttl_s)
        if len(self._tokens) > self.max_tokens:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            while len(self._tokens) > self.max_tokens:
                del self._tokens[next(iter(self._tokens))]
        return token

    def redeem(self, camera_id: str, token: str) -> bool:
        """True (once) for a token issued for `camera_id` that has not expired."""
        entry = self._tokens.pop(token, None) if token else None
        if entry is None:
            return False
        issued_for, expires = entry
        return secrets.compare_digest(issued_for, camera_id) and time.monotonic() < expires


@dataclass(frozen=True)
class HlsLinks:
    """The by-camera links into nginx's HLS directories."""

    by_camera: Path

    def link(self, camera_id: str, stream_key: str) -> bool:
        """Point by_camera/<camera_id> at ../hls/<stream_key> (atomically; nothing to do when it
        already does); False when either name could leave the directory."""
        if not _CAMERA_ID.match(camera_id) or not _KEY.match(stream_key):
            return False
        target = f"../hls/{stream_key}"
        link = self.by_camera / camera_id
        try:
            if os.readlink(link) == target:
                return True
        except OSError:
            pass
        tmp = self.by_camera / f".{camera_id}.{secrets.token_hex(4)}"
        try:
            os.symlink(target, tmp)
            os.replace(tmp, link)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("cannot link the HLS directory of camera %s: %s", camera_id, exc.strerror)
            return False
        return True
