"""The security group applied on the control plane: the login rules of the flags' Config with
the stored values in force, the login address allowlist, and the password policy as set now.
server/auth/ asks these on every login, token and password change, so a change applies to the
next one."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from server.config import Settings as Config
from server.identity.password_policy import PasswordPolicy
from server.settings.live import LiveSettings
from server.settings.model import SecuritySettings, Settings


def with_security(config: Config, security: SecuritySettings) -> Config:
    """`config` with the token lifetimes, login limits and password policy of `security`."""
    return replace(
        config,
        access_token_ttl=timedelta(seconds=security.access_token_ttl_s),
        refresh_token_ttl=timedelta(seconds=security.refresh_token_ttl_s),
        login_limit_per_account_address=security.login_limit_per_account_address,
        login_limit_per_address=security.login_limit_per_address,
        login_limit_window=timedelta(seconds=security.login_limit_window_s),
        login_account_backoff_after=security.login_account_backoff_after,
        login_account_backoff_max=timedelta(seconds=security.login_account_backoff_max_s),
        password_min_length=security.password_min_length,
        password_min_score=security.password_min_score,
    )


def login_allowed(address: str, allowlist: Sequence[str]) -> bool:
    """May a person log in from `address`? Anyone when the list is empty; otherwise only from an
    address within one of its networks (an address that is no IP, such as a Unix socket peer
    without a forwarded address, is refused: the list cannot vouch for it)."""
    if not allowlist:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowlist:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # never stored: validation refuses it
    return False


class LivePasswordPolicy:
    """The password policy in force now (security.password_min_length / _min_score)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def check(
        self, password: str, field: str = "password", user_inputs: Sequence[str] = ()
    ) -> None:
        """InvalidArgument naming `field` when `password` may not be used (PasswordPolicy)."""
        security = (await self._settings.current()).security
        policy = PasswordPolicy(security.password_min_length, security.password_min_score)
        await policy.check(password, field, user_inputs)


class AccessTokenCap:
    """The longest access-token life SigningKeys accepts (a callable, read without awaiting from
    the cached settings): the one in force, and for one old lifetime after it was shortened the
    old one too, so tokens issued before the change live out their time instead of failing
    depending on which replica, or whether a cache, sees them."""

    def __init__(self, live: LiveSettings) -> None:
        self._live = live
        # The life in force at start: a replica that starts after a shortening does not know
        # the old one, and refuses the old tokens (their holders log in again).
        self._current = live.latest.security.access_token_ttl_s
        self._previous = 0.0
        self._previous_until = 0.0

    def __call__(self) -> timedelta:
        ttl = self._live.latest.security.access_token_ttl_s
        now = time.monotonic()
        if ttl != self._current:
            self._previous, self._previous_until = self._current, now + self._current
            self._current = ttl
        longest = max(ttl, self._previous) if now < self._previous_until else ttl
        return timedelta(seconds=longest)
