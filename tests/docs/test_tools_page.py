"""docs/api/tools.md's grpc-web call by hand works as printed, through a real Envoy in front of a
real control plane (rendered as ./start renders it)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from harness.processes import ROOT
from tests.support.envoy import running_envoy
from tests.support.platform import Platform

TOOLS = (ROOT / "docs" / "api" / "tools.md").read_text()


async def test_the_grpc_web_call_by_hand_answers_through_envoy(
    sqlite_platform: Platform, tmp_path: Path
) -> None:
    (command,) = [
        block
        for block in re.findall(r"```sh\n(.*?)```", TOOLS, re.S)
        if "application/grpc-web+proto" in block
    ]
    command = command.replace("\\\n", " ").strip()
    assert command.endswith("| od -c")
    command = command.removesuffix("| od -c")  # the raw bytes, to read them here
    async with running_envoy([("127.0.0.1", sqlite_platform.plane.port)], tmp_path) as port:
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command.replace("127.0.0.1:8080", f"127.0.0.1:{port}"),
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0
    # A data frame (flag 0) holding HealthCheckResponse{status: SERVING} (field 1 = 1), then the
    # trailer frame (flag 0x80) with the status.
    assert out.startswith(b"\x00\x00\x00\x00\x02\x08\x01"), out
    assert b"\x80" in out and b"grpc-status:0" in out, out
