"""The node agent assembled: state from the data directory, nginx and its callback API, pull
cameras' ffmpeg (node_agent.pull), the /stat poller, registration, the Connect stream, and
revoked publishes disconnected.
`await Agent(config).start()` … `stop()`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc.aio
from aiohttp import web
from camfleet.v1 import agent_pb2_grpc

from node_agent import __version__
from node_agent.assignment import CurrentAssignment
from node_agent.config import AgentConfig
from node_agent.connection import Connection
from node_agent.control_plane import GrpcKeyChecker, open_channel, register_node
from node_agent.credentials import Credential, load_credential, save_credential
from node_agent.desired import Assignment
from node_agent.errors import ConfigError, StartupError
from node_agent.grants import GrantCheck
from node_agent.hostmetrics import HostMetrics
from node_agent.http_api import PublishDecision, build_app
from node_agent.live_access import HlsLinks, PlayTokens
from node_agent.messages import AgentMessages, NodeInfo
from node_agent.nginx.access import (
    SocketDir,
    WorkerAccount,
    hand_socket_to,
    open_data_dir,
    worker_account,
)
from node_agent.nginx.config import NginxLayout, NginxPorts, loopback_rtmp
from node_agent.nginx.runner import NginxRunner, ensure_can_bind
from node_agent.outbox import Outbox
from node_agent.playback_auth import PlaybackGate, PlaybackSecret
from node_agent.publish_auth import PublishGate, RateLimiter
from node_agent.pull.manager import PullManager
from node_agent.pull.puller import PullSettings
from node_agent.recording.index import SegmentIndex
from node_agent.recording.manager import RecordingManager, RecordingSettings
from node_agent.recording.tiers import node_tiers
from node_agent.recording_http import RecordedMedia
from node_agent.revocation import KeyRevoker
from node_agent.spool import Spool
from node_agent.state import DataDir
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)


class AgentCallbacks:
    """node_agent.http_api.Callbacks: publishes to the PublishGate, HLS to the PlaybackGate,
    recorders' plays to their one-time tokens."""

    def __init__(
        self,
        publish: PublishGate,
        playback: PlaybackGate,
        streams: StreamTracker,
        tokens: PlayTokens,
        links: HlsLinks,
    ) -> None:
        self._publish = publish
        self._playback = playback
        self._streams = streams
        self._tokens = tokens
        self._links = links

    async def on_publish(self, stream_key: str, remote_address: str) -> PublishDecision:
        """Decide on a publish."""
        return await self._publish.on_publish(stream_key, remote_address)

    async def on_publish_done(self, stream_key: str, remote_address: str) -> None:
        """A publisher went away."""
        await self._publish.on_publish_done(stream_key, remote_address)

    def hls_allowed(self, camera_id: str, grant: str, expires: int, signature: str) -> bool:
        """A valid signed HLS URL: its camera's link points at the stream's directory."""
        key = self._playback.hls_stream_dir(camera_id, grant, expires, signature)
        return key is not None and self._links.link(camera_id, key)

    def on_play(self, camera_id: str, token: str) -> str | None:
        """The key of `camera_id`'s live stream, for a recorder holding a token for it."""
        if not self._tokens.redeem(camera_id, token):
            return None
        live = self._streams.by_camera(camera_id)
        return live.stream_key if live is not None and not live.end_reason else None


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
        self._api: web.AppRunner | None = None
        self._poller: asyncio.Task[None] | None = None

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
        try:
            self.data_dir.create()
            worker = worker_account(
                self.data_dir.root, *([config.warm_dir] if config.warm_dir else [])
            )
            open_data_dir(self.data_dir.root, worker)
        except OSError as exc:
            raise StartupError(f"cannot create --data-dir {config.data_dir}: {exc}") from None
        self.credential = load_credential(self.data_dir)
        if self.credential is None and not config.join_token:
            raise ConfigError(
                f"this node has no credential ({self.data_dir.credential}) and no join token: "
                "create one with NodeService.CreateJoinToken and start the agent with "
                "--join-token TOKEN (or CAMFLEET_JOIN_TOKEN)"
            )
        if self.credential is not None and config.join_token:
            log.info("using the stored credential of node %s; --join-token ignored", self.node_id)
        ensure_can_bind("--rtmp-listen", config.rtmp_listen)
        ensure_can_bind("--http-listen", config.http_listen)
        if config.ingest_listen is not None:
            ensure_can_bind("--ingest-listen", config.ingest_listen)
        self.assignment.load()
        self.playback.load()
        self.spool = Spool(self.data_dir.spool)
        self.outbox = Outbox(self.spool)
        self._channel = open_channel(str(config.control_plane))
        stub = agent_pb2_grpc.AgentServiceStub(self._channel)
        checker = GrpcKeyChecker(stub, lambda: self.credential, config.check_timeout_s)
        gate = PublishGate(
            self.assignment,
            self.streams,
            checker,
            self.outbox,
            RateLimiter(config.unknown_key_limit, config.unknown_key_window_s),
        )
        layout = NginxLayout(self.data_dir.nginx)
        callbacks = AgentCallbacks(
            gate,
            PlaybackGate(self.playback, self.streams, self.assignment),
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
            ),
            config.hls_fragment_s,
            worker,
        )
        await self.nginx.start()
        self.revoker = KeyRevoker(self.streams, checker, self.nginx)
        self._poller = asyncio.create_task(self._poll_stat(), name="poll-stat")
        # Before registration: recording never waits for the control plane.
        self.recording = RecordingManager(
            RecordingSettings(
                rtmp_source=loopback_rtmp(str(config.rtmp_listen)),
                hls_root=self.nginx.layout.hls,
                play_token=self.play_tokens.issue,
                ffmpeg=config.ffmpeg_binary,
                ffprobe=config.ffprobe_binary,
                segment_s=config.segment_s,
                min_free_bytes=config.min_free_bytes,
                warm_after_s=config.warm_after_s,
                log_dir=self.data_dir.root / "logs",
                housekeeping_interval_s=config.housekeeping_interval_s,
            ),
            self.segments,
            self.outbox,
            self.assignment,
            self.streams,
        )
        # The free-space floor drops exported clips before any recording.
        self.recording.housekeeper.exports = self.media.exports if self.media else None
        await self.recording.start()
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
        await self.pulls.start()
        log.info(
            "data plane up: cameras publish to %s/<key>, HLS at %s",
            config.rtmp_url,
            config.http_url,
        )
        if self.credential is None:
            credential = await register_node(
                stub, config.join_token, config.name, labels=config.labels
            )
            save_credential(self.data_dir, credential)
            self.credential = credential
        messages = AgentMessages(
            credential=self.credential,
            info=NodeInfo(__version__, config.capacity, config.rtmp_url, config.http_url),
            assignment=self.assignment,
            streams=self.streams,
            outbox=self.outbox,
            playback=self.playback,
            host=HostMetrics(self.data_dir.root),
            on_applied=self._assignment_applied,
            on_delete_segments=self.recording.delete_requested,
        )
        self.connection = Connection(
            self._channel,
            messages,
            credential=self.credential,
            outbox=self.outbox,
            credential_path=self.data_dir.credential,
        )
        self.connection.start()

    def _assignment_applied(self, assignment: Assignment) -> None:
        """A new assignment is in force: revoked keys end, pulls follow it."""
        if self.revoker is not None:
            self.revoker.assignment_applied(assignment)
        if self.pulls is not None:
            self.pulls.assignment_applied(assignment)

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
        )
        app = build_app(callbacks, self.media)
        self._api = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._api.setup()
        await web.UnixSite(self._api, str(sockets.agent_socket)).start()
        hand_socket_to(sockets.agent_socket, worker)

    async def _poll_stat(self) -> None:
        """Read nginx's /stat every stat_interval_s: metrics for reports, MEDIA and vanished
        streams as events."""
        assert self.nginx is not None and self.outbox is not None
        while True:
            try:
                stats = await self.nginx.stat()
                if stats is not None:
                    for event in self.streams.observe(stats):
                        await self.outbox.emit(event)
            except Exception:
                log.exception("reading nginx's stream statistics failed")
            await asyncio.sleep(self.config.stat_interval_s)

    async def stop(self) -> None:
        """Close the Connect stream cleanly, stop nginx (by PID), the API and the spool."""
        if self.connection is not None:
            await self.connection.stop()
            self.connection = None
        if self.pulls is not None:
            # Before nginx: each puller's ffmpeg is ended by its PID, not left to nginx's exit.
            await self.pulls.stop()
            self.pulls = None
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
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        self.segments.close()
