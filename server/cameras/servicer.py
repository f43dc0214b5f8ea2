"""camfleet.v1.CameraService over CameraService."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import camera_pb2, camera_pb2_grpc, recording_pb2

from server.cameras.convert import MODE_TO_PROTO, CameraProtos, camera_to_proto
from server.cameras.fields import CameraFields
from server.cameras.model import CameraAction
from server.cameras.reads import CameraRecord
from server.cameras.redaction import may_edit_cameras
from server.cameras.service import CameraService
from server.cameras.whep import whep_url
from server.common.listing import ListRequest
from server.common.wire import from_duration, timestamp
from server.db.models import CameraRow
from server.errors import InvalidArgument
from server.eventlog.log import EventLog
from server.identity.permissions import Permission
from server.identity.principal import current_principal
from server.recordings.convert import PROFILE_NAMES
from server.recordings.urls import grant_for

_ACTIONS = {
    camera_pb2.CAMERA_ACTION_ACTIVATE: CameraAction.ACTIVATE,
    camera_pb2.CAMERA_ACTION_DEACTIVATE: CameraAction.DEACTIVATE,
    camera_pb2.CAMERA_ACTION_START_RECORDING: CameraAction.START_RECORDING,
    camera_pb2.CAMERA_ACTION_STOP_RECORDING: CameraAction.STOP_RECORDING,
    camera_pb2.CAMERA_ACTION_DELETE: CameraAction.DELETE,
    camera_pb2.CAMERA_ACTION_ROTATE_STREAM_KEY: CameraAction.ROTATE_STREAM_KEY,
}
_MODE_FROM_PROTO = {v: k for k, v in MODE_TO_PROTO.items()}


def _fields(camera: camera_pb2.Camera) -> CameraFields:
    mode = None
    if camera.ingest_mode != camera_pb2.INGEST_MODE_UNSPECIFIED:
        mode = _MODE_FROM_PROTO.get(camera.ingest_mode)
        if mode is None:
            raise InvalidArgument.for_field(
                "camera.ingest_mode", "must be INGEST_MODE_PUSH or INGEST_MODE_PULL"
            )
    profile = None
    if camera.recording_profile != recording_pb2.RECORDING_PROFILE_UNSPECIFIED:
        profile = PROFILE_NAMES.get(camera.recording_profile)
        if profile is None:
            raise InvalidArgument.for_field(
                "camera.recording_profile",
                "must be one of "
                + ", ".join(recording_pb2.RecordingProfile.Name(p) for p in PROFILE_NAMES),
            )
    # Unset (no Duration at all) lets a new camera take the settings' default retention; an
    # explicit Duration, 0 included, is the caller's choice.
    max_age_s: float | None = None
    if camera.HasField("retention_max_age"):
        max_age = camera.retention_max_age
        if max_age.seconds < 0 or max_age.nanos < 0:
            max_age_s = -1.0  # refused by the domain, with the field named
        else:
            max_age_s = from_duration(max_age, "camera.retention_max_age").total_seconds()
    return CameraFields(
        recording_profile=profile,
        retention_max_age_s=max_age_s,
        retention_max_bytes=camera.retention_max_bytes,
        name=camera.name,
        description=camera.description,
        location=camera.location,
        active=camera.active,
        recording_enabled=camera.recording_enabled,
        ingest_mode=mode,
        source_url=camera.source_url,
        labels=dict(camera.labels),
        node_selector=dict(camera.node_selector),
        live_ladder=tuple(camera.live_ladder),
    )


def _show_secrets() -> bool:
    return current_principal().can(Permission.STREAM_KEYS_READ)


class CameraServicer(camera_pb2_grpc.CameraServiceServicer):
    """Camera management."""

    def __init__(self, cameras: CameraService, events: EventLog) -> None:
        self._cameras = cameras
        self._events = events
        self._protos = CameraProtos()

    def _out(self, row: CameraRow | CameraRecord) -> camera_pb2.Camera:
        return camera_to_proto(
            row, show_secrets=_show_secrets(), may_edit=may_edit_cameras(current_principal())
        )

    async def CreateCamera(
        self, request: camera_pb2.CreateCameraRequest, context: Any
    ) -> camera_pb2.CreateCameraResponse:
        fields = _fields(request.camera)
        # `active` has presence in the proto: unset means the documented default, true.
        fields.active = request.camera.active if request.camera.HasField("active") else True
        row = await self._cameras.create(fields)
        return camera_pb2.CreateCameraResponse(camera=self._out(row))

    async def GetCamera(
        self, request: camera_pb2.GetCameraRequest, context: Any
    ) -> camera_pb2.GetCameraResponse:
        record = await self._cameras.get(request.id)
        principal = current_principal()
        return camera_pb2.GetCameraResponse(
            camera=self._protos.camera(
                record,
                show_secrets=principal.can(Permission.STREAM_KEYS_READ),
                may_edit=may_edit_cameras(principal),
            )
        )

    async def ListCameras(
        self, request: camera_pb2.ListCamerasRequest, context: Any
    ) -> camera_pb2.ListCamerasResponse:
        # Taken before the query: watching from it may replay a change the list already shows
        # (harmless), but never misses one.
        cache = self._cameras.cache
        if cache is not None and cache.usable:
            # What this replica's watchers have seen: the cached page is at least that new.
            revision = cache.revision()
            page = await self._cameras.list(ListRequest.of(request), revision)
        else:
            revision = await self._events.current_revision()
            page = await self._cameras.list(ListRequest.of(request))
        principal = current_principal()
        return self._protos.page(
            page.items,
            show_secrets=principal.can(Permission.STREAM_KEYS_READ),
            may_edit=may_edit_cameras(principal),
            next_page_token=page.next_page_token,
            total_size=page.total_size,
            revision=revision,
        )

    async def UpdateCamera(
        self, request: camera_pb2.UpdateCameraRequest, context: Any
    ) -> camera_pb2.UpdateCameraResponse:
        row = await self._cameras.update(
            request.camera.id, list(request.update_mask.paths), _fields(request.camera)
        )
        return camera_pb2.UpdateCameraResponse(camera=self._out(row))

    async def DeleteCamera(
        self, request: camera_pb2.DeleteCameraRequest, context: Any
    ) -> camera_pb2.DeleteCameraResponse:
        await self._cameras.delete(request.id)
        return camera_pb2.DeleteCameraResponse()

    async def RotateStreamKey(
        self, request: camera_pb2.RotateStreamKeyRequest, context: Any
    ) -> camera_pb2.RotateStreamKeyResponse:
        row = await self._cameras.rotate_stream_key(request.id)
        return camera_pb2.RotateStreamKeyResponse(camera=self._out(row))

    async def ActivateCamera(
        self, request: camera_pb2.ActivateCameraRequest, context: Any
    ) -> camera_pb2.ActivateCameraResponse:
        row = await self._cameras.set_active(request.id, True)
        return camera_pb2.ActivateCameraResponse(camera=self._out(row))

    async def DeactivateCamera(
        self, request: camera_pb2.DeactivateCameraRequest, context: Any
    ) -> camera_pb2.DeactivateCameraResponse:
        row = await self._cameras.set_active(request.id, False)
        return camera_pb2.DeactivateCameraResponse(camera=self._out(row))

    async def StartRecording(
        self, request: camera_pb2.StartRecordingRequest, context: Any
    ) -> camera_pb2.StartRecordingResponse:
        row = await self._cameras.set_recording(request.id, True)
        return camera_pb2.StartRecordingResponse(camera=self._out(row))

    async def StopRecording(
        self, request: camera_pb2.StopRecordingRequest, context: Any
    ) -> camera_pb2.StopRecordingResponse:
        row = await self._cameras.set_recording(request.id, False)
        return camera_pb2.StopRecordingResponse(camera=self._out(row))

    async def BatchCameraAction(
        self, request: camera_pb2.BatchCameraActionRequest, context: Any
    ) -> camera_pb2.BatchCameraActionResponse:
        action = _ACTIONS.get(request.action)
        if action is None:
            raise InvalidArgument.for_field(
                "action",
                "must be one of " + ", ".join(camera_pb2.CameraAction.Name(a) for a in _ACTIONS),
            )
        rows = await self._cameras.batch(list(request.ids), action)
        show, edit = _show_secrets(), may_edit_cameras(current_principal())
        return camera_pb2.BatchCameraActionResponse(
            cameras=[camera_to_proto(r, show_secrets=show, may_edit=edit) for r in rows],
            affected_count=len(request.ids),
        )

    async def GetStreamUrls(
        self, request: camera_pb2.GetStreamUrlsRequest, context: Any
    ) -> camera_pb2.GetStreamUrlsResponse:
        urls = await self._cameras.stream_urls(
            request.id, include_publish_url=_show_secrets(), grant=grant_for(current_principal())
        )
        return camera_pb2.GetStreamUrlsResponse(
            rtmp_publish_url=urls.rtmp_publish_url,
            hls_playback_url=urls.hls_playback_url,
            whep_url=whep_url(urls.hls_playback_url),
            hls_ladder_url=urls.hls_ladder_url,
            expire_time=timestamp(urls.expires_at),
        )
