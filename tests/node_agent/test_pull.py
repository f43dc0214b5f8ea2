"""Pull ingest on a whole agent (in process, real nginx and ffmpeg) from a real RTSP camera
(GStreamer's RTSP server with basic authentication, harness.rtsp_source): a pull camera goes
live and plays over signed HLS; a wrong path, a wrong password and a closed port become ERRORs
with their reasons; file:, concat:, subfile: and an HLS playlist pointing at a local file are
refused and no local file is opened; credentials reach neither the logs nor the events; a
removed camera's ffmpeg is gone by its PID, a changed URL restarts it. No control plane: the
assignments are handed to the agent as the Connect stream would."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from camfleet.playback import Grant
from camfleet.v1 import agent_pb2, stream_pb2

from harness.ports import free_port
from harness.processes import (
    Child,
    clean_env,
    kill_survivors,
    process_alive,
    process_tree,
    survivors_after,
)
from harness.rtsp_source import RtspSource, rtsp_source
from node_agent.agent import Agent
from node_agent.config import AgentConfig
from node_agent.config_values import HostPort
from node_agent.convert import assignment_from_proto
from node_agent.credentials import Credential, save_credential
from node_agent.publish_auth import PULL_FROM_ELSEWHERE, PublishGate, RateLimiter
from node_agent.pull import reasons
from node_agent.state import DataDir, save_assignment, save_playback_secret
from server.cameras.playback import hls_url
from tests.support.agent_node import agent_argv, http_get, new_camera_id, running_agent

SECRET = secrets.token_bytes(32)
GRANT = Grant(("user-1",), int(time.time()))
# Odd characters on purpose: they travel percent-encoded in the URL and decoded in requests.
USER = "cam op"
PASSWORD = "p@ss:w/rd%" + secrets.token_hex(6)
_versions = itertools.count(2)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspSource]:
    with rtsp_source(tmp_path_factory.mktemp("rtsp"), user=USER, password=PASSWORD) as s:
        yield s


@pytest.fixture(scope="module")
def agent_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything the agent logs (the in-process agent logs through the root logger)."""
    path = tmp_path_factory.mktemp("log") / "agent.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    node_logger = logging.getLogger("node_agent")
    old_level = node_logger.level
    node_logger.setLevel(logging.DEBUG)
    node_logger.addHandler(handler)
    yield path
    node_logger.removeHandler(handler)
    node_logger.setLevel(old_level)
    handler.close()


@pytest.fixture(scope="module")
async def agent(tmp_path_factory: pytest.TempPathFactory, agent_log: Path) -> AsyncIterator[Agent]:
    root = tmp_path_factory.mktemp("pull-node")
    data_dir = DataDir(root)
    data_dir.create()
    save_credential(data_dir, Credential("node-test", "cfn_" + secrets.token_urlsafe(16)))
    save_assignment(data_dir, assignment_from_proto(agent_pb2.Assignment(version=1)))
    save_playback_secret(data_dir, SECRET)
    config = AgentConfig(
        control_plane=HostPort("127.0.0.1", free_port()),  # nobody listens: no control plane
        data_dir=root,
        name="pull-node",
        rtmp_listen=HostPort("127.0.0.1", free_port()),
        http_listen=HostPort("127.0.0.1", free_port()),
        stat_interval_s=0.25,
    )
    async with running_agent(config) as a:
        yield a


def pull(camera_id: str, url: str, key: str | None = None) -> agent_pb2.AssignedCamera:
    return agent_pb2.AssignedCamera(
        camera_id=camera_id,
        name="pulled",
        ingest=agent_pb2.ASSIGNED_INGEST_PULL,
        stream_key=key or "pull" + secrets.token_hex(8),
        source_url=url,
    )


async def assign(agent: Agent, *cameras: agent_pb2.AssignedCamera) -> None:
    """Hand the agent a new assignment of `cameras`, as the control plane would; it is ACKed."""
    assert agent.connection is not None
    new = agent_pb2.Assignment(version=next(_versions), cameras=cameras)
    [reply] = await agent.connection.messages.handle(agent_pb2.ConnectResponse(assignment=new))
    assert reply.WhichOneof("body") == "ack", reply


