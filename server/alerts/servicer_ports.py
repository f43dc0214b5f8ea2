"""What AlertService needs from the alerting domain, one Protocol per area, on domain types
(server/alerts/model.py). The stores satisfy them directly or through server/alerts/wiring.py.

Every method raises the domain's errors: InvalidArgument naming the field (under "rule.",
"silence.", "channel.", "policy."), NotFound for an unknown id, AlreadyExists for a taken name,
FailedPrecondition for a state that forbids it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from server.alerts.model import (
    Alert,
    AlertState,
    Channel,
    DeliveryAttempt,
    Finding,
    Notification,
    Policy,
    Rule,
    Silence,
)
from server.common.listing import ListRequest, Page


class Previewed(Protocol):
    """One alert a preview would raise: its finding, PENDING or FIRING, since when."""

    @property
    def finding(self) -> Finding: ...
    @property
    def state(self) -> AlertState: ...
    @property
    def active_time(self) -> datetime: ...


class Preview(Protocol):
    """What a rule would fire for now, and how many things it looked at."""

    @property
    def alerts(self) -> Sequence[Previewed]: ...
    @property
    def evaluated(self) -> int: ...


class RulePort(Protocol):
    async def create(self, rule: Rule) -> Rule: ...
    async def list(self, request: ListRequest) -> Page[Rule]: ...
    async def get(self, rule_id: str) -> Rule: ...
    # `rule` (its id set) holds the new values of the fields `mask` names (alert.proto's names).
    async def update(self, rule: Rule, mask: Sequence[str]) -> Rule: ...
    async def delete(self, rule_id: str) -> None: ...


class PreviewPort(Protocol):
    async def preview(self, rule: Rule) -> Preview: ...


class AlertPort(Protocol):
    async def list(self, request: ListRequest) -> Page[Alert]: ...
    async def get(self, alert_id: str) -> Alert: ...
    async def acknowledge(self, alert_id: str, who: str, comment: str = "") -> Alert: ...
    async def unacknowledge(self, alert_id: str) -> Alert: ...


class SilencePort(Protocol):
    async def create(self, silence: Silence) -> Silence: ...
    # Each silence with the number of alerts it mutes now.
    async def list(self, request: ListRequest) -> Page[tuple[Silence, int]]: ...
    async def update(self, silence_id: str, paths: set[str], silence: Silence) -> Silence: ...
    async def expire(self, silence_id: str) -> Silence: ...
    async def matched(self, silence: Silence) -> int: ...


class ChannelPort(Protocol):
    # The stored channel and, for a webhook created without a secret, the generated one.
    async def create(self, channel: Channel) -> tuple[Channel, str]: ...
    async def list(self, request: ListRequest) -> Page[Channel]: ...
    async def get(self, channel_id: str) -> Channel: ...
    # `changes` holds the new values of what `update_mask` names (name, webhook, email.to...).
    async def update(
        self, channel_id: str, changes: Channel, update_mask: Iterable[str]
    ) -> Channel: ...
    async def delete(self, channel_id: str) -> None: ...
    async def test(self, channel_id: str) -> Notification: ...
    async def resume(self, channel_id: str) -> Channel: ...


class PolicyPort(Protocol):
    async def create(self, policy: Policy) -> Policy: ...
    async def list(self, request: ListRequest) -> Page[Policy]: ...
    async def update(self, policy_id: str, paths: set[str], policy: Policy) -> Policy: ...
    async def delete(self, policy_id: str) -> None: ...


class DeliveryLogPort(Protocol):
    async def notifications(self, request: ListRequest) -> Page[Notification]: ...
    async def attempts(self, request: ListRequest) -> Page[DeliveryAttempt]: ...


@dataclass(frozen=True)
class AlertPorts:
    """Everything AlertService calls."""

    rules: RulePort
    preview: PreviewPort
    alerts: AlertPort
    silences: SilencePort
    channels: ChannelPort
    policies: PolicyPort
    delivery_log: DeliveryLogPort
    # The event log's revision (ListAlerts returns it: watch from there for changes).
    revision: Callable[[], Awaitable[int]]
