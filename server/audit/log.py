"""The audit log: mutations are recorded in their own transaction, security events on their own.

`add_audit` joins the caller's transaction, so a change and its audit record commit or roll back
together. `AuditLog.security_event` writes immediately (a refused call has no transaction).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import AuditLogRow
from server.identity.principal import Principal, current_call

log = logging.getLogger(__name__)

# Hostile callers control some of these strings (a 1 MB username on a failed login); the audit
# log keeps enough to investigate without letting one request bloat it.
_MAX_FIELD = 200
_MAX_DETAIL = 1000


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _row(
    action: str,
    target: str,
    *,
    outcome: str,
    details: Mapping[str, str] | None,
    principal: Principal | None,
    actor: str,
) -> AuditLogRow:
    call = current_call()
    who = principal or call.principal
    return AuditLogRow(
        action=action,
        target=_clip(target, _MAX_FIELD),
        outcome=outcome,
        actor=_clip(who.actor if who else (actor or "anonymous"), _MAX_FIELD),
        actor_id=who.user_id if who else "",
        source_address=call.source_address,
        method=call.method,
        details={
            _clip(k, 64): _clip(str(v), _MAX_DETAIL) for k, v in list((details or {}).items())[:32]
        },
    )


def add_audit(
    session: AsyncSession,
    action: str,
    target: str = "",
    *,
    outcome: str = "success",
    details: Mapping[str, str] | None = None,
    principal: Principal | None = None,
    actor: str = "",
) -> None:
    """Record `action` in the caller's transaction (actor and address from the current call)."""
    session.add(
        _row(action, target, outcome=outcome, details=details, principal=principal, actor=actor)
    )


@dataclass
class _Flood:
    window: int
    written: int = 0
    suppressed: int = 0


class AuditLog:
    """Writes security events that happen outside any mutation (refusals, failed logins).

    Anyone can send refused calls, so refusals are coalesced per (source address, action): the
    first `flood_limit` in each window are written one by one, the rest are counted and the
    count is written with the next record of that kind ("suppressed_before": N). The audit log
    stays readable and bounded under a flood, and no refusal goes uncounted.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        flood_limit: int = 30,
        flood_window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._flood_limit = flood_limit
        self._flood_window = flood_window_s
        self._floods: dict[tuple[str, str], _Flood] = {}

    def _admit(self, action: str) -> int | None:
        """None to suppress this record; else how many were suppressed before it."""
        key = (current_call().source_address, action)
        window = int(self._clock() // self._flood_window)
        flood = self._floods.get(key)
        if flood is None or flood.window != window:
            carried = flood.suppressed if flood else 0
            if len(self._floods) > 10_000:  # bounded under many distinct addresses
                self._floods.clear()
            flood = self._floods[key] = _Flood(window, suppressed=carried)
        if flood.written >= self._flood_limit:
            flood.suppressed += 1
            return None
        flood.written += 1
        suppressed, flood.suppressed = flood.suppressed, 0
        return suppressed

    async def security_event(
        self,
        action: str,
        target: str = "",
        *,
        outcome: str = "denied",
        details: Mapping[str, str] | None = None,
        principal: Principal | None = None,
        actor: str = "",
    ) -> None:
        """Record a security event now. A database failure is logged, never raised: refusing
        the caller must not turn into an INTERNAL error because the audit write failed."""
        suppressed = self._admit(action)
        if suppressed is None:
            return
        if suppressed:
            details = {**(details or {}), "suppressed_before": str(suppressed)}
        try:
            async with self._sessions.begin() as session:
                add_audit(
                    session,
                    action,
                    target,
                    outcome=outcome,
                    details=details,
                    principal=principal,
                    actor=actor,
                )
        except SQLAlchemyError:
            log.exception("could not write audit event %s for %s", action, target)
