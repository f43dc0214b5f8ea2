"""Wiring: build every component of one control-plane process and start the gRPC server."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import grpc
from camfleet.v1 import (
    agent_pb2_grpc,
    alert_pb2_grpc,
    analytics_pb2_grpc,
    api_token_pb2_grpc,
    audit_pb2_grpc,
    auth_pb2_grpc,
    camera_pb2_grpc,
    node_pb2_grpc,
    recording_pb2_grpc,
    settings_pb2_grpc,
    stream_pb2_grpc,
    user_pb2_grpc,
)
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2_grpc

from server.alerts.wiring import build_alerts
from server.analytics.history.jobs import history_jobs
from server.analytics.reports.service import report_schedule_job
from server.analytics.servicer import AnalyticsServicer
from server.audit.log import AuditLog
from server.audit.servicer import AuditServicer
from server.auth.access_tokens import SigningKeys
from server.auth.api_token_servicer import ApiTokenServicer
from server.auth.api_tokens import ApiTokenService
from server.auth.auth_servicer import AuthServicer
from server.auth.authenticator import Authenticator
from server.auth.cache import AuthCache
from server.auth.sessions import SessionService
from server.auth.user_servicer import UserServicer
from server.auth.users import UserService
from server.backends import StartupError, camera_cache_for, connect_redis, event_log
from server.cameras.service import CameraService
from server.cameras.status import CameraStatusWriter
from server.common.secrets_store import load_or_create_secret
from server.config import Settings
from server.control_plane import ControlPlane
from server.db.engine import (
    create_engine,
    secure_data_dir,
    secure_sqlite_file,
    session_factory,
)
from server.db.fast_reads import FastReads
from server.db.migrate import upgrade_to_head
from server.db.wait import until_database
from server.events.publisher import EventPublisher
from server.events.servicer import EventServicer, add_event_service
from server.kv.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from server.leader.leadership import Leadership
from server.nodes.agent_servicer import AgentServicer
from server.nodes.agent_settings import AgentSettingsSource
from server.nodes.assignments import AssignmentBuilder
from server.nodes.grants import RevokedGrants
from server.nodes.hub import AgentHub
from server.nodes.hub_deps import HubFeeds, NodeStores, SessionTerms
from server.nodes.join_tokens import JoinTokenService
from server.nodes.load_events import NodeLoadEvents
from server.nodes.node_certs import NodeCertificateSigner
from server.nodes.operations import NodeOperations
from server.nodes.policy import playback_policy
from server.nodes.presence import MemoryPresence, Presence, RedisPresence
from server.nodes.publish_check import PublishCheck
from server.nodes.registry import NodeRegistry
from server.nodes.servicer import NodeServicer
from server.nodes.stream_events import StreamEventStore
from server.placement.queries import PlacementQueries
from server.placement.scheduler import SchedulerOptions, placement_jobs
from server.placement.servicer import CameraPlacementServicer
from server.placement.store import PlacementRecorder, PlacementStore
from server.recordings.clips import ClipExports
from server.recordings.cold_urls import ColdUrls
from server.recordings.ingest import RecordingIngest
from server.recordings.service import RecordingService
from server.recordings.servicer import RecordingServicer
from server.settings.live import LiveSettings
from server.settings.security import AccessTokenCap, LivePasswordPolicy
from server.settings.wiring import build_settings
from server.streams.service import StreamQueries
from server.streams.servicer import StreamServicer
from server.tls.ca import CertificateError
from server.transport.agent_tls import AgentTlsError, add_agent_listeners
from server.transport.health import HealthProber
from server.transport.interceptor import GuardInterceptor
from server.transport.metrics import GrpcMetrics, MetricsInterceptor
from server.transport.peer import listen_on_proxy_socket
from server.transport.reflection import SERVICE_NAMES as REFLECTION_SERVICE_NAMES
from server.transport.reflection import enable_reflection
from server.transport.services import GRPC_OPTIONS, SERVICE_NAMES, serve_generic_only

if TYPE_CHECKING:
    from server.metrics.http import MetricsServer

log = logging.getLogger(__name__)


async def start(settings: Settings) -> ControlPlane:  # noqa: PLR0915 (wiring reads as one list)
    """Migrate the database, build every service and start listening."""
    try:
        node_certs = NodeCertificateSigner.from_files(settings.node_ca_cert, settings.node_ca_key)
    except CertificateError as exc:
        raise StartupError(f"CAMFLEET_NODE_CA_CERT/_KEY: {exc}") from exc
    if not settings.database_url:
        secure_data_dir(settings.data_dir)
    secure_sqlite_file(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url, settings.database_pool_size)
    try:
        # A replica started while PostgreSQL (re)starts waits for it rather than exiting.
        await until_database(settings.resolved_database_url, lambda: upgrade_to_head(engine))
    except Exception as exc:
        await engine.dispose()
        raise StartupError(f"cannot prepare the database ({type(exc).__name__}: {exc})") from exc
    sessions = session_factory(engine)
    redis = await connect_redis(settings.redis_url) if settings.redis_url else None
    limiter: RateLimiter = (
        RedisRateLimiter(redis, f"{settings.redis_prefix}rl:") if redis else MemoryRateLimiter()
    )

    # The first reads and writes wait too: the database may go away again just after the
    # schema check (bench_chaos restarted a replica while PostgreSQL restarted). Each can be
    # made again.
    db_url = settings.resolved_database_url
    # The stored settings (from the flags on the first start; the stored values win after).
    platform = await until_database(db_url, lambda: build_settings(sessions, settings))
    keys = SigningKeys(sessions, max_lifetime=AccessTokenCap(platform.live))
    await until_database(db_url, keys.load)
    cache = AuthCache()
    audit = AuditLog(sessions, flood_limit=settings.audit_flood_limit)
    users = UserService(sessions, cache, LivePasswordPolicy(platform.live))
    generated = await until_database(db_url, lambda: users.ensure_admin(settings.admin_password))
    events = await event_log(redis, settings, engine, sessions)
    publisher = EventPublisher(events)
    registry = NodeRegistry(sessions, audit, on_change=publisher.node_changed)
    authenticator = Authenticator(sessions, keys, cache, audit, registry)
    reads = FastReads(engine)
    camera_cache = camera_cache_for(redis, engine, events)
    playback_secret = await until_database(
        db_url, lambda: load_or_create_secret(sessions, "playback")
    )
    cameras = CameraService(
        sessions,
        reads,
        ingest_rtmp_url=settings.ingest_rtmp_url,
        hls_base_url=settings.hls_base_url,
        playback_secret=playback_secret,
        playback_ttl=settings.playback_url_ttl,
        on_change=publisher.camera_changed,
        locate_node=registry.ready_node_urls,
        settings=platform.live,
        cache=camera_cache,
    )
    # One per process; the singleton jobs it runs are registered below, before it starts.
    leadership = Leadership.for_engine(engine, sessions)
    presence: Presence = RedisPresence(redis, settings.redis_prefix) if redis else MemoryPresence()
    node_loads = NodeLoadEvents(publisher.node_changed, presence)
    placements = PlacementRecorder(
        publisher.camera_changed, publisher.camera_placed, node_loads.stage
    )
    status = CameraStatusWriter(sessions, publisher.camera_changed, placements)
    stream_events = StreamEventStore(sessions)
    hub = AgentHub(
        NodeStores(
            registry=registry,
            presence=presence,
            status=status,
            stream_events=stream_events,
            assignments=AssignmentBuilder(
                sessions,
                grants=RevokedGrants(sessions, settings.playback_url_ttl),
                playback=playback_policy(settings),
                # The settings nodes apply live, in every assignment.
                settings=AgentSettingsSource(platform.live),
            ),
            recordings=RecordingIngest(sessions, publisher, handovers=status),
        ),
        HubFeeds(publisher=publisher, audit=audit, events=events),
        SessionTerms(
            heartbeat_interval=settings.heartbeat_interval,
            lost_after=settings.node_lost_after,
            startup_grace=settings.node_startup_grace,
            playback_secret=playback_secret,
        ),
        fence=leadership.fence,
    )

    # Metrics only when something will read them: the interceptor outermost, so it counts the
    # status the guard answered (refusals included).
    grpc_metrics = GrpcMetrics() if settings.metrics_listen else None
    server = grpc.aio.server(
        interceptors=[
            *([MetricsInterceptor(grpc_metrics)] if grpc_metrics else []),
            GuardInterceptor(authenticator, audit, settings),
        ],
        options=GRPC_OPTIONS,
    )
    serve_generic_only(server)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(
        AuthServicer(
            SessionService(sessions, keys, limiter, audit, cache, settings, platform.live), users
        ),
        server,
    )
    user_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(users), server)
    api_token_pb2_grpc.add_ApiTokenServiceServicer_to_server(
        ApiTokenServicer(ApiTokenService(sessions, cache)), server
    )
    camera_pb2_grpc.add_CameraServiceServicer_to_server(
        CameraPlacementServicer(cameras, events, PlacementQueries(sessions)), server
    )
    add_event_service(
        EventServicer(events, settings.event_bookmark_interval.total_seconds()), server
    )
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(sessions), server)
    node_pb2_grpc.add_NodeServiceServicer_to_server(
        NodeServicer(
            JoinTokenService(sessions),
            NodeOperations(registry, presence, hub, status, sessions),
            leadership.current,
        ),
        server,
    )
    media = ClipExports(
        sessions,
        playback_secret=playback_secret,
        url_ttl=settings.playback_url_ttl,
        export_max_clip=settings.export_max_clip,
        cold=ColdUrls(platform.live),
    )
    agent_pb2_grpc.add_AgentServiceServicer_to_server(
        AgentServicer(
            registry,
            hub,
            PublishCheck(
                sessions,
                limiter,
                audit,
                publisher.camera_changed,
                settings.unknown_key_limit,
                placement=placements,
                presence=presence,
                silent_after_s=2 * settings.heartbeat_interval.total_seconds(),
            ),
            media,
            certificates=node_certs,
        ),
        server,
    )
    stream_pb2_grpc.add_StreamServiceServicer_to_server(
        StreamServicer(StreamQueries(cameras, presence, stream_events)), server
    )
    recording_pb2_grpc.add_RecordingServiceServicer_to_server(
        RecordingServicer(RecordingService(sessions, on_delete=hub.send_deletions), media), server
    )
    health_servicer = health_aio.HealthServicer()
    alerts = build_alerts(
        sessions, events, publisher, fence=leadership.fence, presence=presence, cameras=cameras,
        recordings=media,
    )  # fmt: skip
    alert_pb2_grpc.add_AlertServiceServicer_to_server(alerts.servicer, server)
    settings_pb2_grpc.add_SettingsServiceServicer_to_server(platform.servicer, server)
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(sessions), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    prober = HealthProber(
        health_servicer,
        SERVICE_NAMES,
        database_url=settings.resolved_database_url,
        engine=engine,
        redis_url=settings.redis_url or None,
    )
    enable_reflection((*SERVICE_NAMES, health.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(settings.listen)
    except RuntimeError as exc:
        port = 0
        log.debug("bind failed: %s", exc)
    proxy_socket = settings.proxy_socket
    if port and proxy_socket and not listen_on_proxy_socket(server, proxy_socket):
        port = 0
    try:
        agent_listeners = add_agent_listeners(server, settings) if port else []
    except AgentTlsError as exc:
        await events.close()
        await engine.dispose()
        raise StartupError(str(exc)) from exc
    if port == 0:
        await events.close()
        await engine.dispose()
        where = settings.listen + (f" and {settings.proxy_socket}" if settings.proxy_socket else "")
        raise StartupError(f"cannot listen on {where} (in use, or not a local address)")
    metrics: MetricsServer | None = None
    if grpc_metrics is not None:
        # Imported only with --metrics-listen: the listener's aiohttp costs ~0.2 s of CPU.
        from server.metrics.domain import FleetMetrics
        from server.metrics.http import MetricsListenError, start_metrics

        grpc_metrics.register_services(
            (*SERVICE_NAMES, health.SERVICE_NAME, *REFLECTION_SERVICE_NAMES)
        )
        watchers = partial(grpc_metrics.in_flight, "/camfleet.v1.EventService/WatchEvents")
        fleet = FleetMetrics(sessions, presence, events, watchers)
        try:
            metrics = await start_metrics(settings.metrics_listen, grpc_metrics, fleet)
        except MetricsListenError as exc:
            await events.close()
            await engine.dispose()
            raise StartupError(str(exc)) from exc
    await server.start()
    platform.live.follow(events)
    if camera_cache is not None:
        camera_cache.only_while(lambda: prober.serving)
        camera_cache.start()
    await hub.start()
    leadership.run_while_leader(hub.singleton_jobs())
    leadership.run_while_leader(alerts.jobs)
    leadership.run_while_leader(
        history_jobs(sessions, leadership.fence, presence, RecordingService(sessions).timeline)
    )
    leadership.run_while_leader(
        {"report_schedules": report_schedule_job(sessions, leadership.fence).run}
    )
    leadership.run_while_leader(
        placement_jobs(
            sessions,
            events,
            PlacementStore(sessions, placements, leadership.fence),
            SchedulerOptions(
                rebalance_moves_per_minute=settings.rebalance_moves_per_minute,
                rebalance_quiet_s=settings.rebalance_quiet_period.total_seconds(),
            ),
            default_ladder=lambda: _default_ladder(platform.live),
        )
    )
    await leadership.start()
    await prober.start()  # SERVING once the stores answer, and only while they do
    log.info("camfleet control plane listening on %s (port %d)", settings.listen, port)
    for where in agent_listeners:
        log.info("camfleet control plane listening on %s", where)
    return ControlPlane(
        server,
        port,
        engine,
        redis,
        health_servicer,
        prober,
        authenticator,
        generated,
        reads,
        events,
        hub,
        leadership,
        metrics,
        platform.live,
        camera_cache,
    )


async def _default_ladder(live: LiveSettings) -> tuple[str, ...]:
    """The live ladder of cameras without their own, as the settings in force say (a cached
    read: the scheduler asks each round)."""
    return (await live.current()).streaming.default_ladder
