"""The camera stream-state machine of an agent session (server/nodes/stream_state.py): every
transition a user sees on a camera, as pure functions of (state, what the node said)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.cameras.model import CameraStatus
from server.nodes.live import StreamEvent, StreamEventKind, StreamReport
from server.nodes.stream_state import (
    FAILED,
    UNPUBLISHED,
    CameraStream,
    PublishRefused,
    SetStatus,
    StreamEnded,
    Transition,
    on_event,
    on_hello,
    on_report,
    reconciled,
)

CAM = "0b0e7c5e-1b1a-4c52-9a51-3f1d2c1e0a01"
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(kind: StreamEventKind, when: float, message: str = "", camera: str = CAM) -> StreamEvent:
    return StreamEvent(kind, camera, message, at(when), remote_address="10.0.0.9", key_prefix="abc")


def report(flowing: bool, camera: str = CAM) -> StreamReport:
    return StreamReport(camera, media_flowing=flowing)


CONNECTING = CameraStream(CameraStatus.CONNECTING, at(1))
ONLINE = CameraStream(CameraStatus.ONLINE, at(2))


# --- Hello --------------------------------------------------------------------------------------


def test_a_stream_with_media_at_hello_is_online_and_one_without_is_connecting() -> None:
    assert on_hello(report(True), at(5)) == CameraStream(CameraStatus.ONLINE, at(5))
    assert on_hello(report(False), at(5)) == CameraStream(CameraStatus.CONNECTING, at(5))


def test_hello_reconciles_the_cameras_to_the_live_streams_only() -> None:
    states = {
        "a": CameraStream(CameraStatus.ONLINE, at(1)),
        "b": CameraStream(CameraStatus.CONNECTING, at(1)),
        "c": CameraStream(CameraStatus.OFFLINE, at(1)),
        "d": CameraStream(CameraStatus.ERROR, at(1)),
    }
    assert reconciled(states) == {"a": CameraStatus.ONLINE, "b": CameraStatus.CONNECTING}


# --- stream events ------------------------------------------------------------------------------


def test_publish_makes_an_unknown_camera_connecting() -> None:
    step = on_event(None, event(StreamEventKind.PUBLISH, 1))
    assert step == Transition(
        CameraStream(CameraStatus.CONNECTING, at(1)),
        (SetStatus(CAM, CameraStatus.CONNECTING, "", at(1)),),
    )
    assert step.state is not None and step.state.live


def test_media_makes_a_connecting_camera_online() -> None:
    step = on_event(CONNECTING, event(StreamEventKind.MEDIA, 2))
    assert step.state == CameraStream(CameraStatus.ONLINE, at(2))
    assert step.effects == (SetStatus(CAM, CameraStatus.ONLINE, "", at(2)),)


def test_unpublish_makes_the_camera_offline_and_ends_the_stream() -> None:
    step = on_event(ONLINE, event(StreamEventKind.UNPUBLISH, 3))
    assert step.state == CameraStream(CameraStatus.OFFLINE, at(3))
    assert not step.state.live
    assert step.effects == (
        SetStatus(CAM, CameraStatus.OFFLINE, UNPUBLISHED, at(3)),
        StreamEnded(CAM),
    )


def test_the_nodes_reason_is_kept_and_bounded() -> None:
    said = on_event(ONLINE, event(StreamEventKind.UNPUBLISH, 3, "camera rebooted"))
    assert said.effects[0] == SetStatus(CAM, CameraStatus.OFFLINE, "camera rebooted", at(3))
    long = on_event(ONLINE, event(StreamEventKind.ERROR, 3, "x" * 2000))
    assert isinstance(long.effects[0], SetStatus) and long.effects[0].reason == "x" * 500


def test_an_error_makes_the_camera_error_and_ends_the_stream() -> None:
    step = on_event(CONNECTING, event(StreamEventKind.ERROR, 3))
    assert step.state == CameraStream(CameraStatus.ERROR, at(3))
    assert step.effects == (SetStatus(CAM, CameraStatus.ERROR, FAILED, at(3)), StreamEnded(CAM))


def test_a_camera_that_ended_connects_again_on_a_new_publish() -> None:
    ended = on_event(ONLINE, event(StreamEventKind.UNPUBLISH, 3)).state
    again = on_event(ended, event(StreamEventKind.PUBLISH, 4))
    assert again.state == CameraStream(CameraStatus.CONNECTING, at(4))
    assert again.effects == (SetStatus(CAM, CameraStatus.CONNECTING, "", at(4)),)


def test_a_late_event_after_a_newer_publish_is_ignored() -> None:
    published = CameraStream(CameraStatus.CONNECTING, at(10))
    for kind in (StreamEventKind.UNPUBLISH, StreamEventKind.ERROR, StreamEventKind.MEDIA):
        assert on_event(published, event(kind, 9)) == Transition(published)


def test_a_replayed_unpublish_older_than_the_hello_does_not_end_the_stream() -> None:
    """After a reconnect the spool replays what happened before it; the Hello's view wins."""
    state = on_hello(report(True), at(20))
    assert on_event(state, event(StreamEventKind.UNPUBLISH, 19)) == Transition(state)