def stream_events(agent: Agent, camera_id: str) -> list[agent_pb2.StreamEvent]:
    assert agent.spool is not None
    pending = agent.spool.pending(0, 10_000)
    requests = [agent_pb2.ConnectRequest.FromString(e.payload) for e in pending]
    return [
        r.stream_event
        for r in requests
        if r.WhichOneof("body") == "stream_event" and r.stream_event.camera_id == camera_id
    ]


def errors(agent: Agent, camera_id: str) -> list[str]:
    return [
        e.message
        for e in stream_events(agent, camera_id)
        if e.type == stream_pb2.STREAM_EVENT_TYPE_ERROR
    ]


async def until(check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def first_error(agent: Agent, camera_id: str) -> str:
    await until(lambda: bool(errors(agent, camera_id)), f"an ERROR of camera {camera_id}")
    return errors(agent, camera_id)[0]


def closed_port() -> int:
    """A loopback port nobody listens on."""
    return free_port()


async def test_a_pull_camera_goes_live_and_plays(agent: Agent, source: RtspSource) -> None:
    camera_id, key = new_camera_id(), "pull" + secrets.token_hex(8)
    await assign(agent, pull(camera_id, source.url, key))
    await until(
        lambda: any(
            e.type == stream_pb2.STREAM_EVENT_TYPE_MEDIA for e in stream_events(agent, camera_id)
        ),
        "the pulled stream's media",
    )
    publish, media = stream_events(agent, camera_id)[:2]
    assert publish.type == stream_pb2.STREAM_EVENT_TYPE_PUBLISH
    assert publish.remote_address == "127.0.0.1"
    assert "H264" in media.message and "640x360" in media.message
    live = agent.streams.by_camera(camera_id)
    assert live is not None and live.stream_key == key and live.assigned

    # Live HLS under the camera's key, served to a signed URL as for a push camera.
    playlist = agent.data_dir.nginx / "hls" / key / "index.m3u8"
    await until(playlist.exists, "the HLS playlist")
    url, _ = hls_url(agent.config.http_url, SECRET, camera_id, timedelta(minutes=5), GRANT)
    path = url.removeprefix(agent.config.http_url)
    status, body = await http_get(str(agent.config.http_listen), path)
    assert status == 200, body
    assert body.startswith(b"#EXTM3U")
    assert errors(agent, camera_id) == []

    # Gone from the assignment: its ffmpeg ends (by PID, nothing of it left) and so does the
    # publish.
    assert agent.pulls is not None
    pid = agent.pulls.pullers[camera_id].pid
    assert pid is not None
    tree = process_tree(pid)
    assert tree
    await assign(agent)
    await until(lambda: camera_id not in agent.pulls.pullers if agent.pulls else False, "stop")
    assert await survivors_after(tree, within_s=5) == []
    await until(lambda: agent.streams.by_camera(camera_id) is None, "the publish to end")
    assert [e.type for e in stream_events(agent, camera_id)][-1] == (
        stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH
    )
    assert errors(agent, camera_id) == []


async def test_a_source_that_goes_away_leaves_its_camera_in_error(
    agent: Agent, tmp_path: Path
) -> None:
    camera_id = new_camera_id()
    with rtsp_source(tmp_path) as dying:
        await assign(agent, pull(camera_id, dying.url))
        await until(lambda: agent.streams.by_camera(camera_id) is not None, "the publish")
    message = await first_error(agent, camera_id)
    assert message in (reasons.SOURCE_ENDED, reasons.CONNECTION_REFUSED, reasons.TIMED_OUT)
    # UNPUBLISH first, then ERROR: the control plane leaves the camera in ERROR, with why.
    # The first restart is immediate, so its own failure (the source refusing the connection
    # now) may already have followed as a second ERROR with its reason.
    kinds = [e.type for e in stream_events(agent, camera_id)]
    assert kinds[:1] == [stream_pb2.STREAM_EVENT_TYPE_PUBLISH]
    assert stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH in kinds, kinds
    after = kinds[len(kinds) - kinds[::-1].index(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH) :]
    assert after and set(after) == {stream_pb2.STREAM_EVENT_TYPE_ERROR}, kinds
    await assign(agent)


async def test_a_pull_camera_with_a_microphone_keeps_its_audio(
    agent: Agent, tmp_path: Path
) -> None:
    # The short probe of an RTSP source (node_agent.pull.source) still finds the audio track,
    # at the first run.
    camera_id = new_camera_id()
    with rtsp_source(tmp_path, media="h264+aac", size=(320, 180), fps=10) as both:
        await assign(agent, pull(camera_id, both.url))
        await until(
            lambda: any(
                e.type == stream_pb2.STREAM_EVENT_TYPE_MEDIA
                for e in stream_events(agent, camera_id)
            ),
            "the pulled stream's media",
        )
        media = next(
            e
            for e in stream_events(agent, camera_id)
            if e.type == stream_pb2.STREAM_EVENT_TYPE_MEDIA
        )
        assert "H264" in media.message and "AAC" in media.message, media.message
        assert agent.pulls is not None and agent.pulls.pullers[camera_id].runs == 1
        await assign(agent)
    assert errors(agent, camera_id) == []


@pytest.mark.parametrize(
    ("media", "reason"),
    [("audio", reasons.NO_VIDEO), ("h265", reasons.UNSUPPORTED_CODEC)],
)
async def test_sources_flv_cannot_carry_are_errors_with_reasons(
    agent: Agent, tmp_path: Path, media: str, reason: str
) -> None:
    camera_id = new_camera_id()
    with rtsp_source(tmp_path, media=media, size=(320, 180), fps=10) as odd:
        await assign(agent, pull(camera_id, odd.url))
        assert await first_error(agent, camera_id) == reason
    await assign(agent)


async def test_a_silent_source_times_out(agent: Agent) -> None:
    # Accepts the connection and never answers: only the I/O timeout ends ffmpeg's wait.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert agent.pulls is not None
    settings = agent.pulls.settings
    agent.pulls.settings = replace(settings, io_timeout_s=2.0)  # for pullers started now
    try:
        camera_id = new_camera_id()
        await assign(agent, pull(camera_id, f"rtsp://127.0.0.1:{port}/x"))
        assert await first_error(agent, camera_id) == reasons.TIMED_OUT
        await assign(agent)
    finally:
        agent.pulls.settings = settings
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("make_url", "reason"),
    [
        (lambda s: s.url_as(USER, PASSWORD, "/no-such-camera"), reasons.NOT_FOUND),
        (lambda s: s.url_as(USER, "not-the-password"), reasons.AUTHENTICATION_FAILED),
        (lambda s: s.url_as("", ""), reasons.AUTHENTICATION_FAILED),
        (
            lambda s: (
                f"rtsp://{quote(USER)}:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port()}/c"
            ),
            reasons.CONNECTION_REFUSED,
        ),
    ],
    ids=["wrong-path", "wrong-password", "no-credentials", "closed-port"],
)
async def test_source_failures_are_errors_with_reasons(
    agent: Agent, source: RtspSource, make_url: Callable[[RtspSource], str], reason: str
) -> None:
    camera_id = new_camera_id()
    await assign(agent, pull(camera_id, make_url(source)))
    assert await first_error(agent, camera_id) == reason
    # Retried with backoff, and a retry failing the same way adds no event.
    assert agent.pulls is not None
    puller = agent.pulls.pullers[camera_id]
    await until(lambda: puller.runs >= 2, "a retry", within_s=20)
    await asyncio.sleep(0.5)
    assert errors(agent, camera_id) == [reason]
    await assign(agent)


