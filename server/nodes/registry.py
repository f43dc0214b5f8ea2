"""Nodes: registration with a join token, credentials, state (READY/LOST/OFFLINE), cordon and
drain, deletion. Live numbers (heartbeats, metrics) are kept in presence, not here."""

from __future__ import annotations

import enum
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import AuditLog, add_audit
from server.common.labels import check_label_map, describe_labels
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import clean_text, require_id
from server.db.models import CameraRow, NodeRow, new_id, utcnow
from server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from server.identity.credentials import NODE_CREDENTIAL_PREFIX, issue, parse
from server.leader.model import Fence
from server.nodes.connect_info import Connected, NodeHello
from server.nodes.join_tokens import JoinTokenService
from server.nodes.live import NodeLive, NodeView
from server.nodes.load import NodeLoad, node_load_in

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
# Node labels, at registration or by UpdateNode (a selector may name at most 16 of them).
MAX_NODE_LABELS = 32
# A deleted node's credential may keep working on another replica for this long.
_CREDENTIAL_CACHE_S = 2.0


class NodeState(enum.StrEnum):
    """Stored node states."""

    READY = "ready"
    LOST = "lost"
    OFFLINE = "offline"


class NodeChange(enum.StrEnum):
    """What happened to a node, for the event stream."""

    JOINED = "node.joined"
    STATE_CHANGED = "node.state_changed"
    UPDATED = "node.updated"
    DELETED = "node.deleted"


# Stages a node's event in the transaction that changes it, so the event commits with the change
# (the outbox): (session, what happened, the node as it will commit with its live host facts and
# load, message). The event publisher, injected: events are a floor above the nodes domain.
StageNodeChange = Callable[[AsyncSession, NodeChange, NodeView, str], None]

_LEFT = {
    NodeState.LOST: "node {name} was lost: {reason}",
    NodeState.OFFLINE: "node {name} shut down",
}

NODES = Listing(
    "nodes",
    FilterSchema(
        fields={
            "name": FieldSpec(NodeRow.name, FieldKind.STRING),
            "state": FieldSpec(
                NodeRow.state,
                FieldKind.ENUM,
                {"READY": "ready", "LOST": "lost", "OFFLINE": "offline"},
            ),
            "schedulable": FieldSpec(~NodeRow.cordoned, FieldKind.BOOL),
            "create_time": FieldSpec(NodeRow.created_at, FieldKind.TIMESTAMP),
        },
        text_columns=(NodeRow.name,),
    ),
    OrderSchema(
        fields={
            "name": NodeRow.name,
            "create_time": NodeRow.created_at,
            "last_heartbeat_time": NodeRow.last_heartbeat_at,
        },
        default="name",
        tiebreaker=NodeRow.id,
    ),
)


def check_node_name(name: str) -> str:
    """Node names are host-like: 1-100 of [a-z0-9-_.], case-insensitive."""
    name = clean_text(name, "name", max_len=100, required=True)
    if not set(name.lower()) <= _NAME_CHARS:
        raise InvalidArgument.for_field(
            "name", "may contain only letters, digits, '-', '_' and '.' (a host name)"
        )
    return name


