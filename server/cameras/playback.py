"""Signed, expiring playback URLs (HMAC-SHA256 over camera id and expiry).

The node that serves HLS checks the same signature before sending a byte, so a URL leaked from a
browser stops working at `expires`, and changing the camera id or expiry breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from server.db.models import utcnow


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


def hls_url(base_url: str, secret: bytes, camera_id: str, ttl: timedelta) -> tuple[str, datetime]:
    """Signed HLS playlist URL of a camera's live stream, and when it expires."""
    expires = int((utcnow() + ttl).timestamp())
    # Report the whole second that was signed: a fractional expiry would promise validity for
    # up to a second after the node starts refusing the URL.
    expires_at = datetime.fromtimestamp(expires, UTC)
    # Expiry and signature live in the path, not the query: the playlist names its segments
    # relatively, so they resolve under the same signed prefix (node_agent/nginx/config.py).
    signature = playback_signature(secret, camera_id, expires)
    return f"{base_url}/hls/{camera_id}/{expires}/{signature}/index.m3u8", expires_at
