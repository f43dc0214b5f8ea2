"""Signed, expiring URLs of recorded media at the node that holds it. Each names a recording id
or a camera and a time range, never a path; camfleet.playback signs the typed resource and the
grant (who asked, when), which the node checks (node_agent/recording_http.py) before it sends a
byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from camfleet.playback import (
    Grant,
    clip_resource,
    recording_resource,
    sign_resource,
    spread_clip_resource,
    vod_resource,
)

from server.db.models import utcnow
from server.identity.principal import Principal


def grant_for(principal: Principal) -> Grant:
    """The grant of URLs signed now for `principal`: its user, and its API token if it called
    with one, so revoking either (node_agent/grants.py) ends the URLs."""
    ids = (
        (principal.user_id, principal.api_token_id)
        if principal.api_token_id
        else (principal.user_id,)
    )
    return Grant(ids, int(utcnow().timestamp()))


def epoch_ms(at: datetime) -> int:
    """Unix milliseconds of `at` (the unit of time ranges in URLs)."""
    return int(at.timestamp() * 1000)


# How long a URL is valid: a lifetime from now, or the moment it ends (a clip's parts end with
# the clip: recomputed from a lifetime, a second boundary crossed in between made them outlive it).
Lifetime = timedelta | datetime


def _expiry(ttl: Lifetime) -> tuple[int, datetime]:
    end = ttl if isinstance(ttl, datetime) else utcnow() + ttl
    # The whole second that is signed: a fractional expiry would promise validity for up to a
    # second after the node starts refusing the URL.
    expires = int(end.timestamp())
    return expires, datetime.fromtimestamp(expires, UTC)


def _signed(secret: bytes, resource: str, grant: Grant, ttl: Lifetime) -> tuple[str, datetime]:
    """`<grant>/<expires>/<sig>` of `resource`, and when it expires."""
    expires, at = _expiry(ttl)
    sig = sign_resource(secret, resource, expires, grant)
    return f"{grant.encode()}/{expires}/{sig}", at


def download_url(
    base_url: str,
    secret: bytes,
    recording_id: str,
    filename: str,
    *,
    ttl: Lifetime,
    grant: Grant,
) -> tuple[str, datetime]:
    """/recordings/<id>/<grant>/<expires>/<sig>/<filename>: one segment's file."""
    signed, at = _signed(secret, recording_resource(recording_id), grant, ttl)
    return f"{base_url}/recordings/{recording_id}/{signed}/{filename}", at


def vod_url(
    base_url: str,
    secret: bytes,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    ttl: timedelta,
    grant: Grant,
) -> tuple[str, datetime]:
    """/vod/<camera>/<start_ms>-<end_ms>/<grant>/<expires>/<sig>/index.m3u8: a VOD HLS playlist
    whose relative segment URLs resolve under the same signed prefix."""
    signed, at = _signed(secret, vod_resource(camera_id, start_ms, end_ms), grant, ttl)
    return f"{base_url}/vod/{camera_id}/{start_ms}-{end_ms}/{signed}/index.m3u8", at


def clip_url(
    base_url: str,
    secret: bytes,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    ttl: timedelta,
    grant: Grant,
) -> tuple[str, datetime]:
    """/exports/<camera>/<start_ms>-<end_ms>/<grant>/<expires>/<sig>/clip.mp4: an MP4 the node
    assembles on first request and keeps (within its export cache budget) until the URL
    expires."""
    signed, at = _signed(secret, clip_resource(camera_id, start_ms, end_ms), grant, ttl)
    return f"{base_url}/exports/{camera_id}/{start_ms}-{end_ms}/{signed}/clip.mp4", at


def spread_clip_url(
    base_url: str,
    secret: bytes,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    ttl: timedelta,
    grant: Grant,
) -> tuple[str, datetime]:
    """/exports/<camera>/<start_ms>-<end_ms>/<grant>/<expires>/<sig>/spread/clip.mp4: a clip
    whose range lies on several nodes; the node assembles it from its own segments and the
    parts the control plane gives it (server/recordings/clips.py)."""
    signed, at = _signed(secret, spread_clip_resource(camera_id, start_ms, end_ms), grant, ttl)
    return f"{base_url}/exports/{camera_id}/{start_ms}-{end_ms}/{signed}/spread/clip.mp4", at
