"""The whole agent in process (node_agent.agent.Agent) with its real nginx and ffmpeg publishing,
while the control plane is unreachable: the data plane runs from what the data directory holds
(credential, assignment, playback key), every stream event waits in the spool, unknown keys
are refused and rate limited, and a publisher whose key a new assignment takes away is
disconnected."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from camfleet.playback import Grant
from camfleet.v1 import agent_pb2, stream_pb2

from harness.ports import free_port
from node_agent.agent import Agent
from node_agent.config_values import HostPort
from node_agent.convert import assignment_from_proto, report_to_proto
from node_agent.credentials import Credential, save_credential
from node_agent.publish_auth import ALREADY_PUBLISHING, RATE_LIMITED, UNREACHABLE
from node_agent.revocation import KEY_REVOKED
from node_agent.state import DataDir, save_assignment, save_playback_secret
from server.cameras.playback import hls_url
from tests.support.agent_node import (
    ffmpeg_publish_argv,
    http_get,
    loopback_config,
    new_camera_id,
    publishing,
    run,
    running_agent,
    wait_for_file,
)

SECRET = secrets.token_bytes(32)
GRANT = Grant(("user-1",), int(time.time()))
LIVE_KEY, LIVE_CAMERA = "live" + secrets.token_hex(8), new_camera_id()
BUSY_KEY, BUSY_CAMERA = "busy" + secrets.token_hex(8), new_camera_id()


def assignment(version: int, *keys: tuple[str, str]) -> agent_pb2.Assignment:
    """An assignment of push cameras, given as (stream key, camera id)."""
    return agent_pb2.Assignment(
        version=version,
        cameras=[
            agent_pb2.AssignedCamera(
                camera_id=camera, name=key, ingest=agent_pb2.ASSIGNED_INGEST_PUSH, stream_key=key
            )
            for key, camera in keys
        ],
    )


ASSIGNMENT = assignment(4, (LIVE_KEY, LIVE_CAMERA), (BUSY_KEY, BUSY_CAMERA))


def prepare_data_dir(root: Path) -> None:
    """What an agent that has been connected before holds on disk."""
    data_dir = DataDir(root)
    data_dir.create()
    save_credential(data_dir, Credential("node-test", "cfn_" + secrets.token_urlsafe(16)))
    save_assignment(data_dir, assignment_from_proto(ASSIGNMENT))
    save_playback_secret(data_dir, SECRET)


def spooled(agent: Agent) -> list[agent_pb2.ConnectRequest]:
    assert agent.spool is not None
    return [agent_pb2.ConnectRequest.FromString(e.payload) for e in agent.spool.pending(0, 10_000)]


def stream_events(agent: Agent, camera_id: str | None = None) -> list[agent_pb2.StreamEvent]:
    events = [r.stream_event for r in spooled(agent) if r.WhichOneof("body") == "stream_event"]
    return [e for e in events if camera_id is None or e.camera_id == camera_id]


async def until(check: Callable[[], bool], what: str, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def kinds(events: list[agent_pb2.StreamEvent]) -> list[str]:
    return [
        stream_pb2.StreamEventType.Name(e.type).removeprefix("STREAM_EVENT_TYPE_") for e in events
    ]


def rtmp_url(agent: Agent, key: str) -> str:
    return f"{agent.config.rtmp_url}/{key}"


@pytest.fixture(scope="module")
async def agent(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Agent]:
    root = tmp_path_factory.mktemp("agent-node")
    prepare_data_dir(root)
    async with running_agent(loopback_config(root)) as a:
        yield a


async def test_starts_from_its_data_directory_without_a_control_plane(agent: Agent) -> None:
    assert agent.node_id == "node-test"
    assert agent.assignment.version == 4
    assert agent.playback.value == SECRET
    assert agent.connection is not None
    assert agent.connection.connected is False
    nginx_conf = (agent.data_dir.nginx / "nginx.conf").read_text()
    assert str(agent.config.rtmp_listen) in nginx_conf
    assert agent.sockets is not None
    assert f"unix:{agent.sockets.agent_socket}:" in nginx_conf


async def test_assigned_key_publishes_and_plays(agent: Agent) -> None:
    http = str(agent.config.http_listen)
    async with publishing(rtmp_url(agent, LIVE_KEY), seconds=60) as ffmpeg:
        await until(
            lambda: "MEDIA" in kinds(stream_events(agent, LIVE_CAMERA)), "media to be reported"
        )
        publish, media = stream_events(agent, LIVE_CAMERA)
        assert publish.type == stream_pb2.STREAM_EVENT_TYPE_PUBLISH
        assert publish.remote_address == "127.0.0.1"
        assert media.type == stream_pb2.STREAM_EVENT_TYPE_MEDIA
        assert "H264" in media.message

        # The report the next Heartbeat carries.
        reports = [report_to_proto(r) for r in agent.streams.reports()]
        [report] = [r for r in reports if r.camera_id == LIVE_CAMERA]
        assert report.media_flowing is True
        assert (report.width, report.height) == (640, 360)
        assert report.video_codec == "H264"
        assert report.bitrate_bps > 0

        # Viewers play it with a URL signed by the control plane's secret, kept on disk here.
        await wait_for_file(agent.data_dir.nginx / "hls" / LIVE_KEY / "index.m3u8")
        url, _ = hls_url(agent.config.http_url, SECRET, LIVE_CAMERA, timedelta(minutes=5), GRANT)
        path = url.removeprefix(agent.config.http_url)
        status, body = await http_get(http, path)
        assert status == 200, body
        assert body.startswith(b"#EXTM3U")
        tampered = path.replace(LIVE_CAMERA, BUSY_CAMERA)
        assert (await http_get(http, tampered))[0] == 403

        # MEDIA is reported once per publish, however many /stat readings follow.
        polls = 8
        await asyncio.sleep(polls * agent.config.stat_interval_s)
        assert kinds(stream_events(agent, LIVE_CAMERA)) == ["PUBLISH", "MEDIA"]
        assert ffmpeg.poll() is None, "ffmpeg stopped publishing early"

    await until(
        lambda: "UNPUBLISH" in kinds(stream_events(agent, LIVE_CAMERA)), "the publish to end"
    )
    assert kinds(stream_events(agent, LIVE_CAMERA)) == ["PUBLISH", "MEDIA", "UNPUBLISH"]
    assert agent.streams.by_camera(LIVE_CAMERA) is None


async def test_second_publisher_of_a_live_camera_is_refused(agent: Agent) -> None:
    async with publishing(rtmp_url(agent, BUSY_KEY), seconds=60) as first:
        await until(lambda: agent.streams.by_camera(BUSY_CAMERA) is not None, "the first publish")
        # Its media seen first (within a few /stat polls): on a loaded machine the second
        # ffmpeg may take longer than that to connect, and MEDIA would land after REFUSED.
        await until(
            lambda: "MEDIA" in kinds(stream_events(agent, BUSY_CAMERA)), "the first one's media"
        )
        code, output = await run(ffmpeg_publish_argv(rtmp_url(agent, BUSY_KEY), seconds=5))
        assert code != 0, output
        assert first.poll() is None, "the first publisher was dropped"
        refused = [
            e
            for e in stream_events(agent, BUSY_CAMERA)
            if e.type == stream_pb2.STREAM_EVENT_TYPE_REFUSED
        ]
        [event] = refused
        assert event.message == ALREADY_PUBLISHING
        assert event.remote_address == "127.0.0.1"
        assert event.stream_key_prefix == ""  # a known camera is named by its id
    assert kinds(stream_events(agent, BUSY_CAMERA))[:3] == ["PUBLISH", "MEDIA", "REFUSED"]


async def test_unknown_key_is_refused_while_the_control_plane_is_unreachable(
    agent: Agent,
) -> None:
    key = "nope" + secrets.token_hex(12)
    started = time.monotonic()
    code, output = await run(ffmpeg_publish_argv(rtmp_url(agent, key), seconds=5))
    assert code != 0, output
    # Answered well within nginx's patience, not after hanging on the control plane.
    assert time.monotonic() - started < 10
    [event] = [e for e in stream_events(agent) if e.stream_key_prefix == key[:6]]
    assert event.type == stream_pb2.STREAM_EVENT_TYPE_REFUSED
    assert event.message == UNREACHABLE
    assert event.remote_address == "127.0.0.1"
    assert event.camera_id == ""
    assert not (agent.data_dir.nginx / "hls" / key).exists()


async def test_unknown_keys_are_rate_limited_and_events_survive_a_restart(
    tmp_path: Path,
) -> None:
    prepare_data_dir(tmp_path)
    config = loopback_config(tmp_path, unknown_key_limit=2)
    keys = ["scan" + secrets.token_hex(12) for _ in range(4)]
    async with running_agent(config) as agent:
        for key in keys:
            code, output = await run(ffmpeg_publish_argv(rtmp_url(agent, key), seconds=3))
            assert code != 0, output
        events = stream_events(agent)
        before = [r.event_id for r in spooled(agent)]
    # Two keys were checked (and could not be); the third tripped the limit; the fourth was
    # refused without a word to anyone, so a scan cannot fill the spool.
    assert [e.message for e in events] == [UNREACHABLE, UNREACHABLE, RATE_LIMITED]
    assert [e.stream_key_prefix for e in events] == [k[:6] for k in keys[:3]]
    assert all(e.type == stream_pb2.STREAM_EVENT_TYPE_REFUSED for e in events)

    # Nothing was acknowledged, so a restarted agent still has every event, ids unchanged.
    async with running_agent(
        replace(config, rtmp_listen=HostPort("127.0.0.1", free_port()))
    ) as again:
        assert [r.event_id for r in spooled(again)] == before


async def apply(agent: Agent, new: agent_pb2.Assignment) -> None:
    """Hand `new` to the agent as the control plane would; it must be ACKed."""
    assert agent.connection is not None
    [reply] = await agent.connection.messages.handle(agent_pb2.ConnectResponse(assignment=new))
    assert reply.WhichOneof("body") == "ack", reply
    assert reply.ack.version == new.version


async def published_keys(agent: Agent) -> list[str]:
    """Stream keys nginx's /stat shows publishing now."""
    assert agent.nginx is not None
    stats = await agent.nginx.stat()
    assert stats is not None
    return [s.name for s in stats if s.publishing]


