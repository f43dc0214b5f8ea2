"""Signed, expiring playback URLs; the signature itself is in camfleet.playback, which the node
agent uses to check them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from camfleet.playback import Grant, playback_signature

from server.db.models import utcnow


def hls_url(
    base_url: str, secret: bytes, camera_id: str, ttl: timedelta, grant: Grant
) -> tuple[str, datetime]:
    """Signed HLS playlist URL of a camera's live stream for `grant`, and when it expires."""
    expires = int((utcnow() + ttl).timestamp())
    # Report the whole second that was signed: a fractional expiry would promise validity for
    # up to a second after the node starts refusing the URL.
    expires_at = datetime.fromtimestamp(expires, UTC)
    # Grant, expiry and signature live in the path, not the query: the playlist names its
    # segments relatively, so they resolve under the same signed prefix
    # (node_agent/nginx/config.py).
    signature = playback_signature(secret, camera_id, expires, grant)
    return (
        f"{base_url}/hls/{camera_id}/{grant.encode()}/{expires}/{signature}/index.m3u8",
        expires_at,
    )


def ladder_url(hls: str) -> str:
    """The master playlist of a camera's ladder beside its signed HLS URL `hls`: the node
    serves /abr/ under the same signature (node_agent/nginx/config.py)."""
    base, _, rest = hls.partition("/hls/")
    return f"{base}/abr/{rest.rsplit('/', 1)[0]}/master.m3u8"