def test_an_event_as_old_as_the_state_still_counts() -> None:
    step = on_event(CONNECTING, event(StreamEventKind.MEDIA, 1))
    assert step.state == CameraStream(CameraStatus.ONLINE, at(1))


def test_a_refused_publish_is_audited_and_moves_nothing() -> None:
    refused = event(StreamEventKind.REFUSED, 0, "unknown stream key")
    step = on_event(ONLINE, refused)
    assert step == Transition(
        ONLINE, (PublishRefused(CAM, "unknown stream key", "10.0.0.9", "abc"),)
    )
    # A key no camera has: the refusal has no camera, and is audited all the same.
    nobody = on_event(None, event(StreamEventKind.REFUSED, 0, "bad key", camera=""))
    assert nobody == Transition(None, (PublishRefused("", "bad key", "10.0.0.9", "abc"),))


def test_an_event_without_a_camera_moves_nothing() -> None:
    assert on_event(None, event(StreamEventKind.PUBLISH, 1, camera="")) == Transition(None)


# --- heartbeats ---------------------------------------------------------------------------------


def test_a_heartbeat_showing_media_makes_a_connecting_camera_online() -> None:
    """The MEDIA event may still be in the spool; the heartbeat shows it already."""
    step = on_report(CONNECTING, report(True), at(5))
    assert step is not None
    assert step.state == CameraStream(CameraStatus.ONLINE, at(5))
    assert step.effects == (SetStatus(CAM, CameraStatus.ONLINE, "", at(5)),)
    # The MEDIA event behind it is older than the heartbeat: nothing more happens.
    assert on_event(step.state, event(StreamEventKind.MEDIA, 4)) == Transition(step.state)


def test_a_heartbeat_without_media_keeps_a_camera_connecting() -> None:
    assert on_report(CONNECTING, report(False), at(5)) is None


def test_a_heartbeat_keeps_an_online_camera_online_without_writes() -> None:
    assert on_report(ONLINE, report(True), at(5)) is None
    assert on_report(ONLINE, report(False), at(5)) is None


def test_a_heartbeat_does_not_bring_back_a_stream_the_session_does_not_know() -> None:
    """Its PUBLISH has not arrived yet, or it already ended: only events start a stream."""
    assert on_report(None, report(True), at(5)) is None
    ended = CameraStream(CameraStatus.OFFLINE, at(3))
    assert on_report(ended, report(True), at(5)) is None
    failed = CameraStream(CameraStatus.ERROR, at(3))
    assert on_report(failed, report(True), at(5)) is None


def test_a_heartbeat_older_than_the_publish_does_not_make_it_online() -> None:
    published = CameraStream(CameraStatus.CONNECTING, at(10))
    assert on_report(published, report(True), at(9)) is None