async def test_publisher_of_a_revoked_key_is_disconnected_and_others_stay(
    tmp_path: Path,
) -> None:
    prepare_data_dir(tmp_path)
    async with (
        running_agent(loopback_config(tmp_path)) as agent,
        publishing(rtmp_url(agent, LIVE_KEY), seconds=120) as rotated_away,
        publishing(rtmp_url(agent, BUSY_KEY), seconds=120) as kept,
    ):
        revoker = agent.revoker
        assert revoker is not None
        await until(
            lambda: all(
                "MEDIA" in kinds(stream_events(agent, c)) for c in (LIVE_CAMERA, BUSY_CAMERA)
            ),
            "both cameras' media",
        )

        # The public port has no /control: nobody outside can drop a camera.
        drop = f"/control/drop/publisher?app=live&name={BUSY_KEY}"
        assert (await http_get(str(agent.config.http_listen), drop))[0] == 403

        # LIVE_CAMERA's key is rotated; BUSY_CAMERA keeps its key.
        new_key = "rotated" + secrets.token_hex(8)
        await apply(agent, assignment(5, (new_key, LIVE_CAMERA), (BUSY_KEY, BUSY_CAMERA)))
        await until(
            lambda: rotated_away.poll() is not None, "the old key's publisher to go", within_s=5
        )
        assert rotated_away.returncode != 0
        await until(
            lambda: "UNPUBLISH" in kinds(stream_events(agent, LIVE_CAMERA)), "its UNPUBLISH"
        )
        assert kinds(stream_events(agent, LIVE_CAMERA)) == ["PUBLISH", "MEDIA", "UNPUBLISH"]
        unpublish = stream_events(agent, LIVE_CAMERA)[-1]
        assert unpublish.message == KEY_REVOKED
        assert unpublish.remote_address == "127.0.0.1"
        assert LIVE_KEY not in await published_keys(agent)

        # The kept key's publisher was not touched.
        await until(lambda: not revoker.busy, "the revocation to finish")
        assert kept.poll() is None, "the publisher of a kept key was dropped"
        assert BUSY_KEY in await published_keys(agent)
        assert kinds(stream_events(agent, BUSY_CAMERA)) == ["PUBLISH", "MEDIA"]

        # The camera comes back with its new key (its old publish no longer blocks it).
        async with publishing(rtmp_url(agent, new_key), seconds=120) as again:
            await until(
                lambda: kinds(stream_events(agent, LIVE_CAMERA)).count("MEDIA") == 2,
                "the new key's media",
            )
            assert again.poll() is None

            # BUSY_CAMERA is deactivated (gone from the assignment); the new key stays.
            await apply(agent, assignment(6, (new_key, LIVE_CAMERA)))
            await until(lambda: kept.poll() is not None, "the removed camera's publisher to go")
            assert kept.returncode != 0
            await until(
                lambda: "UNPUBLISH" in kinds(stream_events(agent, BUSY_CAMERA)), "its UNPUBLISH"
            )
            assert stream_events(agent, BUSY_CAMERA)[-1].message == KEY_REVOKED
            await until(lambda: not revoker.busy, "the revocation to finish")
            assert again.poll() is None
            assert await published_keys(agent) == [new_key]
