"""Cameras: validation, CRUD, stream keys, activation, recording flags, batch actions, URLs."""

from __future__ import annotations

import enum
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from camfleet.playback import Grant
from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.cameras.playback import hls_url
from server.cameras.reads import select_camera
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import clean_text, require_id, resolve_update_mask
from server.db.fast_reads import FastReads
from server.db.models import CameraLabelRow, CameraRow, utcnow
from server.errors import AlreadyExists, InvalidArgument, NotFound


class CameraStatus(enum.StrEnum):
    """Stored status values."""

    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"
    ERROR = "error"


class IngestMode(enum.StrEnum):
    """How media reaches a node."""

    PUSH = "push"
    PULL = "pull"


class CameraAction(enum.Enum):
    """Actions of BatchCameraAction."""

    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    DELETE = "delete"
    ROTATE_STREAM_KEY = "rotate_stream_key"


UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "location",
        "active",
        "recording_enabled",
        "ingest_mode",
        "source_url",
        "labels",
        "recording_profile",
        "retention_max_age",
        "retention_max_bytes",
    }
)
RECORDING_PROFILES = ("original", "low", "medium", "high", "ultra")
RECORDING_STATES = ("idle", "recording", "error")
PULL_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https"})
LABEL_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_LABELS = 32
MAX_BATCH = 1000


def name_key(name: str) -> str:
    """The case-insensitive form of a camera name: what uniqueness and ordering use.

    Never longer than the name: str.lower() turns "İ" (U+0130, the only such character) into
    two code points, which would push a valid 200-character name past the 200-character key
    column (an error from the database instead of a created camera). Its simple lower case "i"
    keeps the length.
    """
    return name.replace("\u0130", "i").lower()


def new_stream_key() -> str:
    """192 random bits, URL-safe: unguessable and usable as an RTMP stream name."""
    return secrets.token_urlsafe(24)


def _label_condition(key: str, op: str, value: str | None) -> ColumnElement[bool]:
    """`labels.<key>` in a filter: presence (`:*`), equality, inequality or containment."""
    base = and_(CameraLabelRow.camera_id == CameraRow.id, CameraLabelRow.key == key)
    if value is None:
        return exists().where(base)
    if op == "=":
        return exists().where(base, CameraLabelRow.value == value)
    if op == "!=":
        return ~exists().where(base, CameraLabelRow.value == value)
    if op == ":":
        pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return exists().where(base, CameraLabelRow.value.ilike(pattern, escape="\\"))
    raise InvalidArgument.for_field("filter", f"labels.{key} supports =, != and : only")


_STATUS = {s.name: s.value for s in CameraStatus} | {
    f"CAMERA_STATUS_{s.name}": s.value for s in CameraStatus
}
_MODES = {m.name: m.value for m in IngestMode} | {
    f"INGEST_MODE_{m.name}": m.value for m in IngestMode
}
_PROFILES = {p.upper(): p for p in RECORDING_PROFILES} | {
    f"RECORDING_PROFILE_{p.upper()}": p for p in RECORDING_PROFILES
}
_RECORDING_STATES = {s.upper(): s for s in RECORDING_STATES} | {
    f"RECORDING_STATE_{s.upper()}": s for s in RECORDING_STATES
}

FILTER = FilterSchema(
    fields={
        "name": FieldSpec(CameraRow.name, FieldKind.STRING),
        "description": FieldSpec(CameraRow.description, FieldKind.STRING),
        "location": FieldSpec(CameraRow.location, FieldKind.STRING),
        "status": FieldSpec(CameraRow.status, FieldKind.ENUM, _STATUS),
        "active": FieldSpec(CameraRow.active, FieldKind.BOOL),
        "recording_enabled": FieldSpec(CameraRow.recording_enabled, FieldKind.BOOL),
        "ingest_mode": FieldSpec(CameraRow.ingest_mode, FieldKind.ENUM, _MODES),
        "recording_profile": FieldSpec(CameraRow.recording_profile, FieldKind.ENUM, _PROFILES),
        "recording_state": FieldSpec(CameraRow.recording_state, FieldKind.ENUM, _RECORDING_STATES),
        "retention_max_bytes": FieldSpec(CameraRow.retention_max_bytes, FieldKind.INT),
        "create_time": FieldSpec(CameraRow.created_at, FieldKind.TIMESTAMP),
        "update_time": FieldSpec(CameraRow.updated_at, FieldKind.TIMESTAMP),
    },
    text_columns=(CameraRow.name, CameraRow.description, CameraRow.location),
    map_fields={"labels": _label_condition},
)
ORDER = OrderSchema(
    fields={
        "name": CameraRow.name_key,
        "status": CameraRow.status,
        "create_time": CameraRow.created_at,
        "update_time": CameraRow.updated_at,
    },
    default="name",
    tiebreaker=CameraRow.id,
)
CAMERAS = Listing("cameras", FILTER, ORDER)


# The class below has a method called `list`, which hides the builtin in its annotations.
CameraRows = list[CameraRow]


@dataclass
class CameraFields:
    """Caller-settable camera fields, as the transport decoded them."""

    name: str = ""
    description: str = ""
    location: str = ""
    active: bool = True
    recording_enabled: bool = False
    ingest_mode: IngestMode | None = None
    source_url: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    # None: the default (original); the transport refuses values it cannot name.
    recording_profile: str | None = None
    # Seconds; 0 means no limit. Negative values are refused.
    retention_max_age_s: float = 0.0
    retention_max_bytes: int = 0


