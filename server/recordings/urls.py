"""Signed, expiring URLs of recorded media at the node that holds it. Each names a recording id
or a camera and a time range, never a path; camfleet.playback signs the typed resource, which
the node checks (node_agent/recording_http.py) before it sends a byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from camfleet.playback import clip_resource, recording_resource, sign_resource, vod_resource

from server.db.models import utcnow


def epoch_ms(at: datetime) -> int:
    """Unix milliseconds of `at` (the unit of time ranges in URLs)."""
    return int(at.timestamp() * 1000)


def _expiry(ttl: timedelta) -> tuple[int, datetime]:
    # The whole second that is signed: a fractional expiry would promise validity for up to a
    # second after the node starts refusing the URL.
    expires = int((utcnow() + ttl).timestamp())
    return expires, datetime.fromtimestamp(expires, UTC)


def download_url(
    base_url: str, secret: bytes, recording_id: str, filename: str, ttl: timedelta
) -> tuple[str, datetime]:
    """/recordings/<id>/<expires>/<sig>/<filename>: one segment's file."""
    expires, at = _expiry(ttl)
    sig = sign_resource(secret, recording_resource(recording_id), expires)
    return f"{base_url}/recordings/{recording_id}/{expires}/{sig}/{filename}", at


def vod_url(
    base_url: str, secret: bytes, camera_id: str, start_ms: int, end_ms: int, *, ttl: timedelta
) -> tuple[str, datetime]:
    """/vod/<camera>/<start_ms>-<end_ms>/<expires>/<sig>/index.m3u8: a VOD HLS playlist whose
    relative segment URLs resolve under the same signed prefix."""
    expires, at = _expiry(ttl)
    sig = sign_resource(secret, vod_resource(camera_id, start_ms, end_ms), expires)
    return f"{base_url}/vod/{camera_id}/{start_ms}-{end_ms}/{expires}/{sig}/index.m3u8", at


def clip_url(
    base_url: str, secret: bytes, camera_id: str, start_ms: int, end_ms: int, *, ttl: timedelta
) -> tuple[str, datetime]:
    """/exports/<camera>/<start_ms>-<end_ms>/<expires>/<sig>/clip.mp4: an MP4 the node
    assembles on first request and keeps until the URL expires."""
    expires, at = _expiry(ttl)
    sig = sign_resource(secret, clip_resource(camera_id, start_ms, end_ms), expires)
    return f"{base_url}/exports/{camera_id}/{start_ms}-{end_ms}/{expires}/{sig}/clip.mp4", at
