"""An nginx worker that outlived the last run of its node (SIGKILL of the agent's group, which
missed a worker forked during the kill) holds the node's port; the next agent ends it before
binding, instead of exiting "Address already in use". Only the node's own nginx is ended."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.ports import free_port
from node_agent.config_values import HostPort
from node_agent.errors import StartupError
from node_agent.nginx.runner import ensure_can_bind
from node_agent.nginx.stale import end_stale_nginx, stale_nginx
from tests.support.agent_node import NGINX


def _nginx(root: Path, port: int) -> subprocess.Popen[bytes]:
    (root / "logs").mkdir(parents=True)
    (root / "temp").mkdir()
    conf = root / "nginx.conf"
    conf.write_text(
        f"daemon off; master_process on; worker_processes 2; pid {root}/nginx.pid;\n"
        f"error_log {root}/logs/error.log info;\nevents {{}}\n"
        f"http {{ access_log {root}/logs/access.log; client_body_temp_path {root}/temp;\n"
        f"  proxy_temp_path {root}/temp; fastcgi_temp_path {root}/temp;\n"
        f"  uwsgi_temp_path {root}/temp; scgi_temp_path {root}/temp;\n"
        f"  server {{ listen 127.0.0.1:{port}; }} }}\n"
    )
    proc = subprocess.Popen([NGINX, "-p", str(root), "-c", str(conf)], start_new_session=True)
    deadline = time.monotonic() + 30
    while len(stale_nginx(root)) < 3:  # the master and its two workers
        assert proc.poll() is None and time.monotonic() < deadline, (
            root / "logs/error.log"
        ).read_text()
        time.sleep(0.05)
    return proc


def test_a_worker_left_by_a_killed_run_is_ended_and_its_port_freed(tmp_path: Path) -> None:
    port, other_port = free_port(), free_port()
    mine = _nginx(tmp_path / "node" / "nginx", port)
    other = _nginx(tmp_path / "other" / "nginx", other_port)
    try:
        workers = [p for p in stale_nginx(tmp_path / "node" / "nginx") if p != mine.pid]
        os.kill(mine.pid, signal.SIGKILL)  # the master dies; its workers keep the port
        mine.wait(timeout=10)
        assert workers and all(Path(f"/proc/{p}").exists() for p in workers)
        with pytest.raises(StartupError, match="in use"):
            ensure_can_bind("--rtmp-listen", HostPort("127.0.0.1", port))

        ended = end_stale_nginx(tmp_path / "node" / "nginx")

        assert sorted(ended) == sorted(workers)
        ensure_can_bind("--rtmp-listen", HostPort("127.0.0.1", port))
        # Another node's nginx is left alone.
        assert other.poll() is None
        with socket.create_connection(("127.0.0.1", other_port), timeout=5):
            pass
    finally:
        for proc in (mine, other):
            for pid in stale_nginx(tmp_path / ("node" if proc is mine else "other") / "nginx"):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
