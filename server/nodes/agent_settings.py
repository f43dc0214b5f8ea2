"""The platform settings nodes apply, taken from the settings in force (server/settings), and
the follower that has every connected node's assignment recomputed when they change.

Only a group someone changed through SettingsService is sent (version > FIRST_START_VERSION:
the first start stores every group at version 1 from the control plane's flags, and the
node-side fields there are model defaults, not the nodes' own flags); until then its fields stay
unset and each node keeps its own flags, which are the first-start defaults. Once a group has
been changed, all its node-side fields are the platform's.

The follower polls the settings reader, which is a cached value refreshed on every replica when
a settings change arrives, so a poll costs nothing and a change made on any replica reaches
this replica's nodes within a poll of its reader's refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from server.common.tasks import raise_if_cancelling
from server.nodes.desired import AgentSettings, ColdStorage
from server.settings.model import Group, PlatformSettings, Settings

log = logging.getLogger(__name__)

# The version the first start stores every group at (server/settings/store.py, `ensure`).
FIRST_START_VERSION = 1
# How often the follower compares the settings in force with what nodes were last given.
POLL_INTERVAL_S = 1.0


def agent_settings(platform: PlatformSettings) -> AgentSettings:
    """What a node is told of `platform`: the changed groups' node-side fields, 0 elsewhere."""

    def changed(group: Group) -> bool:
        return platform.version(group) > FIRST_START_VERSION

    streaming = platform.streaming if changed(Group.STREAMING) else None
    recording = platform.recording if changed(Group.RECORDING) else None
    storage = platform.storage if changed(Group.STORAGE) else None
    return AgentSettings(
        hls_fragment_s=streaming.hls_fragment_s if streaming else 0.0,
        hls_playlist_length_s=streaming.hls_playlist_length_s if streaming else 0.0,
        segment_s=recording.segment_s if recording else 0.0,
        free_space_floor_bytes=storage.free_space_floor_bytes if storage else 0,
        warm_after_s=storage.warm_after_s if storage else 0.0,
        default_ladder=platform.streaming.default_ladder,
        cold=(
            ColdStorage(
                endpoint=storage.cold_endpoint,
                bucket=storage.cold_bucket,
                prefix=storage.cold_prefix,
                access_key=storage.cold_access_key,
                secret_key=storage.cold_secret_key,
                after_s=storage.cold_after_s,
                region=storage.cold_region,
            )
            if storage and storage.cold_enabled
            else None
        ),
    )


class AgentSettingsSource:
    """The node-side settings in force, read from the platform's settings reader."""

    def __init__(self, settings: Settings, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self._settings = settings
        self._poll_interval_s = poll_interval_s

    async def current(self) -> AgentSettings:
        """The settings every node is to apply now."""
        return agent_settings(await self._settings.current())

    async def follow(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` whenever the node-side settings change (every node's assignment
        then has to be recomputed); runs until cancelled."""
        last: AgentSettings | None = None
        while True:
            raise_if_cancelling()
            try:
                now = await self.current()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup under the reader: nodes keep theirs, retry
                raise_if_cancelling()
                log.exception("reading the settings nodes apply failed")
            else:
                if last is not None and now != last:
                    log.info("the settings nodes apply changed: %s", now)
                    on_change()
                last = now
            await asyncio.sleep(self._poll_interval_s)
