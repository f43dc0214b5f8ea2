"""AuthService end to end on both backends: login, refresh rotation with reuse detection, logout,
attacks on access tokens, signing-key rotation and login rate limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest
from camfleet.v1 import api_token_pb2, auth_pb2, camera_pb2, common_pb2, user_pb2
from redis.asyncio import Redis

from harness.databases import REDIS_URL
from server.auth.access_tokens import SigningKeys
from server.db.engine import session_factory
from server.identity.permissions import Permission
from tests.conftest import PlatformFactory
from tests.support.assertions import audit_since, now_filter, refused
from tests.support.auth import (
    LONG_WINDOW,
    active_signing_key,
    claims_for,
    denied_with_audit,
    isolated_limits,
    session_of,
    whoami,
)
from tests.support.platform import ADMIN_PASSWORD, Metadata, Platform, bearer, mask

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
VIEWER_PERMISSIONS = ["analytics.read", "cameras.read", "recordings.read", "streams.read"]


# --- helpers -------------------------------------------------------------------------------


def unverified_claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, object]) -> str:
    return b64url(json.dumps(value).encode())


async def redis_keys(prefix: str, pattern: str) -> list[str]:
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return [k async for k in client.scan_iter(match=f"{prefix}{pattern}")]
    finally:
        await client.aclose()


async def fail_login(platform: Platform, username: str) -> None:
    refusal = await refused(platform.login(username, "not-the-password"), UNAUTHENTICATED)
    assert refusal.reason == "INVALID_CREDENTIALS"


# --- login ---------------------------------------------------------------------------------


async def test_admin_login_returns_tokens_and_the_user(platform: Platform) -> None:
    before = datetime.now(UTC)
    resp = await platform.login("admin", ADMIN_PASSWORD)
    after = datetime.now(UTC)  # a loaded machine can take seconds over the password hash

    assert resp.user.username == "admin"
    assert resp.user.role == common_pb2.ROLE_ADMIN
    assert resp.user.HasField("last_login_time")
    tokens = resp.tokens
    assert tokens.token_type == "Bearer"
    assert tokens.access_token and tokens.refresh_token
    assert tokens.access_token != tokens.refresh_token
    access_expiry = tokens.access_token_expire_time.ToDatetime(tzinfo=UTC)
    refresh_expiry = tokens.refresh_token_expire_time.ToDatetime(tzinfo=UTC)
    settings = platform.settings
    second = timedelta(seconds=1)  # JWT times are whole seconds
    assert before + settings.access_token_ttl - second <= access_expiry
    assert access_expiry <= after + settings.access_token_ttl + second
    assert before + settings.refresh_token_ttl - second <= refresh_expiry
    assert refresh_expiry <= after + settings.refresh_token_ttl + second
    # The JWT says the same as the response.
    assert unverified_claims(tokens.access_token)["exp"] == access_expiry.timestamp()


async def test_whoami_shows_user_method_and_permissions(platform: Platform) -> None:
    resp = await platform.login("admin", ADMIN_PASSWORD)
    me = await whoami(platform, bearer(resp.tokens.access_token))
    assert me.user.id == resp.user.id
    assert me.auth_method == "password"
    assert me.api_token_id == ""
    assert list(me.permissions) == sorted(p.value for p in Permission)

    viewer, _, login = await session_of(platform)
    me = await whoami(platform, bearer(login.tokens.access_token))
    assert me.user.username == viewer.username
    assert me.user.role == common_pb2.ROLE_VIEWER
    assert list(me.permissions) == VIEWER_PERMISSIONS


async def test_username_is_case_insensitive_at_login(platform: Platform) -> None:
    user, password = await platform.create_user(
        common_pb2.ROLE_VIEWER, name=f"Mixed{secrets.token_hex(3)}"
    )
    resp = await platform.login(user.username.upper(), password)
    assert resp.user.id == user.id


async def test_wrong_password_and_unknown_user_look_the_same(platform: Platform) -> None:
    user, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    wrong_password = await refused(platform.login(user.username, "wrong-password"), UNAUTHENTICATED)
    unknown_user = await refused(
        platform.login(f"nobody{secrets.token_hex(4)}", "wrong-password"), UNAUTHENTICATED
    )
    # Same words and reason either way: a caller cannot learn which usernames exist.
    assert wrong_password.message == unknown_user.message == "username or password is incorrect"
    assert wrong_password.reason == unknown_user.reason == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("", "some-password", "username"),
        ("someone", "", "password"),
        ("x" * 65, "pw-123456", "username"),
        ("nul\x00name", "pw-123456", "username"),
    ],
    ids=["empty-username", "empty-password", "long-username", "nul-in-username"],
)
async def test_login_with_missing_fields_is_invalid_argument(
    platform: Platform, username: str, password: str, field: str
) -> None:
    refusal = await refused(platform.login(username, password), grpc.StatusCode.INVALID_ARGUMENT)
    assert field in refusal.fields
    assert refusal.message.startswith(field)


async def test_disabled_user_cannot_log_in(platform: Platform) -> None:
    user, password = await platform.create_user(common_pb2.ROLE_VIEWER)
    await platform.users.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(id=user.id, disabled=True), update_mask=mask("disabled")
        ),
        metadata=platform.admin,
    )
    refusal = await refused(platform.login(user.username, password), UNAUTHENTICATED)
    assert "disabled" in refusal.message
    assert refusal.reason == "ACCOUNT_DISABLED"


async def test_api_account_cannot_log_in_with_a_password(platform: Platform) -> None:
    user, password = await platform.create_user(common_pb2.ROLE_API)
    refusal = await refused(
        platform.login(user.username, password), grpc.StatusCode.PERMISSION_DENIED
    )
    assert "API token" in refusal.message


async def test_failed_login_is_audited(platform: Platform) -> None:
    username = f"ghost{secrets.token_hex(4)}"
    since = now_filter()
    await fail_login(platform, username)
    rows = await audit_since(platform, since, "auth.login_failed", f'actor = "{username}"')
    assert len(rows) == 1
    row = rows[0]
    assert row.outcome == "failure"
    assert row.source_address == "127.0.0.1"
    assert row.method == "/camfleet.v1.AuthService/Login"
    assert row.details["username"] == username
    # The password never reaches the audit log.
    assert "not-the-password" not in row.SerializeToString().decode(errors="replace")


# --- refresh -------------------------------------------------------------------------------


async def test_refresh_rotates_the_pair(platform: Platform) -> None:
    user, _, login = await session_of(platform)
    refreshed = await platform.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)
    )
    assert refreshed.user.id == user.id
    assert refreshed.tokens.refresh_token != login.tokens.refresh_token
    assert refreshed.tokens.access_token != login.tokens.access_token
    # Same session: the new access token carries the session id of the login.
    old = unverified_claims(login.tokens.access_token)
    assert unverified_claims(refreshed.tokens.access_token)["sid"] == old["sid"]
    me = await whoami(platform, bearer(refreshed.tokens.access_token))
    assert me.user.id == user.id
    # The new refresh token works in turn.
    again = await platform.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=refreshed.tokens.refresh_token)
    )
    spent = {login.tokens.refresh_token, refreshed.tokens.refresh_token}
    assert again.tokens.refresh_token not in spent


async def test_reused_refresh_token_revokes_the_whole_session(platform: Platform) -> None:
    user, _, login = await session_of(platform)
    newest = await platform.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)
    )
    # Both access tokens work, and the newest session state is now in the server's cache.
    await whoami(platform, bearer(newest.tokens.access_token))
    await whoami(platform, bearer(login.tokens.access_token))

    since = now_filter()
    reuse = await refused(
        platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)),
        UNAUTHENTICATED,
    )
    assert reuse.reason == "REFRESH_TOKEN_REUSED"
    assert "log in again" in reuse.message

    # The thief's (or owner's) newest refresh token is dead too ...
    newest_refused = await refused(
        platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=newest.tokens.refresh_token)),
        UNAUTHENTICATED,
    )
    assert newest_refused.reason == "TOKEN_REVOKED"
    # ... and so are the session's access tokens, at once despite the principal cache.
    await denied_with_audit(platform, bearer(newest.tokens.access_token), "TOKEN_REVOKED")
    await denied_with_audit(platform, bearer(login.tokens.access_token), "TOKEN_REVOKED")

    rows = await audit_since(
        platform, since, "auth.refresh_token_reused", f'target = "users/{user.id}"'
    )
    assert len(rows) == 1
    assert rows[0].details["session"] == unverified_claims(login.tokens.access_token)["sid"]


async def test_reuse_ends_only_that_session(platform: Platform) -> None:
    user, password, first = await session_of(platform)
    other = await platform.login(user.username, password)
    await platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.tokens.refresh_token))
    await refused(
        platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.tokens.refresh_token)),
        UNAUTHENTICATED,
    )
    me = await whoami(platform, bearer(other.tokens.access_token))
    assert me.user.id == user.id


async def test_garbage_and_empty_refresh_tokens(platform: Platform) -> None:
    for garbage in ["rt_" + secrets.token_urlsafe(32), "not-a-token", "rt_" + "x" * 300]:
        refusal = await refused(
            platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=garbage)), UNAUTHENTICATED
        )
        assert "log in again" in refusal.message
    empty = await refused(
        platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token="")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "refresh_token" in empty.fields


async def test_tokens_expire_after_their_ttl(make_platform: PlatformFactory) -> None:
    short = await make_platform(
        access_token_ttl=timedelta(seconds=1), refresh_token_ttl=timedelta(seconds=1)
    )

    # The audit check at the end reads with an API token, which does not follow the JWT TTL.
    # Each admin call here gets a token fresh from a login: they last only a second.
    async def fresh_admin() -> Metadata:
        return bearer((await short.login("admin", ADMIN_PASSWORD)).tokens.access_token)

    owner = await short.users.CreateUser(
        user_pb2.CreateUserRequest(
            user=user_pb2.User(username="auditor", role=common_pb2.ROLE_API),
            password="lantern-orchid-4821",
        ),
        metadata=await fresh_admin(),
    )
    auditor = bearer(
        (
            await short.tokens.CreateApiToken(
                api_token_pb2.CreateApiTokenRequest(
                    api_token=api_token_pb2.ApiToken(
                        name="auditor", owner_user_id=owner.user.id, scopes=["audit.read"]
                    )
                ),
                metadata=await fresh_admin(),
            )
        ).secret
    )
    login = await short.login("admin", ADMIN_PASSWORD)
    await whoami(short, bearer(login.tokens.access_token))
    # JWT expiry has a resolution of one second.
    await asyncio.sleep(2.1)
    expired_refresh = await refused(
        short.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)),
        UNAUTHENTICATED,
    )
    assert expired_refresh.reason == "TOKEN_EXPIRED"
    assert "expired" in expired_refresh.message
    short.admin = auditor
    message = await denied_with_audit(short, bearer(login.tokens.access_token), "TOKEN_EXPIRED")
    assert "refresh it or log in again" in message


# --- logout --------------------------------------------------------------------------------


async def test_logout_ends_the_current_session(platform: Platform) -> None:
    _, _, login = await session_of(platform)
    metadata = bearer(login.tokens.access_token)
    await whoami(platform, metadata)  # cached principal must not outlive the logout
    resp = await platform.auth.Logout(auth_pb2.LogoutRequest(), metadata=metadata)
    assert resp.revoked_count == 1
    await denied_with_audit(platform, metadata, "TOKEN_REVOKED")
    refusal = await refused(
        platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)),
        UNAUTHENTICATED,
    )
    assert refusal.reason == "TOKEN_REVOKED"


async def test_logout_counts_the_refresh_tokens_that_stopped_working(platform: Platform) -> None:
    _, _, login = await session_of(platform)
    refreshed = await platform.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)
    )
    resp = await platform.auth.Logout(
        auth_pb2.LogoutRequest(), metadata=bearer(refreshed.tokens.access_token)
    )
    # The spent first token had already stopped working: one session, one token.
    assert resp.revoked_count == 1


async def test_logout_by_refresh_token_ends_that_session_only(platform: Platform) -> None:
    user, password, first = await session_of(platform)
    second = await platform.login(user.username, password)
    await whoami(platform, bearer(second.tokens.access_token))  # cached by the server now
    resp = await platform.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=second.tokens.refresh_token),
        metadata=bearer(first.tokens.access_token),
    )
    assert resp.revoked_count == 1
    await denied_with_audit(platform, bearer(second.tokens.access_token), "TOKEN_REVOKED")
    assert (await whoami(platform, bearer(first.tokens.access_token))).user.id == user.id


async def test_logout_all_sessions_ends_every_session_of_the_user(platform: Platform) -> None:
    user, password, first = await session_of(platform)
    second = await platform.login(user.username, password)
    bystander = await platform.as_role(common_pb2.ROLE_VIEWER)
    for login in (first, second):
        await whoami(platform, bearer(login.tokens.access_token))

    resp = await platform.auth.Logout(
        auth_pb2.LogoutRequest(all_sessions=True), metadata=bearer(first.tokens.access_token)
    )
    assert resp.revoked_count == 2
    for login in (first, second):
        await denied_with_audit(platform, bearer(login.tokens.access_token), "TOKEN_REVOKED")
        await refused(
            platform.auth.Refresh(
                auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)
            ),
            UNAUTHENTICATED,
        )
    # Other users keep their sessions.
    await whoami(platform, bystander)
    rows = await audit_since(
        platform, "1970-01-01T00:00:00Z", "auth.logout", f'target = "users/{user.id}"'
    )
    assert [r.details["all_sessions"] for r in rows] == ["True"]


async def test_logout_with_someone_elses_refresh_token_is_refused(platform: Platform) -> None:
    _, _, mine = await session_of(platform)
    victim, _, theirs = await session_of(platform)
    refusal = await refused(
        platform.auth.Logout(
            auth_pb2.LogoutRequest(refresh_token=theirs.tokens.refresh_token),
            metadata=bearer(mine.tokens.access_token),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "refresh_token" in refusal.fields
    # Nothing was ended: the victim's session goes on.
    assert (await whoami(platform, bearer(theirs.tokens.access_token))).user.id == victim.id
    await platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=theirs.tokens.refresh_token))


async def test_logout_needs_a_credential(platform: Platform) -> None:
    refusal = await refused(platform.auth.Logout(auth_pb2.LogoutRequest()), UNAUTHENTICATED)
    assert "authorization: Bearer" in refusal.message


# --- attacks on access tokens --------------------------------------------------------------


@dataclass(frozen=True)
class Victim:
    """A real session whose token the attacks start from."""

    user_id: str
    session_id: str
    access_token: str
    refresh_token: str
    admin_id: str


Forge = Callable[[Platform, Victim], Awaitable[str]]


async def _expired(p: Platform, v: Victim) -> str:
    kid, key = await active_signing_key(p)
    past = int(time.time()) - 120
    claims = claims_for(v.user_id, v.session_id, iat=past - 600, exp=past)
    return "Bearer " + jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})


async def _wrong_key(p: Platform, v: Victim) -> str:
    kid, _ = await active_signing_key(p)
    claims = claims_for(v.user_id, v.session_id)
    return "Bearer " + jwt.encode(
        claims, secrets.token_bytes(32), algorithm="HS256", headers={"kid": kid}
    )


async def _alg_none(p: Platform, v: Victim) -> str:
    kid, _ = await active_signing_key(p)
    header = b64json({"alg": "none", "typ": "JWT", "kid": kid})
    return f"Bearer {header}.{b64json(claims_for(v.user_id, v.session_id))}."


async def _unknown_kid(p: Platform, v: Victim) -> str:
    claims = claims_for(v.user_id, v.session_id)
    return "Bearer " + jwt.encode(
        claims, secrets.token_bytes(32), algorithm="HS256", headers={"kid": secrets.token_hex(8)}
    )


async def _tampered_payload(p: Platform, v: Victim) -> str:
    header, payload, signature = v.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(sub=v.admin_id, role="admin")
    return f"Bearer {header}.{b64json(claims)}.{signature}"


async def _rs256_header(p: Platform, v: Victim) -> str:
    kid, _ = await active_signing_key(p)
    header = b64json({"alg": "RS256", "typ": "JWT", "kid": kid})
    body = b64json(claims_for(v.user_id, v.session_id))
    return f"Bearer {header}.{body}.{b64url(secrets.token_bytes(256))}"


async def _hs512_with_real_key(p: Platform, v: Victim) -> str:
    kid, key = await active_signing_key(p)
    claims = claims_for(v.user_id, v.session_id)
    header = b64json({"alg": "HS512", "typ": "JWT", "kid": kid})
    body = b64json(claims)
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha512).digest()
    return f"Bearer {header}.{body}.{b64url(signature)}"


async def _not_an_access_token(p: Platform, v: Victim) -> str:
    kid, key = await active_signing_key(p)
    claims = claims_for(v.user_id, v.session_id, typ="refresh")
    return "Bearer " + jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})


async def _other_issuer(p: Platform, v: Victim) -> str:
    kid, key = await active_signing_key(p)
    claims = claims_for(v.user_id, v.session_id, iss="someone-else")
    return "Bearer " + jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})


async def _invented_session(p: Platform, v: Victim) -> str:
    kid, key = await active_signing_key(p)
    claims = claims_for(v.user_id, str(uuid.uuid4()))
    return "Bearer " + jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})


async def _refresh_token_as_bearer(p: Platform, v: Victim) -> str:
    return f"Bearer {v.refresh_token}"


async def _constant(value: str) -> str:
    return value


# (forge, expected ErrorInfo reason, words the message must contain so the caller knows what
# to do)
ATTACKS: dict[str, tuple[Forge, str, str]] = {
    "expired": (_expired, "TOKEN_EXPIRED", "expired"),
    "wrong-key-valid-kid": (_wrong_key, "TOKEN_INVALID", "log in again"),
    "alg-none": (_alg_none, "TOKEN_INVALID", "not signed by this server"),
    "unknown-kid": (_unknown_kid, "TOKEN_INVALID", "not signed by this server"),
    "tampered-payload": (_tampered_payload, "TOKEN_INVALID", "log in again"),
    "rs256-header": (_rs256_header, "TOKEN_INVALID", "not signed by this server"),
    "hs512-real-key": (_hs512_with_real_key, "TOKEN_INVALID", "not signed by this server"),
    "typ-not-access": (_not_an_access_token, "TOKEN_INVALID", "not an access token"),
    "other-issuer": (_other_issuer, "TOKEN_INVALID", "log in again"),
    "invented-session": (_invented_session, "TOKEN_REVOKED", "log in again"),
    "refresh-token-as-bearer": (_refresh_token_as_bearer, "TOKEN_INVALID", "log in again"),
    "bearer-without-token": (lambda p, v: _constant("Bearer"), "TOKEN_INVALID", "Bearer <token>"),
    "bearer-blank-token": (lambda p, v: _constant("Bearer    "), "TOKEN_INVALID", "Bearer <token>"),
    "basic-scheme": (
        lambda p, v: _constant("Basic YWRtaW46YWRtaW4="),
        "TOKEN_INVALID",
        "Bearer <token>",
    ),
    "garbage": (
        lambda p, v: _constant("Bearer " + secrets.token_urlsafe(40)),
        "TOKEN_INVALID",
        "log in again",
    ),
    "three-garbage-parts": (
        lambda p, v: _constant("Bearer a.b.c"),
        "TOKEN_INVALID",
        "log in again",
    ),
    "no-credential": (lambda p, v: _constant(""), "TOKEN_INVALID", "authorization: Bearer"),
}


@pytest.fixture(scope="module")
async def victim(platform: Platform) -> Victim:
    """One genuine session that every attack starts from (logins cost an argon2 hash each)."""
    user, _, login = await session_of(platform)
    admin = await whoami(platform, platform.admin)
    return Victim(
        user_id=user.id,
        session_id=str(unverified_claims(login.tokens.access_token)["sid"]),
        access_token=login.tokens.access_token,
        refresh_token=login.tokens.refresh_token,
        admin_id=admin.user.id,
    )


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_forged_or_malformed_credentials_are_refused(
    platform: Platform, victim: Victim, attack: str
) -> None:
    forge, reason, hint = ATTACKS[attack]
    authorization = await forge(platform, victim)
    metadata: Metadata = (("authorization", authorization),) if authorization else ()

    message = await denied_with_audit(platform, metadata, reason)
    assert hint in message, message
    # A method that needs a permission refuses it the same way (never INTERNAL).
    await refused(
        platform.cameras.ListCameras(camera_pb2.ListCamerasRequest(), metadata=metadata),
        UNAUTHENTICATED,
    )
    # The genuine token of the session still works: the attack did not end it.
    me = await whoami(platform, bearer(victim.access_token))
    assert me.user.id == victim.user_id


async def test_token_of_a_deleted_user_is_refused(platform: Platform) -> None:
    user, _, login = await session_of(platform)
    metadata = bearer(login.tokens.access_token)
    await whoami(platform, metadata)
    await platform.users.DeleteUser(user_pb2.DeleteUserRequest(id=user.id), metadata=platform.admin)
    message = await denied_with_audit(platform, metadata)
    assert "no longer exists" in message


# --- signing-key rotation ------------------------------------------------------------------


async def test_signing_key_rotation(make_platform: PlatformFactory) -> None:
    p = await make_platform()
    before = await p.login("admin", ADMIN_PASSWORD)
    old_kid = jwt.get_unverified_header(before.tokens.access_token)["kid"]

    # As `python -m server rotate-signing-key` does: another process rotates in the database.
    new_kid = await SigningKeys(session_factory(p.plane.engine)).rotate()
    assert new_kid != old_kid

    # Tokens signed by the retired key keep working until they expire.
    assert (await whoami(p, bearer(before.tokens.access_token))).user.username == "admin"
    # New logins and refreshes are signed with the new key.
    after = await p.login("admin", ADMIN_PASSWORD)
    assert jwt.get_unverified_header(after.tokens.access_token)["kid"] == new_kid
    refreshed = await p.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=before.tokens.refresh_token)
    )
    assert jwt.get_unverified_header(refreshed.tokens.access_token)["kid"] == new_kid
    for tokens in (after.tokens, refreshed.tokens, before.tokens):
        assert (await whoami(p, bearer(tokens.access_token))).user.username == "admin"


# --- rate limits ---------------------------------------------------------------------------


async def test_failed_logins_per_username_and_address_are_limited(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(platform, make_platform, login_limit_per_account_address=3)
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    other, other_password = await p.create_user(common_pb2.ROLE_VIEWER)
    for _ in range(3):
        await fail_login(p, user.username)
    if p.backend == "postgres":  # the counters live in Redis, shared by every replica
        assert await redis_keys(
            p.settings.redis_prefix, f"rl:login:pair:{user.username.lower()}|127.0.0.1:*"
        )
    else:
        assert p.plane.redis is None

    since = now_filter()
    # Even the right password is refused now, and the caller is told when to retry.
    limited = await refused(p.login(user.username, password), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert limited.retry_delay_seconds is not None
    assert 0 < limited.retry_delay_seconds <= LONG_WINDOW.total_seconds()
    assert "try again in" in limited.message
    assert limited.reason == "RATE_LIMITED"
    # The username is matched case-insensitively, so changing its case does not help.
    await refused(p.login(user.username.upper(), password), grpc.StatusCode.RESOURCE_EXHAUSTED)
    rows = await audit_since(p, since, "auth.rate_limited", f'actor = "{user.username}"')
    assert len(rows) == 1
    assert rows[0].details["limit"] == "account_address"

    # Other usernames are not affected.
    assert (await p.login(other.username, other_password)).user.id == other.id


async def test_successful_login_resets_the_username_counter(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(platform, make_platform, login_limit_per_account_address=3)
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    for _ in range(2):
        await fail_login(p, user.username)
    await p.login(user.username, password)
    # Without the reset this would make four failures in the window, over the limit of three.
    for _ in range(2):
        await fail_login(p, user.username)
    await p.login(user.username, password)


async def test_failed_logins_per_address_are_limited(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(
        platform, make_platform, login_limit_per_address=4, login_limit_per_account_address=100
    )
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    for _ in range(4):  # each failure under a different username
        await fail_login(p, f"spray{secrets.token_hex(4)}")
    if p.backend == "postgres":
        assert await redis_keys(p.settings.redis_prefix, "rl:login:addr:127.0.0.1:*")

    since = now_filter()
    limited = await refused(p.login(user.username, password), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert limited.retry_delay_seconds is not None and limited.retry_delay_seconds > 0
    assert "try again in" in limited.message
    rows = await audit_since(p, since, "auth.rate_limited", f'actor = "{user.username}"')
    assert [r.details["limit"] for r in rows] == ["address"]


async def test_concurrent_guesses_cannot_exceed_the_username_limit(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(platform, make_platform, login_limit_per_account_address=3)
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    # A burst of guesses at once: checking the limit first and counting only after the slow
    # password check would let every one of them through.
    attempts = [p.login(user.username, f"guess-{i}-password") for i in range(8)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    codes = [r.code() for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(codes) == len(attempts)
    assert codes.count(UNAUTHENTICATED) == 3, codes
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 5, codes
    await refused(p.login(user.username, password), grpc.StatusCode.RESOURCE_EXHAUSTED)
