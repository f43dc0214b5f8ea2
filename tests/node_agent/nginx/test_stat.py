"""node_agent.nginx.stat on rtmp_stat documents captured from a live nginx-rtmp with ffmpeg
publishing, and on garbage."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from node_agent.nginx.stat import StreamStat, parse_stat
from tests.support.agent_node import Node, NodeCallbacks, new_camera_id, publishing, running_node

KEY = "stat" + secrets.token_hex(8)


@pytest.fixture(scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    callbacks = NodeCallbacks(secret=secrets.token_bytes(32), keys={KEY: new_camera_id()})
    async with running_node(Path(tmp_path_factory.mktemp("stat-node")), callbacks) as n:
        yield n


async def fetch_stat(node: Node) -> str:
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(node.ports.stat_socket))
        ) as session,
        session.get("http://nginx/stat") as response,
    ):
        assert response.status == 200
        return await response.text()


async def stat_until(
    node: Node, ready: Callable[[list[StreamStat]], bool], within_s: float = 15.0
) -> tuple[str, list[StreamStat]]:
    """Poll /stat until `ready(streams)` holds; the document and its parse."""
    deadline = time.monotonic() + within_s
    while True:
        document = await fetch_stat(node)
        streams = parse_stat(document)
        if ready(streams):
            return document, streams
        assert time.monotonic() < deadline, f"stat never became ready:\n{document}"
        await asyncio.sleep(0.2)


async def test_live_stream_metrics(node: Node) -> None:
    async with publishing(node.rtmp_url(KEY), seconds=20) as ffmpeg:
        # Metadata arrives with the first packets; give the bitrate a couple of seconds of data.
        document, streams = await stat_until(
            node, lambda s: any(x.name == KEY and x.width and x.uptime_ms > 2000 for x in s)
        )
        assert ffmpeg.poll() is None, "ffmpeg stopped publishing early"
    # The document is nginx-rtmp's own, not something we made up.
    assert "<nginx_rtmp_version>" in document
    [stream] = [s for s in streams if s.name == KEY]
    assert stream.publishing is True
    assert (stream.width, stream.height) == (640, 360)
    assert stream.fps == pytest.approx(25, abs=0.5)
    assert stream.video_codec == "H264"
    assert stream.audio_codec == ""  # testsrc2 has no audio track
    # nginx's own bw_in is still 0 this early (10 s intervals); the parser falls back to the
    # average. A 640x360 x264 test pattern is some hundreds of kbit/s.
    assert 50_000 < stream.bitrate_bps < 20_000_000, stream
    assert stream.bytes_in > 0
    assert stream.uptime_ms > 2000
    assert stream.clients == 0  # the publisher is not a viewer
    assert node.callbacks.published == [(KEY, "127.0.0.1")]

    # Once ffmpeg has gone, the stream disappears from the stats.
    await stat_until(node, lambda s: all(x.name != KEY for x in s))


def test_other_applications_are_not_reported() -> None:
    document = """<?xml version="1.0" encoding="utf-8" ?>
<rtmp><server><application><name>other</name><live><stream><name>x</name><time>10</time>
<bw_in>800</bw_in><bytes_in>1</bytes_in><nclients>1</nclients><publishing/></stream>
</live></application></server></rtmp>"""
    assert parse_stat(document) == []
    [other] = parse_stat(document, application="other")
    assert (other.name, other.bitrate_bps, other.publishing) == ("x", 800, True)


def test_stream_without_publisher_counts_all_clients_as_viewers() -> None:
    document = """<rtmp><server><application><name>live</name><live><stream><name>k</name>
<time>5000</time><bw_in>0</bw_in><bytes_in>0</bytes_in><nclients>2</nclients>
<meta><video><frame_rate>29.97</frame_rate></video></meta></stream></live></application>
</server></rtmp>"""
    [stream] = parse_stat(document)
    assert stream.publishing is False
    assert stream.clients == 2
    assert stream.bitrate_bps == 0
    assert stream.fps == pytest.approx(29.97)


@pytest.mark.parametrize(
    "document",
    [
        "",
        "not xml",
        "<rtmp><server>",
        "<?xml version='1.0'?><rtmp><server><application><name>live</name>",
        "\x00\x01\x02",
        "<html><body>502 Bad Gateway</body></html>",
    ],
)
def test_malformed_documents_give_no_streams(document: str) -> None:
    assert parse_stat(document) == []


def test_garbage_numbers_read_as_zero() -> None:
    document = """<rtmp><server><application><name>live</name><live><stream><name>k</name>
<time>abc</time><bw_in>-</bw_in><bytes_in></bytes_in><nclients>x</nclients><publishing/>
<meta><video><width>wide</width><height>360</height><frame_rate>fast</frame_rate>
<codec>H264</codec></video></meta></stream></live></application></server></rtmp>"""
    [stream] = parse_stat(document)
    assert (stream.uptime_ms, stream.bitrate_bps, stream.clients) == (0, 0, 0)
    assert (stream.width, stream.height, stream.fps) == (0, 360, 0.0)
