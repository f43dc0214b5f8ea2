"""How cameras are listed: the filterable fields (AIP-160, labels included) and the orders."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists

from server.cameras.model import RECORDING_PROFILES, RECORDING_STATES, CameraStatus, IngestMode
from server.common.listing import FieldKind, FieldSpec, FilterSchema, Listing, OrderSchema
from server.db.models import CameraLabelRow, CameraRow
from server.errors import InvalidArgument


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
        # Placement: `node_id = "<id>" OR handover_node_id = "<id>"` is what the node runs;
        # `node_id != *` lists cameras placed nowhere (NULL counts as unset, like "").
        "node_id": FieldSpec(CameraRow.node_id, FieldKind.STRING),
        "handover_node_id": FieldSpec(CameraRow.handover_node_id, FieldKind.STRING),
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
