"""camfleet.v1.CameraService as an integrator sees it, on SQLite and on PostgreSQL + Redis.

The `platform` fixture is shared by the whole session, so every test tags the cameras it creates
with a label no other test uses (`labels.t = <uuid>`) and lists through that label.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import grpc
from camfleet.playback import Grant, verify_playback
from camfleet.v1 import audit_pb2, camera_pb2, common_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from node_agent.http_api import HLS_PATH
from server.common.secrets_store import load_or_create_secret
from server.db.engine import session_factory
from tests.conftest import PlatformFactory
from tests.support.platform import Metadata, Platform, bearer, mask

Code = grpc.StatusCode
PUSH = camera_pb2.INGEST_MODE_PUSH
PULL = camera_pb2.INGEST_MODE_PULL
UPDATABLE = (
    "active, description, ingest_mode, labels, live_ladder, location, name, node_selector, "
    "recording_enabled, recording_profile, retention_max_age, retention_max_bytes, source_url"
)
ONE_MB = 1 << 20

# ---------------------------------------------------------------------------------------------
# Helpers


def new_tag() -> str:
    """A label value no other test uses: filtering on it isolates this test's cameras."""
    return uuid.uuid4().hex


def unique_name(prefix: str = "cam") -> str:
    """A camera name no other test uses."""
    return f"{prefix}-{secrets.token_hex(5)}"


async def expect_status(
    call: Awaitable[Any], code: grpc.StatusCode, *fragments: str
) -> grpc.aio.AioRpcError:
    """Await `call`; it must fail with `code` and a message containing every fragment."""
    try:
        await call
    except grpc.aio.AioRpcError as err:
        message = err.details() or ""
        assert err.code() == code, f"expected {code.name}, got {err.code().name}: {message}"
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} is not in the message {message!r}"
        return err
    raise AssertionError(f"expected {code.name}, but the call succeeded")


def rich_status(err: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, dict[str, str]]:
    """The ErrorInfo and the BadRequest field violations (field -> description) of an error."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, "the error has no grpc-status-details-bin trailer"
    info = error_details_pb2.ErrorInfo()
    violations: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.update({v.field: v.description for v in bad.field_violations})
    return info, violations


async def expect_invalid(
    call: Awaitable[Any], field: str, *fragments: str, prefix: bool = False
) -> grpc.aio.AioRpcError:
    """INVALID_ARGUMENT whose BadRequest names `field` (or a field starting with it, with
    `prefix`), and whose message contains every fragment."""
    err = await expect_status(call, Code.INVALID_ARGUMENT, *fragments)
    info, violations = rich_status(err)
    assert info.reason == "INVALID_ARGUMENT"
    assert info.domain == "camfleet.io"
    named = [f for f in violations if (f.startswith(field) if prefix else f == field)]
    assert named, f"no field violation for {field!r}; got {violations}"
    return err


async def create(
    platform: Platform,
    tag: str,
    name: str = "",
    *,
    metadata: Metadata | None = None,
    **fields: Any,
) -> camera_pb2.Camera:
    """Create a camera labelled `t=<tag>` (plus any other labels given)."""
    labels = {"t": tag, **fields.pop("labels", {})}
    resp = await platform.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(
            camera=camera_pb2.Camera(name=name or unique_name(), labels=labels, **fields)
        ),
        metadata=metadata or platform.admin,
    )
    return resp.camera


def create_call_as(platform: Platform, metadata: Metadata, **fields: Any) -> Awaitable[Any]:
    """A CreateCamera call with the given credentials (to await or hand to expect_status)."""
    return platform.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(**fields)), metadata=metadata
    )


def create_call(platform: Platform, **fields: Any) -> Awaitable[Any]:
    """A CreateCamera call as admin."""
    return create_call_as(platform, platform.admin, **fields)


async def get(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    """The camera as the admin sees it."""
    resp = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
    )
    return resp.camera


async def list_page(
    platform: Platform, metadata: Metadata | None = None, **request: Any
) -> camera_pb2.ListCamerasResponse:
    """One ListCameras response."""
    return await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(**request), metadata=metadata or platform.admin
    )


async def tagged(
    platform: Platform,
    tag: str,
    filter_text: str = "",
    *,
    metadata: Metadata | None = None,
    **request: Any,
) -> list[camera_pb2.Camera]:
    """This test's cameras matching `filter_text` (one page of up to 1000)."""
    combined = f'labels.t = "{tag}"' + (f" AND ({filter_text})" if filter_text else "")
    resp = await list_page(platform, metadata, filter=combined, page_size=1000, **request)
    return list(resp.cameras)


async def names(platform: Platform, filter_text: str, **request: Any) -> set[str]:
    """Names of the cameras matching a complete filter."""
    resp = await list_page(platform, filter=filter_text, page_size=1000, **request)
    return {c.name for c in resp.cameras}


async def camera_count(platform: Platform) -> int:
    """How many cameras exist (total_size of an unfiltered listing)."""
    return (await list_page(platform, page_size=1)).total_size


async def audit_rows(platform: Platform, camera_id: str, action: str) -> list[audit_pb2.AuditLog]:
    """Audit records of `action` on one camera."""
    return await platform.audit_logs(f'target = "cameras/{camera_id}" AND action = "{action}"')


async def assert_audited(
    platform: Platform, camera_id: str, action: str, actor: str = "admin", count: int = 1
) -> None:
    """Exactly `count` successful `action` records on the camera, by `actor`."""
    rows = await audit_rows(platform, camera_id, action)
    assert len(rows) == count, f"{action} on {camera_id}: {rows}"
    for row in rows:
        assert row.actor == actor
        assert row.outcome == "success"
        assert row.target == f"cameras/{camera_id}"


async def login_as(platform: Platform, role: common_pb2.Role.ValueType) -> tuple[str, Metadata]:
    """A new user with `role`: its username and call metadata."""
    user, password = await platform.create_user(role)
    resp = await platform.login(user.username, password)
    return user.username, bearer(resp.tokens.access_token)


def as_time(ts: Any) -> datetime:
    """Aware datetime of a Timestamp."""
    return ts.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# CreateCamera


async def test_create_applies_documented_defaults(platform: Platform) -> None:
    tag = new_tag()
    before = datetime.now(UTC)
    cam = await create(platform, tag, description="  Front door  ", location="Hall")

    assert uuid.UUID(cam.id).version == 4
    assert cam.HasField("active") and cam.active is True
    assert cam.recording_enabled is False
    assert cam.status == camera_pb2.CAMERA_STATUS_OFFLINE
    assert cam.ingest_mode == PUSH
    assert cam.source_url == ""
    assert cam.description == "Front door"  # trimmed
    assert cam.location == "Hall"
    assert cam.labels == {"t": tag}
    assert before - timedelta(seconds=5) <= as_time(cam.create_time) <= datetime.now(UTC)
    assert cam.update_time == cam.create_time
    assert cam.HasField("status_change_time")
    assert await get(platform, cam.id) == cam


async def test_create_respects_explicit_false_active_and_recording(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag, active=False, recording_enabled=True)
    assert cam.HasField("active") and cam.active is False
    assert cam.recording_enabled is True
    stored = await get(platform, cam.id)
    assert stored.active is False and stored.recording_enabled is True


