"""AlertService's silences and notification policies: check the request, call the domain, map
the result."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import alert_pb2

from server.alerts.convert import silence_from_proto, silence_to_proto
from server.alerts.convert_channels import policy_from_proto, policy_to_proto
from server.alerts.servicer_ports import AlertPorts
from server.common.listing import ListRequest
from server.common.validation import require_id, resolve_update_mask
from server.db.models import utcnow
from server.errors import InvalidArgument
from server.identity.principal import current_principal

SILENCE_FIELDS = ("matchers", "start_time", "end_time", "comment")
POLICY_FIELDS = (
    "name",
    "order",
    "matchers",
    "severities",
    "channel_ids",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "send_resolved",
    "stop",
)


def _require(request: Any, name: str) -> Any:
    if not request.HasField(name):
        raise InvalidArgument.for_field(name, "is required")
    return getattr(request, name)


class SilencesMixin:
    """CreateSilence ... ExpireSilence, CreateNotificationPolicy ... DeleteNotificationPolicy."""

    _ports: AlertPorts

    async def CreateSilence(
        self, request: alert_pb2.CreateSilenceRequest, context: Any
    ) -> alert_pb2.CreateSilenceResponse:
        given = _require(request, "silence")
        if not given.HasField("end_time"):
            raise InvalidArgument.for_field("silence.end_time", "is required: when it ends")
        now = utcnow()
        silence = silence_from_proto(given, now)
        silence.id = ""
        silence.author = current_principal().actor
        created = await self._ports.silences.create(silence)
        matched = await self._ports.silences.matched(created)
        return alert_pb2.CreateSilenceResponse(silence=silence_to_proto(created, utcnow(), matched))

    async def ListSilences(
        self, request: alert_pb2.ListSilencesRequest, context: Any
    ) -> alert_pb2.ListSilencesResponse:
        page = await self._ports.silences.list(ListRequest.of(request))
        now = utcnow()  # after the read: what the store saw as active is active
        return alert_pb2.ListSilencesResponse(
            silences=[silence_to_proto(s, now, matched) for s, matched in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def UpdateSilence(
        self, request: alert_pb2.UpdateSilenceRequest, context: Any
    ) -> alert_pb2.UpdateSilenceResponse:
        given = _require(request, "silence")
        silence_id = require_id(given.id, "silence.id")
        paths = resolve_update_mask(request.update_mask.paths, SILENCE_FIELDS)
        if "end_time" in paths and not given.HasField("end_time"):
            raise InvalidArgument.for_field("silence.end_time", "is required: when it ends")
        now = utcnow()
        updated = await self._ports.silences.update(
            silence_id, paths, silence_from_proto(given, now)
        )
        matched = await self._ports.silences.matched(updated)
        return alert_pb2.UpdateSilenceResponse(silence=silence_to_proto(updated, utcnow(), matched))

    async def ExpireSilence(
        self, request: alert_pb2.ExpireSilenceRequest, context: Any
    ) -> alert_pb2.ExpireSilenceResponse:
        silence = await self._ports.silences.expire(require_id(request.id))
        return alert_pb2.ExpireSilenceResponse(silence=silence_to_proto(silence, utcnow()))

    async def CreateNotificationPolicy(
        self, request: alert_pb2.CreateNotificationPolicyRequest, context: Any
    ) -> alert_pb2.CreateNotificationPolicyResponse:
        policy = policy_from_proto(_require(request, "policy"))
        policy.id = ""
        created = await self._ports.policies.create(policy)
        return alert_pb2.CreateNotificationPolicyResponse(policy=policy_to_proto(created))

    async def ListNotificationPolicies(
        self, request: alert_pb2.ListNotificationPoliciesRequest, context: Any
    ) -> alert_pb2.ListNotificationPoliciesResponse:
        page = await self._ports.policies.list(ListRequest.of(request))
        return alert_pb2.ListNotificationPoliciesResponse(
            policies=[policy_to_proto(p) for p in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def UpdateNotificationPolicy(
        self, request: alert_pb2.UpdateNotificationPolicyRequest, context: Any
    ) -> alert_pb2.UpdateNotificationPolicyResponse:
        given = _require(request, "policy")
        policy_id = require_id(given.id, "policy.id")
        paths = resolve_update_mask(request.update_mask.paths, POLICY_FIELDS)
        updated = await self._ports.policies.update(policy_id, paths, policy_from_proto(given))
        return alert_pb2.UpdateNotificationPolicyResponse(policy=policy_to_proto(updated))

    async def DeleteNotificationPolicy(
        self, request: alert_pb2.DeleteNotificationPolicyRequest, context: Any
    ) -> alert_pb2.DeleteNotificationPolicyResponse:
        await self._ports.policies.delete(require_id(request.id))
        return alert_pb2.DeleteNotificationPolicyResponse()
