"""The node's nginx as rendered by node_agent.nginx.config, run by the Supervisor, with ffmpeg
publishing: publish authorisation, HLS output, the signed-URL contract end to end
(server.cameras.playback signs, the agent verifies, nginx serves), plays by the recorders' one-
time tokens only, rtmp_control on the internal Unix socket only, restart after a crash, and a
clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from camfleet.playback import Grant, playback_signature

from harness.processes import kill_survivors, process_tree, survivors_after
from node_agent.nginx.config import NginxLayout, NginxPorts, render
from node_agent.nginx.stat import parse_stat
from server.cameras.playback import hls_url
from tests.support.agent_node import (
    FFPROBE,
    Node,
    NodeCallbacks,
    ffmpeg_publish_argv,
    http_get,
    new_camera_id,
    publishing,
    run,
    running_node,
    wait_for_file,
    wait_for_port,
    worker_reachable_dir,
)

SECRET = secrets.token_bytes(32)
LIVE_KEY = "live" + secrets.token_hex(8)
LIVE_CAMERA = new_camera_id()
# A second camera with its own (idle) key: URLs signed for one must not open the other.
OTHER_KEY = "other" + secrets.token_hex(8)
OTHER_CAMERA = new_camera_id()
# Whom the test URLs are signed for (camfleet.playback.Grant).
GRANT = Grant(("user-1",), int(time.time()))


@pytest.fixture(scope="module")
async def node() -> AsyncIterator[Node]:
    callbacks = NodeCallbacks(secret=SECRET, keys={LIVE_KEY: LIVE_CAMERA, OTHER_KEY: OTHER_CAMERA})
    # Workers as www-data (where the platform allows), as the agent runs them.
    with worker_reachable_dir() as root:
        async with running_node(root, callbacks) as n:
            yield n


@dataclass(frozen=True)
class Live:
    """A camera publishing for the whole module, and a signed URL of its playlist."""

    node: Node
    url: str
    # The signed path prefix /hls/<camera>/<expires>/<signature>
    prefix: str

    def path(self, url: str) -> str:
        assert url.startswith(self.node.http_base)
        return url[len(self.node.http_base) :]


@pytest.fixture(scope="module")
async def live(node: Node) -> AsyncIterator[Live]:
    async with publishing(node.rtmp_url(LIVE_KEY), seconds=60) as ffmpeg:
        playlist = node.layout.hls / LIVE_KEY / "index.m3u8"
        await wait_for_file(playlist)
        # Two segments, so a player has something to start on.
        deadline = time.monotonic() + 15
        while playlist.read_text().count(".ts") < 2:
            assert time.monotonic() < deadline, playlist.read_text()
            await asyncio.sleep(0.2)
        url, _ = hls_url(node.http_base, SECRET, LIVE_CAMERA, timedelta(minutes=5), GRANT)
        live = Live(node, url, url[len(node.http_base) :].rsplit("/", 1)[0])
        yield live
        assert ffmpeg.poll() is None, "the module's publisher stopped early"


async def test_unknown_key_is_refused(node: Node) -> None:
    key = "nope" + secrets.token_hex(8)
    code, output = await run(ffmpeg_publish_argv(node.rtmp_url(key), seconds=5))
    assert code != 0, output
    assert (key, "127.0.0.1") in node.callbacks.refused
    # Refused before any media: no HLS output, and no publish_done for a publish that never was.
    assert not (node.layout.hls / key).exists()
    assert all(k != key for k, _ in node.callbacks.done)


async def test_good_key_publishes_and_writes_hls(live: Live) -> None:
    node = live.node
    assert (LIVE_KEY, "127.0.0.1") in node.callbacks.published
    directory = node.layout.hls / LIVE_KEY
    playlist = (directory / "index.m3u8").read_text()
    assert playlist.startswith("#EXTM3U")
    segments = sorted(directory.glob("*.ts"))
    assert segments, list(directory.iterdir())
    # Every segment the playlist names is there, named relatively (so signed URLs carry over).
    named = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert named
    assert all("/" not in name for name in named)


async def test_second_publisher_on_a_live_key_is_refused(live: Live) -> None:
    node = live.node
    before = len(node.callbacks.published)
    code, output = await run(ffmpeg_publish_argv(node.rtmp_url(LIVE_KEY), seconds=5))
    assert code != 0, output
    # The agent said yes (the key is valid); nginx-rtmp itself refused the second publisher.
    assert len(node.callbacks.published) == before + 1
    assert "already publishing" in (node.layout.logs / "error.log").read_text()


@asynccontextmanager
async def relayed_from(source_host: str, target: str) -> AsyncIterator[int]:
    """A loopback TCP port whose connections reach `target` from `source_host`: how a player
    on another machine looks to nginx, without leaving loopback."""
    host, port = target.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                host, int(port), local_addr=(source_host, 0)
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def probe(url: str) -> tuple[int, str]:
    return await run([FFPROBE, "-v", "error", "-rw_timeout", "5000000", url])


async def test_rtmp_playback_is_denied_except_to_the_agents_recorders(live: Live) -> None:
    # Viewers get signed HLS only; RTMP play is for the agent's own recorders, from loopback,
    # by camera id with a one-time token (so no recorder's arguments carry the stream key).
    node = live.node
    async with relayed_from("127.0.0.2", node.ports.rtmp_listen) as port:
        code, output = await probe(
            f"rtmp://127.0.0.1:{port}/live/{LIVE_CAMERA}?rec={node.callbacks.tokens.issue(LIVE_CAMERA)}"
        )
    assert code != 0, output
    assert "access forbidden by rule" in (node.layout.logs / "error.log").read_text()
    # From loopback, the key itself no longer plays, nor the camera id without a token.
    for url in (node.rtmp_url(LIVE_KEY), node.rtmp_url(LIVE_CAMERA), node.rtmp_url(OTHER_CAMERA)):
        code, output = await probe(url)
        assert code != 0, (url, output)
    # A token plays its camera's stream, once.
    url = node.recorder_url(LIVE_CAMERA)
    code, output = await probe(url)
    assert code == 0, output
    code, output = await probe(url)
    assert code != 0, output
    # A token for one camera does not open another.
    token = node.callbacks.tokens.issue(OTHER_CAMERA)
    code, output = await probe(f"{node.rtmp_url(LIVE_CAMERA)}?rec={token}")
    assert code != 0, output


def video_streams(ffprobe_json: str) -> list[tuple[str, int, int]]:
    """(codec, width, height) of each video stream ffprobe found. nginx-rtmp's MPEG-TS muxer
    always declares an AAC track as well, even for a source without audio, so audio is not
    compared."""
    return [
        (s["codec_name"], s["width"], s["height"])
        for s in json.loads(ffprobe_json)["streams"]
        if s["codec_type"] == "video"
    ]


async def test_signed_playlist_and_segment_are_served(live: Live, tmp_path: Path) -> None:
    node = live.node
    status, body = await http_get(node.ports.http_listen, live.path(live.url))
    assert status == 200, body
    playlist = body.decode()
    assert playlist.startswith("#EXTM3U")
    assert (LIVE_CAMERA, *live.prefix.split("/")[3:]) in [
        (c, g, str(e), s) for c, g, e, s in node.callbacks.hls_checks
    ]
    segment = [line for line in playlist.splitlines() if line.endswith(".ts")][-1]
    status, media = await http_get(node.ports.http_listen, f"{live.prefix}/{segment}")
    assert status == 200
    (tmp_path / "segment.ts").write_bytes(media)
    code, output = await run(
        [FFPROBE, "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
         "-of", "json", str(tmp_path / "segment.ts")]
    )  # fmt: skip
    assert code == 0, output
    assert video_streams(output) == [("h264", 640, 360)]


async def test_a_player_follows_the_signed_playlist(live: Live) -> None:
    # ffprobe as an HLS client: it resolves the segment URLs relative to the signed playlist.
    code, output = await run(
        [FFPROBE, "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
         "-of", "json", live.url]
    )  # fmt: skip
    assert code == 0, output
    assert video_streams(output) == [("h264", 640, 360)]


def signed_path(
    camera: str, expires: int, signature: str, file: str = "index.m3u8", grant: str = ""
) -> str:
    return f"/hls/{camera}/{grant or GRANT.encode()}/{expires}/{signature}/{file}"


async def assert_refused_by_agent(live: Live, path: str) -> None:
    """403, after the agent was asked and said no (the URL had the right shape)."""
    asked = len(live.node.callbacks.hls_checks)
    status, body = await http_get(live.node.ports.http_listen, path)
    assert status == 403, (path, body)
    assert b"#EXTM3U" not in body
    assert len(live.node.callbacks.hls_checks) == asked + 1


async def test_tampered_signature_is_refused(live: Live) -> None:
    _, _, camera, _, expires, signature = live.prefix.split("/")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    await assert_refused_by_agent(live, signed_path(camera, int(expires), flipped))
    # The segments under a bad signature are refused too.
    await assert_refused_by_agent(live, signed_path(camera, int(expires), flipped, "0.ts"))


async def test_signature_for_another_camera_is_refused(live: Live) -> None:
    _, _, camera, _, expires, signature = live.prefix.split("/")
    assert camera == LIVE_CAMERA
    # OTHER_CAMERA exists and has a stream directory: only the signature stands in the way.
    await assert_refused_by_agent(live, signed_path(OTHER_CAMERA, int(expires), signature))
    # The same holds the other way: OTHER's valid URL does not open LIVE's stream.
    other_url, _ = hls_url(live.node.http_base, SECRET, OTHER_CAMERA, timedelta(minutes=5), GRANT)
    other_path = live.path(other_url).replace(OTHER_CAMERA, LIVE_CAMERA)
    await assert_refused_by_agent(live, other_path)


async def test_changed_expiry_is_refused(live: Live) -> None:
    _, _, camera, _, expires, signature = live.prefix.split("/")
    await assert_refused_by_agent(live, signed_path(camera, int(expires) + 3600, signature))


async def test_expired_url_is_refused(live: Live) -> None:
    url, expires_at = hls_url(
        live.node.http_base, SECRET, LIVE_CAMERA, timedelta(seconds=-2), GRANT
    )
    assert expires_at.timestamp() < time.time()
    await assert_refused_by_agent(live, live.path(url))
    # Correctly signed, but with another secret (e.g. a node that was re-keyed).
    wrong, _ = hls_url(live.node.http_base, b"x" * 32, LIVE_CAMERA, timedelta(minutes=5), GRANT)
    await assert_refused_by_agent(live, live.path(wrong))


async def test_valid_signature_for_camera_without_stream_is_refused(live: Live) -> None:
    camera = new_camera_id()  # signed correctly, but this node has no key for it
    expires = int(time.time()) + 300
    await assert_refused_by_agent(
        live, signed_path(camera, expires, playback_signature(SECRET, camera, expires, GRANT))
    )


# Paths nginx refuses without asking the agent, or that the agent refuses by shape alone;
# (status, path template) with {p} the valid signed prefix and {key} the live stream key.
# nginx answers 400 itself to a path climbing above its root, or containing %00.
REFUSED_PATHS = [
    (403, "{p}/index.m3u8.bak"),
    (403, "{p}/index.mp4"),
    (403, "{p}/sub/index.m3u8"),
    (403, "{p}/"),
    (403, "/hls/{camera}/index.m3u8"),
    (403, "/hls/{CAMERA}/{expires}/{sig}/index.m3u8"),
    (403, "/hls/{camera}/{expires}/short/index.m3u8"),
    (403, "/hls/{camera}/-{expires}/{sig}/index.m3u8"),
    (403, "/hls/{key}/index.m3u8"),
    (403, "/hls/{key}/0.ts"),
    # Traversal, raw and percent-encoded.
    (403, "{p}/../../../../nginx.conf"),
    (403, "{p}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/nginx.conf"),
    (403, "{p}/..%2f..%2f..%2f..%2fnginx.conf"),
    (403, "{p}/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fnginx.conf"),
    (403, "{p}/..%2f{key}%2findex.m3u8"),
    (403, "{p}/x/../index.m3u8"),
    (403, "/hls/../nginx.conf"),
    (403, "/hls/../hls/{key}/index.m3u8"),
    (400, "/../nginx.conf"),
    (400, "/%2e%2e/nginx.conf"),
    (400, "/hls/../../../../../etc/passwd"),
    (400, "{p}/index.m3u8%00.ts"),
    # Non-canonical spellings of a valid URL: nginx would match them after normalising, but
    # the agent checks the raw URI and refuses anything but the canonical form.
    (403, "{p}/index%2em3u8"),
    (403, "{p}//index.m3u8"),
    # Outside /hls/.
    (403, "/"),
    (403, "/hls/"),
    (403, "/stat"),
    (403, "/nginx.conf"),
    (403, "/logs/error.log"),
    (403, "/{key}/index.m3u8"),
    (403, "/auth/hls"),
    (403, "/rtmp/on_publish"),
    # rtmp_control lives on the internal listener only.
    (403, "/control"),
    (403, "/control/drop/publisher?app=live&name={key}"),
    (403, "/control/drop/client?app=live&name={key}"),
    # The auth_request location is internal: nginx answers 404 from outside.
    (404, "/_auth_hls"),
]


@pytest.mark.parametrize(("status", "template"), REFUSED_PATHS)
async def test_refused_paths(live: Live, status: int, template: str) -> None:
    _, _, camera, _, expires, sig = live.prefix.split("/")
    path = template.format(
        p=live.prefix, camera=camera, CAMERA=camera.upper(), expires=expires, sig=sig, key=LIVE_KEY
    )
    asked = len(live.node.callbacks.hls_checks)
    got, body = await http_get(live.node.ports.http_listen, path)
    assert got == status, (path, body)
    # nginx's own error page, never a file: no playlist, no config, no media.
    assert body.startswith(b"<html>"), body[:200]
    assert b"#EXTM3U" not in body
    assert b"rtmp" not in body
    # The agent never saw a signature to check.
    assert len(live.node.callbacks.hls_checks) == asked


def server_blocks(conf: str) -> dict[str, str]:
    """Each `server { … }` block of an nginx.conf, by the address it listens on."""
    blocks: dict[str, str] = {}
    for match in re.finditer(r"\bserver \{", conf):
        depth = 0
        for end in range(match.end() - 1, len(conf)):
            depth += {"{": 1, "}": -1}.get(conf[end], 0)
            if depth == 0:
                break
        block = conf[match.start() : end + 1]
        listen = re.search(r"^\s*listen (\S+);", block, re.MULTILINE)
        assert listen is not None, block
        blocks[listen[1]] = block
    return blocks


def test_control_is_only_on_the_internal_socket(tmp_path: Path) -> None:
    ports = NginxPorts(
        rtmp_listen="127.0.0.1:1935",
        http_listen="127.0.0.1:8088",
        stat_socket=tmp_path / "internal" / "nginx.sock",
        agent_socket=tmp_path / "callbacks" / "agent.sock",
    )
    conf = render(NginxLayout(tmp_path), ports)
    blocks = server_blocks(conf)
    internal = f"unix:{ports.stat_socket}"
    assert set(blocks) == {ports.rtmp_listen, ports.http_listen, internal}
    assert conf.count("rtmp_control") == 1
    assert "location /control { rtmp_control all; }" in blocks[internal]
    assert "rtmp_control" not in blocks[ports.http_listen]
    assert "rtmp_stat" not in blocks[ports.http_listen]
    # The agent is reached on its socket only: no TCP address but the two public listeners.
    assert f"http://unix:{ports.agent_socket}:/rtmp/on_publish;" in blocks[ports.rtmp_listen]
    assert f"server unix:{ports.agent_socket};" in conf
    assert set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}:\d+", conf)) == {
        "127.0.0.1:1935",
        "127.0.0.1:8088",
    }


def test_the_fleet_ingest_listener_takes_the_proxy_protocol_header(tmp_path: Path) -> None:
    """Envoy's ingest names each camera's address in a PROXY header: only on the listener meant
    for it, so a publisher on the plain one cannot claim an address."""
    ports = NginxPorts(
        rtmp_listen="127.0.0.1:1935",
        http_listen="127.0.0.1:8088",
        stat_socket=tmp_path / "internal" / "nginx.sock",
        agent_socket=tmp_path / "callbacks" / "agent.sock",
        ingest_listen="127.0.0.1:1936",
    )
    rtmp = server_blocks(render(NginxLayout(tmp_path), ports))[ports.rtmp_listen]
    listens = re.findall(r"^\s*listen ([^;]+);", rtmp, re.MULTILINE)
    assert listens == ["127.0.0.1:1935", "127.0.0.1:1936 proxy_protocol"]
    plain = replace(ports, ingest_listen="")
    assert "proxy_protocol" not in render(NginxLayout(tmp_path), plain)


@pytest.mark.parametrize("name", ["rel/agent.sock", "/a b/agent.sock", "/a;b/agent.sock", "/a:b"])
def test_socket_paths_nginx_cannot_take_are_refused(tmp_path: Path, name: str) -> None:
    path = Path(name)
    ports = NginxPorts("127.0.0.1:1935", "127.0.0.1:8088", tmp_path / "nginx.sock", path)
    with pytest.raises(ValueError, match="unusable socket path"):
        render(NginxLayout(tmp_path), ports)
    with pytest.raises(ValueError, match="unusable socket path"):
        render(NginxLayout(tmp_path), replace(ports, stat_socket=path, agent_socket=tmp_path))


async def test_public_listener_cannot_drop_a_publisher(live: Live) -> None:
    node = live.node
    ended = len(node.callbacks.done)
    status, _ = await http_get(
        node.ports.http_listen, f"/control/drop/publisher?app=live&name={LIVE_KEY}"
    )
    assert status == 403
    # The internal socket still shows the stream published, and no publish ended.
    _, body = await http_get(node.ports.stat_socket, "/stat")
    assert LIVE_KEY in [s.name for s in parse_stat(body.decode()) if s.publishing]
    assert len(node.callbacks.done) == ended


async def test_query_string_is_ignored(live: Live) -> None:
    status, body = await http_get(live.node.ports.http_listen, live.path(live.url) + "?x=../1")
    assert status == 200
    assert body.startswith(b"#EXTM3U")


async def test_nginx_killed_is_restarted_and_publishing_works_again(
    tmp_path: Path,
) -> None:
    key = "kill" + secrets.token_hex(8)
    callbacks = NodeCallbacks(secret=SECRET, keys={key: new_camera_id()})
    async with running_node(tmp_path, callbacks) as node:
        old_pid = node.nginx.pid
        assert old_pid is not None
        old_tree = process_tree(old_pid)
        assert len(old_tree) >= 2, "nginx should run a master and at least one worker"

        os.kill(old_pid, signal.SIGKILL)
        try:
            new_pid = await node.nginx.wait_for_restart(old_pid, within_s=10)
            # The dead master's workers are gone too: they held the listening sockets, and the
            # new master must bind them.
            assert await survivors_after(old_tree) == []
        finally:
            kill_survivors(old_tree)
        assert new_pid != old_pid
        assert [e.returncode for e in node.nginx.policy.exits] == [-signal.SIGKILL]
        for listen in (node.ports.rtmp_listen, node.ports.http_listen):
            await wait_for_port(listen)

        code, output = await run(ffmpeg_publish_argv(node.rtmp_url(key), seconds=2))
        assert code == 0, output + (node.layout.logs / "nginx.out").read_text()
        assert callbacks.published == [(key, "127.0.0.1")]
        assert (node.layout.hls / key / "index.m3u8").exists()
        assert "Address already in use" not in (node.layout.logs / "nginx.out").read_text()


async def test_stop_leaves_no_nginx_process(tmp_path: Path) -> None:
    key = "stop" + secrets.token_hex(8)
    callbacks = NodeCallbacks(secret=SECRET, keys={key: new_camera_id()})
    async with running_node(tmp_path, callbacks) as node:
        pid = node.nginx.pid
        assert pid is not None
        tree = process_tree(pid)
        assert len(tree) >= 2
        # Stop with a publisher connected, the realistic case.
        async with publishing(node.rtmp_url(key), seconds=30) as ffmpeg:
            await wait_for_file(node.layout.hls / key / "index.m3u8")
            try:
                await node.nginx.stop()
                assert node.nginx.pid is None
                assert await survivors_after(tree) == []
            finally:
                kill_survivors(tree)
            # The publisher noticed: its connection was closed.
            await asyncio.to_thread(ffmpeg.wait, 10)
            assert ffmpeg.returncode != 0
        assert node.nginx.policy.exits == []  # a requested stop is not a crash