async def test_create_ignores_output_only_fields(platform: Platform) -> None:
    tag = new_tag()
    chosen_id = str(uuid.uuid4())
    cam = await create(
        platform,
        tag,
        id=chosen_id,
        status=camera_pb2.CAMERA_STATUS_ONLINE,
        stream_key="my-own-guessable-key",
        status_reason="forged",
    )
    assert cam.id != chosen_id
    assert cam.status == camera_pb2.CAMERA_STATUS_OFFLINE
    assert cam.stream_key != "my-own-guessable-key"
    assert cam.status_reason == ""


async def test_stream_keys_are_long_random_and_unique(platform: Platform) -> None:
    tag = new_tag()
    cams = [await create(platform, tag) for _ in range(5)]
    keys = [c.stream_key for c in cams]
    url_safe = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for key in keys:
        # 22 url-safe characters carry 132 bits: the minimum for the documented 128.
        assert len(key) >= 22, key
        assert set(key) <= url_safe, key
    assert len(set(keys)) == len(keys)


async def test_labels_round_trip(platform: Platform) -> None:
    tag = new_tag()
    labels = {"site": "hq", "floor.level": "2", "zone_a-b": "North Wing ünïcode", "empty": ""}
    cam = await create(platform, tag, labels=labels)
    assert cam.labels == {"t": tag, **labels}
    assert (await get(platform, cam.id)).labels == {"t": tag, **labels}


async def test_create_is_audited_with_actor_and_target(platform: Platform) -> None:
    cam = await create(platform, new_tag())
    await assert_audited(platform, cam.id, "camera.create")
    (row,) = await audit_rows(platform, cam.id, "camera.create")
    assert row.details["name"] == cam.name
    assert row.method == "/camfleet.v1.CameraService/CreateCamera"


async def test_duplicate_name_is_already_exists_case_insensitively(platform: Platform) -> None:
    tag = new_tag()
    name = unique_name("Lobby")
    await create(platform, tag, name)
    count = await camera_count(platform)
    for clash in (name, name.upper(), name.lower(), f"  {name}  "):
        err = await expect_status(
            create_call(platform, name=clash, labels={"t": tag}),
            Code.ALREADY_EXISTS,
            "already exists",
        )
        info, _ = rich_status(err)
        assert info.reason == "ALREADY_EXISTS"
    assert await camera_count(platform) == count
    assert [c.name for c in await tagged(platform, tag)] == [name]


async def test_concurrent_creates_of_one_name_make_one_camera(platform: Platform) -> None:
    tag = new_tag()
    name = unique_name("race")
    results = await asyncio.gather(
        *(create(platform, tag, name if i % 2 else name.upper()) for i in range(8)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, camera_pb2.Camera)]
    refused = [r for r in results if not isinstance(r, camera_pb2.Camera)]
    assert len(created) == 1, results
    for err in refused:
        assert isinstance(err, grpc.aio.AioRpcError), err
        assert err.code() == Code.ALREADY_EXISTS, (err.code(), err.details())
    assert [c.id for c in await tagged(platform, tag)] == [created[0].id]


async def test_bad_names_are_invalid_argument_naming_camera_name(platform: Platform) -> None:
    tag = new_tag()
    count = await camera_count(platform)
    cases = {
        "": "must not be empty",
        "   \t ": "must not be empty",
        "x" * 201: "at most 200 characters",
        "bad\x00name": "control characters (U+0000)",
        "two\nlines": "control characters (U+000A)",
        "evil\u202eexe.mp4": "U+202E",
        "bell\x07": "U+0007",
        "del\x7f": "U+007F",
    }
    for name, fragment in cases.items():
        await expect_invalid(
            create_call(platform, name=name, labels={"t": tag}), "camera.name", fragment
        )
    assert await camera_count(platform) == count
    assert await tagged(platform, tag) == []
    # The limit is inclusive: exactly 200 characters is fine.
    long_name = f"n{secrets.token_hex(4)}".ljust(200, "x")
    assert (await create(platform, tag, long_name)).name == long_name


async def test_name_whose_lowercase_is_longer_is_accepted(platform: Platform) -> None:
    # "İ" (U+0130) lower-cases to two code points; a 150-character name is within the
    # documented 1 to 200, so it must be accepted (not INTERNAL from a too-long key column).
    tag = new_tag()
    name = "\u0130" * 140 + secrets.token_hex(5)
    cam = await create(platform, tag, name)
    assert cam.name == name
    # Still unique case-insensitively for the letters that have a simple lower case.
    await expect_status(
        create_call(platform, name=name.upper(), labels={"t": tag}), Code.ALREADY_EXISTS
    )


async def test_other_bad_text_fields_are_refused(platform: Platform) -> None:
    tag = new_tag()
    count = await camera_count(platform)
    await expect_invalid(
        create_call(platform, name=unique_name(), description="d" * 2001),
        "camera.description",
        "at most 2000",
    )
    await expect_invalid(
        create_call(platform, name=unique_name(), location="l" * 201),
        "camera.location",
        "at most 200",
    )
    await expect_invalid(
        create_call(platform, name=unique_name(), location="a\x00b"), "camera.location", "U+0000"
    )
    # Descriptions may span lines; other control characters are still refused.
    cam = await create(platform, tag, description="line one\nline two\tindented")
    assert cam.description == "line one\nline two\tindented"
    await expect_invalid(
        create_call(platform, name=unique_name(), description="nul\x00"),
        "camera.description",
        "U+0000",
    )
    assert await camera_count(platform) == count + 1


async def test_ingest_mode_and_source_url_rules(platform: Platform) -> None:
    tag = new_tag()
    count = await camera_count(platform)
    await expect_invalid(
        create_call(platform, name=unique_name(), ingest_mode=PULL),
        "camera.source_url",
        "required for INGEST_MODE_PULL",
    )
    for bad in (
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://127.0.0.1/x",
        "rtsp://",
        "rtsp:///no-host",
        "not a url",
        "rtsp://127.0.0.1/with space",
    ):
        await expect_invalid(
            create_call(platform, name=unique_name(), ingest_mode=PULL, source_url=bad),
            "camera.source_url",
            "rtsp://",
        )
    await expect_invalid(
        create_call(platform, name=unique_name(), source_url="rtsp://127.0.0.1/cam"),
        "camera.source_url",
        "only used with INGEST_MODE_PULL",
    )
    await expect_invalid(
        create_call(platform, name=unique_name(), ingest_mode=7),
        "camera.ingest_mode",
        "INGEST_MODE_PUSH or INGEST_MODE_PULL",
    )
    assert await camera_count(platform) == count
    for url in (
        "rtsp://127.0.0.1:554/stream1",
        "rtsps://127.0.0.1/s",
        "RTMP://127.0.0.1/live/x",
        "rtmps://127.0.0.1/live/x",
        "http://127.0.0.1:8080/video.mjpg",
        "https://[::1]/cam.m3u8",
    ):
        cam = await create(platform, tag, ingest_mode=PULL, source_url=url)
        assert cam.ingest_mode == PULL and cam.source_url == url


