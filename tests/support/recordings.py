"""The RecordingService as tests read it, on any running control plane (Platform or Stack)."""

from __future__ import annotations

from camfleet.v1 import recording_pb2, recording_pb2_grpc

from tests.support.platform import Metadata


async def all_recordings(
    stub: recording_pb2_grpc.RecordingServiceStub,
    request: recording_pb2.ListRecordingsRequest,
    metadata: Metadata,
) -> list[recording_pb2.Recording]:
    """Every recording `request` lists, page after page (its page_token is filled in here)."""
    out: list[recording_pb2.Recording] = []
    page = recording_pb2.ListRecordingsRequest()
    page.CopyFrom(request)
    while True:
        resp = await stub.ListRecordings(page, metadata=metadata)
        out += resp.recordings
        page.page_token = resp.next_page_token
        if not page.page_token:
            return out
