"""`python -m node_agent` as an operator runs it: exit codes and one-line errors for bad starts,
a ready line, and SIGTERM ending it (and its nginx) with exit 0 — also while it still waits for
the control plane to register."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.ports import free_port
from harness.processes import (
    ROOT,
    clean_env,
    process_alive,
    process_tree,
    stop_by_pid,
    wait_for_line,
)
from node_agent.credentials import Credential, load_credential, save_credential
from node_agent.state import DataDir
from tests.support.agent_node import agent_argv


def run_to_exit(argv: list[str], limit_s: float = 30) -> tuple[int, str]:
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, err = proc.communicate(timeout=limit_s)
    finally:
        stop_by_pid(proc)
    return proc.returncode, err


@contextmanager
def agent_process(argv: list[str]) -> Iterator[subprocess.Popen[str]]:
    """The agent running, stdout and stderr merged; ended by PID on exit."""
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**clean_env(), "CAMFLEET_LOG_LEVEL": "INFO"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        stop_by_pid(proc)
        assert proc.stdout is not None
        proc.stdout.close()


def with_credential(root: Path) -> Path:
    data_dir = DataDir(root / "node")
    data_dir.create()
    save_credential(data_dir, Credential("node-p", "cfn_" + secrets.token_urlsafe(16)))
    return data_dir.root


def wait_gone(tree: dict[int, str], within_s: float = 10) -> list[int]:
    deadline = time.monotonic() + within_s
    while alive := [pid for pid, start in tree.items() if process_alive(pid, start)]:
        if time.monotonic() > deadline:
            return alive
        time.sleep(0.05)
    return []


def test_bad_flag_exits_2_with_one_line(tmp_path: Path) -> None:
    code, err = run_to_exit(agent_argv(tmp_path, "--capacity", "lots"))
    assert code == 2
    assert err.strip().splitlines() == ["node_agent: --capacity must be a whole number, got 'lots'"]


def test_bad_address_exits_2(tmp_path: Path) -> None:
    code, err = run_to_exit([*agent_argv(tmp_path), "--control-plane", "no-port-here"])
    assert code == 2
    assert "--control-plane must be HOST:PORT" in err
    assert len(err.strip().splitlines()) == 1


def test_no_credential_and_no_join_token_exits_2(tmp_path: Path) -> None:
    code, err = run_to_exit(agent_argv(tmp_path / "fresh"))
    assert code == 2
    assert "no join token" in err
    assert "NodeService.CreateJoinToken" in err
    assert "--join-token" in err
    # Nothing was started: no nginx files.
    assert not (tmp_path / "fresh" / "nginx").exists()


def test_damaged_credential_exits_2(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "node")
    data_dir.create()
    data_dir.credential.write_text("{not json")
    code, err = run_to_exit(agent_argv(data_dir.root, "--join-token", "cfj_x"))
    assert code == 2
    assert "credential.json is damaged" in err


def test_rtmp_port_in_use_exits_1(tmp_path: Path) -> None:
    data_dir = with_credential(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run_to_exit([*agent_argv(data_dir), "--rtmp-listen", f"127.0.0.1:{port}"])
    assert code == 1
    assert f"--rtmp-listen 127.0.0.1:{port}" in err
    assert "in use" in err


def test_runs_until_sigterm_then_stops_nginx_and_exits_0(tmp_path: Path) -> None:
    data_dir = with_credential(tmp_path)
    rtmp_port = free_port()
    argv = [*agent_argv(data_dir), "--rtmp-listen", f"127.0.0.1:{rtmp_port}"]
    with agent_process(argv) as proc:
        lines = wait_for_line(proc, "node agent ready", timeout=30)
        assert f"publish to rtmp://127.0.0.1:{rtmp_port}/live/<key>" in lines[-1]
        assert "node node-p" in lines[-1]
        # The data plane is up without any control plane.
        with socket.create_connection(("127.0.0.1", rtmp_port), timeout=5):
            pass
        tree = process_tree(proc.pid)
        assert len(tree) >= 2, "nginx is not running under the agent"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert wait_gone(tree) == []
    # The stored credential is untouched.
    assert load_credential(DataDir(data_dir)) is not None


def test_waits_for_the_control_plane_to_register_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    with agent_process(agent_argv(data_dir, "--join-token", "cfj_" + "x" * 20)) as proc:
        wait_for_line(proc, "cannot register with the control plane yet", timeout=30)
        assert proc.poll() is None
        tree = process_tree(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert wait_gone(tree) == []
    assert load_credential(DataDir(data_dir)) is None