async def test_bad_label_keys_and_values_are_refused(platform: Platform) -> None:
    tag = new_tag()
    count = await camera_count(platform)
    for key in ("Site", "", "-lead", ".lead", "a b", "k" * 64, "ключ", "a/b", "a\x00"):
        await expect_invalid(
            create_call(platform, name=unique_name(), labels={"t": tag, key: "v"}),
            "camera.labels",
            "keys are 1\u201363 characters",
            prefix=True,
        )
    await expect_invalid(
        create_call(platform, name=unique_name(), labels={"t": tag, "k": "v" * 201}),
        "camera.labels",
        "at most 200",
        prefix=True,
    )
    await expect_invalid(
        create_call(platform, name=unique_name(), labels={"t": tag, "k": "a\x00b"}),
        "camera.labels",
        "U+0000",
        prefix=True,
    )
    await expect_invalid(
        create_call(platform, name=unique_name(), labels={f"k{i}": "v" for i in range(33)}),
        "camera.labels",
        "at most 32 labels",
    )
    assert await camera_count(platform) == count
    assert await tagged(platform, tag) == []
    # 63-character keys and exactly 32 labels are within the limits.
    many = {f"k{i}": "v" for i in range(30)} | {"k" * 63: "edge"}
    cam = await create(platform, tag, labels=many)
    assert len(cam.labels) == 32


# ---------------------------------------------------------------------------------------------
# GetCamera


async def test_get_unknown_and_malformed_ids(platform: Platform) -> None:
    missing = str(uuid.uuid4())
    stub, md = platform.cameras, platform.admin
    err = await expect_status(
        stub.GetCamera(camera_pb2.GetCameraRequest(id=missing), metadata=md),
        Code.NOT_FOUND,
        missing,
    )
    assert rich_status(err)[0].reason == "NOT_FOUND"
    for bad in ("", "not-a-uuid", "1 OR 1=1", "' OR ''='", "x" * ONE_MB, missing + "x"):
        await expect_invalid(stub.GetCamera(camera_pb2.GetCameraRequest(id=bad), metadata=md), "id")


# ---------------------------------------------------------------------------------------------
# ListCameras: filters


async def test_filter_by_name_exact_wildcard_and_contains(platform: Platform) -> None:
    tag = new_tag()
    east = await create(platform, tag, f"lobby-{tag[:8]}-east")
    west = await create(platform, tag, f"Lobby-{tag[:8]}-West")
    garage = await create(platform, tag, f"garage-{tag[:8]}")

    def named(cams: list[camera_pb2.Camera]) -> set[str]:
        return {c.name for c in cams}

    assert named(await tagged(platform, tag, f'name = "{east.name}"')) == {east.name}
    assert named(await tagged(platform, tag, 'name = "lobby*"')) == {east.name, west.name}
    assert named(await tagged(platform, tag, 'name = "*west"')) == {west.name}
    assert named(await tagged(platform, tag, 'name != "lobby*"')) == {garage.name}
    assert named(await tagged(platform, tag, 'name:"lob"')) == {east.name, west.name}
    assert named(await tagged(platform, tag, "name:LOB")) == {east.name, west.name}
    assert named(await tagged(platform, tag, 'name:"nothing-like-this"')) == set()
    # Without the tag filter the name alone still finds exactly that camera.
    assert await names(platform, f'name = "{garage.name}"') == {garage.name}


async def test_filter_by_status_flags_mode_and_labels(platform: Platform) -> None:
    tag = new_tag()
    plain = await create(platform, tag, labels={"site": "hq"})
    inactive = await create(platform, tag, active=False, labels={"site": "branch"})
    recording = await create(platform, tag, recording_enabled=True)
    pulled = await create(
        platform, tag, ingest_mode=PULL, source_url="rtsp://127.0.0.1/x", labels={"site": "hq-2"}
    )
    everyone = {plain.id, inactive.id, recording.id, pulled.id}

    async def ids(filter_text: str) -> set[str]:
        return {c.id for c in await tagged(platform, tag, filter_text)}

    assert await ids("status = OFFLINE") == everyone
    assert await ids("status = CAMERA_STATUS_OFFLINE") == everyone
    assert await ids("status = offline") == everyone
    assert await ids("status = ONLINE") == set()
    assert await ids("status != OFFLINE") == set()
    assert await ids("active = false") == {inactive.id}
    assert await ids("active = true") == everyone - {inactive.id}
    assert await ids("recording_enabled = true") == {recording.id}
    assert await ids("ingest_mode = PULL") == {pulled.id}
    assert await ids("ingest_mode = INGEST_MODE_PUSH") == everyone - {pulled.id}
    assert await ids('labels.site = "hq"') == {plain.id}
    assert await ids('labels.site != "hq"') == everyone - {plain.id}
    assert await ids('labels.site:"hq"') == {plain.id, pulled.id}
    assert await ids("labels.site:*") == {plain.id, inactive.id, pulled.id}
    assert await ids("labels:site") == {plain.id, inactive.id, pulled.id}
    assert await ids("NOT labels.site:*") == {recording.id}
    assert await ids('labels.nosuchkey = "hq"') == set()


async def test_filter_by_create_time(platform: Platform) -> None:
    tag = new_tag()
    first = await create(platform, tag)
    second = await create(platform, tag)
    third = await create(platform, tag)
    t2 = second.create_time.ToJsonString()

    async def ids(filter_text: str) -> list[str]:
        return [c.id for c in await tagged(platform, tag, filter_text, order_by="create_time")]

    assert await ids(f'create_time > "{t2}"') == [third.id]
    assert await ids(f'create_time >= "{t2}"') == [second.id, third.id]
    assert await ids(f'create_time < "{t2}"') == [first.id]
    assert await ids(f'create_time <= "{t2}"') == [first.id, second.id]
    assert await ids(f'create_time = "{t2}"') == [second.id]
    # The same instant written with an offset is the same instant.
    shifted = as_time(second.create_time).astimezone(timezone(timedelta(hours=2)))
    assert await ids(f'create_time = "{shifted.isoformat()}"') == [second.id]
    assert await ids('create_time > "2000-01-01T00:00:00Z"') == [first.id, second.id, third.id]
    assert await ids('create_time < "2000-01-01T00:00:00Z"') == []
    assert await ids('update_time >= "2000-01-01T00:00:00Z"') == [first.id, second.id, third.id]


async def test_filter_boolean_logic_follows_aip160_precedence(platform: Platform) -> None:
    tag, other = new_tag(), new_tag()
    alpha = await create(platform, tag, f"alpha-{tag[:8]}", active=False)
    beta = await create(platform, tag, f"beta-{tag[:8]}", recording_enabled=True)
    gamma = await create(platform, tag, f"gamma-{tag[:8]}")
    # Same "alpha" prefix, other tag: included only if OR bound looser than AND.
    outsider = await create(platform, other, f"alpha-{other[:8]}")
    t = f'labels.t = "{tag}"'

    # AIP-160: OR binds tighter than AND, so this is  alpha-or-recording AND tag.
    assert await names(platform, f'name = "alpha*" OR recording_enabled = true AND {t}') == {
        alpha.name,
        beta.name,
    }
    assert await names(platform, f'{t} AND name = "alpha*" OR recording_enabled = true') == {
        alpha.name,
        beta.name,
    }
    # Parentheses override it.
    assert await names(platform, f'({t} AND name = "alpha*") OR labels.t = "{other}"') == {
        alpha.name,
        outsider.name,
    }
    # NOT, "-" and juxtaposition (implicit AND).
    assert await names(platform, f"{t} AND NOT active = true") == {alpha.name}
    assert await names(platform, f'{t} -name:"alpha"') == {beta.name, gamma.name}
    assert await names(platform, f"{t} NOT (active = false OR recording_enabled = true)") == {
        gamma.name
    }
    assert await names(platform, f"{t} AND NOT NOT active = false") == {alpha.name}