def _check_retention(fields: CameraFields) -> tuple[int, int]:
    """(max age in whole seconds, rounded up; max bytes), or InvalidArgument."""
    if fields.retention_max_age_s < 0:
        raise InvalidArgument.for_field(
            "camera.retention_max_age", "must not be negative (0 or unset: no age limit)"
        )
    if fields.retention_max_bytes < 0:
        raise InvalidArgument.for_field(
            "camera.retention_max_bytes", "must not be negative (0: no size limit)"
        )
    return math.ceil(fields.retention_max_age_s), fields.retention_max_bytes


@dataclass(frozen=True)
class StreamUrls:
    """Where to publish and where to watch."""

    rtmp_publish_url: str
    hls_playback_url: str
    expires_at: datetime


def _check_source_url(url: str, mode: IngestMode) -> str:
    url = clean_text(url, "camera.source_url", max_len=2000)
    if mode is IngestMode.PUSH:
        if url:
            raise InvalidArgument.for_field(
                "camera.source_url", "is only used with INGEST_MODE_PULL; leave it empty for PUSH"
            )
        return url
    if not url:
        raise InvalidArgument.for_field("camera.source_url", "is required for INGEST_MODE_PULL")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme.lower() not in PULL_SCHEMES or not host or " " in url:
        raise InvalidArgument.for_field(
            "camera.source_url",
            "must be an absolute rtsp://, rtsps://, rtmp://, rtmps://, http:// or https:// URL "
            "with a host",
        )
    return url


def _check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise InvalidArgument.for_field("camera.labels", f"at most {MAX_LABELS} labels")
    out = {}
    for key, value in labels.items():
        if not LABEL_KEY_RE.fullmatch(key):
            raise InvalidArgument.for_field(
                f"camera.labels[{key[:64]!r}]",
                "keys are 1–63 characters of a-z, 0-9, '_', '.', '-' starting with a letter "  # noqa: RUF001
                "or digit",
            )
        out[key] = clean_text(value, f"camera.labels[{key!r}]", max_len=200)
    return out


# Query parameters that carry credentials in camera URLs (`?user=admin&pwd=...`,
# `?loginpas=...`, `?token=...`): matched as substrings of the lower-cased name...
_SECRET_PARAM_PARTS = ("pass", "pwd", "secret", "token", "credential")
# ...or exactly, for names too short to match as substrings without hiding harmless ones.
_SECRET_PARAM_NAMES = frozenset(
    {"key", "apikey", "api_key", "auth", "sig", "signature", "loginpas", "pw"}
)


def _redact_param(param: str) -> str:
    name, eq, value = param.partition("=")
    lowered = name.lower()
    if (
        eq
        and value
        and (lowered in _SECRET_PARAM_NAMES or any(part in lowered for part in _SECRET_PARAM_PARTS))
    ):
        return f"{name}=***"
    return param


def redact_url_password(url: str) -> str:
    """The URL with its password, and the values of query parameters that carry credentials,
    replaced by '***' (for callers who may not see secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: return it exactly as configured
    return parts._replace(netloc=netloc, query=query).geturl()


class ChangeKind(enum.StrEnum):
    """What happened to a camera, for the event stream."""

    CREATED = "camera.created"
    UPDATED = "camera.updated"
    DELETED = "camera.deleted"
    STATUS_CHANGED = "camera.status_changed"


# Told about every change inside the transaction that makes it, so its event commits with it
# (server/db/outbox.py): (that session, kind, the camera after it, a sentence for people).
ChangeListener = Callable[[AsyncSession, ChangeKind, CameraRow, str], None]
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
    ) -> None:
        self._sessions = sessions
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
            source_url=_check_source_url(fields.source_url, mode),
            active=fields.active,
            recording_enabled=fields.recording_enabled,
            stream_key=new_stream_key(),
            status=CameraStatus.OFFLINE.value,
            # One instant for all three, so a new camera's update_time equals its create_time.
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        labels = _check_labels(fields.labels)
        row.labels = [CameraLabelRow(key=k, value=v) for k, v in sorted(labels.items())]
        row.recording_profile = fields.recording_profile or "original"
        row.retention_max_age_s, row.retention_max_bytes = _check_retention(fields)
        row.recording_state, row.recording_state_reason = "idle", ""
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

    async def get(self, camera_id: str) -> CameraRow:
        """One camera or NotFound."""
        require_id(camera_id)
        row = await self._reads.run(partial(select_camera, camera_id=camera_id))
        if row is None:
            raise NotFound(f"camera {camera_id} does not exist")
        return row

    async def list(self, request: ListRequest) -> Page[CameraRow]:
        """A page of cameras matching filter and free-text search."""
        search = clean_text(request.search, "search", max_len=200)
        return await CAMERAS.page(
            self._sessions, select(CameraRow), replace(request, search=search)
        )

    async def update(self, camera_id: str, mask: Sequence[str], fields: CameraFields) -> CameraRow:
        """Change the fields named in `mask`; nothing else moves."""
        require_id(camera_id, "camera.id")
        paths = resolve_update_mask(mask, UPDATABLE_FIELDS)
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
        max_age, max_bytes = _check_retention(fields)
        if "retention_max_age" in paths:
            changes["retention_max_age_s"] = max_age
        if "retention_max_bytes" in paths:
            changes["retention_max_bytes"] = max_bytes
        labels = _check_labels(fields.labels) if "labels" in paths else None
        try:
            async with self._sessions.begin() as session:
                row = await self._load(session, camera_id)
                mode = IngestMode(str(changes.get("ingest_mode", row.ingest_mode)))
                if "source_url" in paths:
                    changes["source_url"] = _check_source_url(fields.source_url, mode)
                elif mode is IngestMode.PUSH and row.source_url:
                    changes["source_url"] = ""  # switching to push drops the pull source
                elif mode is IngestMode.PULL and not row.source_url:
                    _check_source_url("", mode)
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
        return StreamUrls(publish, url, expires)

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
