"""`python -m server` as an operator runs it: first start, restart, shutdown, bad settings."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc

from harness.control_plane import run_server, server_process
from harness.ports import free_port
from harness.processes import wait_for_line


async def _login(port: int, password: str) -> auth_pb2.LoginResponse:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        return await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=password)
        )


async def test_first_start_prints_admin_password_once_and_sigterm_stops(tmp_path: Path) -> None:
    port = free_port()
    env = {"CAMFLEET_DATA_DIR": str(tmp_path), "CAMFLEET_LISTEN": f"127.0.0.1:{port}"}
    with server_process(env) as proc:
        out = "".join(wait_for_line(proc, "ready on"))
        match = re.search(r"Created user 'admin' with password: (\S+)", out)
        assert match, out
        password = match.group(1)
        assert len(password) >= 12
        assert (await _login(port, password)).user.username == "admin"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert password not in (proc.stderr.read() if proc.stderr else "")  # never logged

    with server_process(env) as again:  # same data: no new password, the old one still works
        out = "".join(wait_for_line(again, "ready on"))
        assert "Created user" not in out
        assert (await _login(port, password)).user.username == "admin"
    assert (tmp_path / "camfleet.db").exists()


async def test_admin_password_from_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "CAMFLEET_DATA_DIR": str(tmp_path),
        "CAMFLEET_ADMIN_PASSWORD": "from-the-environment",
    }
    with server_process(env, "--listen", f"127.0.0.1:{port}") as proc:  # flag beats default
        out = "".join(wait_for_line(proc, "ready on"))
        assert "Created user" not in out
        assert (await _login(port, "from-the-environment")).tokens.access_token


def test_bad_settings_exit_2_with_the_setting_named(tmp_path: Path) -> None:
    result = run_server(env={"CAMFLEET_DATA_DIR": str(tmp_path), "CAMFLEET_LOG_LEVEL": "LOUD"})
    assert result.returncode == 2
    assert "CAMFLEET_LOG_LEVEL" in result.stderr
    result = run_server("--access-token-ttl", "soon", env={"CAMFLEET_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "CAMFLEET_ACCESS_TOKEN_TTL" in result.stderr
    result = run_server(
        env={"CAMFLEET_DATA_DIR": str(tmp_path), "CAMFLEET_ADMIN_PASSWORD": "short"}
    )
    assert result.returncode == 2
    assert "at least 12" in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_server(
            env={
                "CAMFLEET_DATA_DIR": str(tmp_path),
                "CAMFLEET_LISTEN": f"127.0.0.1:{port}",
                "CAMFLEET_ADMIN_PASSWORD": "start-admin-7341",
            }
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = run_server(
        env={
            "CAMFLEET_DATA_DIR": str(tmp_path),
            "CAMFLEET_LISTEN": "127.0.0.1:0",
            "CAMFLEET_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "CAMFLEET_ADMIN_PASSWORD": "start-admin-7341",
        }
    )
    assert result.returncode == 1
    assert "cannot reach Redis" in result.stderr


def test_migrate_command(tmp_path: Path) -> None:
    result = run_server("migrate", env={"CAMFLEET_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "camfleet.db").exists()
