"""Node and stream rows ⇄ protos (shared by servicers and the event publisher)."""

from __future__ import annotations

from camfleet.v1 import node_pb2

from server.db.models import NodeRow
from server.nodes.registry import NodeState
from server.transport.convert import timestamp

NODE_STATES = {
    NodeState.READY.value: node_pb2.NODE_STATE_READY,
    NodeState.LOST.value: node_pb2.NODE_STATE_LOST,
    NodeState.OFFLINE.value: node_pb2.NODE_STATE_OFFLINE,
}


def node_to_proto(
    row: NodeRow, live: tuple[node_pb2.HostMetrics, int] | None = None
) -> node_pb2.Node:
    """API view of a node; `live` is (host metrics, stream count) from presence."""
    node = node_pb2.Node(
        id=row.id,
        name=row.name,
        state=NODE_STATES.get(row.state, node_pb2.NODE_STATE_UNSPECIFIED),
        state_reason=row.state_reason,
        schedulable=not row.cordoned,
        draining=row.draining,
        version=row.version,
        rtmp_url=row.rtmp_url,
        http_url=row.http_url,
        capacity=row.capacity,
        last_heartbeat_time=timestamp(row.last_heartbeat_at),
        create_time=timestamp(row.created_at),
        acked_assignment_version=row.acked_assignment_version,
    )
    if live is not None and row.state == NodeState.READY.value:
        node.host.CopyFrom(live[0])
        node.stream_count = live[1]
    return node
