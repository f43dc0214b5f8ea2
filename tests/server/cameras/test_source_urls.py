"""Pull cameras' source URLs as bad input (the issue's list): other schemes, 10 kB URLs, hosts
with control characters, credentials with odd characters. Refusals are INVALID_ARGUMENT with a
sentence that never repeats the URL (it may hold a password); odd but valid credentials work
and are masked for every caller who may not read secrets, in reads and in events alike."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable

import grpc
from camfleet.v1 import camera_pb2, common_pb2, event_pb2

from tests.support.assertions import Refusal, audit_since, now_filter, refused
from tests.support.platform import Metadata, Platform, bearer, mask

PULL = camera_pb2.INGEST_MODE_PULL
SCHEME_RULE = (
    "camera.source_url: must be an absolute rtsp://, rtsps://, rtmp://, rtmps://, http:// or "
    "https:// URL with a host"
)


def _create_call(platform: Platform, url: str) -> Awaitable[camera_pb2.CreateCameraResponse]:
    return platform.cameras.CreateCamera(  # type: ignore[no-any-return]
        camera_pb2.CreateCameraRequest(
            camera=camera_pb2.Camera(
                name=f"src-{secrets.token_hex(5)}", ingest_mode=PULL, source_url=url
            )
        ),
        metadata=platform.admin,
    )


async def _refused_everywhere(platform: Platform, camera_id: str, url: str) -> Refusal:
    """`url` refused by CreateCamera and by UpdateCamera (same sentence); returns the refusal."""
    created = await refused(_create_call(platform, url), grpc.StatusCode.INVALID_ARGUMENT)
    updated = await refused(
        platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=camera_id, source_url=url),
                update_mask=mask("source_url"),
            ),
            metadata=platform.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert created.message == updated.message
    assert list(created.fields) == ["camera.source_url"], created.fields
    assert created.reason == "INVALID_ARGUMENT"
    return created


async def _pull_camera(platform: Platform, url: str = "rtsp://127.0.0.1:8554/ok") -> str:
    return (await _create_call(platform, url)).camera.id


async def _count(platform: Platform) -> int:
    return (
        await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
        )
    ).total_size


async def _get(platform: Platform, camera_id: str, metadata: Metadata) -> camera_pb2.Camera:
    return (
        await platform.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera_id), metadata=metadata
        )
    ).camera


async def test_other_schemes_are_refused(platform: Platform) -> None:
    """file:, concat:, pipe:, subfile and friends never reach a node's ffmpeg."""
    camera_id = await _pull_camera(platform)
    count = await _count(platform)
    for url in (
        "file:///etc/passwd",
        "file:/etc/passwd",
        "FILE:///etc/shadow",
        "concat:rtsp://127.0.0.1/a|file:///etc/passwd",
        "pipe:0",
        "pipe:1",
        "subfile,,start,0,end,100,,:file:///etc/passwd",
        "data:text/plain;base64,AAAA",
        "gopher://127.0.0.1/x",
        "/etc/passwd",
        "rtsp:/127.0.0.1/one-slash",
    ):
        refusal = await _refused_everywhere(platform, camera_id, url)
        assert refusal.message == SCHEME_RULE, (url, refusal.message)
    assert await _count(platform) == count
    assert (await _get(platform, camera_id, platform.admin)).source_url == (
        "rtsp://127.0.0.1:8554/ok"
    )


async def test_a_10_kb_url_is_refused_by_its_length(platform: Platform) -> None:
    camera_id = await _pull_camera(platform)
    url = "rtsp://user:secret-pw@127.0.0.1/" + "a" * 10_240
    refusal = await _refused_everywhere(platform, camera_id, url)
    assert refusal.message == "camera.source_url: must be at most 2000 characters, got 10272"
    # 2000 characters exactly is still a source URL.
    edge = "rtsp://127.0.0.1/" + "b" * (2000 - len("rtsp://127.0.0.1/"))
    assert (await _create_call(platform, edge)).camera.source_url == edge


