"""Signatures of playback URLs (HMAC-SHA256 over camera id and expiry).

Shared by the control plane, which signs the URLs it hands out, and the node agent, which checks
them before serving a byte: a URL leaked from a browser stops working at `expires`, and changing
the camera id or expiry breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def playback_signature(secret: bytes, camera_id: str, expires: int) -> str:
    """URL-safe signature of (camera_id, expires)."""
    mac = hmac.new(secret, f"{camera_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify_playback(
    secret: bytes, camera_id: str, expires: int, signature: str, now: float
) -> bool:
    """True when the signature matches and `expires` (unix seconds) is still in the future."""
    if expires <= now:
        return False
    return hmac.compare_digest(playback_signature(secret, camera_id, expires), signature)
