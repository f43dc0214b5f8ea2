"""Security kinds: failed logins per user or per address within a window (the audit log's
auth.login_failed records), and an API token used from an address it was never used from
(api_token_addresses, which the authenticator fills)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from server.alerts.conditions.common import Evaluation, Sources, alert_labels, spoken
from server.alerts.model import FailedLogins, Finding, LoginsBy, Rule
from server.db.models import ApiTokenRow, AuditLogRow, TokenAddressRow, UserRow

FAILED_LOGIN = "auth.login_failed"
# A token's new address is a finding for this long after its first use from there (then it is
# an address the token uses).
NEW_ADDRESS_HOLD = timedelta(hours=1)


async def failed_logins(
    sources: Sources, rule: Rule, cond: FailedLogins, now: datetime
) -> Evaluation:
    """At least `count` failed logins for one user (or from one address) in the window."""
    by_user = cond.by is LoginsBy.USER
    key = AuditLogRow.actor if by_user else AuditLogRow.source_address
    rows = (
        await sources.session.execute(
            select(key, func.count(), func.min(AuditLogRow.time))
            .where(
                AuditLogRow.action == FAILED_LOGIN,
                AuditLogRow.time >= now - timedelta(seconds=cond.window_s),
            )
            .group_by(key)
        )
    ).all()
    findings = []
    for who, n, _first in rows:
        if int(n) < cond.count or not who:
            continue
        about = {"user": who} if by_user else {"address": who}
        subject = f"user {who}" if by_user else f"address {who}"
        findings.append(
            Finding(
                labels=alert_labels(rule, {}, about),
                summary=f"{n} failed logins for {subject} in {spoken(cond.window_s)}",
                value=float(n),
            )
        )
    return Evaluation(findings, len(rows))


async def token_new_address(sources: Sources, rule: Rule, now: datetime) -> Evaluation:
    """Tokens used from an address first seen within the last hour, when the token had been
    used from another address before (a token's first address is not news)."""
    earlier = aliased(TokenAddressRow)
    rows = (
        await sources.session.execute(
            select(
                TokenAddressRow.token_id,
                TokenAddressRow.address,
                TokenAddressRow.first_time,
                ApiTokenRow.name,
                UserRow.username,
            )
            .select_from(TokenAddressRow)
            .outerjoin(ApiTokenRow, ApiTokenRow.id == TokenAddressRow.token_id)
            .outerjoin(UserRow, UserRow.id == ApiTokenRow.owner_user_id)
            .where(
                TokenAddressRow.first_time >= now - NEW_ADDRESS_HOLD,
                exists().where(
                    and_(
                        earlier.token_id == TokenAddressRow.token_id,
                        earlier.first_time < TokenAddressRow.first_time,
                    )
                ),
            )
        )
    ).all()
    findings = []
    for token_id, address, first, name, user in rows:
        about = {
            "token": token_id,
            "token_name": name or "",
            "user": user or "",
            "address": address,
        }
        findings.append(
            Finding(
                labels=alert_labels(rule, {}, about),
                summary=f"API token {name or token_id} was used from a new address {address}",
                value=0.0,
                since=first,
            )
        )
    count = 0
    if sources.count:
        count = int(
            await sources.session.scalar(
                select(func.count(func.distinct(TokenAddressRow.token_id)))
            )
            or 0
        )
    return Evaluation(findings, count)
