"""A short-lived cache of resolved principals, so an authenticated call costs no database read.

Entries live `ttl` seconds. Changes made through this process (disable a user, revoke a token,
log out) drop the affected entries at once; another replica sees them within `ttl`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from server.identity.principal import Principal


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires: float
    # Facts the authenticator re-checks on every hit without a database read.
    token_expires_at: float | None = None
    allowed_cidrs: tuple[str, ...] = ()
    secret_hash: str = ""


class AuthCache:
    """Principals by session id or API token id."""

    def __init__(self, ttl_seconds: float = 2.0, max_entries: int = 50_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, _Entry] = {}

    def get(self, key: str) -> _Entry | None:
        """A fresh entry for `key`, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            del self._entries[key]
            return None
        return entry

    def put(
        self,
        key: str,
        principal: Principal,
        *,
        token_expires_at: float | None = None,
        allowed_cidrs: tuple[str, ...] = (),
        secret_hash: str = "",
    ) -> None:
        """Remember `principal` under `key` for the TTL."""
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude but bounded; refills within one TTL
        self._entries[key] = _Entry(
            principal, time.monotonic() + self._ttl, token_expires_at, allowed_cidrs, secret_hash
        )

    def forget_user(self, user_id: str) -> None:
        """Drop every entry of `user_id` (role change, disable, delete, password change)."""
        for key in [k for k, e in self._entries.items() if e.principal.user_id == user_id]:
            del self._entries[key]

    def forget(self, key: str) -> None:
        """Drop one entry (logout of a session, revocation of a token)."""
        self._entries.pop(key, None)


def session_key(session_id: str) -> str:
    """Cache key of a JWT session."""
    return f"s:{session_id}"


def token_key(token_id: str) -> str:
    """Cache key of an API token."""
    return f"t:{token_id}"
