"""camfleet.v1.AuditService."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import audit_pb2, audit_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.query import list_audit_logs
from server.common.listing import ListRequest
from server.common.wire import timestamp
from server.db.models import AuditLogRow


def audit_to_proto(row: AuditLogRow) -> audit_pb2.AuditLog:
    """API view of one audit record."""
    return audit_pb2.AuditLog(
        id=str(row.id),
        time=timestamp(row.time),
        actor=row.actor,
        actor_id=row.actor_id,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        source_address=row.source_address,
        method=row.method,
        details=dict(row.details),
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """ListAuditLogs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def ListAuditLogs(
        self, request: audit_pb2.ListAuditLogsRequest, context: Any
    ) -> audit_pb2.ListAuditLogsResponse:
        page = await list_audit_logs(self._sessions, ListRequest.of(request))
        return audit_pb2.ListAuditLogsResponse(
            audit_logs=[audit_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )
