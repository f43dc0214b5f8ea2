"""`camfleet` login, contexts and the session against live control planes (tests/cli/conftest.py):
the config file's mode, a refused config file, a server that is down, an
expired access token refreshed silently, a session that ended (log in again), API tokens."""

from __future__ import annotations

import asyncio
import socket
import stat
import time
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
import yaml
from camfleet.v1 import auth_pb2, auth_pb2_grpc, common_pb2

from tests.cli.cli_process import Cli
from tests.conftest import PlatformFactory
from tests.support.platform import ADMIN_PASSWORD, Platform, bearer

pytestmark = pytest.mark.timeout(300)


def _config(cli: Cli) -> dict[str, object]:
    loaded = yaml.safe_load(Path(cli.env["CAMFLEET_CONFIG"]).read_text())
    assert isinstance(loaded, dict)
    return loaded


def _context(cli: Cli, name: str = "default") -> dict[str, str]:
    contexts = _config(cli)["contexts"]
    assert isinstance(contexts, dict)
    found = contexts[name]
    assert isinstance(found, dict)
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _exists(path: Path) -> bool:
    return path.exists()


def _chmod(path: Path, mode: int) -> None:
    path.chmod(mode)


def _write(path: Path, document: object) -> None:
    path.write_text(yaml.safe_dump(document))


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_login_stores_tokens_privately_and_contexts_switch(
    platform: Platform, tmp_path: Path
) -> None:
    # The config's directory does not exist yet: camfleet makes it, private.
    config = tmp_path / "xdg" / "camfleet" / "config.yaml"
    cli = Cli(tmp_path / "home", env={"CAMFLEET_CONFIG": str(config)})
    await cli.login(platform.target, "admin", ADMIN_PASSWORD)
    path = Path(cli.env["CAMFLEET_CONFIG"])
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    stored = _context(cli)
    assert stored["server"] == platform.target
    assert stored["refresh-token"].startswith("rt_") and stored["access-token"]

    who = await cli.run("whoami")
    assert who.code == 0, who
    assert "admin" in who.stdout and "password" in who.stdout and "cameras.write" in who.stdout

    # A second context for a viewer; `context use` switches between them.
    viewer, password = await platform.create_user(common_pb2.ROLE_VIEWER)
    second = await cli.run(
        "login", "--context", "viewer", "-s", platform.target, "-u", viewer.username,
        "--password-stdin", stdin=password + "\n",
    )  # fmt: skip
    assert second.code == 0, second
    assert "context viewer" in second.stdout
    listed = await cli.run("-o", "json", "context", "list")
    assert listed.code == 0, listed
    rows = {row["name"]: row for row in yaml.safe_load(listed.stdout)}
    assert rows["viewer"]["current"] and not rows["default"]["current"]
    assert rows["viewer"]["username"] == viewer.username

    as_viewer = await cli.run("-o", "json", "whoami")
    assert yaml.safe_load(as_viewer.stdout)["user"]["role"] == "ROLE_VIEWER"
    as_admin = await cli.run("--context", "default", "-o", "yaml", "whoami")
    assert yaml.safe_load(as_admin.stdout)["user"]["username"] == "admin"

    used = await cli.run("context", "use", "default")
    assert used.code == 0, used
    assert _config(cli)["current-context"] == "default"
    unknown = await cli.run("context", "use", "nowhere")
    assert unknown.code == 5 and "no context named 'nowhere'" in unknown.stderr, unknown
    deleted = await cli.run("context", "delete", "viewer")
    assert deleted.code == 0, deleted
    assert set(_config(cli)["contexts"]) == {"default"}  # type: ignore[arg-type]


async def test_a_wrong_password_is_one_sentence_and_exit_3(
    platform: Platform, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "cli")
    refused = await cli.run(
        "login", "-s", platform.target, "-u", "admin", "--password-stdin", stdin="wrong\n"
    )
    assert refused.code == 3, refused
    assert refused.stderr.startswith("Error: ") and len(refused.stderr.splitlines()) == 1
    assert "Traceback" not in refused.stderr
    assert not _exists(Path(cli.env["CAMFLEET_CONFIG"]))  # nothing stored


async def test_a_config_file_others_may_read_is_refused_with_the_fix(
    platform: Platform, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "cli")
    await cli.login(platform.target, "admin", ADMIN_PASSWORD)
    path = Path(cli.env["CAMFLEET_CONFIG"])
    _chmod(path, 0o644)
    refused = await cli.run("cameras", "list")
    assert refused.code == 1, refused
    assert f"chmod 600 {path}" in refused.stderr and "mode 0644" in refused.stderr, refused
    assert refused.stdout == ""
    _chmod(path, 0o600)
    assert (await cli.run("cameras", "list")).code == 0


async def test_a_server_that_is_down_is_one_sentence_and_exit_7(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "cli")
    address = f"127.0.0.1:{_dead_port()}"
    login = await cli.run("login", "-s", address, "-u", "admin", "--password-stdin", stdin="x\n")
    assert login.code == 7, login
    assert login.stderr.count("\n") == 1 and f"server at {address} is not reachable" in login.stderr

    # A context whose server went away: the same sentence for any command.
    path = Path(cli.env["CAMFLEET_CONFIG"])
    _write(
        path,
        {
            "current-context": "default",
            "contexts": {"default": {"server": address, "auth": "api_token", "api-token": "cft_x"}},
        },
    )
    _chmod(path, 0o600)
    for args in (("cameras", "list"), ("nodes", "list"), ("-o", "json", "whoami")):
        down = await cli.run(*args)
        assert down.code == 7, down
        assert down.stdout == "" and down.stderr.count("\n") == 1, down
        assert "not reachable" in down.stderr, down


