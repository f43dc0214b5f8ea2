"""Hot-path camera reads as one Core statement (labels joined), for `FastReads.run`."""

from __future__ import annotations

from sqlalchemy import Connection, Table, bindparam, select

from server.db.models import CameraLabelRow, CameraRow

_CAMERAS: Table = CameraRow.__table__  # type: ignore[assignment]
_LABELS: Table = CameraLabelRow.__table__  # type: ignore[assignment]
_COLUMNS = [c.name for c in _CAMERAS.columns]

# Built once: constructing the statement per call cost ~120 µs of the ~140 µs a read took.
_BY_ID = (
    select(_CAMERAS, _LABELS.c.key.label("label_key"), _LABELS.c.value.label("label_value"))
    .select_from(_CAMERAS.outerjoin(_LABELS, _LABELS.c.camera_id == _CAMERAS.c.id))
    .where(_CAMERAS.c.id == bindparam("camera_id"))
    .order_by(_LABELS.c.key)
)


def select_camera(conn: Connection, camera_id: str) -> CameraRow | None:
    """The camera with its labels, as a detached CameraRow, or None."""
    rows = conn.execute(_BY_ID, {"camera_id": camera_id}).all()
    if not rows:
        return None
    first = rows[0]._mapping
    camera = CameraRow(**{name: first[name] for name in _COLUMNS})
    camera.labels = [
        CameraLabelRow(camera_id=camera_id, key=r.label_key, value=r.label_value)
        for r in rows
        if r.label_key is not None
    ]
    return camera
