"""A bare grpc.aio bidi server: the baseline the heartbeat benchmark compares against.

`python -m bench.bidi_sink_server --listen 127.0.0.1:PORT` serves the agent stream's method,
`/camfleet.v1.AgentService/Connect`, with the same message shape as the control plane: it
decodes every ConnectRequest (the control plane must decode too), answers the first one with a
Welcome and then reads and drops the rest. No interceptor, no authentication, no database, no
presence: what it costs is grpc.aio's own per-message price plus protobuf decoding, the floor
any agent hub in this process model can reach. `/bench.Sink/Stats` answers the number of
messages received so far (decimal ASCII), so the benchmark can check that the load arrived. It
uses the control plane's channel options and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator
from typing import Any

import grpc
from camfleet.v1 import agent_pb2

from server.transport.services import GRPC_OPTIONS

CONNECT_SERVICE = "camfleet.v1.AgentService"
STATS_SERVICE = "bench.Sink"
STATS_METHOD = f"/{STATS_SERVICE}/Stats"

_WELCOME = agent_pb2.ConnectResponse(
    welcome=agent_pb2.Welcome(session_id="bare", node_id="bare")
).SerializeToString()


class Sink:
    """Counts what the streams deliver."""

    def __init__(self) -> None:
        self.received = 0

    async def connect(
        self, requests: AsyncIterator[agent_pb2.ConnectRequest], _context: Any
    ) -> AsyncIterator[bytes]:
        """Welcome after the first message, then drain the stream."""
        async for message in requests:
            self.received += 1
            if message.WhichOneof("body") == "hello":
                yield _WELCOME
        # The agent closed its side: end the call with OK, as the control plane does.

    async def stats(self, _request: bytes, _context: Any) -> bytes:
        """Messages received so far."""
        return str(self.received).encode()


async def serve(listen: str) -> None:
    """Serve Connect and Stats on `listen` until a termination signal arrives."""
    sink = Sink()
    server = grpc.aio.server(options=GRPC_OPTIONS)
    connect = grpc.stream_stream_rpc_method_handler(
        sink.connect, request_deserializer=agent_pb2.ConnectRequest.FromString
    )
    stats = grpc.unary_unary_rpc_method_handler(sink.stats)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(CONNECT_SERVICE, {"Connect": connect}),
            grpc.method_handlers_generic_handler(STATS_SERVICE, {"Stats": stats}),
        )
    )
    port = server.add_insecure_port(listen)
    if port == 0:
        raise SystemExit(f"bidi_sink_server: cannot listen on {listen}")
    await server.start()
    print(f"bidi sink server ready on {listen.rsplit(':', 1)[0]}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=1.0)


def main() -> None:
    """Parse flags and serve."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="loopback address:port to bind")
    args = parser.parse_args()
    asyncio.run(serve(args.listen))


if __name__ == "__main__":
    main()
