"""Cameras: validation, CRUD, stream keys, activation, recording flags, batch actions, URLs."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from camfleet.playback import Grant
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.cameras.cache import CameraCache
from server.cameras.fields import (
    UPDATABLE_FIELDS,
    CameraFields,
    check_labels,
    check_live_ladder,
    check_node_selector,
    check_retention,
    check_source_url,
    name_key,
)
from server.cameras.model import CameraAction, CameraStatus, ChangeKind, ChangeListener, IngestMode
from server.cameras.playback import hls_url, ladder_url
from server.cameras.reads import CameraRecord, list_cameras, read_camera
from server.common.ladder import encodes
from server.common.listing import (
    ListRequest,
    Page,
)
from server.common.validation import clean_text, require_id, resolve_update_mask
from server.db.fast_reads import FastReads
from server.db.models import CameraLabelRow, CameraRow, utcnow
from server.errors import AlreadyExists, InvalidArgument, NotFound
from server.recordings import gaps as recording_gaps
from server.settings.model import FixedSettings, Settings

MAX_BATCH = 1000


def new_stream_key() -> str:
    """192 random bits, URL-safe: unguessable and usable as an RTMP stream name."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class StreamUrls:
    """Where to publish and where to watch."""

    rtmp_publish_url: str
    hls_playback_url: str
    expires_at: datetime
    # The master playlist of the camera's ladder ("" when its ladder is the source alone).
    hls_ladder_url: str = ""


# The class below has a method called `list`, which hides the builtin in its annotations.
CameraRows = list[CameraRow]


# (rtmp base URL, http base URL) of the node for a camera (its own node if READY, else any
# READY one), or None when no node is up.
NodeLocator = Callable[[str | None], Awaitable[tuple[str, str] | None]]


async def _no_nodes(node_id: str | None) -> tuple[str, str] | None:
    return None


def _ignore_change(session: AsyncSession, kind: ChangeKind, row: CameraRow, message: str) -> None:
    return None


def _batch_change(action: CameraAction) -> tuple[ChangeKind, str]:
    """The kind of event a batch action makes, and how its message says it."""
    if action is CameraAction.DELETE:
        return ChangeKind.DELETED, "was deleted"
    return ChangeKind.UPDATED, f"was changed ({action.value.replace('_', ' ')})"


def _column_changes(paths: set[str], fields: CameraFields) -> dict[str, object]:
    """The checked new values of the columns `paths` names (source URL and labels aside: they
    depend on the stored row), by column name."""
    changes: dict[str, object] = {}
    if "name" in paths:
        changes["name"] = clean_text(fields.name, "camera.name", max_len=200, required=True)
    if "description" in paths:
        changes["description"] = clean_text(
            fields.description, "camera.description", max_len=2000, multiline=True
        )
    if "location" in paths:
        changes["location"] = clean_text(fields.location, "camera.location", max_len=200)
    if "active" in paths:
        changes["active"] = fields.active
    if "recording_enabled" in paths:
        changes["recording_enabled"] = fields.recording_enabled
    if "ingest_mode" in paths:
        if fields.ingest_mode is None:
            raise InvalidArgument.for_field(
                "camera.ingest_mode", "must be INGEST_MODE_PUSH or INGEST_MODE_PULL"
            )
        changes["ingest_mode"] = fields.ingest_mode.value
    if "recording_profile" in paths:
        changes["recording_profile"] = fields.recording_profile or "original"
    max_age, max_bytes = check_retention(fields)
    if "retention_max_age" in paths:
        changes["retention_max_age_s"] = max_age
    if "retention_max_bytes" in paths:
        changes["retention_max_bytes"] = max_bytes
    if "node_selector" in paths:
        changes["node_selector"] = check_node_selector(fields.node_selector)
    if "live_ladder" in paths:
        changes["live_ladder"] = check_live_ladder(fields.live_ladder)
    return changes


