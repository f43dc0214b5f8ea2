"""A control plane started while its PostgreSQL is down (restarting, or not up yet as compose
starts them together) waits for it with backoff, says so in its log, and serves once the
database answers, instead of exiting 1."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from pathlib import Path

from harness.control_plane import server_env, start_control_plane, wait_serving
from harness.ports import LOOPBACK, free_port
from harness.private_servers import private_postgres


async def test_a_replica_started_while_postgres_is_down_waits_and_serves_when_it_returns() -> None:
    with private_postgres() as pg, tempfile.TemporaryDirectory() as tmp:
        pg.stop()
        port = free_port()
        env = server_env(Path(tmp), port, secrets.token_hex(8), database_url=pg.url)
        log = Path(tmp) / "server.log"
        child = start_control_plane(env, log)
        try:
            deadline = time.monotonic() + 120
            while "is not reachable" not in child.tail(200):
                child.check_alive()  # exiting, as it did, fails here with its log
                assert time.monotonic() < deadline, child.tail()
                await asyncio.sleep(0.2)
            # It keeps waiting (a few backoff rounds), alive, while the database is away.
            await asyncio.sleep(3)
            child.check_alive()
            assert f"The database at 127.0.0.1:{pg.port}/camfleet is not reachable" in child.tail()
            pg.start()
            await wait_serving(f"{LOOPBACK}:{port}", child, within_s=120)
            assert "answers again after" in child.tail(200)
        finally:
            child.stop()
