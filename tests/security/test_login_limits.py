"""Login limits cannot be turned into someone else's lockout (issue 10, finding 6; OWASP ASVS
2.2.1), on both backends: failures count per (account, address) and per address, and guessing
one account from many addresses only spaces its logins out, boundedly, never locking the owner.

Each client address is real: the test's connections start from 127.0.0.N (a loopback forwarder
bound to that source), so the control plane sees them as different peers."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc, common_pb2

from tests.conftest import PlatformFactory
from tests.support.assertions import audit_since, now_filter, refused
from tests.support.auth import isolated_limits
from tests.support.platform import Platform
from tests.support.source_address import channel_from

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


async def login(channel: grpc.aio.Channel, username: str, password: str) -> auth_pb2.LoginResponse:
    return await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username=username, password=password), timeout=30
    )


async def codes(channel: grpc.aio.Channel, username: str, guesses: int) -> list[str]:
    """The status of each of `guesses` wrong-password logins of `username`, one after another."""
    seen = []
    for i in range(guesses):
        try:
            await login(channel, username, f"wrong-guess-{i}-{secrets.token_hex(3)}")
            seen.append("OK")
        except grpc.aio.AioRpcError as err:
            seen.append(err.code().name)
    return seen


async def test_25_bad_logins_from_one_address_do_not_lock_out_the_owner_elsewhere(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(platform, make_platform)  # the defaults: 5 per (account, address)
    user, password = await p.create_user(common_pb2.ROLE_ADMIN)
    since = now_filter()
    async with channel_from("127.0.0.2", p.plane.port) as attacker:
        seen = await codes(attacker, user.username, 25)
        assert seen == ["UNAUTHENTICATED"] * 5 + ["RESOURCE_EXHAUSTED"] * 20, seen
        # The attacker's address stays refused, with the right password too, and is told when
        # to come back.
        limited = await refused(login(attacker, user.username, password), EXHAUSTED)
        assert limited.retry_delay_seconds is not None and limited.retry_delay_seconds > 0
        assert "try again in" in limited.message
    async with channel_from("127.0.0.3", p.plane.port) as owner:
        assert (await login(owner, user.username, password)).user.id == user.id
    rows = await audit_since(p, since, "auth.rate_limited", f'actor = "{user.username}"')
    assert rows and {(r.details["limit"], r.source_address) for r in rows} == {
        ("account_address", "127.0.0.2")
    }
    failed = await audit_since(p, since, "auth.login_failed", f'actor = "{user.username}"')
    assert [r.source_address for r in failed] == ["127.0.0.2"] * 5


async def test_five_wrong_guesses_do_not_lock_the_account_for_its_owner(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(platform, make_platform)
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    async with channel_from("127.0.0.4", p.plane.port) as attacker:
        assert await codes(attacker, user.username, 6) == ["UNAUTHENTICATED"] * 5 + [
            "RESOURCE_EXHAUSTED"
        ]
    async with channel_from("127.0.0.5", p.plane.port) as owner:
        assert (await login(owner, user.username, password)).user.id == user.id
        # And the owner's own typos count against the owner's address only.
        assert await codes(owner, user.username, 2) == ["UNAUTHENTICATED"] * 2
        assert (await login(owner, user.username, password)).user.id == user.id


async def test_guesses_at_many_accounts_from_one_address_are_limited(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    p = await isolated_limits(platform, make_platform, login_limit_per_address=6)
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    since = now_filter()
    async with channel_from("127.0.0.6", p.plane.port) as sprayer:
        seen = [(await codes(sprayer, f"spray{secrets.token_hex(4)}", 1))[0] for _ in range(8)]
        assert seen == ["UNAUTHENTICATED"] * 6 + ["RESOURCE_EXHAUSTED"] * 2, seen
        limited = await refused(login(sprayer, user.username, password), EXHAUSTED)
        assert limited.retry_delay_seconds is not None and limited.retry_delay_seconds > 0
    async with channel_from("127.0.0.7", p.plane.port) as elsewhere:
        assert (await login(elsewhere, user.username, password)).user.id == user.id
    rows = await audit_since(p, since, "auth.rate_limited", 'source_address = "127.0.0.6"')
    assert rows and all(r.details["limit"] == "address" for r in rows)


async def test_guessing_from_many_addresses_spaces_logins_out_but_never_locks_the_owner(
    platform: Platform, make_platform: PlatformFactory
) -> None:
    spacing = timedelta(seconds=2)
    p = await isolated_limits(
        platform,
        make_platform,
        login_account_backoff_after=4,
        login_account_backoff_max=spacing,
    )
    user, password = await p.create_user(common_pb2.ROLE_VIEWER)
    async with channel_from("127.0.0.8", p.plane.port) as usual:
        await login(usual, user.username, password)  # the owner's usual place
    # A botnet: two guesses from each of two addresses, under every per-address limit.
    for n in (11, 12):
        async with channel_from(f"127.0.0.{n}", p.plane.port) as bot:
            assert await codes(bot, user.username, 2) == ["UNAUTHENTICATED"] * 2
    since = now_filter()
    # Over the backoff threshold: from an address the account never used, one login per
    # spacing. The first takes the turn; the next, from yet another address, must wait.
    async with channel_from("127.0.0.14", p.plane.port) as bot:
        assert await codes(bot, user.username, 1) == ["UNAUTHENTICATED"]
    async with channel_from("127.0.0.15", p.plane.port) as newcomer:
        spaced = await refused(login(newcomer, user.username, password), EXHAUSTED)
        assert "spaced out" in spaced.message and "try again in" in spaced.message
        assert spaced.retry_delay_seconds is not None
        assert 0 < spaced.retry_delay_seconds <= spacing.total_seconds()
        # The owner at the usual address is not slowed at all, even now.
        async with channel_from("127.0.0.8", p.plane.port) as usual:
            assert (await login(usual, user.username, password)).user.id == user.id
        # A new place waits at most the spacing: then the right password works.
        await asyncio.sleep(spaced.retry_delay_seconds + 0.1)
        assert (await login(newcomer, user.username, password)).user.id == user.id
    rows = await audit_since(p, since, "auth.rate_limited", f'actor = "{user.username}"')
    assert [(r.details["limit"], r.source_address) for r in rows] == [
        ("account_backoff", "127.0.0.15")
    ]
