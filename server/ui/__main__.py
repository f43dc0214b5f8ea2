"""`python -m server.ui`: serve the built browser UI on loopback (Envoy routes to it).

Prints `camfleet ui ready on http://HOST:PORT` once listening (`--listen 127.0.0.1:0` picks a
free port, and that line says which), and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from server.ui.headers import parse_origins
from server.ui.static import build_app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server.ui", description=__doc__)
    parser.add_argument(
        "--listen",
        default=os.environ.get("CAMFLEET_UI_LISTEN", "127.0.0.1:8081"),
        help="HOST:PORT to listen on; port 0 picks a free one (env CAMFLEET_UI_LISTEN)",
    )
    parser.add_argument(
        "--dist",
        default=os.environ.get("CAMFLEET_UI_DIST", "clients/web/dist"),
        help="the built UI directory (env CAMFLEET_UI_DIST)",
    )
    parser.add_argument(
        "--media-origins",
        default=os.environ.get("CAMFLEET_UI_MEDIA_ORIGINS", ""),
        help=(
            "the nodes' HTTP origins the UI may fetch and play video from, comma-separated "
            "(http://node1:8088,https://node2); unset: any http(s) origin, since nodes join at "
            "run time (env CAMFLEET_UI_MEDIA_ORIGINS)"
        ),
    )
    return parser


async def _serve(host: str, port: int, dist: Path, media_origins: tuple[str, ...]) -> None:
    runner = web.AppRunner(build_app(dist, media_origins), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"camfleet ui ready on http://{shown}:{bound[1]} serving {dist}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    host, sep, port_text = args.listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        print(f"server.ui: --listen must be HOST:PORT, got {args.listen!r}", file=sys.stderr)
        return 2
    try:
        media_origins = parse_origins(args.media_origins)
    except ValueError as exc:
        print(f"server.ui: --media-origins: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(host, int(port_text), Path(args.dist), media_origins))
    except OSError as exc:
        print(f"server.ui: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
