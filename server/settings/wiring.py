"""Settings' parts built for one control-plane process: the store, the live reader other domains
are given, and SettingsService. server/app.py calls `build_settings` once, before the domains
that read settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings as Config
from server.db.engine import Sessions
from server.db.outbox import stage_event
from server.settings import convert
from server.settings.history import SettingsChange
from server.settings.live import LiveSettings
from server.settings.model import from_config
from server.settings.servicer import SettingsServicer
from server.settings.store import SettingsStore


@dataclass
class SettingsParts:
    """What app.py uses: the reader to inject, and the servicer to register."""

    live: LiveSettings
    servicer: SettingsServicer


def _stage(session: AsyncSession, change: SettingsChange) -> None:
    event = convert.settings_event(change)
    stage_event(session, event.kind, event.subject, event.payload)


async def build_settings(sessions: Sessions, config: Config) -> SettingsParts:
    """Store the groups from the flags if this is the first start, read them, and build the
    service. Call `live.follow(events)` once the event log runs, `live.close()` on stop."""
    store = SettingsStore(sessions, on_change=_stage)
    live = LiveSettings(store)
    await live.start(from_config(config))
    return SettingsParts(live, SettingsServicer(store, live, sessions))
