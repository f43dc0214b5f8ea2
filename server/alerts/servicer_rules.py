"""AlertService's rules and alerts: check the request, call the domain, map the result."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import alert_pb2

from server.alerts.convert import alert_to_proto, previewed_to_proto, rule_from_proto, rule_to_proto
from server.alerts.servicer_ports import AlertPorts
from server.common.listing import ListRequest
from server.common.validation import require_id, resolve_update_mask
from server.errors import InvalidArgument
from server.identity.principal import current_principal

RULE_FIELDS = (
    "name",
    "description",
    "condition",
    "severity",
    "labels",
    "match_labels",
    "for",
    "keep_firing_for",
    "cooldown",
    "enabled",
)


def _require_rule(request: Any) -> alert_pb2.AlertRule:
    if not request.HasField("rule"):
        raise InvalidArgument.for_field("rule", "is required")
    rule: alert_pb2.AlertRule = request.rule
    return rule


class RulesMixin:
    """CreateAlertRule ... PreviewAlertRule, ListAlerts ... UnacknowledgeAlert."""

    _ports: AlertPorts

    async def CreateAlertRule(
        self, request: alert_pb2.CreateAlertRuleRequest, context: Any
    ) -> alert_pb2.CreateAlertRuleResponse:
        rule = rule_from_proto(_require_rule(request))
        rule.id = ""  # output only
        created = await self._ports.rules.create(rule)
        return alert_pb2.CreateAlertRuleResponse(rule=rule_to_proto(created))

    async def ListAlertRules(
        self, request: alert_pb2.ListAlertRulesRequest, context: Any
    ) -> alert_pb2.ListAlertRulesResponse:
        page = await self._ports.rules.list(ListRequest.of(request))
        return alert_pb2.ListAlertRulesResponse(
            rules=[rule_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def GetAlertRule(
        self, request: alert_pb2.GetAlertRuleRequest, context: Any
    ) -> alert_pb2.GetAlertRuleResponse:
        rule = await self._ports.rules.get(require_id(request.id))
        return alert_pb2.GetAlertRuleResponse(rule=rule_to_proto(rule))

    async def UpdateAlertRule(
        self, request: alert_pb2.UpdateAlertRuleRequest, context: Any
    ) -> alert_pb2.UpdateAlertRuleResponse:
        given = _require_rule(request)
        rule_id = require_id(given.id, "rule.id")
        paths = resolve_update_mask(request.update_mask.paths, RULE_FIELDS)
        message = alert_pb2.AlertRule()
        message.CopyFrom(given)
        if "condition" not in paths:
            # Not changed: any kind converts; the store keeps the stored condition.
            message.condition.CopyFrom(alert_pb2.AlertCondition(camera_offline={}))
        rule = rule_from_proto(message)
        rule.id = rule_id
        updated = await self._ports.rules.update(rule, list(request.update_mask.paths))
        return alert_pb2.UpdateAlertRuleResponse(rule=rule_to_proto(updated))

    async def DeleteAlertRule(
        self, request: alert_pb2.DeleteAlertRuleRequest, context: Any
    ) -> alert_pb2.DeleteAlertRuleResponse:
        await self._ports.rules.delete(require_id(request.id))
        return alert_pb2.DeleteAlertRuleResponse()

    async def PreviewAlertRule(
        self, request: alert_pb2.PreviewAlertRuleRequest, context: Any
    ) -> alert_pb2.PreviewAlertRuleResponse:
        rule = rule_from_proto(_require_rule(request))
        rule.id = ""
        preview = await self._ports.preview.preview(rule)
        return alert_pb2.PreviewAlertRuleResponse(
            alerts=[previewed_to_proto(a.finding, a.state, a.active_time) for a in preview.alerts],
            evaluated=preview.evaluated,
        )

    async def ListAlerts(
        self, request: alert_pb2.ListAlertsRequest, context: Any
    ) -> alert_pb2.ListAlertsResponse:
        # Taken before the query: watching from it may replay a change the list shows, never
        # misses one.
        revision = await self._ports.revision()
        page = await self._ports.alerts.list(ListRequest.of(request))
        return alert_pb2.ListAlertsResponse(
            alerts=[alert_to_proto(a) for a in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
            revision=revision,
        )

    async def GetAlert(
        self, request: alert_pb2.GetAlertRequest, context: Any
    ) -> alert_pb2.GetAlertResponse:
        alert = await self._ports.alerts.get(require_id(request.id))
        return alert_pb2.GetAlertResponse(alert=alert_to_proto(alert))

    async def AcknowledgeAlert(
        self, request: alert_pb2.AcknowledgeAlertRequest, context: Any
    ) -> alert_pb2.AcknowledgeAlertResponse:
        alert_id = require_id(request.id)
        alert = await self._ports.alerts.acknowledge(
            alert_id, current_principal().actor, request.comment
        )
        return alert_pb2.AcknowledgeAlertResponse(alert=alert_to_proto(alert))

    async def UnacknowledgeAlert(
        self, request: alert_pb2.UnacknowledgeAlertRequest, context: Any
    ) -> alert_pb2.UnacknowledgeAlertResponse:
        alert = await self._ports.alerts.unacknowledge(require_id(request.id))
        return alert_pb2.UnacknowledgeAlertResponse(alert=alert_to_proto(alert))