async def test_filter_bare_words_search_text_fields(platform: Platform) -> None:
    tag = new_tag()
    word = f"w{secrets.token_hex(4)}"
    in_name = await create(platform, tag, f"{word}-cam")
    in_desc = await create(platform, tag, description=f"Watches the {word.upper()} gate")
    in_loc = await create(platform, tag, location=f"Yard {word}")
    await create(platform, tag)
    found = {c.id for c in await tagged(platform, tag, word)}
    assert found == {in_name.id, in_desc.id, in_loc.id}
    assert {c.id for c in await tagged(platform, tag, f'"{word}" "yard"')} == {in_loc.id}


async def test_malformed_filters_name_the_problem(platform: Platform) -> None:
    cases = {
        "name = ": ['"="', "position 5", "expected a value"],
        'colour = "red"': ['unknown field "colour"', "position 0", "known fields", "labels.<key>"],
        'name = "x" AND': ["expected a condition after", "AND"],
        '(name = "x"': ['missing ")"', "position 0"],
        'name = "x")': ['unexpected ")"', "position 10"],
        'name = "open': ["unterminated string", "position 7"],
        "active = maybe": ["true or false", "maybe"],
        "status = PURPLE": ["must be one of", "OFFLINE", "PURPLE"],
        "status > OFFLINE": ["supports only = and !="],
        'create_time > "yesterday"': ["RFC 3339"],
        'create_time > "2026-01-01T00:00:00"': ["time zone"],
        'labels = "x"': ["is a map"],
        'labels. = "x"': ["missing key"],
        'labels.site > "a"': ["supports only =, != and :"],
        "name ! x": ['"!"', "position 5"],
        "()": ["empty parentheses"],
        "a and b": ['"and"', "capitals"],
        "(" * 40 + "name:x" + ")" * 40: ["nests more than"],
        " OR ".join(f"name:x{i}" for i in range(70)): ["more than 64 conditions"],
    }
    for text, fragments in cases.items():
        await expect_invalid(list_page(platform, filter=text), "filter", *fragments)


async def test_malformed_order_by_and_page_size(platform: Platform) -> None:
    cases = {
        "colour": ['unknown field "colour"', "create_time, name, status, update_time"],
        "name sideways": ["entry 1", "name sideways", "<field> desc"],
        "name, name desc": ['"name" appears more than once'],
        "name,": ["entry 2 is empty"],
        "stream_key": ['unknown field "stream_key"'],
        "name; DROP TABLE cameras": ["entry 1"],
    }
    for text, fragments in cases.items():
        await expect_invalid(list_page(platform, order_by=text), "order_by", *fragments)
    await expect_invalid(list_page(platform, page_size=-1), "page_size", "must not be negative")


# ---------------------------------------------------------------------------------------------
# ListCameras: free-text search, ordering, pagination


async def test_search_matches_every_word_case_insensitively_and_literally(
    platform: Platform,
) -> None:
    tag = new_tag()
    w = tag[:8]
    lobby = await create(
        platform, tag, f"North Lobby {w}", description="Main entrance", location="Building 7"
    )
    sale = await create(platform, tag, f"Shop {w}", description="50% off")
    five_hundred = await create(platform, tag, f"Yard {w}", description="500 off")
    under = await create(platform, tag, f"Dock {w}", location="bay a_b")
    axb = await create(platform, tag, f"Pier {w}", location="bay axb")

    async def ids(search: str) -> set[str]:
        return {c.id for c in await tagged(platform, tag, search=search)}

    assert await ids("lobby ENTRANCE") == {lobby.id}  # words may be in different fields
    assert await ids("  north   building  ") == {lobby.id}
    assert await ids("lobby garage") == set()  # every word must match
    assert await ids("50%") == {sale.id}  # % is a literal percent sign, not a wildcard
    assert await ids("%") == {sale.id}
    assert await ids("a_b") == {under.id}  # _ is literal too
    assert await ids("_") == {under.id}
    assert await ids("off") == {sale.id, five_hundred.id}
    assert await ids("BAY") == {under.id, axb.id}
    assert await ids("") == {lobby.id, sale.id, five_hundred.id, under.id, axb.id}
    # Searching alone (no filter) finds it across the whole fleet too.
    resp = await list_page(platform, search=f"lobby {w}", page_size=1000)
    assert [c.id for c in resp.cameras] == [lobby.id]
    await expect_invalid(list_page(platform, search="s" * 201), "search", "at most 200")
    await expect_invalid(list_page(platform, search="a\x00b"), "search", "U+0000")


async def test_order_by_name_and_create_time(platform: Platform) -> None:
    tag = new_tag()
    w = tag[:8]
    b = await create(platform, tag, f"b-{w}")
    a = await create(platform, tag, f"A-{w}")  # names sort case-insensitively
    c = await create(platform, tag, f"c-{w}")

    async def order(order_by: str) -> list[str]:
        return [x.id for x in await tagged(platform, tag, order_by=order_by)]

    assert await order("") == [a.id, b.id, c.id]  # default: name
    assert await order("name") == [a.id, b.id, c.id]
    assert await order("name desc") == [c.id, b.id, a.id]
    assert await order("name DESC") == [c.id, b.id, a.id]
    assert await order("create_time") == [b.id, a.id, c.id]
    assert await order("create_time desc") == [c.id, a.id, b.id]
    assert await order("status, create_time desc") == [c.id, a.id, b.id]


async def test_pagination_returns_each_camera_once_in_order(platform: Platform) -> None:
    tag = new_tag()
    cams = [await create(platform, tag, f"p{i}-{tag[:8]}") for i in range(5)]
    flt = f'labels.t = "{tag}"'
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        resp = await list_page(platform, filter=flt, page_size=2, page_token=token)
        pages += 1
        assert resp.total_size == 5
        assert len(resp.cameras) <= 2
        seen += [c.id for c in resp.cameras]
        token = resp.next_page_token
        if not token:
            break
        assert pages < 10, "pagination does not end"
    assert pages == 3
    assert seen == [c.id for c in cams]

    first = await list_page(platform, filter=flt, page_size=2)
    token = first.next_page_token
    # The token belongs to its query: another filter, search or order_by is refused.
    await expect_invalid(
        list_page(platform, filter=f"{flt} AND active = true", page_size=2, page_token=token),
        "page_token",
        "does not belong to this query",
    )
    await expect_invalid(
        list_page(platform, filter=flt, order_by="name desc", page_size=2, page_token=token),
        "page_token",
        "does not belong to this query",
    )
    await expect_invalid(
        list_page(platform, filter=flt, search="p1", page_size=2, page_token=token),
        "page_token",
        "does not belong to this query",
    )
    # Another page size with the same query is fine (AIP-158).
    resp = await list_page(platform, filter=flt, page_size=3, page_token=token)
    assert [c.id for c in resp.cameras] == [c.id for c in cams[2:5]]
    # Junk, forged ({"o":-1,"f":"x"}) and oversized tokens: refused with the way out.
    for garbage in ("garbage!", "Zm9v", "eyJvIjotMSwiZiI6IngifQ", "A" * 10_000, "' OR 1=1 --"):
        await expect_invalid(
            list_page(platform, filter=flt, page_token=garbage),
            "page_token",
            "start again without page_token",
        )


async def test_page_size_is_capped_not_refused(platform: Platform) -> None:
    tag = new_tag()
    await create(platform, tag)
    resp = await list_page(platform, filter=f'labels.t = "{tag}"', page_size=5000)
    assert len(resp.cameras) == 1 and resp.total_size == 1 and resp.next_page_token == ""