async def test_without_a_login_commands_say_how_to_log_in(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "cli")
    missing = await cli.run("cameras", "list")
    assert missing.code == 3, missing
    assert "camfleet login --server" in missing.stderr


async def _refused_now(plane: Platform, access_token: str) -> bool:
    try:
        await auth_pb2_grpc.AuthServiceStub(plane.channel).WhoAmI(
            auth_pb2.WhoAmIRequest(), metadata=bearer(access_token)
        )
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED, err
        return True
    return False


async def _until_expired(plane: Platform, access_token: str) -> None:
    deadline = time.monotonic() + 120
    while not await _refused_now(plane, access_token):
        assert time.monotonic() < deadline, "the access token never expired"
        await asyncio.sleep(0.5)


async def test_an_expired_session_is_refreshed_silently(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    plane = await make_platform(access_token_ttl=timedelta(seconds=6))
    cli = Cli(tmp_path / "cli")
    await cli.login(plane.target, "admin", ADMIN_PASSWORD)
    first = _context(cli)
    await _until_expired(plane, first["access-token"])

    # The config still claims the token is good: the server's refusal starts the refresh.
    path = Path(cli.env["CAMFLEET_CONFIG"])
    claimed = _config(cli)
    claimed["contexts"]["default"]["access-token-expire-time"] = "2999-01-01T00:00:00Z"  # type: ignore[index]
    _write(path, claimed)
    who = await cli.run("-o", "json", "whoami")
    assert who.code == 0, who
    assert yaml.safe_load(who.stdout)["user"]["username"] == "admin"
    second = _context(cli)
    assert second["refresh-token"] != first["refresh-token"]
    assert second["access-token"] != first["access-token"]
    assert _mode(path) == 0o600

    # Its expiry passed, as the config knows: refreshed before the call.
    await _until_expired(plane, second["access-token"])
    listed = await cli.run("cameras", "list")
    assert listed.code == 0, listed
    assert _context(cli)["refresh-token"] not in (first["refresh-token"], second["refresh-token"])


async def test_a_session_that_ended_asks_to_log_in_again(
    platform: Platform, tmp_path: Path
) -> None:
    user, password = await platform.create_user(common_pb2.ROLE_OPERATOR)
    cli = Cli(tmp_path / "cli")
    await cli.login(platform.target, user.username, password)
    refresh_token = _context(cli)["refresh-token"]
    # The session ends elsewhere (as after a logout on another device).
    await platform.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=refresh_token),
        metadata=bearer(_context(cli)["access-token"]),
    )
    ended = await cli.run("cameras", "list")
    assert ended.code == 3, ended
    assert "log in again: camfleet login" in ended.stderr, ended
    assert ended.stderr.count("\n") == 1, ended

    await cli.login(platform.target, user.username, password)
    assert (await cli.run("cameras", "list")).code == 0
    out = await cli.run("logout")
    assert out.code == 0, out
    assert "access-token" not in _context(cli) and "refresh-token" not in _context(cli)
    after = await cli.run("cameras", "list")
    assert after.code == 3 and "log in again" in after.stderr, after
    # The server ended the session too: the old refresh token is refused.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=refresh_token))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_api_token_logs_in_and_its_scopes_hold(platform: Platform, tmp_path: Path) -> None:
    secret = await platform.api_token(["cameras.read"])
    cli = Cli(tmp_path / "cli")
    login = await cli.run("login", "-s", platform.target, "--token", "-", stdin=secret + "\n")
    assert login.code == 0, login
    assert _context(cli)["auth"] == "api_token"
    who = await cli.run("-o", "json", "whoami")
    assert yaml.safe_load(who.stdout)["auth_method"] == "api_token"
    assert (await cli.run("cameras", "list")).code == 0
    denied = await cli.run("cameras", "create", "never-made")
    assert denied.code == 4, denied
    assert "cameras.write" in denied.stderr

    # CAMFLEET_TOKEN with --server needs no config file at all.
    bare = Cli(tmp_path / "bare", env={})
    bare.env["CAMFLEET_TOKEN"] = secret
    listed = await bare.run("--server", platform.target, "-o", "json", "cameras", "list")
    assert listed.code == 0, listed
    assert isinstance(yaml.safe_load(listed.stdout), list)
    assert not _exists(Path(bare.env["CAMFLEET_CONFIG"]))


async def test_a_contexts_credentials_never_go_to_another_server(
    platform: Platform, tmp_path: Path
) -> None:
    # A listener that records what callers send and refuses them all: another server, given
    # with --server while a context for the platform is current.
    seen: list[dict[str, str]] = []

    async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Sign in first.")
        raise AssertionError("unreachable")

    class Recorder(grpc.GenericRpcHandler):
        def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(refuse)

    other = grpc.aio.server()
    other.add_generic_rpc_handlers((Recorder(),))
    port = other.add_insecure_port("127.0.0.1:0")
    await other.start()
    try:
        cli = Cli(tmp_path / "cli")
        await cli.login(platform.target, "admin", ADMIN_PASSWORD)
        listed = await cli.run("--server", f"127.0.0.1:{port}", "cameras", "list")
        # Refused (nothing to sign in with there), and no token of the context was sent.
        assert listed.code == 3, listed
        assert all("authorization" not in metadata for metadata in seen), seen
        # The context still works against its own server, its tokens unchanged.
        assert (await cli.run("cameras", "list")).code == 0
    finally:
        await other.stop(None)
