"""What the control plane's gRPC server serves and how it keeps its connections: the names of
its services (health and reflection announce them) and its channel options."""

from __future__ import annotations

from typing import Any

import grpc
from camfleet.v1 import (
    agent_pb2,
    alert_pb2,
    analytics_pb2,
    api_token_pb2,
    audit_pb2,
    auth_pb2,
    camera_pb2,
    event_pb2,
    node_pb2,
    recording_pb2,
    settings_pb2,
    stream_pb2,
    user_pb2,
)

SERVICE_NAMES = (
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
    api_token_pb2.DESCRIPTOR.services_by_name["ApiTokenService"].full_name,
    camera_pb2.DESCRIPTOR.services_by_name["CameraService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    event_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    node_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name,
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    stream_pb2.DESCRIPTOR.services_by_name["StreamService"].full_name,
    recording_pb2.DESCRIPTOR.services_by_name["RecordingService"].full_name,
    alert_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name,
    analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name,
    settings_pb2.DESCRIPTOR.services_by_name["SettingsService"].full_name,
)

# Keepalive on the server side: pings every 30 s keep NAT and proxy idle timers from cutting
# long-lived streams, and clients may ping every 10 s without being told "too_many_pings".
GRPC_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.so_reuseport", 0),
)


def serve_generic_only(server: grpc.aio.Server) -> None:
    """Make `server` serve every method through the generic handlers only (call it before any
    servicer is added; the generated `add_*_to_server` adds each method both ways).

    grpc.aio keeps one pending request per registered method and, for every call that arrives,
    waits on all of them again (`asyncio.wait` over ~110 futures here): ~40 % of the event
    loop's profiled CPU for GetCamera (bench/README.md). With generic handlers alone it waits
    on one; finding a method's handler is a dict lookup per service instead, and calls behave
    the same."""

    def register_nothing(service_name: str, method_handlers: dict[str, Any]) -> None:
        return None

    server.add_registered_method_handlers = register_nothing  # type: ignore[attr-defined]