async def test_a_changed_source_url_restarts_the_pull(agent: Agent, source: RtspSource) -> None:
    camera_id, key = new_camera_id(), "pull" + secrets.token_hex(8)
    await assign(agent, pull(camera_id, source.url_as(USER, PASSWORD, "/nope"), key))
    assert await first_error(agent, camera_id) == reasons.NOT_FOUND
    assert agent.pulls is not None
    old = agent.pulls.pullers[camera_id]
    await assign(agent, pull(camera_id, source.url, key))
    await until(lambda: agent.streams.by_camera(camera_id) is not None, "the new URL to publish")
    assert agent.pulls.pullers[camera_id] is not old
    assert old.pid is None
    await assign(agent)
    await until(lambda: agent.streams.by_camera(camera_id) is None, "the publish to end")


async def test_a_pull_publishes_again_at_once_after_its_nginx_is_killed(
    agent: Agent, source: RtspSource
) -> None:
    """nginx SIGKILLed mid-publish (the agent starts it again at once) says nothing of the
    publish it took with it: the puller, told by the agent, ends its ffmpeg and the publish
    itself (UNPUBLISH, then the ERROR naming nginx, not the source) and publishes again as soon
    as nginx listens, without waiting for /stat to show the publish gone ("the stream is gone
    from nginx") or for ffmpeg to find its connection broken."""
    camera_id, key = new_camera_id(), "pull" + secrets.token_hex(8)
    T = stream_pb2
    await assign(agent, pull(camera_id, source.url, key))
    await until(
        lambda: T.STREAM_EVENT_TYPE_MEDIA in [e.type for e in stream_events(agent, camera_id)],
        "the pulled stream's media",
    )
    assert agent.nginx is not None and agent.nginx.pid is not None
    old_master = agent.nginx.pid
    for pid in process_tree(old_master):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)

    def published_twice() -> bool:
        return [e.type for e in stream_events(agent, camera_id)].count(
            T.STREAM_EVENT_TYPE_PUBLISH
        ) > 1

    await until(published_twice, "the publish again into the new nginx")
    assert agent.nginx.pid not in (None, old_master)
    events = stream_events(agent, camera_id)
    kinds = [e.type for e in events]
    assert kinds[:5] == [
        T.STREAM_EVENT_TYPE_PUBLISH,
        T.STREAM_EVENT_TYPE_MEDIA,
        T.STREAM_EVENT_TYPE_UNPUBLISH,
        T.STREAM_EVENT_TYPE_ERROR,
        T.STREAM_EVENT_TYPE_PUBLISH,
    ], events
    unpublish, error = events[2], events[3]
    assert "nginx restarted?" not in unpublish.message, unpublish
    assert error.message == reasons.NGINX_RESTARTED, error
    await assign(agent)
    await until(lambda: agent.streams.by_camera(camera_id) is None, "the publish to end")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "concat:/etc/passwd|/etc/hostname",
        "subfile:,,start,0,end,0,,:/etc/passwd",
        "pipe:0",
        "rtsp://camera.example/x\r\nInjected: 1",
        "rtsp://" + "a" * 10_000,
    ],
    ids=["file", "bare-path", "concat", "subfile", "pipe", "control-chars", "10kB"],
)
async def test_local_and_odd_urls_are_refused_before_ffmpeg(agent: Agent, url: str) -> None:
    camera_id = new_camera_id()
    await assign(agent, pull(camera_id, url))
    message = await first_error(agent, camera_id)
    assert message.startswith("source refused:"), message
    assert agent.pulls is not None
    assert agent.pulls.pullers[camera_id].runs == 0
    await assign(agent)


