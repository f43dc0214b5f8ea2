"""Reading the audit log: filters and ordering for ListAuditLogs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import FieldKind, FieldSpec, FilterSchema, OrderSchema, Page, fetch_page
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


async def list_audit_logs(
    sessions: async_sessionmaker[AsyncSession],
    page_size: int,
    page_token: str,
    filter_text: str,
    order_by: str,
) -> Page[AuditLogRow]:
    """A page of audit records."""
    async with sessions() as session:
        return await fetch_page(
            session,
            select(AuditLogRow),
            page_size=page_size,
            page_token=page_token,
            filter_text=filter_text,
            order_by=order_by,
            filter_schema=FILTER,
            order_schema=ORDER,
            fingerprint_parts=("audit",),
        )