class CameraService:
    """Domain logic of CameraService."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: FastReads,
        *,
        ingest_rtmp_url: str,
        hls_base_url: str,
        playback_secret: bytes,
        playback_ttl: timedelta,
        on_change: ChangeListener = _ignore_change,
        locate_node: NodeLocator = _no_nodes,
        settings: Settings | None = None,
        cache: CameraCache[CameraRecord] | None = None,
    ) -> None:
        """`cache`: GetCamera and ListCameras answered in memory, kept exact by the event log
        (server/cameras/cache.py); None: every read asks the database."""
        self._sessions = sessions
        self.cache = cache
        # Where a new camera's default recording profile and retention come from.
        self._settings: Settings = settings or FixedSettings()
        self._locate_node = locate_node
        self._on_change = on_change
        self._reads = reads
        self._ingest = ingest_rtmp_url
        self._hls_base = hls_base_url
        self._playback_secret = playback_secret
        self._playback_ttl = playback_ttl

    async def create(self, fields: CameraFields) -> CameraRow:
        """Create a camera with a fresh stream key; names are unique case-insensitively."""
        name = clean_text(fields.name, "camera.name", max_len=200, required=True)
        mode = fields.ingest_mode or IngestMode.PUSH
        now = utcnow()
        row = CameraRow(
            name=name,
            name_key=name_key(name),
            description=clean_text(
                fields.description, "camera.description", max_len=2000, multiline=True
            ),
            location=clean_text(fields.location, "camera.location", max_len=200),
            ingest_mode=mode.value,
            source_url=check_source_url(fields.source_url, mode),
            active=fields.active,
            recording_enabled=fields.recording_enabled,
            stream_key=new_stream_key(),
            status=CameraStatus.OFFLINE.value,
            # One instant for all three, so a new camera's update_time equals its create_time.
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        labels = check_labels(fields.labels)
        row.labels = [CameraLabelRow(key=k, value=v) for k, v in sorted(labels.items())]
        # What the request leaves unset comes from the recording settings in force.
        recording = (await self._settings.current()).recording
        row.recording_profile = fields.recording_profile or recording.default_profile
        row.retention_max_age_s, row.retention_max_bytes = check_retention(
            fields, default_max_age_s=recording.default_retention_days * 86400
        )
        row.recording_state, row.recording_state_reason = "idle", ""
        row.node_selector = check_node_selector(fields.node_selector)
        row.live_ladder = check_live_ladder(fields.live_ladder)
        try:
            async with self._sessions.begin() as session:
                await self._ensure_name_free(session, row.name_key, name)
                session.add(row)
                await session.flush()
                add_audit(session, "camera.create", f"cameras/{row.id}", details={"name": name})
                self._on_change(session, ChangeKind.CREATED, row, f"camera {name} was created")
        except IntegrityError:
            raise AlreadyExists(f"a camera named {name!r} already exists") from None
        return row

    async def get(self, camera_id: str) -> CameraRecord:
        """One camera or NotFound."""
        require_id(camera_id)
        if self.cache is not None:
            row = await self.cache.camera(camera_id, lambda: read_camera(self._reads, camera_id))
        else:
            row = await read_camera(self._reads, camera_id)
        if row is None:
            raise NotFound(f"camera {camera_id} does not exist")
        return row

    async def list(self, request: ListRequest, revision: int | None = None) -> Page[CameraRecord]:
        """A page of cameras matching filter and free-text search (`revision`: the event log's
        current one, read after the call began, for the cache)."""
        search = clean_text(request.search, "search", max_len=200)
        checked = replace(request, search=search)
        if self.cache is not None:
            return await self.cache.page(
                checked, lambda: list_cameras(self._reads, checked), revision
            )
        return await list_cameras(self._reads, checked)

    async def update(self, camera_id: str, mask: Sequence[str], fields: CameraFields) -> CameraRow:
        """Change the fields named in `mask`; nothing else moves."""
        require_id(camera_id, "camera.id")
        paths = resolve_update_mask(mask, UPDATABLE_FIELDS)
        changes = _column_changes(paths, fields)
        labels = check_labels(fields.labels) if "labels" in paths else None
        try:
            async with self._sessions.begin() as session:
                row = await self._load(session, camera_id)
                mode = IngestMode(str(changes.get("ingest_mode", row.ingest_mode)))
                if "source_url" in paths:
                    changes["source_url"] = check_source_url(fields.source_url, mode)
                elif mode is IngestMode.PUSH and row.source_url:
                    changes["source_url"] = ""  # switching to push drops the pull source
                elif mode is IngestMode.PULL and not row.source_url:
                    check_source_url("", mode)
                if "name" in changes:
                    name = str(changes["name"])
                    key = name_key(name)
                    if key != row.name_key:
                        await self._ensure_name_free(session, key, name)
                    changes["name_key"] = key
                for key, value in changes.items():
                    setattr(row, key, value)
                if labels is not None:
                    row.labels = [CameraLabelRow(key=k, value=v) for k, v in sorted(labels.items())]
                row.updated_at = utcnow()
                await recording_gaps.expectation_ended(session, row, row.updated_at)
                add_audit(
                    session,
                    "camera.update",
                    f"cameras/{row.id}",
                    details={"fields": ",".join(sorted(paths))},
                )
                self._on_change(
                    session,
                    ChangeKind.UPDATED,
                    row,
                    f"camera {row.name} was updated ({', '.join(sorted(paths))})",
                )
        except IntegrityError:
            raise AlreadyExists(f"a camera named {changes.get('name')!r} already exists") from None
        return row

    async def delete(self, camera_id: str) -> None:
        """Delete a camera (its stream key stops working at once)."""
        require_id(camera_id)
        await self.batch([require_id(camera_id)], CameraAction.DELETE)

    async def rotate_stream_key(self, camera_id: str) -> CameraRow:
        """New key; the old one is refused from now on."""
        return (await self.batch([require_id(camera_id)], CameraAction.ROTATE_STREAM_KEY))[0]

    async def set_active(self, camera_id: str, active: bool) -> CameraRow:
        """Activate or deactivate one camera."""
        action = CameraAction.ACTIVATE if active else CameraAction.DEACTIVATE
        return (await self.batch([require_id(camera_id)], action))[0]

    async def set_recording(self, camera_id: str, enabled: bool) -> CameraRow:
        """Turn recording on or off for one camera."""
        action = CameraAction.START_RECORDING if enabled else CameraAction.STOP_RECORDING
        return (await self.batch([require_id(camera_id)], action))[0]

    async def batch(self, ids: Sequence[str], action: CameraAction) -> CameraRows:
        """Apply `action` to every camera in `ids` in one transaction, or to none of them."""
        if not ids:
            raise InvalidArgument.for_field("ids", "name at least one camera")
        if len(ids) > MAX_BATCH:
            raise InvalidArgument.for_field("ids", f"at most {MAX_BATCH} cameras per call")
        for i, camera_id in enumerate(ids):
            require_id(camera_id, f"ids[{i}]")
        if len(set(ids)) != len(ids):
            raise InvalidArgument.for_field("ids", "must not repeat a camera")
        async with self._sessions.begin() as session:
            rows = (
                await session.scalars(
                    select(CameraRow).where(CameraRow.id.in_(ids)).with_for_update()
                )
            ).all()
            found = {r.id: r for r in rows}
            missing = [i for i in ids if i not in found]
            if missing:
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                raise NotFound(
                    f"camera {', '.join(missing[:3])}{more} does not exist; nothing was changed"
                )
            ordered = [found[i] for i in ids]
            now = utcnow()
            deleted = action is CameraAction.DELETE
            kind, verb = _batch_change(action)
            for row in ordered:
                add_audit(
                    session,
                    f"camera.{action.value}",
                    f"cameras/{row.id}",
                    details={"name": row.name},
                )
                if deleted:
                    await session.delete(row)
                else:
                    self._apply(row, action)
                    row.updated_at = now
                    await recording_gaps.expectation_ended(session, row, now)
                self._on_change(session, kind, row, f"camera {row.name} {verb}")
        return [] if deleted else ordered

    @staticmethod
    def _apply(row: CameraRow, action: CameraAction) -> None:
        if action is CameraAction.ACTIVATE:
            row.active = True
        elif action is CameraAction.DEACTIVATE:
            row.active = False
        elif action is CameraAction.START_RECORDING:
            row.recording_enabled = True
        elif action is CameraAction.STOP_RECORDING:
            row.recording_enabled = False
        elif action is CameraAction.ROTATE_STREAM_KEY:
            row.stream_key = new_stream_key()

    async def stream_urls(
        self, camera_id: str, include_publish_url: bool, grant: Grant
    ) -> StreamUrls:
        """RTMP publish URL (only for those who may see keys) and a signed HLS URL for
        `grant`."""
        row = await self.get(camera_id)
        # The node that has (or last had) the stream; the configured URLs when none is up.
        rtmp_base, http_base = await self._locate_node(row.node_id) or (
            self._ingest,
            self._hls_base,
        )
        url, expires = hls_url(http_base, self._playback_secret, row.id, self._playback_ttl, grant)
        publish = f"{rtmp_base}/{row.stream_key}" if include_publish_url else ""
        ladder = row.live_ladder or (await self._settings.current()).streaming.default_ladder
        # Signed like `url` (the same resource, grant and expiry): only the file tree differs.
        abr = ladder_url(url) if encodes(ladder) else ""
        return StreamUrls(publish, url, expires, abr)

    @staticmethod
    async def _load(session: AsyncSession, camera_id: str) -> CameraRow:
        row = await session.get(CameraRow, camera_id, with_for_update=True)
        if row is None:
            raise NotFound(f"camera {camera_id} does not exist")
        return row

    @staticmethod
    async def _ensure_name_free(session: AsyncSession, name_key: str, name: str) -> None:
        if await session.scalar(select(CameraRow.id).where(CameraRow.name_key == name_key)):
            raise AlreadyExists(f"a camera named {name!r} already exists")
