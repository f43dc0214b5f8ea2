"""GetSecurityStats (server/analytics/security.py) on both backends: failed logins and denied
calls from the audit log, by user, by address and per bucket, flood-suppressed records
counted, other records and records outside the range not."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.analytics.ranges import check_window
from server.analytics.security import get_security_stats
from server.db.engine import Sessions
from server.db.models import AuditLogRow
from tests.server.analytics.test_uptime_support import MIN, T0, sessions

__all__ = ["sessions"]


async def _audit(
    sessions: Sessions,
    at: datetime,
    action: str,
    actor: str,
    address: str,
    details: dict[str, str] | None = None,
) -> None:
    async with sessions.begin() as session:
        session.add(
            AuditLogRow(
                time=at,
                action=action,
                actor=actor,
                source_address=address,
                outcome="denied",
                details=details or {},
            )
        )


async def test_counts_by_user_address_and_bucket(sessions: Sessions) -> None:
    await _audit(sessions, T0 + 1 * MIN, "auth.login_failed", "mallory", "10.0.0.9")
    await _audit(sessions, T0 + 2 * MIN, "auth.login_failed", "mallory", "10.0.0.9")
    # A flood: this record stands for itself and 5 written only as a count.
    await _audit(
        sessions,
        T0 + 40 * MIN,
        "auth.login_failed",
        "root",
        "10.0.0.9",
        {"suppressed_before": "5"},
    )
    await _audit(sessions, T0 + 3 * MIN, "authz.denied", "viewer1", "10.0.0.2")
    await _audit(sessions, T0 + 31 * MIN, "authn.failed", "anonymous", "10.0.0.3")
    await _audit(sessions, T0 + 5 * MIN, "auth.login", "alice", "10.0.0.1")  # a success
    await _audit(sessions, T0 - 1 * MIN, "auth.login_failed", "early", "10.0.0.4")  # before
    await _audit(sessions, T0 + 60 * MIN, "authz.denied", "late", "10.0.0.5")  # at the end

    window = check_window(T0, T0 + 60 * MIN, timedelta(minutes=30))
    stats = await get_security_stats(sessions, window)
    assert (stats.failed_logins, stats.denied_calls) == (8, 2)
    assert [(b.start, b.failed_logins, b.denied_calls) for b in stats.buckets] == [
        (T0, 2, 1),
        (T0 + 30 * MIN, 6, 1),
    ]
    assert [(c.key, c.failed_logins, c.denied_calls) for c in stats.by_user] == [
        ("root", 6, 0),
        ("mallory", 2, 0),
        ("anonymous", 0, 1),
        ("viewer1", 0, 1),
    ]
    assert [(c.key, c.failed_logins, c.denied_calls) for c in stats.by_address] == [
        ("10.0.0.9", 8, 0),
        ("10.0.0.2", 0, 1),
        ("10.0.0.3", 0, 1),
    ]


async def test_an_empty_range_is_all_zero(sessions: Sessions) -> None:
    stats = await get_security_stats(sessions, check_window(T0, T0 + 60 * MIN, None))
    assert (stats.failed_logins, stats.denied_calls, stats.by_user, stats.by_address) == (
        0,
        0,
        [],
        [],
    )
    assert [(b.start, b.failed_logins) for b in stats.buckets] == [(T0, 0)]
