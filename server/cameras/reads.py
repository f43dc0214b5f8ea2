"""Hot-path camera reads: prepared Core statements into plain records.

GetCamera and ListCameras answer from `CameraRecord`s, not ORM `CameraRow`s: building a detached
row (its instrumented attributes and label collection) cost ~75 µs per camera, more than the
query. Records are hashable (the selector and ladder as tuples), so the same stored values can
be converted to a proto once (server.cameras.convert.CameraProtos).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, select

from server.cameras.listing import CAMERAS
from server.common.listing import ListRequest, Page, PagePlan
from server.db.fast_reads import FastReads, Reader
from server.db.models import CameraLabelRow, CameraRow

_CAMERAS: Table = CameraRow.__table__  # type: ignore[assignment]
_LABELS: Table = CameraLabelRow.__table__  # type: ignore[assignment]
_COLUMNS = tuple(c.name for c in _CAMERAS.columns)

# Built once: constructing the statement per call cost ~120 µs of the ~140 µs a read took.
_BY_ID = (
    select(_CAMERAS, _LABELS.c.key.label("label_key"), _LABELS.c.value.label("label_value"))
    .select_from(_CAMERAS.outerjoin(_LABELS, _LABELS.c.camera_id == _CAMERAS.c.id))
    .where(_CAMERAS.c.id == bindparam("camera_id"))
    .order_by(_LABELS.c.key)
)
_SELECTOR = _COLUMNS.index("node_selector")
_LADDER = _COLUMNS.index("live_ladder")
# Camera ids per label query: a fixed list of parameters (unused ones NULL, which matches
# nothing), so the statement is prepared once; an expanding IN is compiled per length.
_IDS_PER_QUERY = 64
_LABELS_OF = (
    select(_LABELS.c.camera_id, _LABELS.c.key, _LABELS.c.value)
    .where(_LABELS.c.camera_id.in_([bindparam(f"id_{i}") for i in range(_IDS_PER_QUERY)]))
    .order_by(_LABELS.c.camera_id, _LABELS.c.key)
)
# Checked pages of the recent list requests (the statements are the prepared statements' key).
_PLANS = 256


class Label(NamedTuple):
    """One label of a camera, read-only (named like CameraLabelRow's fields)."""

    key: str
    value: str


class CameraRecord(NamedTuple):
    """A camera as stored, read-only: the `cameras` columns (CameraRow's names and types, in
    table order) and its labels by key. A column added to the table must be added here (the
    import fails loudly otherwise). A tuple, so that hashing one (the proto cache's key) is
    done in C: as a frozen dataclass it cost ~8 µs, 20 times per page."""

    id: str
    name: str
    name_key: str
    description: str
    location: str
    ingest_mode: str
    source_url: str
    active: bool
    recording_enabled: bool
    stream_key: str
    status: str
    status_reason: str
    status_changed_at: datetime
    created_at: datetime
    updated_at: datetime
    node_id: str | None
    recording_state: str
    recording_state_reason: str
    recording_profile: str
    retention_max_age_s: int
    retention_max_bytes: int
    node_selector: tuple[tuple[str, str], ...]  # sorted (key, value) pairs
    placement_epoch: int
    handover_node_id: str | None
    placement_reason: str
    live_ladder: tuple[str, ...]
    labels: tuple[Label, ...]


if CameraRecord._fields[:-1] != _COLUMNS:
    raise RuntimeError("CameraRecord's fields must be the cameras columns in table order")


def _record(values: Sequence[Any], labels: Iterable[Label]) -> CameraRecord:
    """A record from the `cameras` columns in table order (JSON columns as read)."""
    row = list(values)
    row[_SELECTOR] = tuple(sorted((row[_SELECTOR] or {}).items()))
    row[_LADDER] = tuple(row[_LADDER] or ())
    row.append(tuple(labels))
    return CameraRecord(*row)


async def read_camera(reads: FastReads, camera_id: str) -> CameraRecord | None:
    """The camera with its labels, or None."""
    # Read again only after a commit (SQLite): a camera is read far more often than changed.
    rows = await reads.rows(_BY_ID, {"camera_id": camera_id}, reuse=True)
    if not rows:
        return None
    width = len(_COLUMNS)
    return _record(
        rows[0][:width],
        (Label(row[width], row[width + 1]) for row in rows if row[width] is not None),
    )


async def list_cameras(reads: FastReads, request: ListRequest) -> Page[CameraRecord]:
    """A page of cameras for `request` (already checked by the service): the page, its count
    when needed and the page's labels in one database hop, without ORM objects; on SQLite the
    same page again without reading while nothing was committed since."""
    return await reads.run(_read_page, _plan(request), reuse=True)


@lru_cache(maxsize=_PLANS)
def _plan(request: ListRequest) -> PagePlan[Any]:
    """The same request, the same statements: built and compiled once (building and checking
    them cost more than running them). A request that is refused raises, and is not kept."""
    return CAMERAS.plan(select(_CAMERAS), request)


async def _read_page(reader: Reader, plan: PagePlan[Any]) -> Page[CameraRecord]:
    rows = await reader.rows(plan.page_stmt)
    total = (await reader.rows(plan.count_stmt))[0][0] if plan.needs_count(len(rows)) else None
    page = plan.finish(rows, total)
    labels: dict[str, list[Label]] = {}
    ids = [row[0] for row in page.items]
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start : start + _IDS_PER_QUERY]
        params = {f"id_{i}": chunk[i] if i < len(chunk) else None for i in range(_IDS_PER_QUERY)}
        for camera_id, key, value in await reader.rows(_LABELS_OF, params):
            labels.setdefault(camera_id, []).append(Label(key, value))
    return Page(
        [_record(row, labels.get(row[0], ())) for row in page.items],
        page.next_page_token,
        page.total_size,
    )
