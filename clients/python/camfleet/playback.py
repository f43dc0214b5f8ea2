"""Signatures of playback and download URLs: HMAC-SHA256 over a typed resource and an expiry.

Shared by the control plane, which signs the URLs it hands out, and the node agent, which checks
them before serving a byte: a URL leaked from a browser stops working at `expires`, and changing
the resource or the expiry breaks the signature. The resource names its kind ("live:", "rec:",
"vod:", "clip:"), so a signature for watching a camera live never opens a download or an export,
and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


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


def sign_resource(secret: bytes, resource: str, expires: int) -> str:
    """URL-safe signature of (resource, expires)."""
    if "\n" in resource:  # the separator below: no resource may forge another's message
        raise ValueError("a resource must not contain a newline")
    mac = hmac.new(secret, f"{resource}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify_resource(secret: bytes, resource: str, expires: int, signature: str, now: float) -> bool:
    """True when the signature matches and `expires` (unix seconds) is still in the future."""
    if expires <= now or "\n" in resource:
        return False
    return hmac.compare_digest(sign_resource(secret, resource, expires), signature)


def playback_signature(secret: bytes, camera_id: str, expires: int) -> str:
    """Signature of a camera's live HLS URL."""
    return sign_resource(secret, live_resource(camera_id), expires)


def verify_playback(
    secret: bytes, camera_id: str, expires: int, signature: str, now: float
) -> bool:
    """True for a valid, unexpired live HLS signature of `camera_id`."""
    return verify_resource(secret, live_resource(camera_id), expires, signature, now)
