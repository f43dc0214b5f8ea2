"""AlertService's channels and delivery log: check the request, call the domain, map the result.
Secrets travel in only (CreateChannelResponse.generated_secret, once, is the one exception)."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import alert_pb2

from server.alerts.convert_channels import (
    attempt_to_proto,
    channel_from_proto,
    channel_to_proto,
    notification_to_proto,
)
from server.alerts.servicer_ports import AlertPorts
from server.common.listing import ListRequest
from server.common.validation import require_id
from server.errors import InvalidArgument


class ChannelsMixin:
    """CreateChannel ... ResumeChannel, ListNotifications, ListDeliveryAttempts."""

    _ports: AlertPorts

    async def CreateChannel(
        self, request: alert_pb2.CreateChannelRequest, context: Any
    ) -> alert_pb2.CreateChannelResponse:
        if not request.HasField("channel"):
            raise InvalidArgument.for_field("channel", "is required")
        channel = channel_from_proto(request.channel)
        channel.id = ""
        created, generated = await self._ports.channels.create(channel)
        return alert_pb2.CreateChannelResponse(
            channel=channel_to_proto(created), generated_secret=generated
        )

    async def ListChannels(
        self, request: alert_pb2.ListChannelsRequest, context: Any
    ) -> alert_pb2.ListChannelsResponse:
        page = await self._ports.channels.list(ListRequest.of(request))
        return alert_pb2.ListChannelsResponse(
            channels=[channel_to_proto(c) for c in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def GetChannel(
        self, request: alert_pb2.GetChannelRequest, context: Any
    ) -> alert_pb2.GetChannelResponse:
        channel = await self._ports.channels.get(require_id(request.id))
        return alert_pb2.GetChannelResponse(channel=channel_to_proto(channel))

    async def UpdateChannel(
        self, request: alert_pb2.UpdateChannelRequest, context: Any
    ) -> alert_pb2.UpdateChannelResponse:
        if not request.HasField("channel"):
            raise InvalidArgument.for_field("channel", "is required")
        given = request.channel
        channel_id = require_id(given.id, "channel.id")
        mask = [p.strip() for p in request.update_mask.paths]
        message = alert_pb2.Channel()
        message.CopyFrom(given)
        if given.WhichOneof("config") is None:
            # The configuration is not changed: any kind converts; the store keeps the stored
            # one (and says so when the mask names a configuration field).
            message.webhook.CopyFrom(alert_pb2.WebhookConfig())
            mask = ["name"] if mask == ["*"] else mask
        updated = await self._ports.channels.update(channel_id, channel_from_proto(message), mask)
        return alert_pb2.UpdateChannelResponse(channel=channel_to_proto(updated))

    async def DeleteChannel(
        self, request: alert_pb2.DeleteChannelRequest, context: Any
    ) -> alert_pb2.DeleteChannelResponse:
        await self._ports.channels.delete(require_id(request.id))
        return alert_pb2.DeleteChannelResponse()

    async def TestChannel(
        self, request: alert_pb2.TestChannelRequest, context: Any
    ) -> alert_pb2.TestChannelResponse:
        notification = await self._ports.channels.test(require_id(request.id))
        return alert_pb2.TestChannelResponse(notification=notification_to_proto(notification))

    async def ResumeChannel(
        self, request: alert_pb2.ResumeChannelRequest, context: Any
    ) -> alert_pb2.ResumeChannelResponse:
        channel = await self._ports.channels.resume(require_id(request.id))
        return alert_pb2.ResumeChannelResponse(channel=channel_to_proto(channel))

    async def ListNotifications(
        self, request: alert_pb2.ListNotificationsRequest, context: Any
    ) -> alert_pb2.ListNotificationsResponse:
        page = await self._ports.delivery_log.notifications(ListRequest.of(request))
        return alert_pb2.ListNotificationsResponse(
            notifications=[notification_to_proto(n) for n in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def ListDeliveryAttempts(
        self, request: alert_pb2.ListDeliveryAttemptsRequest, context: Any
    ) -> alert_pb2.ListDeliveryAttemptsResponse:
        page = await self._ports.delivery_log.attempts(ListRequest.of(request))
        return alert_pb2.ListDeliveryAttemptsResponse(
            attempts=[attempt_to_proto(a) for a in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )
