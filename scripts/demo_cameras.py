"""`./start --demo N`: N cameras ("Demo 1".."Demo N", recording on) created through the API as
admin, each fed by an ffmpeg test pattern that is restarted whenever it dies (with the camera's
current stream key; a deleted camera's publisher stops).

The cameras are made exactly as a user would make them (CameraService over gRPC), so the demo
exercises the real paths: the publish URL comes from GetStreamUrls, the node authorizes the
key, and the cameras go ONLINE through the agent's stream reports. A second start with the same
data directory reuses the cameras it finds by name.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from camfleet.v1 import camera_pb2, camera_pb2_grpc
from platform_api import AdminError, Metadata, login

from node_agent.backoff import Backoff
from node_agent.restart_policy import ExitRecord, RestartPolicy
from node_agent.supervisor import Supervisor

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


@dataclass
class DemoPublishers:
    """One supervised ffmpeg per demo camera, restarted with backoff when it dies. After each
    exit the camera is asked for again, as admin: a rotated stream key is picked up, and a
    deleted camera's publisher stops instead of knocking forever."""

    target: str  # the control plane
    password: str  # admin's
    logs: Path
    running: dict[str, Supervisor] = field(default_factory=dict)
    _checks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, cameras: list[DemoCamera]) -> None:
        for n, camera in enumerate(cameras, start=1):
            publisher = Supervisor(
                name=f"demo publisher {n} ({camera.name})",
                argv=publisher_argv(camera.publish_url),
                log_path=self.logs / f"demo-{n}.log",
                policy=RestartPolicy(backoff=Backoff(base=0.5, cap=5.0)),
                on_exit=self._on_exit(camera),
            )
            await publisher.start()
            self.running[camera.id] = publisher

    def _on_exit(self, camera: DemoCamera) -> Callable[[ExitRecord, bool], None]:
        def hook(record: ExitRecord, crash_looping: bool) -> None:
            if crash_looping:
                log.warning(
                    "%s keeps failing (exit %s); see its log", camera.name, record.returncode
                )
            # The restart waits out the backoff meanwhile; a late answer counts from the next.
            check = asyncio.get_running_loop().create_task(self._follow(camera))
            self._checks.add(check)
            check.add_done_callback(self._checks.discard)

        return hook

    async def _follow(self, camera: DemoCamera) -> None:
        publisher = self.running.get(camera.id)
        if publisher is None:
            return
        try:
            async with grpc.aio.insecure_channel(self.target) as channel:
                auth = await login(channel, self.password)
                urls = await camera_pb2_grpc.CameraServiceStub(channel).GetStreamUrls(
                    camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=auth, timeout=10
                )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                del self.running[camera.id]
                await publisher.stop()
                log.info("%s was deleted: its demo publisher stopped", camera.name)
            return
        except AdminError:
            return  # admin's password changed meanwhile: keep the URL we have
        argv = publisher_argv(urls.rtmp_publish_url)
        if list(publisher.argv) != argv:
            log.info("%s has a new stream key: its demo publisher uses it", camera.name)
            publisher.argv = argv

    async def stop(self) -> None:
        for check in list(self._checks):
            check.cancel()
        await asyncio.gather(*(p.stop(grace_s=5.0) for p in self.running.values()))
