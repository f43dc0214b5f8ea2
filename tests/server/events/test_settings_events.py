"""SETTINGS_CHANGED in WatchEvents: seen by watchers with settings.read (an admin), kept from
those without it (a viewer, an operator). A plane of its own: the test changes a setting."""

from __future__ import annotations

from camfleet.v1 import camera_pb2, common_pb2, event_pb2, recording_pb2, settings_pb2

from tests.conftest import PlatformFactory
from tests.server.settings.support import update


async def test_settings_changes_reach_only_watchers_with_settings_read(
    make_platform: PlatformFactory,
) -> None:
    plane = await make_platform()
    viewer = await plane.as_role(common_pb2.ROLE_VIEWER)
    operator = await plane.as_role(common_pb2.ROLE_OPERATOR)
    listed = await plane.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(page_size=1), metadata=plane.admin
    )
    start = listed.revision
    await update(
        plane,
        ["default_profile"],
        recording=settings_pb2.RecordingSettings(
            default_profile=recording_pb2.RECORDING_PROFILE_LOW
        ),
    )
    # A camera created after the change: every watcher sees it, so its event ends each watch.
    marker = await plane.new_camera()

    def is_marker(event: event_pb2.Event) -> bool:
        return event.subject == f"cameras/{marker.id}"

    changed = event_pb2.EVENT_TYPE_SETTINGS_CHANGED
    seen = await plane.events_until(plane.admin, start, is_marker)
    settings_events = [e for e in seen if e.type == changed]
    assert [e.subject for e in settings_events] == ["settings/recording"]
    assert "recording settings were changed" in settings_events[0].message

    for who in (viewer, operator):
        seen = await plane.events_until(who, start, is_marker)
        assert is_marker(seen[-1])
        assert [e for e in seen if e.type == changed] == []
