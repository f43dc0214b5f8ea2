"""What the control plane does with an agent's messages: the Hello, heartbeats, stream and
recording events, assignment ACKs and NACKs.

The camera stream states move by the pure transitions of server/nodes/stream_state.py; this
module carries out their effects (status writes, presence, audit) and keeps presence fresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial

from server.db.models import StreamEventRow, utcnow
from server.db.wait import database_away
from server.errors import InvalidArgument
from server.nodes.agent_wire import Heartbeat, Hello
from server.nodes.connect_info import Connected
from server.nodes.hub_deps import HubFeeds, NodeStores
from server.nodes.live import HostMetrics, LiveStream, StreamEvent, StreamEventKind
from server.nodes.liveness import NodeLiveness
from server.nodes.metrics_events import describe
from server.nodes.session import NodeSession
from server.nodes.stream_state import (
    Effect,
    PublishRefused,
    SetStatus,
    StreamEnded,
    on_event,
    on_hello,
    on_report,
    reconciled,
)
from server.recordings.causes import AGENT_RESTARTED_REASON
from server.recordings.ingest import UnusableEvent
from server.recordings.reports import (
    RecordingReport,
    SegmentReport,
    StreamStop,
    StreamStopReport,
)

log = logging.getLogger(__name__)

# Stream events that may open a recording gap (server.recordings.gaps).
_STOPS = {
    StreamEventKind.UNPUBLISH: StreamStop.UNPUBLISHED,
    StreamEventKind.ERROR: StreamStop.FAILED,
}


class SessionMessages:
    """Handles the messages of every session on this replica (a `MessageHandler`)."""

    def __init__(self, stores: NodeStores, feeds: HubFeeds, liveness: NodeLiveness) -> None:
        self._stores = stores
        self._feeds = feeds
        self._liveness = liveness

    async def hello(self, session: NodeSession, hello: Hello) -> None:
        """Record a Hello: the node READY, its cameras reconciled to what it really streams."""
        presence, node_id = self._stores.presence, session.node_id
        heard = await presence.last_heartbeat(node_id)
        # Presence first, and fresh until the Hello is recorded: the sweeper must never see the
        # node READY without a recent heartbeat.
        async with self._liveness.connecting(node_id):
            streams = await self._connected(session, hello, heard)
        # Counted from the end of the handshake, not its start, and with a startup grace: under
        # a connect storm the writes above wait their turn for seconds, and the first heartbeat
        # comes only after the Welcome.
        await presence.heartbeat(node_id, self._liveness.heard_at_connect(), HostMetrics(), streams)
        log.info("node %s connected (%d live streams)", session.name, len(streams))

    async def _connected(
        self, session: NodeSession, hello: Hello, heard: float | None
    ) -> list[LiveStream]:
        """The Hello's writes: the node READY, its cameras reconciled; its live streams."""
        presence, node_id, now = self._stores.presence, session.node_id, hello.at
        connected = await self._stores.registry.connected(node_id, hello.node, now)
        row = connected.row
        session.name = row.name
        silent_since = ended_unannounced(connected, heard, hello.uptime_s)
        if silent_since is not None:
            # Before its cameras are reconciled: the gaps are for what it was recording.
            log.warning("node %s restarted without a goodbye (silent since %s)", row.name, heard)
            # Back since the new agent started (by its clock, as its segments are stamped).
            await self._stores.registry.restarted(node_id, now - timedelta(seconds=hello.uptime_s))
            await self._stores.recordings.node_lost(node_id, silent_since, AGENT_RESTARTED_REASON)
        # Its READY event was staged with the change (before the cameras it brings back, as it
        # happened). Its node-lost gaps stay open: the segments it spooled meanwhile (ingested
        # next) or the camera's next segment anywhere close them where recording really
        # resumed, which a Hello does not say.
        streams = []
        for report in hello.streams:
            state = session.streams[report.camera_id] = on_hello(report, now)
            streams.append(LiveStream.reported(report, state.status, node_id, now))
        # What the node streams now is the truth, whatever older events said.
        live = reconciled(session.streams)
        changed = await self._stores.status.reconcile_node(
            node_id, live, now, f"not streaming on node {row.name} when it reconnected"
        )
        await presence.drop_streams(c.id for c in changed if c.id not in live)
        return streams

    async def heartbeat(
        self, session: NodeSession, beat: Heartbeat
    ) -> Callable[[], Awaitable[None]] | None:
        """Record the heartbeat in presence now; return what remains to write, in order, as a
        job the session may try again while the database is away (None: nothing, as for most
        heartbeats: no status moved and no metrics are due to show)."""
        now = utcnow()
        # How much longer than this node's best this heartbeat took to be read: a backlog in this
        # process (unread messages wait in gRPC's buffers, which the loop-lag sampler cannot
        # see). Liveness allows for it rather than blame the nodes (the offset cancels out).
        delivery = now.timestamp() - beat.at.timestamp()
        session.fastest_delivery_s = min(session.fastest_delivery_s, delivery)
        self._liveness.lag.note(delivery - session.fastest_delivery_s)
        streams: list[LiveStream] = []
        effects: list[Effect] = []
        # Ten reports per heartbeat, a thousand heartbeats a second on a big fleet: the loop
        # makes one LiveStream per report and nothing else unless a state moves.
        states, node_id, at = session.streams, session.node_id, beat.at
        for report in beat.streams:
            state = states.get(report.camera_id)
            if state is None or not state.live:
                continue  # not shown (its PUBLISH may still be in the spool, or it ended)
            step = on_report(state, report, at)
            if step is not None and step.state is not None:  # (a report's step always has one)
                state = states[report.camera_id] = step.state
                effects.extend(step.effects)
            # Positional, in LiveStream's field order (LiveStream.reported, without the call).
            streams.append(
                LiveStream(report.camera_id, state.status, node_id, now, "", report.metrics)
            )
        await self._stores.presence.heartbeat(node_id, time.time(), beat.host, streams)
        # A turn on the session's worker only when there is something to write: queueing a
        # heartbeat that writes nothing cost a task switch per heartbeat.
        if effects or session.metrics.any_due(streams, time.monotonic()):
            return partial(self._after_heartbeat, session, effects, streams)
        return None

    async def _after_heartbeat(
        self, session: NodeSession, effects: list[Effect], streams: list[LiveStream]
    ) -> None:
        """The heartbeat's status changes (level-setting, so a second try is harmless), then
        its metric events. Those are samples, shown again at their next interval: one the
        database could not take is dropped rather than tried again (retrying it would only
        hold up the node's next messages and retry the status changes before it)."""
        await self._carry_out(session, effects)
        for stream in streams:
            if session.metrics.should_publish(stream, time.monotonic()):
                try:
                    await self._feeds.publisher.stream_updated(stream, describe(stream))
                except Exception as exc:
                    if not database_away(exc):
                        raise
                    log.info(
                        "node %s: a stream sample was not shown: the database is away", session.name
                    )
                    return

    async def stream_event(
        self, session: NodeSession, event_id: str, event: StreamEvent | None
    ) -> None:
        """Store the event once by its id; a new one moves the camera's stream state."""
        if event is None:
            # Acknowledged and dropped: an event no one can use must not block the spool
            # behind it forever.
            log.warning("node %s sent an unusable stream event %s", session.name, event_id)
            session.ack(event_id)
            return
        new = await self._stores.stream_events.record(
            StreamEventRow(
                id=event_id,
                node_id=session.node_id,
                camera_id=event.camera_id,
                type=event.kind.value,
                message=event.message,
                remote_address=event.remote_address,
                time=event.at,
                received_at=utcnow(),
            )
        )
        if new:
            stop = _STOPS.get(event.kind)
            if stop is not None:
                # Before the status moves: the gap is judged by the node that had the camera.
                await self._stores.recordings.stream_stopped(
                    session.node_id,
                    StreamStopReport(event.camera_id, stop, event.message, event.at),
                )
            step = on_event(session.streams.get(event.camera_id), event)
            if step.state is not None:
                session.streams[event.camera_id] = step.state
            await self._carry_out(session, step.effects)
        session.ack(event_id)

    async def _carry_out(self, session: NodeSession, effects: Iterable[Effect]) -> None:
        node_id = session.node_id
        # A stream's end leaves presence before its camera's status says so. A session that
        # ends between the two (its agent gone right after the unpublish) must not leave the
        # stream listed live for good behind an OFFLINE camera (nothing would drop it later);
        # a status not yet written is set OFFLINE when the node reconnects or is lost.
        for effect in sorted(effects, key=lambda e: not isinstance(e, StreamEnded)):
            if isinstance(effect, SetStatus):
                await self._stores.status.set(
                    effect.camera_id, effect.status, effect.reason, node_id, effect.at
                )
            elif isinstance(effect, StreamEnded):
                session.metrics.forget(effect.camera_id)
                await self._stores.presence.drop_streams([effect.camera_id])
            elif isinstance(effect, PublishRefused):
                camera_id = effect.camera_id
                await self._feeds.audit.security_event(
                    "stream.publish_refused",
                    f"cameras/{camera_id}" if camera_id else f"nodes/{node_id}",
                    actor=f"node:{session.name}",
                    details={
                        "reason": effect.reason,
                        "publisher_address": effect.remote_address,
                        "key_prefix": effect.key_prefix,
                    },
                )

    async def recording_event(
        self, session: NodeSession, event_id: str, event: RecordingReport, at: datetime
    ) -> None:
        """Hand a segment or recorder event to the recordings ingest, then acknowledge it."""
        recordings = self._stores.recordings
        try:
            if isinstance(event, SegmentReport):
                await recordings.segment_event(session.node_id, event_id, event, at)
            else:
                await recordings.recorder_event(session.node_id, event_id, event, at)
        except UnusableEvent as why:
            # Acknowledged and dropped, like an unusable stream event.
            log.warning("node %s sent an unusable event %s: %s", session.name, event_id, why)
        session.ack(event_id)

    async def ack(self, session: NodeSession, version: int) -> None:
        """The agent applied assignment `version` (only the latest one sent is recorded)."""
        if version > session.sent_version:
            raise InvalidArgument(
                f"acknowledged assignment version {version}, which was never sent (the latest "
                f"is {session.sent_version})"
            )
        if version == session.sent_version:
            await self._stores.registry.acknowledged(session.node_id, version)
            # A camera placed (back) on this node that it already streams: no event will come.
            live = reconciled(session.streams)
            if live:
                await self._stores.status.reconcile_node(session.node_id, live, utcnow(), None)
        else:
            log.info("node %s acknowledged old assignment %d", session.name, version)

    async def nack(self, session: NodeSession, version: int, error: str) -> None:
        """The agent refused assignment `version`: logged and audited."""
        log.warning("node %s refused assignment %d: %s", session.name, version, error[:500])
        await self._feeds.audit.security_event(
            "node.assignment_refused",
            f"nodes/{session.node_id}",
            outcome="failure",
            actor=f"node:{session.name}",
            details={"version": str(version), "error": error[:500]},
        )


def ended_unannounced(
    connected: Connected, heard: float | None, uptime_s: float
) -> datetime | None:
    """When a node whose agent just connected went silent, if the agent before this one ended
    without a goodbye and unnoticed: the node was READY (not declared lost, which opened its
    gaps already, nor gone OFFLINE with a goodbye) and this agent started after the node's last
    heartbeat (presence's, else the one last persisted). A reconnect of a running agent (its
    link, or the replica under its stream, broke) started long before. None otherwise, and for
    an agent that does not say its uptime."""
    if not connected.was_ready or uptime_s <= 0:
        return None
    last = connected.last_heartbeat_at
    if heard is not None:
        last = datetime.fromtimestamp(heard, UTC)
    if last is None:
        return None
    started = time.time() - uptime_s
    return last if started > last.timestamp() else None