@contextlib.asynccontextmanager
async def serving(directory: Path) -> AsyncIterator[str]:
    """`directory` over HTTP on loopback; its base URL."""
    app = web.Application()
    app.router.add_static("/", directory)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def fifo_opened(path: Path) -> bool:
    """Whether anyone has opened the FIFO `path` for reading (a non-blocking open for writing
    fails with ENXIO while nobody has)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == errno.ENXIO, exc
        return False
    os.close(fd)
    return True


async def test_an_hls_playlist_cannot_make_the_node_read_a_local_file(
    agent: Agent, tmp_path: Path
) -> None:
    # A FIFO as the "local file": opening it for reading is seen at once, and nothing blocks.
    canary = tmp_path / "segment.ts"
    os.mkfifo(canary)
    www = tmp_path / "www"
    www.mkdir()
    (www / "evil.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
        f"#EXTINF:1.0,\nfile://{canary}\n#EXTINF:1.0,\n{canary}\n"
        f"#EXTINF:1.0,\nconcat:{canary}|{canary}\n#EXT-X-ENDLIST\n"
    )
    (www / "evil.ffconcat").write_text(f"ffconcat version 1.0\nfile {canary}\n")
    async with serving(www) as base:
        cameras = {new_camera_id(): f"{base}/{name}" for name in ("evil.m3u8", "evil.ffconcat")}
        await assign(agent, *(pull(c, url) for c, url in cameras.items()))
        for camera_id in cameras:
            message = await first_error(agent, camera_id)
            assert message == reasons.FORBIDDEN
            assert agent.pulls is not None
            assert agent.pulls.pullers[camera_id].runs >= 1  # ffmpeg did run, and read nothing
        assert not fifo_opened(canary)
        await assign(agent)


async def test_an_hls_source_over_http_is_pulled(agent: Agent, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    made = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
        "-i", "testsrc=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-g", "25",
        "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", str(www / "cam.m3u8"),
    )  # fmt: skip
    assert await made.wait() == 0
    camera_id = new_camera_id()
    async with serving(www) as base:
        await assign(agent, pull(camera_id, f"{base}/cam.m3u8"))
        # A finished playlist: published, then ended by the source.
        assert await first_error(agent, camera_id) == reasons.SOURCE_ENDED
    kinds = [e.type for e in stream_events(agent, camera_id)]
    assert kinds[0] == stream_pb2.STREAM_EVENT_TYPE_PUBLISH
    assert kinds[-1] == stream_pb2.STREAM_EVENT_TYPE_ERROR
    await assign(agent)


class _NoControlPlane:
    async def check(self, stream_key: str, remote_address: str) -> object:
        raise AssertionError("a pull camera's key never needs the control plane")


async def test_a_pull_cameras_key_is_published_from_its_node_only(agent: Agent) -> None:
    camera_id, key = new_camera_id(), "pull" + secrets.token_hex(8)
    await assign(agent, pull(camera_id, "rtsp://127.0.0.1:9/x", key))
    assert agent.outbox is not None
    gate = PublishGate(
        agent.assignment,
        agent.streams,
        _NoControlPlane(),
        agent.outbox,
        RateLimiter(),  # type: ignore[arg-type]
    )
    decision = await gate.on_publish(key, "192.0.2.7")
    assert not decision.allowed
    assert decision.reason == PULL_FROM_ELSEWHERE
    await assign(agent)


def pull_ffmpegs(tree: dict[int, str]) -> list[int]:
    """PIDs in `tree` that are a puller's ffmpeg (by its protocol whitelist)."""
    found = []
    for pid in tree:
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"-protocol_whitelist" in argv:
                found.append(pid)
    return found


