"""camfleet.v1.RecordingService over RecordingService (the index) and RecordingMedia (URLs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from camfleet.v1 import recording_pb2, recording_pb2_grpc
from google.protobuf import timestamp_pb2

from server.common.wire import from_timestamp, timestamp
from server.identity.principal import current_principal
from server.recordings.clips import ClipExports
from server.recordings.convert import gap_to_proto, recording_to_proto, seconds_duration
from server.recordings.service import RecordingService
from server.recordings.urls import grant_for


def _time(message: Any, field: str) -> datetime | None:
    """The request's timestamp field, None when unset."""
    if not message.HasField(field):
        return None
    value: timestamp_pb2.Timestamp = getattr(message, field)
    return from_timestamp(value, field)


class RecordingServicer(recording_pb2_grpc.RecordingServiceServicer):
    """Recorded segments, timelines, and signed URLs to their media."""

    def __init__(self, recordings: RecordingService, media: ClipExports) -> None:
        self._recordings = recordings
        self._media = media

    async def ListRecordings(
        self, request: recording_pb2.ListRecordingsRequest, context: Any
    ) -> recording_pb2.ListRecordingsResponse:
        page = await self._recordings.list(
            request.camera_id,
            _time(request, "start_time"),
            _time(request, "end_time"),
            request.page_size,
            request.page_token,
        )
        return recording_pb2.ListRecordingsResponse(
            recordings=[recording_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def GetRecording(
        self, request: recording_pb2.GetRecordingRequest, context: Any
    ) -> recording_pb2.GetRecordingResponse:
        row = await self._recordings.get(request.id)
        return recording_pb2.GetRecordingResponse(recording=recording_to_proto(row))

    async def GetTimeline(
        self, request: recording_pb2.GetTimelineRequest, context: Any
    ) -> recording_pb2.GetTimelineResponse:
        line = await self._recordings.timeline(
            request.camera_id, _time(request, "start_time"), _time(request, "end_time")
        )
        return recording_pb2.GetTimelineResponse(
            spans=[
                recording_pb2.TimelineSpan(start_time=timestamp(a), end_time=timestamp(b))
                for a, b in line.spans
            ],
            gaps=[gap_to_proto(request.camera_id, g) for g in line.gaps],
            recorded=seconds_duration(line.recorded_s),
            expected=seconds_duration(line.expected_s),
            coverage=line.coverage,
        )

    async def GetDownloadUrl(
        self, request: recording_pb2.GetDownloadUrlRequest, context: Any
    ) -> recording_pb2.GetDownloadUrlResponse:
        signed = await self._media.download_url(request.id, grant_for(current_principal()))
        return recording_pb2.GetDownloadUrlResponse(
            url=signed.url, expire_time=timestamp(signed.expires_at)
        )

    async def DeleteRecording(
        self, request: recording_pb2.DeleteRecordingRequest, context: Any
    ) -> recording_pb2.DeleteRecordingResponse:
        await self._recordings.delete(request.id)
        return recording_pb2.DeleteRecordingResponse()

    async def ExportClip(
        self, request: recording_pb2.ExportClipRequest, context: Any
    ) -> recording_pb2.ExportClipResponse:
        clip = await self._media.export_clip(
            request.camera_id,
            _time(request, "start_time"),
            _time(request, "end_time"),
            grant_for(current_principal()),
        )
        return recording_pb2.ExportClipResponse(
            url=clip.url.url,
            expire_time=timestamp(clip.url.expires_at),
            start_time=timestamp(clip.start),
            end_time=timestamp(clip.end),
            holes=[gap_to_proto(request.camera_id, g) for g in clip.holes],
        )

    async def GetPlaybackUrl(
        self, request: recording_pb2.GetPlaybackUrlRequest, context: Any
    ) -> recording_pb2.GetPlaybackUrlResponse:
        signed = await self._media.playback_url(
            request.camera_id,
            _time(request, "start_time"),
            _time(request, "end_time"),
            grant_for(current_principal()),
        )
        return recording_pb2.GetPlaybackUrlResponse(
            url=signed.url, expire_time=timestamp(signed.expires_at)
        )
