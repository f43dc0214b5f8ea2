"""camfleet.v1.StreamService."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import stream_pb2, stream_pb2_grpc

from server.common.listing import ListRequest
from server.db.models import StreamEventRow
from server.nodes.stream_events import TYPE_VALUES
from server.streams.service import StreamQueries
from server.transport.convert import timestamp


def stream_event_to_proto(row: StreamEventRow) -> stream_pb2.StreamEventRecord:
    """API view of a stored stream event."""
    return stream_pb2.StreamEventRecord(
        id=row.id,
        camera_id=row.camera_id,
        node_id=row.node_id,
        type=TYPE_VALUES.get(row.type, stream_pb2.STREAM_EVENT_TYPE_UNSPECIFIED),
        message=row.message,
        remote_address=row.remote_address,
        time=timestamp(row.time),
        receive_time=timestamp(row.received_at),
    )


class StreamServicer(stream_pb2_grpc.StreamServiceServicer):
    """Live stream status and history."""

    def __init__(self, streams: StreamQueries) -> None:
        self._streams = streams

    async def GetStream(
        self, request: stream_pb2.GetStreamRequest, context: Any
    ) -> stream_pb2.GetStreamResponse:
        return stream_pb2.GetStreamResponse(stream=await self._streams.get(request.camera_id))

    async def ListStreams(
        self, request: stream_pb2.ListStreamsRequest, context: Any
    ) -> stream_pb2.ListStreamsResponse:
        return stream_pb2.ListStreamsResponse(streams=await self._streams.list(request.node_id))

    async def ListStreamEvents(
        self, request: stream_pb2.ListStreamEventsRequest, context: Any
    ) -> stream_pb2.ListStreamEventsResponse:
        page = await self._streams.events(
            request.camera_id,
            ListRequest(page_size=request.page_size, page_token=request.page_token),
        )
        return stream_pb2.ListStreamEventsResponse(
            events=[stream_event_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )
