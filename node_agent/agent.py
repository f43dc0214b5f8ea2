"""The node agent assembled: state from the data directory, nginx and its callback API, pull
cameras' ffmpeg (node_agent.pull), the /stat poller (node_agent.stat_poller), the ladders, WHEP
and the cold tier (node_agent.media_hooks), registration, the Connect stream, and revoked
publishes disconnected.
`await Agent(config).start()` … `stop()`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import cast

import grpc.aio
from aiohttp import web
from camfleet.v1 import agent_pb2_grpc

from node_agent import __version__
from node_agent.assignment import CurrentAssignment
from node_agent.callbacks import AgentCallbacks
from node_agent.config import AgentConfig
from node_agent.config_values import HostPort
from node_agent.connection import Connection
from node_agent.control_plane import (
    GrpcClipParts,
    GrpcKeyChecker,
    join,
    node_channel,
    open_channel,
)
from node_agent.credentials import Credential
from node_agent.desired import Assignment
from node_agent.grants import GrantCheck
from node_agent.hostmetrics import HostMetrics
from node_agent.http_api import build_app
from node_agent.live_access import HlsLinks, PlayTokens
from node_agent.media_hooks import MediaHooks
from node_agent.messages import AgentMessages, NodeInfo
from node_agent.metrics import AgentMetrics, MetricsListener
from node_agent.nginx.access import (
    SocketDir,
    WorkerAccount,
    hand_socket_to,
)
from node_agent.nginx.config import NginxLayout, NginxPorts, loopback_rtmp
from node_agent.nginx.runner import NginxRunner
from node_agent.node_tls import ControlPlaneTls, NodeStub, load_control_plane_tls
from node_agent.outbox import Outbox
from node_agent.playback_auth import PlaybackGate, PlaybackSecret
from node_agent.preflight import prepare
from node_agent.publish_auth import PublishGate, RateLimiter
from node_agent.pull.manager import PullManager
from node_agent.pull.puller import PullSettings
from node_agent.recording.index import SegmentIndex
from node_agent.recording.manager import RecordingManager, RecordingSettings
from node_agent.recording.tiers import node_tiers
from node_agent.recording_http import RecordedMedia
from node_agent.revocation import KeyRevoker
from node_agent.settings import InForce, SettingsApplier, flag_values, in_force
from node_agent.spool import Spool
from node_agent.stat_poller import StatPoller
from node_agent.state import DataDir
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)


class Agent:
    """One node agent. start() returns once nginx serves and the node has a credential (after
    registering with the join token, which waits for the control plane); stop() undoes it."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.data_dir = DataDir(config.data_dir)
        self.assignment = CurrentAssignment(self.data_dir)
        self.streams = StreamTracker()
        self.playback = PlaybackSecret(self.data_dir)
        # Recorded segments on this node's tiers (opened on first use).
        self.segments = SegmentIndex(
            self.data_dir.root / "recordings.db", node_tiers(config.data_dir, config.warm_dir)
        )
        self.credential: Credential | None = None
        self.media: RecordedMedia | None = None
        self.spool: Spool | None = None
        self.outbox: Outbox | None = None
        self.nginx: NginxRunner | None = None
        self.connection: Connection | None = None
        self.revoker: KeyRevoker | None = None
        self.recording: RecordingManager | None = None
        self.pulls: PullManager | None = None
        # The Unix sockets of nginx's internals and of the agent's API (nginx's callbacks).
        self.sockets: SocketDir | None = None
        self.play_tokens = PlayTokens()
        self._channel: grpc.aio.Channel | None = None
        # TLS to the control plane; the mutual-TLS channel node calls use (None: the above).
        self.tls = ControlPlaneTls()
        self._node_channel: grpc.aio.Channel | None = None
        self._stub = NodeStub(None)
        # GetClipParts, for clips spanning several nodes (set with the channel).
        self._clip_parts: GrpcClipParts | None = None
        self._api: web.AppRunner | None = None
        self.stat_poller: StatPoller | None = None
        self._poller: asyncio.Task[None] | None = None
        self.metrics: MetricsListener | None = None
        self.settings: SettingsApplier | None = None
        # The ladders, WHEP and the cold tier's settings.
        self.hooks = MediaHooks(
            config,
            play_token=self.play_tokens.issue,
            assignment=self.assignment,
            streams=self.streams,
            data_dir=self.data_dir,
            recording=lambda: self.recording,
        )

    @property
    def node_id(self) -> str:
        """This node's id ("" before registration)."""
        return self.credential.node_id if self.credential else ""

    async def start(self) -> None:
        """Bring up the data plane, register if needed, and open the Connect stream."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        config = self.config
        worker, self.credential = prepare(config, self.data_dir)
        self.assignment.load()
        # The flags, under the settings the stored assignment carries (kept across restarts).
        flags = flag_values(config)
        settings = in_force(flags, self.assignment.assignment.settings)
        self.playback.load()
        self.spool = Spool(self.data_dir.spool)
        self.outbox = Outbox(self.spool)
        self.tls = load_control_plane_tls(config.control_plane_ca, config.control_plane)
        self._channel = open_channel(
            str(config.control_plane), self.tls.credentials() if self.tls.enabled else None
        )
        stub = agent_pb2_grpc.AgentServiceStub(self._channel)
        self._stub.use(stub)
        node_stub = cast("agent_pb2_grpc.AgentServiceAsyncStub", self._stub)
        checker = GrpcKeyChecker(node_stub, lambda: self.credential, config.check_timeout_s)
        self._clip_parts = GrpcClipParts(node_stub, lambda: self.credential)
        gate = PublishGate(
            self.assignment,
            self.streams,
            checker,
            self.outbox,
            RateLimiter(config.unknown_key_limit, config.unknown_key_window_s),
        )
        layout = NginxLayout(self.data_dir.nginx)
        playback = PlaybackGate(self.playback, self.streams, self.assignment)
        self.hooks.open_whep(self.playback, playback.grants)
        callbacks = AgentCallbacks(
            gate,
            playback,
            self.streams,
            self.play_tokens,
            HlsLinks(layout.by_camera),
        )
        self.sockets = SocketDir.choose(layout.root / "run")
        self.sockets.create(worker)
        await self._start_api(callbacks, self.sockets, worker)
        self.nginx = NginxRunner(
            config.nginx_binary,
            layout,
            NginxPorts(
                rtmp_listen=str(config.rtmp_listen),
                http_listen=str(config.http_listen),
                stat_socket=self.sockets.stat_socket,
                agent_socket=self.sockets.agent_socket,
                user_directive=worker.directive,
                ingest_listen=str(config.ingest_listen or ""),
                http_tls=(
                    (config.http_tls_cert, config.http_tls_key)
                    if config.http_tls_cert and config.http_tls_key
                    else None
                ),
            ),
            settings.hls_fragment_s,
            worker,
            hls_playlist_length_s=settings.hls_playlist_length_s,
        )
        await self.nginx.start()
        self.revoker = KeyRevoker(self.streams, checker, self.nginx)
        self.stat_poller = StatPoller(
            self.nginx.stat,
            self.streams,
            self.outbox.emit,
            interval_s=config.stat_interval_s,
            fast_interval_s=config.stat_fast_interval_s,
        )
        self._poller = asyncio.create_task(self.stat_poller.run(), name="poll-stat")
        # Before registration: recording never waits for the control plane.
        self.recording = RecordingManager(
            RecordingSettings(
                rtmp_source=loopback_rtmp(str(config.rtmp_listen)),
                hls_root=self.nginx.layout.hls,
                play_token=self.play_tokens.issue,
                ffmpeg=config.ffmpeg_binary,
                ffprobe=config.ffprobe_binary,
                segment_s=settings.segment_s,
                min_free_bytes=settings.min_free_bytes,
                warm_after_s=settings.warm_after_s,
                log_dir=self.data_dir.root / "logs",
                housekeeping_interval_s=config.housekeeping_interval_s,
                segment_file=self.data_dir.root / "segment-seconds",
            ),
            self.segments,
            self.outbox,
            self.assignment,
            self.streams,
        )
        # The free-space floor drops exported clips before any recording.
        self.recording.housekeeper.exports = self.media.exports if self.media else None
        self.recording.cold.configure(settings.cold)
        await self.recording.start()
        self.hooks.start_ladders(self.nginx, self.recording)
        self.settings = SettingsApplier(
            flags,
            settings,
            recording=self._apply_recording,
            hls=self.nginx.set_hls,
            cold=self.hooks.apply_cold,
        )
        self.settings.start()
        # Pull cameras too run from the assignment on disk, before (and without) registration.
        self.pulls = PullManager(
            PullSettings(
                ffmpeg=config.ffmpeg_binary,
                rtmp_source=loopback_rtmp(str(config.rtmp_listen)),
                log_dir=self.data_dir.root / "logs",
            ),
            self.assignment,
            self.streams,
            self.outbox,
        )
        self.nginx.exit_listeners.append(self.pulls.nginx_exited)
        await self.pulls.start()
        if config.metrics_listen is not None:
            await self._start_metrics(config.metrics_listen)
        log.info(
            "data plane up: cameras publish to %s/<key>, HLS at %s",
            config.rtmp_url,
            config.http_url,
        )
        if self.credential is None:
            self.credential = await join(stub, config, self.data_dir, self.tls)
        channel, target = self._node_calls_via()
        messages = AgentMessages(
            credential=self.credential,
            info=NodeInfo(
                __version__,
                config.capacity,
                config.rtmp_url,
                config.http_url,
                config.cpu_cores,
            ),
            assignment=self.assignment,
            streams=self.streams,
            outbox=self.outbox,
            playback=self.playback,
            host=HostMetrics(self.data_dir.root),
            on_applied=self._assignment_applied,
            on_delete_segments=self.recording.delete_requested,
        )
        self.connection = Connection(
            channel,
            messages,
            credential=self.credential,
            outbox=self.outbox,
            credential_path=self.data_dir.credential,
            explain=partial(self.tls.explain, target=str(target)),
        )
        self.connection.start()

    def _node_calls_via(self) -> tuple[grpc.aio.Channel, HostPort]:
        """The channel and address of node calls: the mutual-TLS listener when configured."""
        config = self.config
        assert self._channel is not None
        if config.control_plane_mtls is None:
            return self._channel, config.control_plane
        self._node_channel = node_channel(config, self.data_dir, self.tls)
        self._stub.use(agent_pb2_grpc.AgentServiceStub(self._node_channel))
        return self._node_channel, config.control_plane_mtls

    def _assignment_applied(self, assignment: Assignment) -> None:
        """A new assignment is in force: revoked keys end, pulls follow it, settings apply."""
        if self.settings is not None:
            self.settings.want(assignment.settings)
        if self.revoker is not None:
            self.revoker.assignment_applied(assignment)
        if self.pulls is not None:
            self.pulls.assignment_applied(assignment)

    async def _apply_recording(self, settings: InForce) -> None:
        if self.recording is not None:
            await self.recording.apply_settings(*settings.recording)

    async def _start_api(
        self, callbacks: AgentCallbacks, sockets: SocketDir, worker: WorkerAccount
    ) -> None:
        """The callback API on its Unix socket, which only nginx's workers may connect to."""
        # Downloads, VOD and clips: signed URLs, files found through the segment index.
        self.media = RecordedMedia(
            lambda: self.playback.value,
            self.segments,
            self.data_dir.root / "exports",
            grants=GrantCheck(self.assignment),
            ffmpeg=self.config.ffmpeg_binary,
            ffprobe=self.config.ffprobe_binary,
            cold=lambda: self.recording.cold.store if self.recording else None,
            parts=self._clip_parts,
        )
        app = build_app(callbacks, self.media)
        self.hooks.add_routes(app, callbacks.hls_allowed)
        self._api = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._api.setup()
        await web.UnixSite(self._api, str(sockets.agent_socket)).start()
        hand_socket_to(sockets.agent_socket, worker)

    async def _start_metrics(self, listen: HostPort) -> None:
        """/metrics of this node's streams, recorders and disks on the operator's address."""
        tiers = {"hot": self.config.data_dir}
        if self.config.warm_dir is not None:
            tiers["warm"] = self.config.warm_dir
        self.metrics = MetricsListener(
            AgentMetrics(
                lambda: (self.node_id, self.config.name),
                __version__,
                self.streams,
                lambda: self.recording,
                tiers,
            )
        )
        await self.metrics.start(listen)

    async def stop(self) -> None:
        """Close the Connect stream cleanly, stop nginx (by PID), the API and the spool."""
        if self.metrics is not None:
            await self.metrics.close()
            self.metrics = None
        if self.connection is not None:
            await self.connection.stop()
            self.connection = None
        if self.settings is not None:
            await self.settings.stop()
            self.settings = None
        if self.pulls is not None:
            # Before nginx: each puller's ffmpeg is ended by its PID, not left to nginx's exit.
            await self.pulls.stop()
            self.pulls = None
        await self.hooks.stop()
        if self.recording is not None:
            # Each recorder closes, indexes and spools its last segment.
            await self.recording.stop()
            self.recording = None
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self.revoker is not None:
            await self.revoker.close()
            self.revoker = None
        if self.nginx is not None:
            await self.nginx.stop()
            self.nginx = None
        if self.media is not None:
            await self.media.close()
        if self._api is not None:
            await self._api.cleanup()
            self._api = None
        if self.sockets is not None:
            self.sockets.remove()
            self.sockets = None
        if self._node_channel is not None:
            await self._node_channel.close(grace=None)
            self._node_channel = None
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        self.segments.close()
