"""Sessions, hand-made access tokens and isolated login limits: shared by the AuthService tests
(tests/server/auth/) and the identity attack replays (tests/security/)."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import timedelta

import grpc
from camfleet.v1 import auth_pb2, common_pb2, user_pb2
from sqlalchemy import select

from server.db.engine import session_factory
from server.db.models import SigningKeyRow
from tests.conftest import PlatformFactory
from tests.support.assertions import audit_since, now_filter, refused
from tests.support.platform import Metadata, Platform

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
# Rate-limit tests use a long window: a fixed window that rolls over in the middle of a test
# would reset the counters and make the test flaky.
LONG_WINDOW = timedelta(hours=1)


async def whoami(platform: Platform, metadata: Metadata) -> auth_pb2.WhoAmIResponse:
    return await platform.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=metadata)


async def session_of(
    platform: Platform, role: common_pb2.Role.ValueType = common_pb2.ROLE_VIEWER
) -> tuple[user_pb2.User, str, auth_pb2.LoginResponse]:
    """A new user with `role`, its password, and a fresh login of it."""
    user, password = await platform.create_user(role)
    return user, password, await platform.login(user.username, password)


async def active_signing_key(platform: Platform) -> tuple[str, bytes]:
    """(kid, secret) of the key the server signs with, read from its database."""
    async with session_factory(platform.plane.engine)() as session:
        row = await session.scalar(
            select(SigningKeyRow)
            .where(SigningKeyRow.retired_at.is_(None))
            .order_by(SigningKeyRow.created_at.desc())
            .limit(1)
        )
    assert row is not None
    return row.kid, bytes.fromhex(row.secret)


def claims_for(user_id: str, session_id: str, **overrides: object) -> dict[str, object]:
    """Claims shaped like the server's own access tokens."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "camfleet",
        "sub": user_id,
        "sid": session_id,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
        "typ": "access",
    }
    claims.update(overrides)
    return claims


async def denied_with_audit(
    platform: Platform, metadata: Metadata, reason: str = "TOKEN_INVALID"
) -> str:
    """WhoAmI with `metadata` is UNAUTHENTICATED with `reason`, and the refusal is audited as
    `authn.failed` (denied) with the same message; returns the message."""
    since = now_filter()
    refusal = await refused(whoami(platform, metadata), UNAUTHENTICATED)
    assert refusal.reason == reason, refusal
    rows = await audit_since(platform, since, "authn.failed")
    assert any(
        r.outcome == "denied"
        and r.details["reason"] == refusal.message
        and r.source_address == "127.0.0.1"
        and r.method.endswith("AuthService/WhoAmI")
        for r in rows
    ), f"no authn.failed audit row for {refusal.message!r}"
    return refusal.message


async def isolated_limits(
    platform: Platform, make_platform: PlatformFactory, **limits: object
) -> Platform:
    """A server with its own login limits. On PostgreSQL it gets its own Redis prefix (inside
    the session's, which is cleaned up at the end) so failures of other tests do not count."""
    overrides: dict[str, object] = {"login_limit_window": LONG_WINDOW, **limits}
    if platform.backend == "postgres":
        prefix = platform.settings.redis_prefix
        overrides["redis_prefix"] = f"{prefix}limits-{secrets.token_hex(4)}:"
    return await make_platform(**overrides)