class NodeRegistry:
    """Domain logic of NodeService and of node identity."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        audit: AuditLog,
        on_change: StageNodeChange,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._on_change = on_change
        # credential hash -> (node id, name, until)
        self._verified: dict[str, tuple[str, str, float]] = {}

    async def register(
        self, join_token: str, name: str, labels: Mapping[str, str] | None = None
    ) -> tuple[NodeRow, str]:
        """Redeem a join token for a new node with its initial labels (the agent's `--label`);
        returns it and its credential (shown once)."""
        name = check_node_name(name)
        node_labels = check_label_map(labels or {}, "labels", max_pairs=MAX_NODE_LABELS)
        node_id = new_id()
        credential, credential_hash = issue(NODE_CREDENTIAL_PREFIX, node_id)
        try:
            async with self._sessions.begin() as session:
                token = await JoinTokenService.redeem(session, join_token)
                if await session.scalar(select(NodeRow.id).where(NodeRow.name_key == name.lower())):
                    raise AlreadyExists(
                        f"a node named {name!r} exists; delete it first "
                        "(NodeService.DeleteNode) or start the agent with another --name"
                    )
                row = NodeRow(
                    id=node_id,
                    name=name,
                    name_key=name.lower(),
                    credential_hash=credential_hash,
                    state=NodeState.OFFLINE.value,
                    state_reason="registered; not connected yet",
                    join_token_id=token.id,
                    labels=node_labels,
                )
                session.add(row)
                await session.flush()  # its defaults (create time) are in the event
                await self._stage(session, NodeChange.JOINED, row, f"node {name} joined", None)
                add_audit(
                    session,
                    "node.register",
                    f"nodes/{node_id}",
                    actor=f"node:{name}",
                    details={"name": name, "join_token": token.id},
                )
        except IntegrityError:
            raise AlreadyExists(f"a node named {name!r} exists") from None
        except Unauthenticated as err:
            await self._audit.security_event(
                "node.register_refused",
                actor=f"node:{name}",
                details={"reason": err.message},
            )
            raise
        return row, credential

    async def _stage(
        self,
        session: AsyncSession,
        change: NodeChange,
        row: NodeRow,
        message: str,
        live: NodeLive | None,
    ) -> None:
        """Stage the node's event with its load counted in the same transaction (watchers show
        camera_count and drain_remaining from events, so an event without them would read as an
        empty node)."""
        load = NodeLoad() if change is NodeChange.DELETED else await node_load_in(session, row.id)
        view = NodeView(row, live, load.camera_count, load.pull_on_node)
        self._on_change(session, change, view, message)

    async def authenticate(self, credential: str) -> NodeRow:
        """The node a `cfn_…` credential belongs to, or Unauthenticated."""
        parsed = parse(NODE_CREDENTIAL_PREFIX, credential)
        if parsed is None:
            raise Unauthenticated("node credential is malformed")
        node_id, presented = parsed
        async with self._sessions() as session:
            row = await session.get(NodeRow, node_id)
        if row is None or not hmac.compare_digest(row.credential_hash, presented):
            raise Unauthenticated(
                "node credential is not valid (was the node deleted? register it again with a "
                "new join token)"
            )
        return row

    async def authenticate_cached(self, credential: str) -> tuple[str, str]:
        """(node id, name) for a credential; a verified credential is trusted for 2 s."""
        parsed = parse(NODE_CREDENTIAL_PREFIX, credential)
        key = parsed[1] if parsed else ""
        hit = self._verified.get(key)
        if hit is not None and hit[2] > time.monotonic():
            return hit[0], hit[1]
        row = await self.authenticate(credential)
        if len(self._verified) > 100_000:
            self._verified.clear()
        self._verified[key] = (row.id, row.name, time.monotonic() + _CREDENTIAL_CACHE_S)
        return row.id, row.name

    async def get(self, node_id: str) -> NodeRow:
        """One node or NotFound."""
        require_id(node_id)
        async with self._sessions() as session:
            row = await session.get(NodeRow, node_id)
        if row is None:
            raise NotFound(f"node {node_id} does not exist")
        return row

    async def list_page(self, request: ListRequest) -> Page[NodeRow]:
        """A page of nodes."""
        return await NODES.page(self._sessions, select(NodeRow), request)

    async def all_states(self) -> dict[str, str]:
        """node id -> state, for the lost-node sweeper."""
        async with self._sessions() as session:
            rows = await session.execute(select(NodeRow.id, NodeRow.state))
        return {row[0]: row[1] for row in rows}

    async def set_schedulable(
        self, node_id: str, cordoned: bool, draining: bool, live: NodeLive | None
    ) -> NodeRow:
        """Cordon, uncordon (clears draining) or drain a node (`live`: for its event)."""
        require_id(node_id)
        action = "node.drain" if draining else "node.cordon" if cordoned else "node.uncordon"
        async with self._sessions.begin() as session:
            row = await session.get(NodeRow, node_id, with_for_update=True)
            if row is None:
                raise NotFound(f"node {node_id} does not exist")
            if draining and row.draining:  # checked under the row lock: one drain wins a race
                raise FailedPrecondition(
                    f"node {row.name} is already draining; UncordonNode stops the drain"
                )
            row.cordoned, row.draining = cordoned, draining
            add_audit(session, action, f"nodes/{node_id}", details={"name": row.name})
            done = "is draining" if draining else "was cordoned" if cordoned else "was uncordoned"
            await self._stage(session, NodeChange.UPDATED, row, f"node {row.name} {done}", live)
        return row

    async def set_labels(
        self, node_id: str, labels: dict[str, str], live: NodeLive | None
    ) -> NodeRow:
        """Replace a node's labels (already checked); audited, with a NODE_UPDATED event so
        the scheduler re-places cameras whose selector no longer matches."""
        require_id(node_id, "node.id")
        async with self._sessions.begin() as session:
            row = await session.get(NodeRow, node_id, with_for_update=True)
            if row is None:
                raise NotFound(f"node {node_id} does not exist")
            shown = describe_labels(labels) or "none"
            row.labels = dict(labels)
            details = {"name": row.name, "labels": shown}
            add_audit(session, "node.update", f"nodes/{node_id}", details=details)
            message = f"node {row.name} was updated (labels: {shown})"
            await self._stage(session, NodeChange.UPDATED, row, message, live)
        return row

    async def delete(self, node_id: str) -> tuple[NodeRow, list[CameraRow]]:
        """Forget a node (its credential stops working); returns it and the cameras that were
        on it, now without a node."""
        require_id(node_id)
        async with self._sessions.begin() as session:
            row = await session.get(NodeRow, node_id, with_for_update=True)
            if row is None:
                raise NotFound(f"node {node_id} does not exist")
            cameras = list(
                await session.scalars(select(CameraRow).where(CameraRow.node_id == node_id))
            )
            for camera in cameras:
                camera.node_id = None
            await session.delete(row)
            add_audit(session, "node.delete", f"nodes/{node_id}", details={"name": row.name})
            await self._stage(
                session, NodeChange.DELETED, row, f"node {row.name} was deleted", None
            )
        self._verified.clear()
        return row, cameras

    async def connected(self, node_id: str, hello: NodeHello, at: datetime) -> Connected:
        """Record a (re)connect: READY with what the agent said (an event if it was not)."""
        async with self._sessions.begin() as session:
            row = await session.get(NodeRow, node_id, with_for_update=True)
            if row is None:
                raise Unauthenticated("this node was deleted; register it again")
            before = Connected(row, row.state == NodeState.READY.value, row.last_heartbeat_at)
            changed = not before.was_ready
            row.state = NodeState.READY.value
            row.state_reason = ""
            if changed:
                row.state_changed_at = at
            row.version = hello.version[:64]
            row.capacity = max(0, hello.capacity)
            # A NaN or a negative count is no limit the scheduler can honour: read as not said.
            row.cpu_cores = hello.cpu_cores if 0 < hello.cpu_cores < 100_000 else 0.0
            row.rtmp_url = hello.rtmp_url[:500]
            row.http_url = hello.http_url[:500]
            row.last_heartbeat_at = at
            if changed:
                message = f"node {row.name} is ready"
                await self._stage(session, NodeChange.STATE_CHANGED, row, message, None)
        return before

    async def restarted(self, node_id: str, at: datetime) -> None:
        """The node's agent came back without a goodbye before it was declared lost: it is
        READY since `at`, when the new agent started (not since its last connect), as after a
        loss, so that its own segments from then on end the node-lost gaps its restart opens
        (server.recordings.gaps), and what the agent before it left does not."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(NodeRow)
                .where(NodeRow.id == node_id, NodeRow.state == NodeState.READY.value)
                .values(state_changed_at=at)
            )

    async def leave(
        self,
        node_id: str,
        state: NodeState,
        reason: str,
        only_if: NodeState | None = None,
        fence: Fence | None = None,
    ) -> NodeRow | None:
        """Move a node to LOST or OFFLINE; None when it was already there (or not in `only_if`,
        so only one writer wins a race to mark it lost). With `fence` (the leader's sweep) a
        replica that no longer leads gets NotLeader and changes nothing."""
        async with self._sessions.begin() as session:
            if fence is not None:
                await fence(session)
            stmt = (
                update(NodeRow)
                .where(NodeRow.id == node_id, NodeRow.state != state.value)
                .values(state=state.value, state_reason=reason, state_changed_at=utcnow())
            )
            if only_if is not None:
                stmt = stmt.where(NodeRow.state == only_if.value)
            result = await session.execute(stmt)
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await session.get(NodeRow, node_id)
            if row is not None:
                message = _LEFT[state].format(name=row.name, reason=reason)
                await self._stage(session, NodeChange.STATE_CHANGED, row, message, None)
            return row

    async def touch(self, node_ids: Sequence[str], at: datetime) -> None:
        """Persist the last heartbeat time of several nodes in one statement."""
        if not node_ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(NodeRow).where(NodeRow.id.in_(node_ids)).values(last_heartbeat_at=at)
            )

    async def acknowledged(self, node_id: str, version: int) -> None:
        """The agent runs assignment `version`."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(NodeRow)
                .where(NodeRow.id == node_id, NodeRow.acked_assignment_version < version)
                .values(acked_assignment_version=version)
            )

    async def ready_node_urls(self, preferred: str | None) -> tuple[str, str] | None:
        """(rtmp_url, http_url) of `preferred` if READY, else of any READY schedulable node."""
        async with self._sessions() as session:
            if preferred:
                row = await session.get(NodeRow, preferred)
                if row is not None and row.state == NodeState.READY.value and row.http_url:
                    return row.rtmp_url, row.http_url
            other = await session.scalar(
                select(NodeRow)
                .where(NodeRow.state == NodeState.READY.value, ~NodeRow.cordoned)
                .order_by(NodeRow.created_at)
                .limit(1)
            )
        return (other.rtmp_url, other.http_url) if other is not None else None
