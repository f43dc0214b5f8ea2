"""camfleet.v1.SettingsService over the settings store: check input, call the domain, map back.
The guard has checked settings.read / settings.write (server/auth/permissions.py)."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import settings_pb2, settings_pb2_grpc

from server.settings import convert
from server.settings.history import list_history
from server.settings.live import LiveSettings
from server.settings.store import SettingsStore


class SettingsServicer(settings_pb2_grpc.SettingsServiceServicer):
    """GetSettings, UpdateSettings, ListSettingsHistory."""

    def __init__(self, store: SettingsStore, live: LiveSettings, sessions: Any) -> None:
        self._store = store
        self._live = live
        self._sessions = sessions

    async def GetSettings(
        self, request: settings_pb2.GetSettingsRequest, context: Any
    ) -> settings_pb2.GetSettingsResponse:
        only = convert.group_from_proto(request.group)
        # The database, not this replica's cache: a caller who just changed a group on another
        # replica reads their change.
        value, revisions = await self._store.load_with_revisions()
        return settings_pb2.GetSettingsResponse(
            settings=convert.settings_to_proto(value, revisions, only)
        )

    async def UpdateSettings(
        self, request: settings_pb2.UpdateSettingsRequest, context: Any
    ) -> settings_pb2.UpdateSettingsResponse:
        group, changes, version = convert.update_from_proto(request)
        await self._store.update(group, changes, version)
        # Applied here at once; other replicas re-read on the change's event.
        await self._live.reload()
        value, revisions = await self._store.load_with_revisions()
        return settings_pb2.UpdateSettingsResponse(
            settings=convert.settings_to_proto(value, revisions, group)
        )

    async def ListSettingsHistory(
        self, request: settings_pb2.ListSettingsHistoryRequest, context: Any
    ) -> settings_pb2.ListSettingsHistoryResponse:
        page = await list_history(
            self._sessions,
            convert.group_from_proto(request.group),
            request.page_size,
            request.page_token,
        )
        return convert.history_to_proto(page)
