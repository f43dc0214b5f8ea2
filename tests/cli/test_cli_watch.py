"""`camfleet events watch` as a subprocess: it prints the changes another call makes, and when its
connection drops (a proxy between it and the control plane is cut) it resumes from the last
revision it saw: the change made while it was cut off arrives once, nothing arrives twice."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2

from harness.tcp_proxy import cuttable_proxy
from tests.cli.cli_process import Cli, running
from tests.support.platform import ADMIN_PASSWORD, Platform

pytestmark = pytest.mark.timeout(300)


async def new_camera(platform: Platform, name: str) -> str:
    resp = await platform.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=name)),
        metadata=platform.admin,
    )
    return resp.camera.id


async def test_a_watch_sees_changes_and_resumes_after_a_dropped_connection(
    platform: Platform, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    cli = Cli(tmp_path / "cli")
    with cuttable_proxy(("127.0.0.1", platform.plane.port)) as proxy:
        await cli.login(f"127.0.0.1:{proxy.port}", "admin", ADMIN_PASSWORD)
        async with running(
            cli, "-o", "json", "events", "watch", "--filter", "type = CAMERA_CREATED"
        ) as watch:
            await watch.until("Watching from revision", stderr=True)
            first = await new_camera(platform, f"watch-a-{tag}")
            await watch.until(first)

            proxy.cut()
            await watch.until("Connection lost", stderr=True)
            # Made while the watch is cut off: it must still see it, from its cursor.
            missed = await new_camera(platform, f"watch-b-{tag}")
            proxy.restore()
            await watch.until(missed)
            after = await new_camera(platform, f"watch-c-{tag}")
            await watch.until(after)

            ids = [
                json.loads(line)["camera"]["id"]
                for line in watch.stdout
                if line.startswith("{") and tag in line
            ]
            assert ids == [first, missed, after], watch.text()
            revisions = [int(json.loads(line)["revision"]) for line in watch.stdout]
            assert revisions == sorted(set(revisions)), watch.text()

            # Ctrl-C: a clean stop that says where to resume from.
            watch.child.send_signal(signal.SIGINT)
            async with asyncio.timeout(60):
                assert await watch.child.wait() == 130, watch.text()
            await watch.until(f"Stopped at revision {revisions[-1]}", stderr=True)


async def test_a_filter_with_a_syntax_error_is_the_servers_sentence(
    platform: Platform, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "cli")
    await cli.login(platform.target, "admin", ADMIN_PASSWORD)
    bad = await cli.run("events", "watch", "--filter", "type = = CAMERA_CREATED")
    assert bad.code == 6, bad
    assert "Traceback" not in bad.stderr
    assert "filter" in bad.stderr.lower(), bad
