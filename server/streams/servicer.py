"""camfleet.v1.StreamService."""

from __future__ import annotations

import time
from typing import Any

from camfleet.v1 import stream_pb2, stream_pb2_grpc

from server.common.listing import ListRequest
from server.nodes.convert import stream_event_to_proto, stream_to_proto
from server.streams.service import StreamQueries


class StreamServicer(stream_pb2_grpc.StreamServiceServicer):
    """Live stream status and history."""

    def __init__(self, streams: StreamQueries) -> None:
        self._streams = streams

    async def GetStream(
        self, request: stream_pb2.GetStreamRequest, context: Any
    ) -> stream_pb2.GetStreamResponse:
        stream = await self._streams.get(request.camera_id)
        return stream_pb2.GetStreamResponse(stream=stream_to_proto(stream, uptime_at=time.time()))

    async def ListStreams(
        self, request: stream_pb2.ListStreamsRequest, context: Any
    ) -> stream_pb2.ListStreamsResponse:
        streams = await self._streams.list(request.node_id)
        now = time.time()
        return stream_pb2.ListStreamsResponse(
            streams=[stream_to_proto(s, uptime_at=now) for s in streams]
        )

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