# ---------------------------------------------------------------------------------------------
# UpdateCamera


def update_call(
    platform: Platform, camera: camera_pb2.Camera, *paths: str, metadata: Metadata | None = None
) -> Any:
    """An UpdateCamera call (awaitable)."""
    return platform.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(camera=camera, update_mask=mask(*paths)),
        metadata=metadata or platform.admin,
    )


async def test_update_changes_only_masked_fields(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag, description="d0", location="l0", labels={"a": "1"})
    resp = await update_call(
        platform,
        camera_pb2.Camera(
            id=cam.id,
            name=unique_name(),
            description="d1",
            location="l1",
            active=False,
            recording_enabled=True,
            labels={"t": tag},
        ),
        "description",
    )
    updated = resp.camera
    assert updated.description == "d1"
    assert updated.name == cam.name and updated.location == "l0"
    assert updated.active is True and updated.recording_enabled is False
    assert updated.labels == {"t": tag, "a": "1"}
    assert updated.stream_key == cam.stream_key
    assert updated.create_time == cam.create_time
    assert as_time(updated.update_time) > as_time(cam.update_time)
    assert await get(platform, cam.id) == updated
    await assert_audited(platform, cam.id, "camera.update")
    (row,) = await audit_rows(platform, cam.id, "camera.update")
    assert row.details["fields"] == "description"


async def test_update_star_replaces_every_updatable_field(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag, description="d0", location="l0")
    new_name = unique_name("renamed")
    resp = await update_call(
        platform,
        camera_pb2.Camera(
            id=cam.id,
            name=new_name,
            description="d1",
            location="l1",
            active=False,
            recording_enabled=True,
            ingest_mode=PULL,
            source_url="rtsp://127.0.0.1/s",
            labels={"t": tag, "b": "2"},
            # Output-only fields in the request are ignored, even with "*".
            stream_key="chosen",
            status=camera_pb2.CAMERA_STATUS_ONLINE,
        ),
        "*",
    )
    got = resp.camera
    assert (got.name, got.description, got.location) == (new_name, "d1", "l1")
    assert got.active is False and got.recording_enabled is True
    assert got.ingest_mode == PULL and got.source_url == "rtsp://127.0.0.1/s"
    assert got.labels == {"t": tag, "b": "2"}
    assert got.stream_key == cam.stream_key
    assert got.status == camera_pb2.CAMERA_STATUS_OFFLINE


async def test_update_mask_errors_change_nothing(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag, description="d0")
    changed = camera_pb2.Camera(id=cam.id, description="d1", stream_key="x" * 32)
    await expect_invalid(update_call(platform, changed), "update_mask", "is required", UPDATABLE)
    for paths in (
        ("stream_key",),
        ("status",),
        ("description", "stream_key"),
        ("id",),
        ("create_time",),
        ("labels.site",),
        ("* ", "name"),
    ):
        await expect_invalid(
            update_call(platform, changed, *paths), "update_mask", "cannot update", UPDATABLE
        )
    assert await get(platform, cam.id) == cam
    assert await audit_rows(platform, cam.id, "camera.update") == []


async def test_update_unknown_and_malformed_ids(platform: Platform) -> None:
    missing = str(uuid.uuid4())
    await expect_status(
        update_call(platform, camera_pb2.Camera(id=missing, description="x"), "description"),
        Code.NOT_FOUND,
        missing,
    )
    await expect_invalid(
        update_call(platform, camera_pb2.Camera(id="nope", description="x"), "description"),
        "camera.id",
    )
    await expect_invalid(
        update_call(platform, camera_pb2.Camera(description="x"), "description"), "camera.id"
    )


