"""harness/private_servers.py: the PostgreSQL and Redis a chaos bench restarts are its own, keep
what was committed across a crash restart, and leave nothing behind."""

from __future__ import annotations

import psycopg
import pytest
import redis

from harness.private_servers import private_postgres, private_redis
from harness.processes import process_alive, process_tree


def test_postgres_keeps_committed_rows_across_a_crash_restart_and_is_removed_after() -> None:
    with private_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (7)")
        assert pg.child is not None
        first = pg.child.pid
        pg.restart(crash=True)
        assert pg.child.pid != first
        with psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [(7,)]
        data, tree = pg.data, process_tree(pg.child.pid)
    assert not data.exists()
    assert not [pid for pid, start in tree.items() if process_alive(pid, start)]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.dsn, connect_timeout=2)


def test_redis_keeps_its_keys_across_a_restart_and_is_removed_after() -> None:
    with private_redis() as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.close()
        server.restart(crash=False)
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()
        data = server.data
        assert server.child is not None
        pid = server.child.pid
    assert not data.exists()
    assert server.child.returncode is not None, f"redis-server {pid} still runs"
