"""The TypeScript client works from Node against a real control plane (gRPC transport)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from harness.processes import ROOT
from tests.support.assertions import runs_cleanly
from tests.support.platform import ADMIN_PASSWORD, Platform

TS = ROOT / "clients" / "typescript"


async def _run(*args: str, cwd: str = str(TS)) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode()


@pytest.fixture(scope="module")
def built_client() -> None:
    """Compile the TypeScript client once for this module (tsc → dist/)."""
    npm = shutil.which("npm")
    assert npm, "npm is required (the README's commands install it)"
    runs_cleanly([npm, "run", "--silent", "build"], TS, timeout_s=180)


@pytest.mark.usefixtures("built_client")
async def test_node_example_lists_cameras(platform: Platform) -> None:
    camera = await platform.new_camera()
    code, out = await _run(
        "node",
        "dist/examples/list-cameras.js",
        f"http://{platform.target}",
        "admin",
        ADMIN_PASSWORD,
    )
    assert code == 0, out
    assert "logged in as admin" in out
    assert f"{camera.id}  OFFLINE" in out and camera.name in out


@pytest.mark.usefixtures("built_client")
async def test_node_example_reports_a_wrong_password(platform: Platform) -> None:
    code, out = await _run(
        "node", "dist/examples/list-cameras.js", f"http://{platform.target}", "admin", "wrong-one"
    )
    assert code == 1
    assert "[unauthenticated] username or password is incorrect" in out