async def test_update_validates_values(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    bad = [
        (camera_pb2.Camera(id=cam.id, name=" "), "name", "camera.name"),
        (camera_pb2.Camera(id=cam.id, name="a\u202eb"), "name", "camera.name"),
        (camera_pb2.Camera(id=cam.id, name="n" * 201), "name", "camera.name"),
        (camera_pb2.Camera(id=cam.id, labels={"BAD": "x"}), "labels", "camera.labels"),
        (camera_pb2.Camera(id=cam.id), "ingest_mode", "camera.ingest_mode"),
        (
            camera_pb2.Camera(id=cam.id, source_url="rtsp://127.0.0.1/x"),
            "source_url",
            "camera.source_url",
        ),
    ]
    for camera, path, field in bad:
        await expect_invalid(update_call(platform, camera, path), field, prefix=True)
    assert await get(platform, cam.id) == cam


async def test_rename_rules(platform: Platform) -> None:
    tag = new_tag()
    taken = await create(platform, tag, unique_name("Taken"))
    cam = await create(platform, tag, unique_name("mine"))
    for clash in (taken.name, taken.name.upper(), f" {taken.name.lower()} "):
        await expect_status(
            update_call(platform, camera_pb2.Camera(id=cam.id, name=clash), "name"),
            Code.ALREADY_EXISTS,
            "already exists",
        )
    assert await get(platform, cam.id) == cam
    # Changing only the case of one's own name is not a clash.
    resp = await update_call(platform, camera_pb2.Camera(id=cam.id, name=cam.name.upper()), "name")
    assert resp.camera.name == cam.name.upper()
    # The old name is free again after a rename.
    new_name = unique_name("moved")
    await update_call(platform, camera_pb2.Camera(id=cam.id, name=new_name), "name")
    again = await create(platform, tag, cam.name)
    assert again.name == cam.name


async def test_switching_ingest_mode(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    # PUSH -> PULL needs a source.
    await expect_invalid(
        update_call(platform, camera_pb2.Camera(id=cam.id, ingest_mode=PULL), "ingest_mode"),
        "camera.source_url",
        "required for INGEST_MODE_PULL",
    )
    await expect_invalid(
        update_call(
            platform,
            camera_pb2.Camera(id=cam.id, ingest_mode=PULL, source_url="file:///etc/passwd"),
            "ingest_mode",
            "source_url",
        ),
        "camera.source_url",
    )
    assert (await get(platform, cam.id)).ingest_mode == PUSH
    url = "rtsp://user:pw@127.0.0.1:554/live"
    pulled = (
        await update_call(
            platform,
            camera_pb2.Camera(id=cam.id, ingest_mode=PULL, source_url=url),
            "ingest_mode",
            "source_url",
        )
    ).camera
    assert pulled.ingest_mode == PULL and pulled.source_url == url
    # A PULL camera cannot lose its source while staying PULL.
    await expect_invalid(
        update_call(platform, camera_pb2.Camera(id=cam.id, source_url=""), "source_url"),
        "camera.source_url",
        "required",
    )
    # PULL -> PUSH drops the pull source.
    pushed = (
        await update_call(platform, camera_pb2.Camera(id=cam.id, ingest_mode=PUSH), "ingest_mode")
    ).camera
    assert pushed.ingest_mode == PUSH and pushed.source_url == ""
    assert (await get(platform, cam.id)).source_url == ""


async def test_update_replaces_labels_and_advances_update_time(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag, labels={"a": "1", "b": "2"})
    first = (
        await update_call(
            platform, camera_pb2.Camera(id=cam.id, labels={"t": tag, "c": "3"}), "labels"
        )
    ).camera
    assert first.labels == {"t": tag, "c": "3"}
    second = (
        await update_call(platform, camera_pb2.Camera(id=cam.id, location="x"), "location")
    ).camera
    assert as_time(cam.update_time) < as_time(first.update_time) < as_time(second.update_time)
    assert second.labels == {"t": tag, "c": "3"}
    assert [c.id for c in await tagged(platform, tag, 'labels.c = "3"')] == [cam.id]
    assert await tagged(platform, tag, "labels.a:*") == []


# ---------------------------------------------------------------------------------------------
# DeleteCamera, RotateStreamKey, activation, recording


async def test_delete(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    keep = await create(platform, tag)
    await platform.cameras.DeleteCamera(
        camera_pb2.DeleteCameraRequest(id=cam.id), metadata=platform.admin
    )
    await expect_status(
        platform.cameras.GetCamera(camera_pb2.GetCameraRequest(id=cam.id), metadata=platform.admin),
        Code.NOT_FOUND,
        cam.id,
    )
    assert [c.id for c in await tagged(platform, tag)] == [keep.id]
    await expect_status(
        platform.cameras.DeleteCamera(
            camera_pb2.DeleteCameraRequest(id=cam.id), metadata=platform.admin
        ),
        Code.NOT_FOUND,
        cam.id,
    )
    await expect_invalid(
        platform.cameras.DeleteCamera(
            camera_pb2.DeleteCameraRequest(id="*"), metadata=platform.admin
        ),
        "id",
    )
    await assert_audited(platform, cam.id, "camera.delete")
    # The name is free again.
    assert (await create(platform, tag, cam.name)).name == cam.name


async def test_rotate_stream_key(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    resp = await platform.cameras.RotateStreamKey(
        camera_pb2.RotateStreamKeyRequest(id=cam.id), metadata=platform.admin
    )
    rotated = resp.camera
    assert rotated.stream_key != cam.stream_key and len(rotated.stream_key) >= 22
    assert (await get(platform, cam.id)).stream_key == rotated.stream_key
    # The old key is gone from the whole fleet, and the publish URL uses the new one.
    all_keys: set[str] = set()
    token = ""
    while True:
        page = await list_page(platform, page_size=1000, page_token=token)
        all_keys |= {c.stream_key for c in page.cameras}
        token = page.next_page_token
        if not token:
            break
    assert cam.stream_key not in all_keys and rotated.stream_key in all_keys
    urls = await platform.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=cam.id), metadata=platform.admin
    )
    assert urls.rtmp_publish_url.endswith("/" + rotated.stream_key)
    await assert_audited(platform, cam.id, "camera.rotate_stream_key")
    await expect_status(
        platform.cameras.RotateStreamKey(
            camera_pb2.RotateStreamKeyRequest(id=str(uuid.uuid4())), metadata=platform.admin
        ),
        Code.NOT_FOUND,
    )


async def test_activation_and_recording_flags_are_audited(platform: Platform) -> None:
    cam = await create(platform, new_tag())
    stub, md = platform.cameras, platform.admin

    off = (
        await stub.DeactivateCamera(camera_pb2.DeactivateCameraRequest(id=cam.id), metadata=md)
    ).camera
    assert off.active is False
    on = (
        await stub.ActivateCamera(camera_pb2.ActivateCameraRequest(id=cam.id), metadata=md)
    ).camera
    assert on.active is True
    rec = (
        await stub.StartRecording(camera_pb2.StartRecordingRequest(id=cam.id), metadata=md)
    ).camera
    assert rec.recording_enabled is True
    assert (await get(platform, cam.id)).recording_enabled is True
    stop = (
        await stub.StopRecording(camera_pb2.StopRecordingRequest(id=cam.id), metadata=md)
    ).camera
    assert stop.recording_enabled is False
    assert as_time(stop.update_time) > as_time(cam.update_time)
    for action in (
        "camera.create",
        "camera.activate",
        "camera.deactivate",
        "camera.start_recording",
        "camera.stop_recording",
    ):
        await assert_audited(platform, cam.id, action)
    missing = str(uuid.uuid4())
    await expect_status(
        stub.ActivateCamera(camera_pb2.ActivateCameraRequest(id=missing), metadata=md),
        Code.NOT_FOUND,
        missing,
    )
    await expect_invalid(
        stub.StartRecording(camera_pb2.StartRecordingRequest(id=""), metadata=md), "id"
    )


# ---------------------------------------------------------------------------------------------
# BatchCameraAction


def batch_call(
    platform: Platform, ids: list[str], action: int, metadata: Metadata | None = None
) -> Any:
    """A BatchCameraAction call (awaitable)."""
    return platform.cameras.BatchCameraAction(
        camera_pb2.BatchCameraActionRequest(ids=ids, action=action),  # type: ignore[arg-type]
        metadata=metadata or platform.admin,
    )


async def test_batch_applies_to_all(platform: Platform) -> None:
    tag = new_tag()
    cams = [await create(platform, tag) for _ in range(3)]
    ids = [c.id for c in cams]
    resp = await batch_call(platform, ids, camera_pb2.CAMERA_ACTION_START_RECORDING)
    assert resp.affected_count == 3
    assert [c.id for c in resp.cameras] == ids
    assert all(c.recording_enabled for c in resp.cameras)
    assert {c.id for c in await tagged(platform, tag, "recording_enabled = true")} == set(ids)
    resp = await batch_call(platform, ids, camera_pb2.CAMERA_ACTION_ROTATE_STREAM_KEY)
    for new, old in zip(resp.cameras, cams, strict=True):
        assert new.stream_key != old.stream_key
    for cam in cams:
        await assert_audited(platform, cam.id, "camera.start_recording")
        await assert_audited(platform, cam.id, "camera.rotate_stream_key")

    resp = await batch_call(platform, ids, camera_pb2.CAMERA_ACTION_DELETE)
    assert resp.affected_count == 3 and list(resp.cameras) == []
    assert await tagged(platform, tag) == []
    for cam in cams:
        await assert_audited(platform, cam.id, "camera.delete")


async def test_batch_is_all_or_nothing(platform: Platform) -> None:
    tag = new_tag()
    cams = [await create(platform, tag) for _ in range(3)]
    missing = str(uuid.uuid4())
    ids = [cams[0].id, missing, cams[1].id, cams[2].id]
    for action in (
        camera_pb2.CAMERA_ACTION_DEACTIVATE,
        camera_pb2.CAMERA_ACTION_DELETE,
        camera_pb2.CAMERA_ACTION_ROTATE_STREAM_KEY,
    ):
        await expect_status(
            batch_call(platform, ids, action), Code.NOT_FOUND, missing, "nothing was changed"
        )
    assert [await get(platform, c.id) for c in cams] == cams
    for cam in cams:
        for action_name in ("camera.deactivate", "camera.delete", "camera.rotate_stream_key"):
            assert await audit_rows(platform, cam.id, action_name) == []


async def test_batch_request_validation(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    act = camera_pb2.CAMERA_ACTION_DEACTIVATE
    await expect_invalid(batch_call(platform, [], act), "ids", "at least one")
    await expect_invalid(batch_call(platform, [cam.id, cam.id], act), "ids", "must not repeat")
    await expect_invalid(batch_call(platform, [cam.id, ""], act), "ids[1]", "required")
    await expect_invalid(batch_call(platform, [cam.id, "bogus"], act), "ids[1]", "UUID")
    too_many = [str(uuid.uuid4()) for _ in range(1001)]
    await expect_invalid(batch_call(platform, too_many, act), "ids", "at most 1000")
    await expect_invalid(
        batch_call(platform, [cam.id], camera_pb2.CAMERA_ACTION_UNSPECIFIED),
        "action",
        "CAMERA_ACTION_ACTIVATE",
    )
    await expect_invalid(batch_call(platform, [cam.id], 42), "action")
    assert await get(platform, cam.id) == cam


# ---------------------------------------------------------------------------------------------
# GetStreamUrls


async def test_stream_urls_are_signed_and_expire(make_platform: PlatformFactory) -> None:
    # A control plane of its own: on the shared one, a READY node another test left behind
    # would serve the camera, and the URLs would name that node instead of the defaults.
    platform = await make_platform()
    tag = new_tag()
    cam = await create(platform, tag)
    other = await create(platform, tag)
    before = time.time()
    resp = await platform.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=cam.id), metadata=platform.admin
    )
    assert resp.rtmp_publish_url == f"{platform.settings.ingest_rtmp_url}/{cam.stream_key}"

    url = urlsplit(resp.hls_playback_url)
    assert resp.hls_playback_url.startswith(platform.settings.hls_base_url + "/")
    # /hls/<camera>/<grant>/<expires>/<signature>/index.m3u8, the shape the node's nginx serves
    match = HLS_PATH.match(url.path)
    assert match and not url.query, resp.hls_playback_url
    assert match["camera"] == cam.id and match["file"] == "index.m3u8"
    expires, sig = int(match["expires"]), match["sig"]
    grant = Grant.decode(match["grant"])
    # Signed for the caller (the admin user), issued now.
    assert grant is not None and len(grant.principals) == 1
    assert before - 1 <= grant.issued <= time.time()

    ttl = platform.settings.playback_url_ttl.total_seconds()
    assert before + ttl - 2 <= expires <= time.time() + ttl + 1
    # The response's expire_time is exactly when the signature stops verifying.
    assert resp.expire_time.seconds == expires and resp.expire_time.nanos == 0

    secret = await load_or_create_secret(session_factory(platform.plane.engine), "playback")
    now = time.time()
    assert verify_playback(secret, cam.id, expires, sig, now, grant=grant)
    assert not verify_playback(secret, cam.id, expires + 3600, sig, now, grant=grant)  # stretched
    assert not verify_playback(secret, other.id, expires, sig, now, grant=grant)  # other camera
    assert not verify_playback(secret, cam.id, expires, sig, expires, grant=grant)  # expired
    assert not verify_playback(secret, cam.id, expires, sig, expires + 1, grant=grant)
    assert not verify_playback(secret, cam.id, expires, sig[::-1], now, grant=grant)
    assert not verify_playback(b"another secret", cam.id, expires, sig, now, grant=grant)
    # Someone else's grant, or a later issue time (dodging a revocation), breaks the signature.
    assert not verify_playback(
        secret, cam.id, expires, sig, now, grant=Grant(("someone-else",), grant.issued)
    )
    assert not verify_playback(
        secret, cam.id, expires, sig, now, grant=Grant(grant.principals, grant.issued + 60)
    )

    await expect_status(
        platform.cameras.GetStreamUrls(
            camera_pb2.GetStreamUrlsRequest(id=str(uuid.uuid4())), metadata=platform.admin
        ),
        Code.NOT_FOUND,
    )
    await expect_invalid(
        platform.cameras.GetStreamUrls(
            camera_pb2.GetStreamUrlsRequest(id="../../etc/passwd"), metadata=platform.admin
        ),
        "id",
    )


# ---------------------------------------------------------------------------------------------
# Roles


async def test_viewer_reads_without_secrets(platform: Platform) -> None:
    tag = new_tag()
    url = "rtsp://user:s3cret-pw@127.0.0.1:554/stream1?x=1"
    cam = await create(platform, tag, ingest_mode=PULL, source_url=url)
    pushed = await create(platform, tag)
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)

    seen = (
        await platform.cameras.GetCamera(camera_pb2.GetCameraRequest(id=cam.id), metadata=viewer)
    ).camera
    assert seen.stream_key == ""
    # A source URL is a secret as a whole (a key may sit in its path): scheme and host only.
    assert seen.source_url == "rtsp://127.0.0.1"
    assert seen.name == cam.name and seen.labels == cam.labels
    listed = {c.id: c for c in await tagged(platform, tag, metadata=viewer)}
    assert set(listed) == {cam.id, pushed.id}
    assert all(c.stream_key == "" for c in listed.values())
    assert listed[cam.id].source_url == "rtsp://127.0.0.1"
    assert "s3cret-pw" not in str(listed[cam.id]) and "stream1" not in str(listed[cam.id])

    urls = await platform.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=pushed.id), metadata=viewer
    )
    assert urls.rtmp_publish_url == ""
    assert HLS_PATH.match(urlsplit(urls.hls_playback_url).path)["camera"] == pushed.id  # type: ignore[index]
    # Admins still see what they configured.
    assert (await get(platform, cam.id)).source_url == url


