"""`./start --demo N`: N cameras ("Demo 1".."Demo N", recording on) created through the API as
admin, each fed by an ffmpeg test pattern that is restarted whenever it dies.

The cameras are made exactly as a user would make them (CameraService over gRPC), so the demo
exercises the real paths: the publish URL comes from GetStreamUrls, the node authorizes the
key, and the cameras go ONLINE through the agent's stream reports. A second start with the same
data directory reuses the cameras it finds by name.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from camfleet.v1 import camera_pb2, camera_pb2_grpc
from platform_api import Metadata

from node_agent.backoff import Backoff
from node_agent.supervisor import ExitRecord, Supervisor

log = logging.getLogger("camfleet.demo")

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


@dataclass(frozen=True)
class DemoCamera:
    """One demo camera and where its publisher sends the test pattern."""

    id: str
    name: str
    publish_url: str


def publisher_argv(publish_url: str) -> list[str]:
    """ffmpeg publishing a 640x360 25 fps test pattern in real time: cheap enough that four of
    them leave most of two cores to the platform (ultrafast, one keyframe a second)."""
    return [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostdin",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "25",
        "-f",
        "flv",
        publish_url,
    ]


async def ensure_cameras(channel: grpc.aio.Channel, auth: Metadata, count: int) -> list[DemoCamera]:
    """Cameras "Demo 1".."Demo `count`": found by name, or created with recording on."""
    cameras = camera_pb2_grpc.CameraServiceStub(channel)
    made: list[DemoCamera] = []
    for n in range(1, count + 1):
        name = f"Demo {n}"
        found = await cameras.ListCameras(
            camera_pb2.ListCamerasRequest(filter=f'name = "{name}"', page_size=1),
            metadata=auth,
            timeout=10,
        )
        if found.cameras:
            camera = found.cameras[0]
        else:
            created = await cameras.CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(
                        name=name,
                        description="ffmpeg test pattern started by ./start --demo",
                        recording_enabled=True,
                        labels={"demo": "true"},
                    )
                ),
                metadata=auth,
                timeout=10,
            )
            camera = created.camera
        urls = await cameras.GetStreamUrls(
            camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=auth, timeout=10
        )
        made.append(DemoCamera(camera.id, name, urls.rtmp_publish_url))
    return made


def _report_exit(name: str) -> Callable[[ExitRecord, bool], None]:
    def hook(record: ExitRecord, crash_looping: bool) -> None:
        if crash_looping:
            log.warning("%s keeps failing (exit %s); see its log", name, record.returncode)

    return hook


async def start_publishers(cameras: list[DemoCamera], logs: Path) -> list[Supervisor]:
    """One supervised ffmpeg per camera (restarted with backoff if it dies)."""
    publishers: list[Supervisor] = []
    for n, camera in enumerate(cameras, start=1):
        publisher = Supervisor(
            name=f"demo publisher {n} ({camera.name})",
            argv=publisher_argv(camera.publish_url),
            log_path=logs / f"demo-{n}.log",
            backoff=Backoff(base=0.5, cap=5.0),
            on_exit=_report_exit(camera.name),
        )
        await publisher.start()
        publishers.append(publisher)
    return publishers
