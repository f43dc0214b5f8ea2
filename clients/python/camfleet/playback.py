"""Signatures of playback and download URLs: HMAC-SHA256 over a typed resource, a grant and an
expiry.

Shared by the control plane, which signs the URLs it hands out, and the node agent, which checks
them before serving a byte: a URL leaked from a browser stops working at `expires`, and changing
the resource, the grant or the expiry breaks the signature. The resource names its kind ("live:",
"rec:", "vod:", "clip:"), so a signature for watching a camera live never opens a download or an
export, and the other way round.

The grant says whom the URL was signed for and when: the user's id (and the API token's id when
the URL was asked for with one) and the issue time. A node refuses URLs of a principal revoked
after they were issued (a disabled user, a revoked token), counts exports per principal, and
refuses expiries further out than the longest lifetime the control plane gives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

# One URL path segment: `<issued>.<user id>[.<api token id>]`.
GRANT_PATTERN = r"[0-9]{1,12}(?:\.[A-Za-z0-9_-]{1,64}){1,2}"
_GRANT = re.compile(rf"^{GRANT_PATTERN}$")
_PRINCIPAL = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Grant:
    """Who a URL was signed for (user id, then API token id if any) and when (unix seconds)."""

    principals: tuple[str, ...]
    issued: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.principals) <= 2 or not all(
            _PRINCIPAL.match(p) for p in self.principals
        ):
            raise ValueError(f"not a grant's principals: {self.principals!r}")

    @property
    def user(self) -> str:
        """The user the URL was signed for (work such as exports is counted per user)."""
        return self.principals[0]

    def encode(self) -> str:
        """The URL path segment."""
        return ".".join((str(self.issued), *self.principals))

    @classmethod
    def decode(cls, text: str) -> Grant | None:
        """The grant of a URL path segment; None when it is not one."""
        if not _GRANT.match(text):
            return None
        issued, *principals = text.split(".")
        return cls(tuple(principals), int(issued))


def live_resource(camera_id: str) -> str:
    """The live HLS of one camera."""
    return f"live:{camera_id}"


def recording_resource(recording_id: str) -> str:
    """One recorded segment's file (a download)."""
    return f"rec:{recording_id}"


def vod_resource(camera_id: str, start_ms: int, end_ms: int) -> str:
    """The VOD HLS playlist (and its segments) of a camera over [start_ms, end_ms)."""
    return f"vod:{camera_id}:{start_ms}:{end_ms}"


def clip_resource(camera_id: str, start_ms: int, end_ms: int) -> str:
    """One exported MP4 of a camera over [start_ms, end_ms)."""
    return f"clip:{camera_id}:{start_ms}:{end_ms}"


def spread_clip_resource(camera_id: str, start_ms: int, end_ms: int) -> str:
    """One exported MP4 of a camera over [start_ms, end_ms) whose segments lie on several
    nodes: the node assembling it must fetch the other nodes' parts (from URLs the control
    plane gives it), so its URL says so in its own signed kind: a caller cannot turn it into
    a plain clip of the node's own segments, which would leave the other parts out unsaid."""
    return f"sclip:{camera_id}:{start_ms}:{end_ms}"


def sign_resource(secret: bytes, resource: str, expires: int, grant: Grant) -> str:
    """URL-safe signature of (resource, grant, expires)."""
    if "\n" in resource:  # the separator below: no resource may forge another's message
        raise ValueError("a resource must not contain a newline")
    message = f"{resource}\n{grant.encode()}\n{expires}".encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify_resource(
    secret: bytes, resource: str, expires: int, signature: str, now: float, *, grant: Grant
) -> bool:
    """True when the signature matches and `expires` (unix seconds) is still in the future."""
    if expires <= now or "\n" in resource:
        return False
    return hmac.compare_digest(sign_resource(secret, resource, expires, grant), signature)


def playback_signature(secret: bytes, camera_id: str, expires: int, grant: Grant) -> str:
    """Signature of a camera's live HLS URL."""
    return sign_resource(secret, live_resource(camera_id), expires, grant)


def verify_playback(
    secret: bytes, camera_id: str, expires: int, signature: str, now: float, *, grant: Grant
) -> bool:
    """True for a valid, unexpired live HLS signature of `camera_id`."""
    return verify_resource(secret, live_resource(camera_id), expires, signature, now, grant=grant)
