"""The settings in force on one control-plane replica: read once at start, then re-read whenever
a settings event arrives on the event log, so a change made on any replica applies on every one
without a restart. Between events the cached value is served (reads cost nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.common.tasks import raise_if_cancelling
from server.eventlog.log import EventLog
from server.settings.model import PlatformSettings
from server.settings.store import SettingsStore

log = logging.getLogger(__name__)

# Subjects of settings events ("settings/<group>").
SUBJECT_PREFIX = "settings/"
# A re-read now and then as well, should an event ever be lost.
_SAFETY_REREAD_S = 60.0


class LiveSettings:
    """A `server.settings.model.Settings`: `current()` is the cached value."""

    def __init__(self, store: SettingsStore) -> None:
        self._store = store
        self._value = PlatformSettings()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def latest(self) -> PlatformSettings:
        """The cached value, for code that cannot await (the access-token lifetime cap)."""
        return self._value

    async def current(self) -> PlatformSettings:
        return self._value

    async def start(self, first: PlatformSettings) -> None:
        """Store the groups not stored yet from `first` (the flags) and read them all."""
        await self._store.ensure(first)
        self._value = await self._store.load()

    def follow(self, events: EventLog) -> None:
        """Re-read on every settings event from now on (until `close`)."""
        self._tasks = [
            asyncio.create_task(self._follow(events), name="settings-follower"),
            asyncio.create_task(self._reread(), name="settings-reread"),
        ]

    async def reload(self) -> PlatformSettings:
        """Read the stored settings now (after a change this replica made, before its event
        comes back)."""
        loaded = await self._store.load()
        # Versions only grow: a read that began before a newer one finished must not replace it.
        if sum(loaded.versions.values()) >= sum(self._value.versions.values()):
            self._value = loaded
        return self._value

    async def _follow(self, events: EventLog) -> None:
        while True:
            raise_if_cancelling()
            try:
                revision = await events.current_revision()
                # Read after taking the revision: a change committed in between is read here or
                # arrives as an event after it.
                await self.reload()
                async for stored in events.watch(revision):
                    if stored.subject.startswith(SUBJECT_PREFIX):
                        await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # compaction or a broken log: read again and go on following
                raise_if_cancelling()
                log.exception("the settings follower restarts")
            await asyncio.sleep(1.0)

    async def _reread(self) -> None:
        while True:
            await asyncio.sleep(_SAFETY_REREAD_S)
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: keep the settings in force
                raise_if_cancelling()
                log.warning("could not re-read the settings", exc_info=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
