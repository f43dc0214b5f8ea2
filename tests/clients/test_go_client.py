"""The Go client (clients/go) builds offline from Debian's Go packages in GOPATH mode, and its
examples run against a real control plane on each backend."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from harness.processes import clean_env
from tests.conftest import PlatformFactory
from tests.support.go_build import GO_CLIENT, go_env
from tests.support.platform import ADMIN_PASSWORD, Platform

IMPORT_ROOT = "camfleet.io/go"
PACKAGES = [f"{IMPORT_ROOT}/camfleetv1", f"{IMPORT_ROOT}/camfleet", f"{IMPORT_ROOT}/examples"]
# Every example and test in clients/go/examples: each must be seen passing.
EXPECTED = [
    "Example_login",
    "Example_wrongPassword",
    "Example_cameraLifecycle",
    "Example_fieldViolation",
    "Example_apiToken",
    "Example_watchEvents",
    "Example_watchWithABadFilter",
    "Example_serverDown",
    "TestConcurrentCallsRefreshOneAtATime",
    "TestRefreshAfterTheServerRefusedAnExpiredToken",
]
# A cold build of grpc-go on a loaded 2-core machine takes minutes, not seconds.
pytestmark = pytest.mark.timeout(900)


async def _exec(
    argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float
) -> tuple[int, str]:
    """Run argv to its end without blocking the loop (the control plane runs on it): its exit
    code and what it printed."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(errors="replace")


async def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float) -> str:
    """Like _exec; argv must exit 0. Returns what it printed."""
    code, text = await _exec(argv, env, cwd, timeout_s)
    assert code == 0, f"{' '.join(argv)}: exit {code}\n{text}"
    return text


@pytest.fixture(scope="module")
async def examples_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Check the formatting of every package of the Go client, vet and build them, run the unit
    tests, and compile the examples into a test binary (once for both backends)."""
    go, gofmt = shutil.which("go"), shutil.which("gofmt")
    assert go and gofmt, "Debian's golang-go is required (scripts/bootstrap.sh installs it)"
    tmp = tmp_path_factory.mktemp("go")
    gopath = tmp / "gopath"
    (gopath / "src" / "camfleet.io").mkdir(parents=True)
    (gopath / "src" / IMPORT_ROOT).symlink_to(GO_CLIENT, target_is_directory=True)
    env = go_env(gopath)
    unformatted = await _run(
        [gofmt, "-l", "camfleet", "examples"],
        env,
        GO_CLIENT,
        timeout_s=120,
    )
    assert not unformatted.strip(), f"not gofmt-formatted (run gofmt -w):\n{unformatted}"
    await _run([go, "vet", *PACKAGES], env, tmp, timeout_s=600)
    await _run([go, "build", *PACKAGES], env, tmp, timeout_s=600)
    unit = await _run([go, "test", f"{IMPORT_ROOT}/camfleet"], env, tmp, timeout_s=600)
    assert f"ok  \t{IMPORT_ROOT}/camfleet" in unit, unit
    binary = tmp / "examples.test"
    await _run(
        [go, "test", "-c", "-o", str(binary), f"{IMPORT_ROOT}/examples"], env, tmp, timeout_s=600
    )
    return binary


async def test_go_examples_run_against_a_live_control_plane(
    examples_binary: Path, platform: Platform, make_platform: PlatformFactory
) -> None:
    # The refresh test needs access tokens that expire while it waits, but live long enough for
    # the retry after the refresh on a loaded machine.
    short = await make_platform(access_token_ttl=timedelta(seconds=6))
    env = clean_env()
    env.update(
        CAMFLEET_TARGET=platform.target,
        CAMFLEET_PASSWORD=ADMIN_PASSWORD,
        CAMFLEET_SHORT_TARGET=short.target,
    )
    out = await _run(
        [str(examples_binary), "-test.v", "-test.count=1", "-test.timeout=300s"],
        env,
        examples_binary.parent,
        timeout_s=400,
    )
    for name in EXPECTED:
        assert f"--- PASS: {name} " in out, f"{name} did not pass:\n{out}"


async def test_go_examples_refuse_to_run_without_a_server(examples_binary: Path) -> None:
    code, out = await _exec([str(examples_binary)], clean_env(), examples_binary.parent, 120)
    assert code == 2, out
    assert "set CAMFLEET_TARGET (host:port of a running control plane)" in out
