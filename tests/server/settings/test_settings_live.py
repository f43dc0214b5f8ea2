"""The security settings apply live on the control plane, each to the next login, token or
password, without a restart (both backends); and a change made on one of two control planes on
one PostgreSQL database is applied by the other."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import auth_pb2, auth_pb2_grpc, common_pb2, settings_pb2, user_pb2

from harness.databases import REDIS_URL, throwaway_postgres, throwaway_redis_prefix
from tests.server.settings.support import seconds, update
from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import (
    ADMIN_PASSWORD,
    Platform,
    settings_for_tests,
    start_platform,
    stop_platform,
)
from tests.support.source_address import from_address

S = settings_pb2
# A password zxcvbn scores 4, 16 characters long.
STRONG_16 = "Quartz-Vellum-97"


def _life(expires: object) -> float:
    return expires.ToDatetime().timestamp() - time.time()  # type: ignore[attr-defined]


async def test_token_lifetimes_apply_to_the_next_login(plane: Platform) -> None:
    before = await plane.login("admin", ADMIN_PASSWORD)
    assert _life(before.tokens.access_token_expire_time) > 3600  # the test flags: 6 h
    await update(
        plane,
        ["access_token_ttl", "refresh_token_ttl"],
        security=S.SecuritySettings(access_token_ttl=seconds(120), refresh_token_ttl=seconds(7200)),
    )
    after = await plane.login("admin", ADMIN_PASSWORD)
    assert 60 < _life(after.tokens.access_token_expire_time) <= 121
    assert 7000 < _life(after.tokens.refresh_token_expire_time) <= 7201
    refreshed = await plane.auth.Refresh(
        auth_pb2.RefreshRequest(refresh_token=after.tokens.refresh_token)
    )
    assert 60 < _life(refreshed.tokens.access_token_expire_time) <= 121
    # Tokens issued before the change live out their (longer) time.
    who = await plane.auth.WhoAmI(
        auth_pb2.WhoAmIRequest(),
        metadata=(("authorization", f"Bearer {before.tokens.access_token}"),),
    )
    assert who.user.username == "admin"


async def test_password_policy_applies_to_the_next_user(plane: Platform) -> None:
    await update(
        plane, ["password_min_length"], security=S.SecuritySettings(password_min_length=20)
    )
    refusal = await refused(
        plane.create_user(common_pb2.ROLE_VIEWER, STRONG_16, "policy-long"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "at least 20 characters" in refusal.fields["password"]
    # Below the flag's 12: the stored value wins over the flag.
    await update(plane, ["password_min_length"], security=S.SecuritySettings(password_min_length=8))
    created, _ = await plane.create_user(common_pb2.ROLE_VIEWER, "Vellum-97Qz", "policy-short")
    assert created.username == "policy-short"


async def test_login_limits_apply_to_the_next_attempt(plane: Platform) -> None:
    # An hour's window: counts are kept per fixed window, and one ending between the attempts
    # would start the count again.
    await update(
        plane,
        ["login_limit_per_account_address", "login_limit_window"],
        security=S.SecuritySettings(
            login_limit_per_account_address=2, login_limit_window=seconds(3600)
        ),
    )
    await plane.create_user(common_pb2.ROLE_VIEWER, STRONG_16, "limited")
    for _ in range(2):
        await refused(plane.login("limited", "wrong-password-1"), grpc.StatusCode.UNAUTHENTICATED)
    refusal = await refused(
        plane.login("limited", "wrong-password-1"), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert "too many failed logins" in refusal.message
    assert refusal.retry_delay_seconds is not None and 0 < refusal.retry_delay_seconds <= 3600


async def _login_from(plane: Platform, source: str) -> auth_pb2.LoginResponse:
    async with (
        from_address(source, plane.plane.port) as target,
        grpc.aio.insecure_channel(target) as channel,
    ):
        reply: auth_pb2.LoginResponse = await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=10
        )
        return reply


async def test_the_login_allowlist_applies_to_the_next_login(plane: Platform) -> None:
    await _login_from(plane, "127.0.0.2")
    # The admin (at 127.0.0.1) cannot leave their own address out: they could not log in again.
    refusal = await refused(
        update(
            plane, ["login_allowlist"], security=S.SecuritySettings(login_allowlist=["10.0.0.0/8"])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "your own address (127.0.0.1)" in refusal.fields["security.login_allowlist"]
    since = now_filter()
    await update(
        plane, ["login_allowlist"], security=S.SecuritySettings(login_allowlist=["127.0.0.1/32"])
    )
    refusal = await refused(_login_from(plane, "127.0.0.2"), grpc.StatusCode.PERMISSION_DENIED)
    assert "not allowed from your address (127.0.0.2)" in refusal.message
    (audit,) = await audit_since(plane, since, "auth.login_failed")
    assert audit.source_address == "127.0.0.2"
    assert audit.details["reason"] == "address not in the login allowlist"
    await _login_from(plane, "127.0.0.1")
    await update(plane, ["login_allowlist"], security=S.SecuritySettings(login_allowlist=[]))
    await _login_from(plane, "127.0.0.2")


@pytest.fixture
async def two_replicas(tmp_path: Path) -> AsyncIterator[tuple[Platform, Platform]]:
    """Two control planes on one PostgreSQL database and Redis prefix, as replicas run."""
    with throwaway_postgres("settings") as url, throwaway_redis_prefix("settings") as prefix:
        started: list[Platform] = []
        try:
            for name in ("a", "b"):
                settings = settings_for_tests(
                    tmp_path / name, database_url=url, redis_url=REDIS_URL, redis_prefix=prefix
                )
                started.append(await start_platform(settings, "postgres"))
            yield started[0], started[1]
        finally:
            for p in started:
                await stop_platform(p)


async def test_a_change_on_one_replica_applies_on_the_other(
    two_replicas: tuple[Platform, Platform],
) -> None:
    a, b = two_replicas
    await update(a, ["access_token_ttl"], security=S.SecuritySettings(access_token_ttl=seconds(90)))

    async def life_of_a_login_on_b() -> float:
        return _life((await b.login("admin", ADMIN_PASSWORD)).tokens.access_token_expire_time)

    life = await eventually(life_of_a_login_on_b, lambda s: s <= 91, within_seconds=10)
    assert 30 < life <= 91
    # B serves what A stored, and a change on B is A's too.
    await update(b, ["password_min_length"], security=S.SecuritySettings(password_min_length=24))

    async def refusal_on_a() -> str:
        try:
            await a.users.CreateUser(
                user_pb2.CreateUserRequest(
                    user=user_pb2.User(username="replica-user", role=common_pb2.ROLE_VIEWER),
                    password="Quartz-Vellum-97-Oboe",
                ),
                metadata=a.admin,
            )
        except grpc.aio.AioRpcError as err:
            return err.details() or ""
        return "created"

    answer = await eventually(refusal_on_a, lambda text: "24 characters" in text, 10)
    assert "at least 24 characters" in answer
