"""A new camera takes the recording settings' default profile and retention when its request
leaves them unset, on each backend; what the caller sets wins. A plane of its own per test:
changing the defaults would change what other tests' new cameras get."""

from __future__ import annotations

import secrets

from camfleet.v1 import camera_pb2, camera_pb2_grpc, recording_pb2, settings_pb2
from google.protobuf import duration_pb2

from tests.conftest import PlatformFactory
from tests.server.settings.support import update

DAY = 86400


async def test_new_cameras_take_the_recording_defaults_unless_the_request_sets_them(
    make_platform: PlatformFactory,
) -> None:
    plane = await make_platform()
    cameras = camera_pb2_grpc.CameraServiceStub(plane.channel)

    async def create(camera: camera_pb2.Camera) -> camera_pb2.Camera:
        camera.name = f"defaults-{secrets.token_hex(4)}"
        made = await cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera), metadata=plane.admin, timeout=10
        )
        # What a later read shows, not only the create reply.
        return await get(made.camera.id)

    async def get(camera_id: str) -> camera_pb2.Camera:
        reply = await cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera_id), metadata=plane.admin, timeout=10
        )
        return reply.camera

    # Before any change: the built-in defaults (original, no age limit).
    before = await create(camera_pb2.Camera())
    assert before.recording_profile == recording_pb2.RECORDING_PROFILE_ORIGINAL
    assert before.retention_max_age.ToTimedelta().total_seconds() == 0

    await update(
        plane,
        ["default_profile", "default_retention_days"],
        recording=settings_pb2.RecordingSettings(
            default_profile=recording_pb2.RECORDING_PROFILE_LOW, default_retention_days=14
        ),
    )
    unset = await create(camera_pb2.Camera())
    assert unset.recording_profile == recording_pb2.RECORDING_PROFILE_LOW
    assert unset.retention_max_age.ToTimedelta().total_seconds() == 14 * DAY

    # An explicit profile and age limit win, an explicit 0 ("no age limit") included.
    explicit = await create(
        camera_pb2.Camera(
            recording_profile=recording_pb2.RECORDING_PROFILE_HIGH,
            retention_max_age=duration_pb2.Duration(seconds=3 * DAY),
        )
    )
    assert explicit.recording_profile == recording_pb2.RECORDING_PROFILE_HIGH
    assert explicit.retention_max_age.ToTimedelta().total_seconds() == 3 * DAY
    no_limit = await create(camera_pb2.Camera(retention_max_age=duration_pb2.Duration()))
    assert no_limit.retention_max_age.ToTimedelta().total_seconds() == 0
    assert no_limit.recording_profile == recording_pb2.RECORDING_PROFILE_LOW

    # The camera made before the change keeps what it had.
    again = await get(before.id)
    assert again.recording_profile == recording_pb2.RECORDING_PROFILE_ORIGINAL
    assert again.retention_max_age.ToTimedelta().total_seconds() == 0
