"""An nginx that cannot bind one of its sockets is not taken for ready, and the agent says why
in nginx's own words (its error.log), not only that it exited. nginx keeps its other sockets
listening while it tries again for 2.5 s, then exits 1: an agent that only waited for its ports
to accept started "fine" and its nginx then died over and over (a test saw only "nginx exited
1"). Real nginx here, its RTMP port taken by someone else or the same as its HTTP port."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.ports import LOOPBACK, free_port
from harness.processes import process_tree, survivors_after
from node_agent.errors import StartupError
from node_agent.nginx.access import SocketDir, worker_account
from node_agent.nginx.config import NginxLayout, NginxPorts
from node_agent.nginx.runner import NginxRunner, error_log_tail
from tests.support.agent_node import NGINX


@contextmanager
def taken_port(by: str) -> Iterator[tuple[int, int]]:
    """(the RTMP port, the HTTP port): the RTMP one taken by a listener of the test's, or the
    same as the HTTP one."""
    if by == "the same port for RTMP and HTTP":
        port = free_port()
        yield port, port
        return
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        yield taken.getsockname()[1], free_port()


@pytest.mark.parametrize("by", ["another listener", "the same port for RTMP and HTTP"])
async def test_an_nginx_that_cannot_bind_fails_the_start_and_the_log_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, by: str
) -> None:
    worker = worker_account(tmp_path)
    layout = NginxLayout(tmp_path / "nginx")
    sockets = SocketDir.choose(layout.root / "run")
    sockets.create(worker)
    with taken_port(by) as (rtmp, http):
        runner = NginxRunner(
            NGINX,
            layout,
            NginxPorts(
                rtmp_listen=f"{LOOPBACK}:{rtmp}",
                http_listen=f"{LOOPBACK}:{http}",
                stat_socket=sockets.stat_socket,
                agent_socket=sockets.agent_socket,
                user_directive=worker.directive,
            ),
            worker=worker,
        )
        with (
            caplog.at_level(logging.WARNING, logger="node_agent.nginx.runner"),
            pytest.raises(StartupError) as refused,
        ):
            await runner.start(ready_within_s=5)
        tree = process_tree(runner.pid) if runner.pid else {}
        await runner.stop()
        assert await survivors_after(tree, within_s=10) == []
    reason = f"bind() to {LOOPBACK}:{rtmp} failed (98: Address already in use)"
    assert reason in str(refused.value)
    said = [r.getMessage() for r in caplog.records if r.name == "node_agent.nginx.runner"]
    assert said, "nothing logged about nginx exiting"
    assert said[0].startswith("nginx exited with 1: ")
    assert reason in said[0]


def test_only_the_end_of_a_long_error_log_is_read(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    old = "2026/12/06 00:00:00 [emerg] 1#1: an old complaint\n"
    chatter = [f"2026/12/06 00:00:01 [info] 1#1: *{n} client connected" for n in range(5000)]
    latest = "2026/12/06 00:00:02 [emerg] 1#1: the latest complaint"
    log.write_text(old + "\n".join(chatter) + "\n" + latest + "\n")
    assert error_log_tail(log, lines=2) == [latest]
    # The old [emerg] line is beyond the end that is read: the last lines stand in.
    log.write_text(old + "\n".join(chatter) + "\n")
    assert error_log_tail(log, lines=2) == chatter[-2:]
    assert error_log_tail(tmp_path / "missing.log") == ["(no error.log)"]