async def test_hosts_with_control_or_odd_characters_are_refused(platform: Platform) -> None:
    camera_id = await _pull_camera(platform)
    control = {
        "rtsp://cam\x00era/x": "U+0000",
        "rtsp://cam\r\nera/x": "U+000D",
        "rtsp://cam\x1bera/x": "U+001B",
        "rtsp://cam\u202eera/x": "U+202E",
        "rtsp://\x7f127.0.0.1/x": "U+007F",
    }
    for url, code in control.items():
        refusal = await _refused_everywhere(platform, camera_id, url)
        assert refusal.message == (
            f"camera.source_url: must not contain control characters ({code})"
        ), repr(url)
    for url, host in {
        "rtsp://cam%0d%0aera/x": "cam%0d%0aera",
        "rtsp://cam%00/x": "cam%00",
        "rtsp://caméra.local/x": "caméra.local",
        "rtsp://cam!era/x": "cam!era",
    }.items():
        refusal = await _refused_everywhere(platform, camera_id, url)
        assert refusal.message.startswith(
            f"camera.source_url: host {host!r} must be a host name (ASCII letters, digits"
        ), refusal.message
        assert "xn--" in refusal.message


async def test_credentials_that_spill_out_of_the_authority_are_refused(
    platform: Platform,
) -> None:
    """An unescaped '/', '?' or '#' in a password ends the authority early: ffmpeg would connect
    to the user name as a host. Refused with how to write it, never echoing the password."""
    camera_id = await _pull_camera(platform)
    for url, says in {
        "rtsp://admin:pa#ss-word@127.0.0.1/cam": "must not contain '#'",
        "rtsp://127.0.0.1/cam#frag": "must not contain '#'",
        "rtsp://admin:pa/ss-word@127.0.0.1/cam": "port that is not a number",
        "rtsp://admin:pa?ss-word@127.0.0.1/cam": "port that is not a number",
        "rtsp://127.0.0.1:99999/cam": "port that is not a number from 0 to 65535",
    }.items():
        refusal = await _refused_everywhere(platform, camera_id, url)
        assert says in refusal.message, (url, refusal.message)
        assert "ss-word" not in refusal.message and "%23" in refusal.message


ODD_CREDENTIALS = {
    # raw '@' and ':' in the password: the last '@' ends the user information
    "rtsp://admin:p@ss:w0rd!@127.0.0.1:8554/cam": "rtsp://admin:***@127.0.0.1:8554/cam",
    # percent-escaped '@', '/', '?', '#', '%'
    "rtsp://adm%40in:p%2Fss%3Fw%23rd%25@127.0.0.1:8554/cam": (
        "rtsp://adm%40in:***@127.0.0.1:8554/cam"
    ),
    # sub-delimiters as they are
    "rtsps://user:$&'()*+,;=~@[::1]:322/s": "rtsps://user:***@[::1]:322/s",
    # a credential in the query as well as in the authority
    "http://u:pw-1@127.0.0.1/snap?user=u&password=p%26q-2": (
        "http://u:***@127.0.0.1/snap?user=u&password=***"
    ),
}
SECRETS = ("p@ss:w0rd!", "p%2Fss%3Fw%23rd%25", "$&'()*+,;=~", "pw-1", "p%26q-2")


async def test_odd_credentials_work_and_are_masked_for_everyone_without_secrets(
    platform: Platform,
) -> None:
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    editor = bearer(await platform.api_token(["cameras.read", "cameras.write"]))
    revision = (
        await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
        )
    ).revision
    since = now_filter()
    ids = {}
    for url, to_editor in ODD_CREDENTIALS.items():
        created = (await _create_call(platform, url)).camera
        ids[created.id] = url
        assert created.source_url == url  # the admin sees what was configured, exactly
        assert (await _get(platform, created.id, editor)).source_url == to_editor
        origin = to_editor.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        assert (await _get(platform, created.id, viewer)).source_url == (
            f"{url.split(':', 1)[0]}://{origin}"
        )
    last = list(ids)[-1]
    for metadata in (viewer, editor):
        seen = await platform.events_until(
            metadata,
            revision,
            lambda e: e.camera.id == last and e.type == event_pb2.EVENT_TYPE_CAMERA_CREATED,
        )
        events = [e for e in seen if e.camera.id in ids]  # created, and any placement since
        assert sum(e.type == event_pb2.EVENT_TYPE_CAMERA_CREATED for e in events) == len(ids)
        for event in events:
            assert not any(secret in str(event) for secret in SECRETS), event
    rows = await audit_since(platform, since, "camera.create")
    assert {r.target for r in rows} >= {f"cameras/{i}" for i in ids}
    assert not any(secret in str(row) for row in rows for secret in SECRETS)
