"""Secrets at rest, token lifetimes and passwords (issue 10, findings 4 and 7), on both backends
where a backend matters:

- the data directory is 0700 and the database, its WAL and SHM 0600, also when an older version
  left them 0755/0644: any local user could read the signing key, the playback secret and every
  stream key;
- an access token signed with the real (stolen) key but claiming a longer life than the server
  issues is refused: a forged 115-day admin token was accepted;
- "password" and "12345678" are refused as passwords, with the reason.
"""

from __future__ import annotations

import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import grpc
import jwt
from camfleet.v1 import common_pb2, user_pb2

from harness.control_plane import run_server
from tests.support.assertions import refused
from tests.support.auth import active_signing_key, claims_for, denied_with_audit, session_of, whoami
from tests.support.platform import Platform, settings_for_tests, start_platform, stop_platform

INVALID = grpc.StatusCode.INVALID_ARGUMENT
DAY = 86_400


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the data directory --------------------------------------------------------------------


async def test_the_data_directory_and_database_files_are_private_also_after_an_upgrade(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    db_files = [data / f"camfleet.db{suffix}" for suffix in ("", "-wal", "-shm")]
    first = await start_platform(settings_for_tests(data), "sqlite")
    try:
        assert mode(data) == 0o700
        for path in db_files:  # WAL and SHM exist while the server runs
            assert mode(path) == 0o600, path
    finally:
        await stop_platform(first)

    # As an older version left them: world-readable.
    os.chmod(data, 0o755)
    for path in data.iterdir():
        os.chmod(path, 0o644)
    (data / "camfleet.db-shm").touch(mode=0o644)  # a stale SHM of a crashed process
    os.chmod(data / "camfleet.db-shm", 0o644)
    again = await start_platform(settings_for_tests(data), "sqlite")
    try:
        assert mode(data) == 0o700
        for path in db_files:
            assert mode(path) == 0o600, path
        assert not [p.name for p in data.iterdir() if p.is_file() and mode(p) & 0o077]
    finally:
        await stop_platform(again)


# --- token lifetimes -----------------------------------------------------------------------


async def test_a_token_signed_with_the_real_key_but_living_too_long_is_refused(
    platform: Platform,
) -> None:
    admin, _, login = await session_of(platform, common_pb2.ROLE_ADMIN)
    sid = str(jwt.decode(login.tokens.access_token, options={"verify_signature": False})["sid"])
    kid, key = await active_signing_key(platform)
    now = int(time.time())
    ttl = int(platform.settings.access_token_ttl.total_seconds())

    def bearer_for(**claims: object) -> tuple[tuple[str, str], ...]:
        body = claims_for(admin.id, sid, **claims)
        body = {k: v for k, v in body.items() if v is not None}
        token = jwt.encode(body, key, algorithm="HS256", headers={"kid": kid})
        return (("authorization", f"Bearer {token}"),)

    # Control: a token shaped like the server's own works, so the refusals below are the cap's.
    assert (await whoami(platform, bearer_for())).user.id == admin.id

    forged = {
        "115 days": {"iat": now, "exp": now + 115 * DAY},
        "issued long ago, expiring later": {"iat": now - 100 * DAY, "exp": now + 15 * DAY},
        "twice the TTL": {"iat": now, "exp": now + 2 * ttl},
    }
    for name, claims in forged.items():
        message = await denied_with_audit(platform, bearer_for(**claims))
        assert "longer life than this server issues" in message, (name, message)
    # No issue time at all, or one in the future: refused too.
    await denied_with_audit(platform, bearer_for(iat=None, exp=now + 300))
    await denied_with_audit(platform, bearer_for(iat=now + DAY, exp=now + DAY + 300))


# --- passwords -----------------------------------------------------------------------------


async def test_common_passwords_are_refused_with_the_reason(platform: Platform) -> None:
    for weak in ("password", "12345678", "passwordpassword", "qwertyuiop123"):
        refusal = await refused(
            platform.users.CreateUser(
                user_pb2.CreateUserRequest(
                    user=user_pb2.User(
                        username=f"weak{time.time_ns()}", role=common_pb2.ROLE_VIEWER
                    ),
                    password=weak,
                ),
                metadata=platform.admin,
            ),
            INVALID,
        )
        why = refusal.fields["password"]
        assert "too common or easy to guess" in why, (weak, why)
        if weak != "password":  # also the field's name
            assert weak not in refusal.message  # the password itself is never echoed
        if len(weak) < 12:
            assert "at least 12 characters" in why

    user, password, login = await session_of(platform)
    for metadata, user_id, new in (
        ((("authorization", f"Bearer {login.tokens.access_token}"),), "", "password"),
        (platform.admin, user.id, "12345678"),  # an admin's reset
    ):
        refusal = await refused(
            platform.users.ChangePassword(
                user_pb2.ChangePasswordRequest(
                    user_id=user_id, current_password=password, new_password=new
                ),
                metadata=metadata,
            ),
            INVALID,
        )
        assert "too common" in refusal.fields["new_password"]
    assert (await platform.login(user.username, password)).user.id == user.id  # unchanged


def test_a_common_admin_password_is_refused_at_start(tmp_path: Path) -> None:
    for weak in ("password", "12345678", "passwordpassword"):
        result = run_server(
            env={"CAMFLEET_DATA_DIR": str(tmp_path), "CAMFLEET_ADMIN_PASSWORD": weak}
        )
        assert result.returncode == 2, result.stderr
        assert "CAMFLEET_ADMIN_PASSWORD" in result.stderr
        assert "too common or easy to guess" in result.stderr, result.stderr


def test_the_password_settings_are_checked() -> None:
    from config_options import ConfigError
    from server.config import load_settings

    _, settings = load_settings([], {})
    assert (settings.password_min_length, settings.password_min_score) == (12, 3)
    assert settings.access_token_ttl == timedelta(minutes=15)
    for env in ({"CAMFLEET_PASSWORD_MIN_SCORE": "5"}, {"CAMFLEET_PASSWORD_MIN_LENGTH": "0"}):
        try:
            load_settings([], env)
        except ConfigError as exc:
            assert next(iter(env)) in str(exc)
        else:
            raise AssertionError(f"{env} was accepted")


async def test_the_playback_secret_can_be_rotated_after_a_leak(tmp_path: Path) -> None:
    """A copied database gives away the playback secret: the operator replaces it."""
    from sqlalchemy import select

    from server.db.engine import session_factory
    from server.db.models import SecretRow

    async def secret(p: Platform) -> str:
        async with session_factory(p.plane.engine)() as session:
            value = await session.scalar(
                select(SecretRow.value).where(SecretRow.name == "playback")
            )
        assert value
        return value

    data = tmp_path / "data"
    first = await start_platform(settings_for_tests(data), "sqlite")
    try:
        before = await secret(first)
    finally:
        await stop_platform(first)
    result = run_server("rotate-playback-secret", env={"CAMFLEET_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    assert "restart every control plane" in result.stdout
    again = await start_platform(settings_for_tests(data), "sqlite")
    try:
        assert await secret(again) != before
        assert mode(data / "camfleet.db") == 0o600
    finally:
        await stop_platform(again)
