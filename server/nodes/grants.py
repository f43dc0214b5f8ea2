"""Revoked URL grants: the principals whose signed playback and download URLs nodes must refuse.

Signed URLs carry their grant (camfleet.playback.Grant: user id, API token id, issue time) and
are checked by the node alone, so ending a user's access must reach the nodes. Every event that
ends access is already an audit record, written in the same transaction as the change: a user
disabled or deleted, their password changed or all their sessions ended, a refresh token reused
(the session is revoked), an API token revoked. The revoked grants are those records of the
last longest-URL-lifetime (plus leeway): a URL issued before one of them could still be alive,
one older cannot. They are part of every node's Assignment (desired state: the node keeps the
list its latest assignment names), and a follower recomputes them every few seconds so a change
reaches the nodes well within a minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.tasks import raise_if_cancelling
from server.db.models import AuditLogRow, utcnow

log = logging.getLogger(__name__)

# Clock difference between control plane and node, and time to deliver: a revocation is kept
# this much longer than the longest URL lifetime.
LEEWAY = timedelta(seconds=60)
# How often the follower recomputes the list (a revocation reaches nodes within ~this).
POLL_INTERVAL_S = 5.0
# Audit actions that end a principal's access, and the condition on their details.
_USER_ACTIONS = ("user.delete", "user.change_password", "auth.refresh_token_reused")


@dataclass(frozen=True, order=True)
class RevokedGrant:
    """URLs of `principal` issued before `not_before` are refused."""

    principal: str
    not_before: datetime


def revoked_principal(action: str, target: str, details: Mapping[str, str]) -> str | None:
    """The principal an audit record revokes, or None when it revokes nothing."""
    kind, _, ident = target.partition("/")
    if not ident:
        return None
    if kind == "api_tokens" and action == "api_token.revoke":
        return ident
    if kind != "users":
        return None
    if action in _USER_ACTIONS:
        return ident
    if action == "user.update" and details.get("disabled") == "True":
        return ident
    if action == "auth.logout" and details.get("all_sessions") == "True":
        return ident
    return None


class RevokedGrants:
    """The current revoked grants, read from the audit log (cached for POLL_INTERVAL_S)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_url_ttl: timedelta,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self._sessions = sessions
        self._window = max_url_ttl + LEEWAY
        self._poll_interval_s = poll_interval_s
        self._cached: tuple[RevokedGrant, ...] | None = None
        self._read_at = 0.0

    async def read(self) -> tuple[RevokedGrant, ...]:
        """Revocations of the window, newest per principal, sorted (so equal lists hash equal)."""
        since = utcnow() - self._window
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        AuditLogRow.action,
                        AuditLogRow.target,
                        AuditLogRow.details,
                        AuditLogRow.time,
                    ).where(
                        AuditLogRow.time >= since,
                        AuditLogRow.action.in_(
                            (*_USER_ACTIONS, "user.update", "auth.logout", "api_token.revoke")
                        ),
                        or_(
                            AuditLogRow.outcome == "success",
                            AuditLogRow.action == "auth.refresh_token_reused",
                        ),
                    )
                )
            ).all()
        newest: dict[str, datetime] = {}
        for action, target, details, at in rows:
            principal = revoked_principal(action, target, details or {})
            if principal is not None and at > newest.get(principal, at - timedelta(1)):
                newest[principal] = at
        grants = tuple(sorted(RevokedGrant(p, at) for p, at in newest.items()))
        self._cached, self._read_at = grants, asyncio.get_running_loop().time()
        return grants

    async def current(self) -> tuple[RevokedGrant, ...]:
        """The list, read again when the cached one is older than the poll interval."""
        age = asyncio.get_running_loop().time() - self._read_at
        if self._cached is None or age >= self._poll_interval_s:
            return await self.read()
        return self._cached

    async def follow(self, on_change: Callable[[], None]) -> None:
        """Read the list every poll interval and call `on_change` when it changed (entries
        added, or aged out of the window); runs until cancelled."""
        last: tuple[RevokedGrant, ...] | None = None
        while True:
            raise_if_cancelling()
            try:
                grants = await self.read()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the nodes keep their list, try again
                raise_if_cancelling()
                log.exception("reading revoked URL grants failed")
            else:
                if last is not None and grants != last:
                    on_change()
                last = grants
            await asyncio.sleep(self._poll_interval_s)