async def test_source_urls_show_as_much_as_the_caller_may_change(platform: Platform) -> None:
    # Many cameras take credentials as query parameters rather than user:password@, and RTMP
    # sources carry a key in the path: a viewer sees scheme and host only; a token that may
    # change cameras but not read keys sees enough to edit it, credentials masked.
    tag = new_tag()
    cases = {
        "http://127.0.0.1/video.cgi?user=admin&pwd=hunter2&res=hd": (
            "http://127.0.0.1",
            "http://127.0.0.1/video.cgi?user=admin&pwd=***&res=hd",
        ),
        "rtsp://127.0.0.1/live?token=abc123&keyframe=2": (
            "rtsp://127.0.0.1",
            "rtsp://127.0.0.1/live?token=***&keyframe=2",
        ),
        "http://u:pw1@127.0.0.1/snap?loginuse=u&loginpas=pw2": (
            "http://127.0.0.1",
            "http://u:***@127.0.0.1/snap?loginuse=u&loginpas=***",
        ),
        "rtmp://[::1]:1935/live/s3cr3t-key": ("rtmp://[::1]", "rtmp://[::1]:1935/live/s3cr3t-key"),
    }
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    editor = bearer(await platform.api_token(["cameras.read", "cameras.write"]))
    for url, (to_viewer, to_editor) in cases.items():
        cam = await create(platform, tag, ingest_mode=PULL, source_url=url)
        request = camera_pb2.GetCameraRequest(id=cam.id)
        seen = (await platform.cameras.GetCamera(request, metadata=viewer)).camera
        assert seen.source_url == to_viewer
        edited = (await platform.cameras.GetCamera(request, metadata=editor)).camera
        assert edited.source_url == to_editor
        assert (await get(platform, cam.id)).source_url == url


