"""`python -m node_agent`: run the node agent until SIGTERM or SIGINT.

Exit codes: 0 after a clean stop, 1 when it cannot start (port in use, nginx failing), 2 for bad
flags or no credential and no join token, 3 when the control plane refuses the join token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from node_agent.agent import Agent
from node_agent.config import AgentConfig, load_config
from node_agent.errors import AgentExit, ConfigError


async def _serve(config: AgentConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    agent = Agent(config)
    # start() may wait for the control plane (first registration): a signal must still stop it.
    starting = asyncio.create_task(agent.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return
    stopping.cancel()
    starting.result()  # raises AgentExit when it could not start (it cleaned up already)
    print(
        f"camfleet node agent ready: node {agent.node_id}, "
        f"publish to {config.rtmp_url}/<key>, HLS at {config.http_url}",
        flush=True,
    )
    await stop.wait()
    logging.getLogger("node_agent").info("shutting down")
    await agent.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"node_agent: {exc}", file=sys.stderr)
        return exc.exit_code
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(_serve(config))
    except AgentExit as exc:
        print(f"node_agent: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
