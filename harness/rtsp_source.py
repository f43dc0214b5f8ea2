"""A real RTSP camera for tests and benchmarks: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0) serving a live H.264 test pattern on 127.0.0.1, optionally behind
basic authentication, run as a child process by Debian's /usr/bin/python3 (python3-gi is a
Debian package and is not in the project's venv). Ended by PID like every harness child.

    with rtsp_source(log_dir, path="/cam", user="u", password="p") as source:
        source.url          # rtsp://u:p@127.0.0.1:PORT/cam
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness.ports import LOOPBACK, free_port
from harness.processes import Child

SYSTEM_PYTHON = "/usr/bin/python3"
# What the server prints once it listens; the launcher waits for it.
READY = "rtsp source ready"

# What the camera sends: a GStreamer launch line by name, formatted with width, height and fps.
# h265 and audio exist to fail (FLV carries no H.265 in ffmpeg 5.1; audio has no video track).
MEDIA = {
    "h264": "( videotestsrc is-live=true ! video/x-raw,width={width},height={height},"
    "framerate={fps}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )",
    "h265": "( videotestsrc is-live=true ! video/x-raw,width={width},height={height},"
    "framerate={fps}/1 ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
    "! rtph265pay name=pay0 pt=96 config-interval=1 )",
    "audio": "( audiotestsrc is-live=true ! audioconvert ! rtpL16pay name=pay0 pt=96 )",
    # A camera with a microphone: H.264 and AAC (that FLV carries both is what pull tests check).
    "h264+aac": "( videotestsrc is-live=true ! video/x-raw,width={width},height={height},"
    "framerate={fps}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
    "! rtph264pay name=pay0 pt=96 config-interval=1 "
    "audiotestsrc is-live=true ! audioconvert ! voaacenc ! rtpmp4gpay name=pay1 pt=97 )",
}

# Run by /usr/bin/python3 -c; argv: port, mount path, user, password, launch line, address,
# shared ("1"/"0"). Shared: every client gets the one live pipeline, as from a real camera.
# Not shared: one pipeline per client. GStreamer 1.22's server aborts (rtsp-stream-transport.c
# backlog_push: "queue_duration >= 0") when a client joins shared media while another client's
# TCP connection is stalled, which is what a node whose link was cut leaves behind.
_SERVER = r"""
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

port, path, user, password, launch, address, shared = sys.argv[1:8]
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address(address)
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
factory.set_shared(shared == "1")
if user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera-user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role("camera-user")
    permissions.add_permission_for_role("camera-user", "media.factory.access", True)
    permissions.add_permission_for_role("camera-user", "media.factory.construct", True)
    factory.set_permissions(permissions)
server.get_mount_points().add_factory(path, factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on port " + port)
print("rtsp source ready", flush=True)
GLib.MainLoop().run()
"""


@dataclass
class RtspSource:
    """A running RTSP source."""

    child: Child
    port: int
    path: str
    user: str = ""
    password: str = ""
    host: str = LOOPBACK

    @property
    def url(self) -> str:
        """The source's URL, with its credentials (percent-encoded) if it has any."""
        return self.url_as(self.user, self.password)

    def url_as(self, user: str, password: str, path: str | None = None) -> str:
        """The source's URL with other credentials or another path (for refusals)."""
        userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"rtsp://{userinfo}{self.host}:{self.port}{path or self.path}"


def _free_port_on(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_ready(child: Child, host: str, port: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        child.check_alive()
        if child.log is not None and READY in child.log.read_text(errors="replace"):
            with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
                return
        time.sleep(0.05)
    raise TimeoutError(f"the RTSP source did not start within {within_s}s:\n{child.tail()}")


@contextlib.contextmanager
def rtsp_source(
    log_dir: Path,
    *,
    path: str = "/camera",
    user: str = "",
    password: str = "",
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    media: str = "h264",
    start_within_s: float = 20.0,
    host: str = LOOPBACK,
    shared: bool = True,
) -> Iterator[RtspSource]:
    """An RTSP source of `media` (a MEDIA name) on a free port of `host` (loopback, or a test
    network's bridge address: harness.netns) until the block ends (then stopped by PID)."""
    port = free_port() if host == LOOPBACK else _free_port_on(host)
    log_dir.mkdir(parents=True, exist_ok=True)
    launch = MEDIA[media].format(width=size[0], height=size[1], fps=fps)
    argv = [SYSTEM_PYTHON, "-c", _SERVER, str(port), path, user, password, launch, host]
    argv.append("1" if shared else "0")
    child = Child("rtsp-source", argv, log=log_dir / f"rtsp-source-{port}.log")
    try:
        _wait_ready(child, host, port, start_within_s)
        yield RtspSource(child, port, path, user, password, host)
    finally:
        child.stop()
