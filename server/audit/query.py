"""Reading the audit log: filters and ordering for ListAuditLogs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.db.models import AuditLogRow

FILTER = FilterSchema(
    fields={
        "actor": FieldSpec(AuditLogRow.actor, FieldKind.STRING),
        "actor_id": FieldSpec(AuditLogRow.actor_id, FieldKind.STRING),
        "action": FieldSpec(AuditLogRow.action, FieldKind.STRING),
        "target": FieldSpec(AuditLogRow.target, FieldKind.STRING),
        "outcome": FieldSpec(
            AuditLogRow.outcome,
            FieldKind.ENUM,
            {"success": "success", "failure": "failure", "denied": "denied"},
        ),
        "source_address": FieldSpec(AuditLogRow.source_address, FieldKind.STRING),
        "method": FieldSpec(AuditLogRow.method, FieldKind.STRING),
        "time": FieldSpec(AuditLogRow.time, FieldKind.TIMESTAMP),
    },
    text_columns=(AuditLogRow.actor, AuditLogRow.action, AuditLogRow.target),
)
ORDER = OrderSchema(
    fields={"time": AuditLogRow.time, "action": AuditLogRow.action, "actor": AuditLogRow.actor},
    default="time desc",
    # Newest first must stay newest first among records of the same instant.
    tiebreaker=AuditLogRow.id,
)
AUDIT_LOGS = Listing("audit", FILTER, ORDER)


async def list_audit_logs(
    sessions: async_sessionmaker[AsyncSession], request: ListRequest
) -> Page[AuditLogRow]:
    """A page of audit records."""
    return await AUDIT_LOGS.page(sessions, select(AuditLogRow), request)
