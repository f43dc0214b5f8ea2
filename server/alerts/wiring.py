"""Alerting's parts built for one control-plane process: the stores behind AlertService, and the
leader's singleton jobs (evaluator, dispatcher, delivery) for `leadership.run_while_leader`.
server/app.py calls `build_alerts` once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.alerts_store import AlertsStore
from server.alerts.channels_store import ChannelStore
from server.alerts.delivery import Delivery
from server.alerts.delivery_log import list_delivery_attempts, list_notifications
from server.alerts.dispatcher import Dispatcher
from server.alerts.evaluate_state import AlertEvents
from server.alerts.evaluator import Evaluator
from server.alerts.model import DeliveryAttempt, Notification
from server.alerts.policies_store import PolicyStore
from server.alerts.routing import Routing
from server.alerts.rules_store import RulesStore
from server.alerts.senders.recorded import NewestSegments
from server.alerts.senders.registry import default_senders
from server.alerts.senders.snapshot import CameraStreams, camera_snapshots
from server.alerts.servicer import AlertServicer
from server.alerts.servicer_ports import AlertPorts
from server.alerts.silences import SilenceStore
from server.common.listing import ListRequest, Page
from server.db.engine import Sessions
from server.eventlog.log import EventLog
from server.nodes.presence import Presence
from server.recordings.media import RecordingMedia

Fence = Callable[[AsyncSession], Awaitable[int]]
Job = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Alerts:
    """What app.py registers: the servicer, and the jobs only the leader runs."""

    servicer: AlertServicer
    jobs: Mapping[str, Job] = field(default_factory=dict)


class _DeliveryLog:
    """ListNotifications and ListDeliveryAttempts (server/alerts/delivery_log.py)."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def notifications(self, request: ListRequest) -> Page[Notification]:
        return await list_notifications(self._sessions, request)

    async def attempts(self, request: ListRequest) -> Page[DeliveryAttempt]:
        return await list_delivery_attempts(self._sessions, request)


def build_alerts(
    sessions: Sessions,
    events: EventLog,
    alert_events: AlertEvents,
    *,
    fence: Fence,
    presence: Presence,
    cameras: CameraStreams,
    recordings: RecordingMedia | None = None,
) -> Alerts:
    """The alert stores, AlertService over them, and the leader's alerting jobs: the evaluator
    (rules -> alerts, routing marking groups due), the dispatcher (due groups ->
    notifications) and the delivery worker (notifications -> webhooks, e-mails with snapshots
    of `cameras` (live, or, with `recordings` to sign their URLs, the last frame they recorded),
    SMS)."""
    routing = Routing(alert_events=alert_events)
    evaluator = Evaluator(
        sessions, events, fence, alert_events, on_change=routing.on_change, presence=presence
    )
    ports = AlertPorts(
        rules=RulesStore(sessions, evaluator.transitions),
        preview=evaluator,
        alerts=AlertsStore(sessions, alert_events),
        silences=SilenceStore(sessions),
        channels=ChannelStore(sessions),
        policies=PolicyStore(sessions),
        delivery_log=_DeliveryLog(sessions),
        revision=events.current_revision,
    )
    recorded = NewestSegments(sessions, recordings) if recordings is not None else None
    snapshots = camera_snapshots(cameras, recordings=recorded)
    jobs = {
        "alert_evaluator": evaluator.run,
        "alert_dispatcher": Dispatcher(sessions, fence).run,
        "alert_delivery": Delivery(sessions, default_senders(snapshots)).run,
    }
    return Alerts(AlertServicer(ports), jobs)
