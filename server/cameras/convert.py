"""Cameras between stored rows and protos (shared by the servicer, streams and the event
publisher)."""

from __future__ import annotations

from collections.abc import Sequence

from camfleet.v1 import camera_pb2, recording_pb2
from google.protobuf import duration_pb2

from server.cameras.model import CameraStatus, IngestMode
from server.cameras.reads import CameraRecord
from server.cameras.redaction import shown_source_url
from server.common.wire import timestamp
from server.db.models import CameraRow
from server.recordings.convert import PROFILES, STATES

STATUS_TO_PROTO = {
    CameraStatus.OFFLINE: camera_pb2.CAMERA_STATUS_OFFLINE,
    CameraStatus.CONNECTING: camera_pb2.CAMERA_STATUS_CONNECTING,
    CameraStatus.ONLINE: camera_pb2.CAMERA_STATUS_ONLINE,
    CameraStatus.ERROR: camera_pb2.CAMERA_STATUS_ERROR,
}
MODE_TO_PROTO = {
    IngestMode.PUSH: camera_pb2.INGEST_MODE_PUSH,
    IngestMode.PULL: camera_pb2.INGEST_MODE_PULL,
}


def camera_to_proto(
    row: CameraRow | CameraRecord, *, show_secrets: bool, may_edit: bool = False
) -> camera_pb2.Camera:
    """API view of a camera; stream key and the whole source URL only with `show_secrets`,
    the source URL's path with `may_edit`, else its scheme and host (server.cameras.redaction)."""
    return camera_pb2.Camera(
        id=row.id,
        name=row.name,
        description=row.description,
        location=row.location,
        status=STATUS_TO_PROTO[CameraStatus(row.status)],
        status_reason=row.status_reason,
        active=row.active,
        recording_enabled=row.recording_enabled,
        ingest_mode=MODE_TO_PROTO[IngestMode(row.ingest_mode)],
        source_url=shown_source_url(row.source_url, show_secrets=show_secrets, may_edit=may_edit),
        stream_key=row.stream_key if show_secrets else "",
        labels={label.key: label.value for label in row.labels},
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
        status_change_time=timestamp(row.status_changed_at),
        node_id=row.node_id or "",
        recording_state=STATES.get(row.recording_state, recording_pb2.RECORDING_STATE_IDLE),
        recording_state_reason=row.recording_state_reason,
        recording_profile=PROFILES.get(
            row.recording_profile, recording_pb2.RECORDING_PROFILE_ORIGINAL
        ),
        retention_max_age=duration_pb2.Duration(seconds=row.retention_max_age_s),
        retention_max_bytes=row.retention_max_bytes,
        node_selector=dict(row.node_selector or ()),
        placement_epoch=row.placement_epoch or 0,
        placement_reason=row.placement_reason or "",
        handover_node_id=row.handover_node_id or "",
        live_ladder=row.live_ladder or [],
    )


class CameraProtos:
    """`camera_to_proto` of records, each made once and kept for the next read of the same
    values: building a Camera cost ~30 µs, more than reading it; a page of 20 cost ~20 times
    that, and ~100 µs more to copy them into the response.

    A record holds every stored value of its camera, so equal records convert to equal
    messages: a changed camera reads as another record and misses, and the old entry ages out.
    Bounded: past the limits the oldest entries go first. The messages are shared, so they are
    only ever serialized, never changed."""

    def __init__(self, max_cameras: int = 4096, max_pages: int = 64) -> None:
        self._max_cameras = max_cameras
        self._max_pages = max_pages
        self._cameras: dict[tuple[CameraRecord, bool, bool], camera_pb2.Camera] = {}
        self._pages: dict[tuple[object, ...], camera_pb2.ListCamerasResponse] = {}

    def camera(
        self, record: CameraRecord, *, show_secrets: bool, may_edit: bool
    ) -> camera_pb2.Camera:
        """The Camera message of `record` for a caller with these rights."""
        key = (record, show_secrets, may_edit)
        proto = self._cameras.get(key)
        if proto is None:
            if len(self._cameras) >= self._max_cameras:
                del self._cameras[next(iter(self._cameras))]  # the oldest
            proto = self._cameras[key] = camera_to_proto(
                record, show_secrets=show_secrets, may_edit=may_edit
            )
        return proto

    def page(
        self,
        records: Sequence[CameraRecord],
        *,
        show_secrets: bool,
        may_edit: bool,
        next_page_token: str,
        total_size: int,
        revision: int,
    ) -> camera_pb2.ListCamerasResponse:
        """A ListCamerasResponse of `records` and the rest."""
        key = (tuple(records), show_secrets, may_edit, next_page_token, total_size, revision)
        response = self._pages.get(key)
        if response is None:
            if len(self._pages) >= self._max_pages:
                del self._pages[next(iter(self._pages))]
            response = self._pages[key] = camera_pb2.ListCamerasResponse(
                cameras=[
                    self.camera(r, show_secrets=show_secrets, may_edit=may_edit) for r in records
                ],
                next_page_token=next_page_token,
                total_size=total_size,
                revision=revision,
            )
        return response
