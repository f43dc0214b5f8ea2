"""nginx reloaded with new HLS settings (node_agent.nginx.reload) with a real nginx-rtmp and a
camera publishing through it: the master keeps running, the old worker (which nginx-rtmp keeps
alive for as long as a publisher is connected to it) is ended, the camera reconnects to the new
worker as after a network cut, its live playlist then has the new fragment length, /stat sees
the stream again, and a viewer's signed playlist URL answers throughout."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from camfleet.playback import Grant

from harness.processes import stop_by_pid
from node_agent.nginx.config import render
from node_agent.nginx.reload import reload as reload_nginx
from node_agent.nginx.reload import serving_workers, workers
from node_agent.nginx.stat import parse_stat
from server.cameras.playback import hls_url
from tests.support.agent_node import (
    Node,
    NodeCallbacks,
    ffmpeg_publish_argv,
    http_get,
    new_camera_id,
    running_node,
    worker_reachable_dir,
)

SECRET = secrets.token_bytes(32)
KEY = "cam" + secrets.token_hex(8)
CAMERA = new_camera_id()
GRANT = Grant(("user-1",), int(time.time()))


@asynccontextmanager
async def reconnecting_camera(url: str) -> AsyncIterator[list[int]]:
    """A camera publishing to `url` that connects again half a second after it is cut off, as
    cameras do; yields the list of its publisher PIDs (one per connection). Ended by PID."""
    pids: list[int] = []
    current: list[subprocess.Popen[bytes]] = []
    stopping = asyncio.Event()

    async def run() -> None:
        while not stopping.is_set():
            proc = subprocess.Popen(
                ffmpeg_publish_argv(url, seconds=120, size="320x180", preset="ultrafast"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            current[:] = [proc]
            pids.append(proc.pid)
            # Until it is cut off (or the test ends).
            exited = asyncio.create_task(asyncio.to_thread(proc.wait))
            stop = asyncio.create_task(stopping.wait())
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if stopping.is_set():
                break
            await asyncio.sleep(0.5)

    task = asyncio.create_task(run())
    try:
        yield pids
    finally:
        stopping.set()
        await task
        for proc in current:
            stop_by_pid(proc, grace_s=5)


async def _target_duration(node: Node, seconds: int, within_s: float) -> str:
    playlist = node.layout.hls / KEY / "index.m3u8"
    deadline = time.monotonic() + within_s
    text = ""
    while time.monotonic() < deadline:
        try:
            text = playlist.read_text()
        except FileNotFoundError:
            text = ""
        match = re.search(r"#EXT-X-TARGETDURATION:(\d+)", text)
        if match and int(match.group(1)) == seconds and text.count(".ts") >= 2:
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"no playlist with EXT-X-TARGETDURATION:{seconds}:\n{text}")


async def _publishing_in_stat(node: Node) -> bool:
    _, body = await http_get(node.ports.stat_socket, "/stat")
    return any(s.name == KEY and s.publishing for s in parse_stat(body.decode()))


async def test_a_reload_applies_new_hls_lengths_with_the_master_kept() -> None:
    callbacks = NodeCallbacks(secret=SECRET, keys={KEY: CAMERA})
    with worker_reachable_dir() as root:
        async with (
            running_node(root, callbacks) as node,
            reconnecting_camera(node.rtmp_url(KEY)) as publishers,
        ):
            await _target_duration(node, 1, within_s=60)
            assert await _publishing_in_stat(node)
            url, _ = hls_url(node.http_base, SECRET, CAMERA, timedelta(minutes=5), GRANT)
            path = url[len(node.http_base) :]
            status, _ = await http_get(node.ports.http_listen, path)
            assert status == 200
            master = node.nginx.pid
            assert master is not None
            old_workers = workers(master)

            node.layout.conf.write_text(render(node.layout, node.ports, 2.0, 12.0))
            assert await reload_nginx(master)

            assert node.nginx.pid == master  # reloaded, not restarted
            assert not old_workers & workers(master)  # the old worker with the camera ended
            assert serving_workers(master)
            await _target_duration(node, 2, within_s=60)
            # The camera came back on the new worker: a second connection, seen by /stat.
            assert len(publishers) >= 2
            assert [k for k, _ in callbacks.published].count(KEY) >= 2
            deadline = time.monotonic() + 30
            while not await _publishing_in_stat(node):
                assert time.monotonic() < deadline, "the new worker's /stat lacks the stream"
                await asyncio.sleep(0.2)
            # The viewer's URL still answers, served by the new worker.
            status, body = await http_get(node.ports.http_listen, path)
            assert status == 200 and b"#EXT-X-TARGETDURATION:2" in body


async def test_a_reload_without_streams_ends_no_one() -> None:
    callbacks = NodeCallbacks(secret=SECRET, keys={KEY: CAMERA})
    with worker_reachable_dir() as root:
        async with running_node(root, callbacks) as node:
            master = node.nginx.pid
            assert master is not None
            node.layout.conf.write_text(render(node.layout, node.ports, 3.0))
            assert await reload_nginx(master)
            assert node.nginx.pid == master
            assert "hls_fragment 3000ms" in node.layout.conf.read_text()
            assert "hls_playlist_length 18000ms" in node.layout.conf.read_text()