async def test_viewer_cannot_change_anything(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    stub = platform.cameras
    denied = [
        stub.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(name=unique_name(), labels={"t": tag})
            ),
            metadata=viewer,
        ),
        update_call(
            platform, camera_pb2.Camera(id=cam.id, name="hijacked"), "name", metadata=viewer
        ),
        stub.DeleteCamera(camera_pb2.DeleteCameraRequest(id=cam.id), metadata=viewer),
        stub.RotateStreamKey(camera_pb2.RotateStreamKeyRequest(id=cam.id), metadata=viewer),
        stub.DeactivateCamera(camera_pb2.DeactivateCameraRequest(id=cam.id), metadata=viewer),
        stub.StartRecording(camera_pb2.StartRecordingRequest(id=cam.id), metadata=viewer),
        batch_call(platform, [cam.id], camera_pb2.CAMERA_ACTION_DELETE, metadata=viewer),
    ]
    for call in denied:
        err = await expect_status(call, Code.PERMISSION_DENIED, "cameras.write", "viewer")
        assert rich_status(err)[0].reason == "PERMISSION_DENIED"
    assert await tagged(platform, tag) == [cam]
    for action in (
        "camera.update",
        "camera.delete",
        "camera.rotate_stream_key",
        "camera.deactivate",
        "camera.start_recording",
    ):
        assert await audit_rows(platform, cam.id, action) == []


async def test_operator_manages_cameras_and_sees_keys(platform: Platform) -> None:
    tag = new_tag()
    username, operator = await login_as(platform, common_pb2.ROLE_OPERATOR)
    cam = await create(platform, tag, metadata=operator)
    assert len(cam.stream_key) >= 22
    updated = (
        await update_call(
            platform,
            camera_pb2.Camera(id=cam.id, description="by operator"),
            "description",
            metadata=operator,
        )
    ).camera
    assert updated.description == "by operator"
    urls = await platform.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=cam.id), metadata=operator
    )
    assert urls.rtmp_publish_url.endswith(cam.stream_key)
    await assert_audited(platform, cam.id, "camera.create", actor=username)
    await assert_audited(platform, cam.id, "camera.update", actor=username)


async def test_api_token_scopes_decide_what_an_integration_sees(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    reader = bearer(await platform.api_token(["cameras.read"]))
    keyholder = bearer(await platform.api_token(["cameras.read", "stream_keys.read"]))
    request = camera_pb2.GetCameraRequest(id=cam.id)
    assert (await platform.cameras.GetCamera(request, metadata=reader)).camera.stream_key == ""
    seen = (await platform.cameras.GetCamera(request, metadata=keyholder)).camera
    assert seen.stream_key == cam.stream_key
    await expect_status(
        create_call_as(platform, reader, name=unique_name(), labels={"t": tag}),
        Code.PERMISSION_DENIED,
        "cameras.write",
    )
    await expect_status(
        platform.cameras.GetStreamUrls(camera_pb2.GetStreamUrlsRequest(id=cam.id), metadata=reader),
        Code.PERMISSION_DENIED,
        "streams.read",
    )
    # No credential at all.
    await expect_status(
        platform.cameras.ListCameras(camera_pb2.ListCamerasRequest()), Code.UNAUTHENTICATED
    )
    await expect_status(
        create_call_as(platform, bearer("not-a-token"), name=unique_name(), labels={"t": tag}),
        Code.UNAUTHENTICATED,
    )
    assert [c.id for c in await tagged(platform, tag)] == [cam.id]


# ---------------------------------------------------------------------------------------------
# Hostile input


async def test_sql_looking_names_are_just_names(platform: Platform) -> None:
    tag = new_tag()
    hostile = [
        f"Robert'); DROP TABLE cameras;-- {tag[:6]}",
        f'x" OR "1"="1 {tag[:6]}',
        f"100% _real_ \\ {tag[:6]}",
        f"💥 {tag[:6]} $(rm -rf /) <script>",
    ]
    count = await camera_count(platform)
    created = [await create(platform, tag, name, description=name) for name in hostile]
    assert [c.name for c in created] == hostile
    assert await camera_count(platform) == count + len(hostile)
    for cam in created:
        assert (await get(platform, cam.id)).name == cam.name
        quoted = cam.name.replace("\\", "\\\\").replace('"', '\\"')
        assert [c.id for c in await tagged(platform, tag, f'name = "{quoted}"')] == [cam.id]
        found = await tagged(platform, tag, search=cam.name)
        assert [c.id for c in found] == [cam.id]


async def test_hostile_filters_and_searches_never_fail_internally(platform: Platform) -> None:
    tag = new_tag()
    cam = await create(platform, tag)  # a plain "cam-<hex>" name; description and location empty
    count = await camera_count(platform)
    # Injection attempts that are well-formed filters: values are bound, so they match nothing.
    matches_nothing = [
        "name = \"x' OR '1'='1\"",
        'name = "x\\" OR 1=1 --"',
        "name = x; DROP TABLE cameras",
        'name:"%"',
        'name:"_"',
        'description = "\'; DELETE FROM cameras; --"',
        'labels.t = "x\' OR 1=1 --"',
        'name = "\\\\"',
        'labels.%_ = "1"',
        "-- comment",
        "/* */",
    ]
    for text in matches_nothing:
        assert await tagged(platform, tag, text) == [], text
    # Well-formed and true for this camera: the OR is the filter's, not SQL's.
    for text in ("status = 'OFFLINE' OR 1", "*", '"*"', "name = *"):
        assert [c.id for c in await tagged(platform, tag, text)] == [cam.id], text
    refused = {
        'labels.x\'y = "1"': "unterminated string",
        "' OR 1=1 --": "unterminated string",
        "1=1": 'unknown field "1"',
        "name=x)--": 'unexpected ")"',
        'create_time > "2026-13-45T99:99:99Z"': "not a valid date and time",
        'create_time > "0001-01-01T00:00:00+01:00"': "not a valid date and time",
        "name = x OR": "expected a condition",
    }
    for text, fragment in refused.items():
        await expect_invalid(list_page(platform, filter=text), "filter", fragment)
    for search in ("' OR 1=1 --", "%", "_", "\\", "%' OR name LIKE '%", "; DROP TABLE cameras"):
        assert await tagged(platform, tag, search=search) == [], search
    assert await camera_count(platform) == count
    assert await get(platform, cam.id) == cam


async def test_megabyte_strings_are_invalid_argument_and_change_nothing(
    platform: Platform,
) -> None:
    tag = new_tag()
    cam = await create(platform, tag)
    count = await camera_count(platform)
    big = "A" * ONE_MB
    creates = [
        ({"name": big}, "camera.name"),
        ({"name": unique_name(), "description": big}, "camera.description"),
        ({"name": unique_name(), "location": big}, "camera.location"),
        (
            {"name": unique_name(), "ingest_mode": PULL, "source_url": "rtsp://127.0.0.1/" + big},
            "camera.source_url",
        ),
        ({"name": unique_name(), "labels": {"t": tag, "k": big}}, "camera.labels"),
        ({"name": unique_name(), "labels": {"t": tag, "k" * 1000: "v"}}, "camera.labels"),
    ]
    for fields, field in creates:
        await expect_invalid(create_call(platform, **fields), field, prefix=True)
    await expect_invalid(list_page(platform, filter=big), "filter", "too long")
    await expect_invalid(list_page(platform, filter=f'name = "{big}"'), "filter", "too long")
    await expect_invalid(list_page(platform, search=big), "search", "at most 200")
    await expect_invalid(list_page(platform, order_by=big), "order_by", "too long")
    await expect_invalid(list_page(platform, page_token=big), "page_token")
    await expect_invalid(
        update_call(platform, camera_pb2.Camera(id=cam.id, name=big), "name"), "camera.name"
    )
    await expect_invalid(
        update_call(platform, camera_pb2.Camera(id=cam.id), big), "update_mask", "cannot update"
    )
    assert await camera_count(platform) == count
    assert await get(platform, cam.id) == cam
