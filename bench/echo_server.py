"""A bare grpc.aio echo server: the baseline the camera RPC benchmark compares against.

`python -m bench.echo_server --listen 127.0.0.1:PORT` serves one unary method,
`/bench.Echo/Echo`, that returns the request bytes unchanged. There is no interceptor, no
protobuf decoding and no database: what it costs is grpc.aio's own per-call price, which is the
ceiling any handler in this process model can reach. It uses the control plane's channel options
so both servers are configured alike. It runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import grpc

from server.transport.services import GRPC_OPTIONS

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def _echo(request: bytes, _context: Any) -> bytes:
    return request


async def serve(listen: str) -> None:
    """Serve the echo method on `listen` until a termination signal arrives."""
    server = grpc.aio.server(options=GRPC_OPTIONS)
    # No (de)serializers: the handler sees and returns raw bytes, like a proxy would.
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(listen)
    if port == 0:
        raise SystemExit(f"echo_server: cannot listen on {listen}")
    await server.start()
    print(f"echo server ready on {listen.rsplit(':', 1)[0]}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=1.0)


def main() -> None:
    """Parse flags and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="loopback address:port to bind")
    args = parser.parse_args()
    asyncio.run(serve(args.listen))


if __name__ == "__main__":
    main()