def test_an_agent_killed_with_sigkill_leaves_no_pull_running(
    source: RtspSource, tmp_path: Path
) -> None:
    data_dir = DataDir(tmp_path / "node")
    data_dir.create()
    save_credential(data_dir, Credential("node-k", "cfn_" + secrets.token_urlsafe(16)))
    camera = pull(new_camera_id(), source.url)
    save_assignment(
        data_dir, assignment_from_proto(agent_pb2.Assignment(version=1, cameras=[camera]))
    )
    env = {**clean_env(), "CAMFLEET_LOG_LEVEL": "INFO"}
    agent = Child("agent", agent_argv(data_dir.root), env, tmp_path / "agent.log")
    tree: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 30
        while not pull_ffmpegs(process_tree(agent.pid)):
            agent.check_alive()
            assert time.monotonic() < deadline, agent.tail()
            time.sleep(0.1)
        tree = process_tree(agent.pid)
        assert len(pull_ffmpegs(tree)) == 1
        agent.kill()
        # Parent-death signals end ffmpeg and nginx with the agent: nothing of it is left.
        deadline = time.monotonic() + 10
        while alive := [pid for pid, start in tree.items() if process_alive(pid, start)]:
            assert time.monotonic() < deadline, f"outlived their agent: {alive}"
            time.sleep(0.05)
    finally:
        agent.stop()
        kill_survivors(tree)
    logged = (tmp_path / "agent.log").read_text()
    assert "pulling rtsp://***@127.0.0.1" in logged
    assert PASSWORD not in logged and quote(PASSWORD, safe="") not in logged


async def test_credentials_reach_neither_logs_nor_events(agent: Agent, agent_log: Path) -> None:
    # Runs last in the module: every test above used the password.
    secrets_seen = {PASSWORD, quote(PASSWORD, safe=""), USER, quote(USER, safe="")}
    logged = await asyncio.to_thread(agent_log.read_text)
    assert "pulling rtsp://***@127.0.0.1" in logged  # the URLs were logged, redacted
    pull_logs = sorted((agent.data_dir.root / "logs").glob("pull-*.log"))
    assert pull_logs
    ffmpeg_said = "".join([await asyncio.to_thread(p.read_text) for p in pull_logs])
    assert "401 Unauthorized" in ffmpeg_said  # ffmpeg's words are kept, redacted
    assert agent.spool is not None
    spooled = b"".join(e.payload for e in agent.spool.pending(0, 100_000))
    for secret in secrets_seen:
        assert secret not in logged
        assert secret not in ffmpeg_said
        assert secret.encode() not in spooled
