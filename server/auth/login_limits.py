"""Login limits an attacker cannot turn into someone else's lockout (OWASP ASVS 2.2.1).

Failed logins are counted per (username, source address) and per source address; either one
over its limit refuses further attempts from that address with RESOURCE_EXHAUSTED and when to
retry. Nothing is counted per username alone that could refuse its owner: 25 wrong passwords
from one address do not stop the right one from another.

Guessing from many addresses is slowed per username instead: after
CAMFLEET_LOGIN_ACCOUNT_BACKOFF_AFTER failures in an hour, logins of that username from
addresses it never logged in from are spaced out, 2 s apart, doubling with every further
failure up to CAMFLEET_LOGIN_ACCOUNT_BACKOFF_MAX (45 s: under 100 guesses an hour). Addresses
the account has logged in from (its sessions' addresses) are not slowed, so the owner at their
usual place is never delayed, and from a new place waits at most that long.

Attempts are counted before the (slow) password check, so a burst of concurrent guesses cannot
all pass the check first; a right password takes its attempt back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import AuditLog
from server.config import Settings
from server.db.models import RefreshTokenRow, UserRow
from server.errors import ResourceExhausted
from server.kv.ratelimit import RateLimiter, Verdict

ACCOUNT_WINDOW_S = 3600.0
_FIRST_SPACING_S = 2.0
_UNLIMITED = 1 << 30  # the per-username count never refuses by itself


@dataclass(frozen=True)
class Attempt:
    """One counted login attempt, to take back when the password was right."""

    pair_key: str
    address_key: str
    account_key: str
    address: Verdict
    account: Verdict
    window_s: float


class LoginLimits:
    """Counts and refuses login attempts; see the module docstring for the rules."""

    def __init__(
        self,
        limiter: RateLimiter,
        audit: AuditLog,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self._limiter = limiter
        self._audit = audit
        self._settings = settings
        self._sessions = sessions

    async def begin(self, username: str, address: str, settings: Settings | None = None) -> Attempt:
        """Count an attempt of `username` from `address`, or refuse it (ResourceExhausted,
        audited as auth.rate_limited). `settings`: the limits in force now (the stored
        security settings), else those this was built with."""
        s = settings or self._settings
        window = s.login_limit_window.total_seconds()
        user = username.lower()
        pair_key = f"login:pair:{user}|{address}"
        address_key = f"login:addr:{address}"
        account_key = f"login:acct:{user}"
        limits = (
            ("account_address", pair_key, s.login_limit_per_account_address),
            ("address", address_key, s.login_limit_per_address),
        )
        for name, key, limit in limits:
            verdict = await self._limiter.check(key, limit, window)
            if not verdict.allowed:
                await self._refuse(username, name, verdict.retry_after_seconds)
        pair = await self._limiter.hit(pair_key, s.login_limit_per_account_address, window)
        by_address = await self._limiter.hit(address_key, s.login_limit_per_address, window)
        for (name, _, _), verdict in zip(limits, (pair, by_address), strict=True):
            if not verdict.allowed:
                # Refused attempts check no password, so they do not count.
                await self._limiter.release(pair_key, pair)
                await self._limiter.release(address_key, by_address)
                await self._refuse(username, name, verdict.retry_after_seconds)
        wait = await self._account_backoff(user, address, account_key, s)
        if wait:
            await self._limiter.release(pair_key, pair)
            await self._limiter.release(address_key, by_address)
            await self._refuse(username, "account_backoff", wait)
        account = await self._limiter.hit(account_key, _UNLIMITED, ACCOUNT_WINDOW_S)
        return Attempt(pair_key, address_key, account_key, by_address, account, window)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt was no guess. The (account, address) failures
        are forgotten; the account's count keeps others' failures."""
        await self._limiter.reset(attempt.pair_key, attempt.window_s)
        await self._limiter.release(attempt.address_key, attempt.address)
        await self._limiter.release(attempt.account_key, attempt.account)

    async def _account_backoff(
        self, user: str, address: str, account_key: str, s: Settings
    ) -> float:
        """Seconds this attempt must wait for the account's turn; 0.0 when it may go now."""
        failures = (await self._limiter.check(account_key, _UNLIMITED, ACCOUNT_WINDOW_S)).count
        over = failures - s.login_account_backoff_after
        if over < 0 or await self._known_address(user, address):
            return 0.0
        cap = s.login_account_backoff_max.total_seconds()
        spacing = min(cap, _FIRST_SPACING_S * 2 ** min(over, 30))
        return await self._limiter.take_turn(f"login:slow:{user}", spacing)

    async def _known_address(self, user: str, address: str) -> bool:
        """Has `user` logged in from `address` (a session was opened from there)?"""
        async with self._sessions() as session:
            found = await session.scalar(
                select(RefreshTokenRow.id)
                .join(UserRow, UserRow.id == RefreshTokenRow.user_id)
                .where(UserRow.username_key == user, RefreshTokenRow.source_address == address)
                .limit(1)
            )
        return found is not None

    async def _refuse(self, username: str, limit: str, retry_after: float) -> NoReturn:
        await self._audit.security_event(
            "auth.rate_limited", actor=username, details={"limit": limit, "username": username}
        )
        # Rounded up: "try again in 0 s" would invite an immediate, refused retry.
        wait = max(1, math.ceil(retry_after))
        what = (
            "this account has had many failed logins; from an address it has not logged in "
            "from, its logins are spaced out"
            if limit == "account_backoff"
            else "too many failed logins"
        )
        raise ResourceExhausted(f"{what}; try again in {wait} s", retry_after_seconds=retry_after)
