"""ApiTokenService end to end on both backends: the secret shown once, scope and CIDR rules,
and what a call made with a token may do."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from camfleet.v1 import api_token_pb2, auth_pb2, camera_pb2, common_pb2, user_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import Metadata, Platform, bearer, mask

INVALID = grpc.StatusCode.INVALID_ARGUMENT
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


# --- helpers -------------------------------------------------------------------------------


async def token_names(platform: Platform, filter_text: str) -> list[str]:
    resp = await platform.tokens.ListApiTokens(
        api_token_pb2.ListApiTokensRequest(filter=filter_text, page_size=100),
        metadata=platform.admin,
    )
    return [t.name for t in resp.api_tokens]


async def get_token(platform: Platform, token_id: str) -> api_token_pb2.ApiToken:
    resp = await platform.tokens.GetApiToken(
        api_token_pb2.GetApiTokenRequest(id=token_id), metadata=platform.admin
    )
    return resp.api_token


async def whoami(platform: Platform, metadata: Metadata) -> auth_pb2.WhoAmIResponse:
    return await platform.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=metadata)


async def list_cameras(platform: Platform, metadata: Metadata) -> object:
    return await platform.cameras.ListCameras(camera_pb2.ListCamerasRequest(), metadata=metadata)


async def revoke(platform: Platform, token_id: str) -> api_token_pb2.ApiToken:
    resp = await platform.tokens.RevokeApiToken(
        api_token_pb2.RevokeApiTokenRequest(id=token_id), metadata=platform.admin
    )
    return resp.api_token


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def tampered(secret: str) -> list[str]:
    """Variants of a token that must not work: another secret, a cut one, another id."""
    head, _, tail = secret.rpartition("_")
    flipped = tail[:-1] + ("A" if tail[-1] != "A" else "B")
    other_id = f"cft_{secrets.token_hex(16)}_{tail}"
    return [f"{head}_{flipped}", f"{head}_{tail[:-4]}", other_id, secret.upper(), secret + "x"]


# --- create, get, list ---------------------------------------------------------------------


async def test_the_secret_is_shown_once(platform: Platform) -> None:
    created, owner = await platform.new_api_token(["cameras.write", "cameras.read"])
    secret, token = created.secret, created.api_token
    assert secret.startswith("cft_")
    assert token.display_prefix.startswith("cft_")
    assert secret.startswith(token.display_prefix.rstrip("…"))
    assert len(token.display_prefix.rstrip("…")) < len(secret) // 2
    assert token.owner_user_id == owner.id
    assert list(token.scopes) == ["cameras.read", "cameras.write"]
    assert token.HasField("create_time") and not token.HasField("last_used_time")
    assert not token.HasField("expire_time") and not token.HasField("revoke_time")

    got = await get_token(platform, token.id)
    listed = await platform.tokens.ListApiTokens(
        api_token_pb2.ListApiTokensRequest(filter=f'name = "{token.name}"'),
        metadata=platform.admin,
    )
    assert got == token
    assert list(listed.api_tokens) == [token]
    # Everything after "cft_<32 hex id>_" (the secret may itself contain "_").
    secret_part = secret[len("cft_") + 33 :]
    assert len(secret_part) >= 40
    for response in (got, listed):
        wire, text = response.SerializeToString(), str(response)
        assert secret.encode() not in wire and secret_part.encode() not in wire
        assert secret not in text and secret_part not in text


async def test_token_without_owner_acts_as_its_creator(platform: Platform) -> None:
    creator = await platform.as_role(common_pb2.ROLE_ADMIN)
    resp = await platform.tokens.CreateApiToken(
        api_token_pb2.CreateApiTokenRequest(
            api_token=api_token_pb2.ApiToken(
                name=f"t{secrets.token_hex(4)}", scopes=["cameras.read"]
            )
        ),
        metadata=creator,
    )
    me = await whoami(platform, creator)
    assert resp.api_token.owner_user_id == me.user.id
    assert (await whoami(platform, bearer(resp.secret))).user.id == me.user.id


async def test_unknown_scope_is_refused_with_the_known_ones(platform: Platform) -> None:
    name = f"t{secrets.token_hex(5)}"
    owner, _ = await platform.create_user(common_pb2.ROLE_API)
    refusal = await refused(
        platform.tokens.CreateApiToken(
            api_token_pb2.CreateApiTokenRequest(
                api_token=api_token_pb2.ApiToken(
                    name=name, owner_user_id=owner.id, scopes=["cameras.read", "cameras.destroy"]
                )
            ),
            metadata=platform.admin,
        ),
        INVALID,
    )
    described = refusal.fields["api_token.scopes"]
    assert "cameras.destroy" in described
    for known in ("cameras.read", "cameras.write", "users.write", "audit.read"):
        assert known in described
    assert await token_names(platform, f'name = "{name}"') == []


async def test_a_token_needs_a_scope(platform: Platform) -> None:
    refusal = await refused(platform.new_api_token([]), INVALID)
    assert "at least one scope" in refusal.fields["api_token.scopes"]


async def test_a_token_cannot_exceed_its_owners_role(platform: Platform) -> None:
    refusal = await refused(
        platform.new_api_token(
            ["cameras.read", "cameras.write"], owner_role=common_pb2.ROLE_VIEWER
        ),
        DENIED,
    )
    assert "cameras.write" in refusal.message and "cannot exceed" in refusal.message
    created, _ = await platform.new_api_token(["cameras.read"], owner_role=common_pb2.ROLE_VIEWER)
    assert list(created.api_token.scopes) == ["cameras.read"]


@pytest.mark.parametrize(
    ("ttl_seconds", "expire_in", "field"),
    [
        (-60, None, "ttl"),
        (0, None, "ttl"),
        (None, -60, "api_token.expire_time"),
        (315_576_000_000, None, "ttl"),
    ],
    ids=["negative-ttl", "zero-ttl", "expire-time-in-the-past", "ttl-beyond-year-9999"],
)
async def test_lifetimes_must_end_in_the_future(
    platform: Platform, ttl_seconds: int | None, expire_in: int | None, field: str
) -> None:
    fields: dict[str, object] = {}
    if expire_in is not None:
        fields["expire_time"] = ts(datetime.now(UTC) + timedelta(seconds=expire_in))
    ttl = duration_pb2.Duration(seconds=ttl_seconds) if ttl_seconds is not None else None
    refusal = await refused(platform.new_api_token(["cameras.read"], ttl=ttl, **fields), INVALID)
    assert field in refusal.fields


async def test_ttl_sets_the_expiry(platform: Platform) -> None:
    before = datetime.now(UTC)
    created, _ = await platform.new_api_token(
        ["cameras.read"], ttl=duration_pb2.Duration(seconds=3600)
    )
    expiry = created.api_token.expire_time.ToDatetime(tzinfo=UTC)
    assert abs(expiry - (before + timedelta(hours=1))) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("cidrs", "bad_field"),
    [
        (["localhost"], "api_token.allowed_cidrs[0]"),
        (["127.0.0.1/32", "127.0.0.1/33"], "api_token.allowed_cidrs[1]"),
        (["::1/129"], "api_token.allowed_cidrs[0]"),
    ],
    ids=["hostname", "second-bad-prefix", "ipv6-bad-prefix"],
)
async def test_invalid_cidrs_are_refused(
    platform: Platform, cidrs: list[str], bad_field: str
) -> None:
    refusal = await refused(platform.new_api_token(["cameras.read"], allowed_cidrs=cidrs), INVALID)
    assert bad_field in refusal.fields
    assert "127.0.0.1/32" in refusal.fields[bad_field]  # shows what a valid entry looks like


async def test_only_holders_of_api_tokens_write_create_tokens(platform: Platform) -> None:
    operator = await platform.as_role(common_pb2.ROLE_OPERATOR)
    refusal = await refused(
        platform.tokens.CreateApiToken(
            api_token_pb2.CreateApiTokenRequest(
                api_token=api_token_pb2.ApiToken(name="mine", scopes=["cameras.read"])
            ),
            metadata=operator,
        ),
        DENIED,
    )
    assert "api_tokens.write" in refusal.message


# --- using a token -------------------------------------------------------------------------


async def test_a_token_authenticates_with_its_scopes(platform: Platform) -> None:
    created, owner = await platform.new_api_token(["cameras.read", "streams.read"])
    metadata = bearer(created.secret)
    me = await whoami(platform, metadata)
    assert me.user.id == owner.id
    assert me.auth_method == "api_token"
    assert me.api_token_id == created.api_token.id
    assert list(me.permissions) == ["cameras.read", "streams.read"]
    await list_cameras(platform, metadata)

    # Outside its scopes, even though the owner's role (API) would allow it.
    since = now_filter()
    refusal = await refused(
        platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name="nope")),
            metadata=metadata,
        ),
        DENIED,
    )
    assert "cameras.write" in refusal.message and "API token" in refusal.message
    rows = await audit_since(
        platform, since, "authz.denied", f'actor_id = "{owner.id}" AND outcome = "denied"'
    )
    assert [r.actor for r in rows] == [f"{owner.username} (token:{created.api_token.id})"]
    await refused(platform.users.ListUsers(user_pb2.ListUsersRequest(), metadata=metadata), DENIED)


async def test_permissions_are_scopes_narrowed_by_the_owners_role(platform: Platform) -> None:
    created, owner = await platform.new_api_token(
        ["cameras.read", "cameras.write"], owner_role=common_pb2.ROLE_OPERATOR
    )
    metadata = bearer(created.secret)
    assert list((await whoami(platform, metadata)).permissions) == ["cameras.read", "cameras.write"]
    # Demoting the owner narrows the token at once, whatever its scopes say.
    await platform.users.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(id=owner.id, role=common_pb2.ROLE_VIEWER), update_mask=mask("role")
        ),
        metadata=platform.admin,
    )
    assert list((await whoami(platform, metadata)).permissions) == ["cameras.read"]
    await refused(
        platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name="nope")),
            metadata=metadata,
        ),
        DENIED,
    )


async def test_revoked_token_is_refused_at_once(platform: Platform) -> None:
    created, _ = await platform.new_api_token(["cameras.read"])
    metadata = bearer(created.secret)
    await list_cameras(platform, metadata)  # cached by the server now
    since = now_filter()
    revoked = await revoke(platform, created.api_token.id)
    assert revoked.HasField("revoke_time")

    refusal = await refused(list_cameras(platform, metadata), UNAUTHENTICATED)
    assert refusal.reason == "TOKEN_REVOKED"
    assert "revoked" in refusal.message
    rows = await audit_since(
        platform, since, "api_token.revoke", f'target = "api_tokens/{created.api_token.id}"'
    )
    assert [(r.actor, r.outcome) for r in rows] == [("admin", "success")]

    # Revoking again is fine, changes nothing and is not audited twice.
    again = await revoke(platform, created.api_token.id)
    assert again.revoke_time == revoked.revoke_time
    assert (
        len(
            await audit_since(
                platform, since, "api_token.revoke", f'target = "api_tokens/{created.api_token.id}"'
            )
        )
        == 1
    )
    assert await token_names(platform, f'name = "{created.api_token.name}" AND revoked = true') == [
        created.api_token.name
    ]


async def test_expired_token_is_refused(platform: Platform) -> None:
    created, _ = await platform.new_api_token(
        ["cameras.read"], ttl=duration_pb2.Duration(seconds=1)
    )
    metadata = bearer(created.secret)
    await list_cameras(platform, metadata)
    await asyncio.sleep(1.2)
    refusal = await refused(list_cameras(platform, metadata), UNAUTHENTICATED)
    assert refusal.reason == "TOKEN_EXPIRED"
    assert "create a new one" in refusal.message


async def test_tampered_tokens_are_refused(platform: Platform) -> None:
    created, _ = await platform.new_api_token(["cameras.read"])
    await list_cameras(platform, bearer(created.secret))  # the real one is cached
    for forged in tampered(created.secret):
        refusal = await refused(list_cameras(platform, bearer(forged)), UNAUTHENTICATED)
        assert "API token" in refusal.message or "log in again" in refusal.message, forged
    await list_cameras(platform, bearer(created.secret))


async def test_address_allowlist(platform: Platform) -> None:
    for cidrs in (["127.0.0.1/32"], ["127.0.0.2/32", "127.0.0.0/8"]):
        here, _ = await platform.new_api_token(["cameras.read"], allowed_cidrs=cidrs)
        assert list(here.api_token.allowed_cidrs) == cidrs
        await list_cameras(platform, bearer(here.secret))

    elsewhere, _ = await platform.new_api_token(["cameras.read"], allowed_cidrs=["127.0.0.2/32"])
    since = now_filter()
    refusal = await refused(list_cameras(platform, bearer(elsewhere.secret)), DENIED)
    assert refusal.reason == "IP_NOT_ALLOWED"
    assert "127.0.0.1" in refusal.message
    rows = await audit_since(
        platform,
        since,
        "api_token.address_refused",
        f'target = "api_tokens/{elsewhere.api_token.id}"',
    )
    assert len(rows) == 1
    assert rows[0].details["address"] == "127.0.0.1"
    assert rows[0].source_address == "127.0.0.1"
    # Refused calls leave no trace of use.
    assert not (await get_token(platform, elsewhere.api_token.id)).HasField("last_used_time")


async def test_last_use_is_recorded(platform: Platform) -> None:
    created, _ = await platform.new_api_token(["cameras.read"])
    before = datetime.now(UTC) - timedelta(seconds=1)
    await list_cameras(platform, bearer(created.secret))
    # Written in the background, so that a hot token does not cost a write per call.
    token = await eventually(
        lambda: get_token(platform, created.api_token.id), lambda t: t.HasField("last_used_time")
    )
    assert token.last_used_address == "127.0.0.1"
    used = token.last_used_time.ToDatetime(tzinfo=UTC)
    assert before <= used <= datetime.now(UTC)


async def test_token_of_a_disabled_owner_is_refused(platform: Platform) -> None:
    created, owner = await platform.new_api_token(["cameras.read"])
    metadata = bearer(created.secret)
    await list_cameras(platform, metadata)
    await platform.users.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(id=owner.id, disabled=True), update_mask=mask("disabled")
        ),
        metadata=platform.admin,
    )
    refusal = await refused(list_cameras(platform, metadata), UNAUTHENTICATED)
    assert refusal.reason == "ACCOUNT_DISABLED"


async def test_token_of_a_deleted_owner_is_refused(platform: Platform) -> None:
    created, owner = await platform.new_api_token(["cameras.read"])
    metadata = bearer(created.secret)
    await list_cameras(platform, metadata)
    await platform.users.DeleteUser(
        user_pb2.DeleteUserRequest(id=owner.id), metadata=platform.admin
    )
    await refused(list_cameras(platform, metadata), UNAUTHENTICATED)
    await refused(
        platform.tokens.GetApiToken(
            api_token_pb2.GetApiTokenRequest(id=created.api_token.id), metadata=platform.admin
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_an_api_token_has_no_session_to_log_out(platform: Platform) -> None:
    created, _ = await platform.new_api_token(["cameras.read"])
    refusal = await refused(
        platform.auth.Logout(auth_pb2.LogoutRequest(), metadata=bearer(created.secret)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "revoke the token" in refusal.message
