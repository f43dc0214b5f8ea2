"""The recording truth of a fleet test, read through the API: every hole between a camera's
indexed segments is a gap of its timeline with a cause, and drained cameras have none during
their drain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from camfleet.v1 import recording_pb2

from harness.fleet import Fleet
from harness.fleet_reads import cameras, retried
from tests.support.recordings import all_recordings
from tests.support.stack import ts


def _gap_line(g: recording_pb2.RecordingGap) -> str:
    start = g.start_time.ToDatetime(UTC)
    end = g.end_time.ToDatetime(UTC) if g.HasField("end_time") else None
    length = f"{(end - start).total_seconds():.1f} s" if end else "open"
    cause = recording_pb2.GapCause.Name(g.cause).removeprefix("GAP_CAUSE_")
    nodes = " -> ".join(n[:8] for n in g.node_ids)
    return f"{cause} at {start:%H:%M:%S.%f} ({length}, {g.reason!r}, nodes {nodes})"


async def _timeline(
    fleet: Fleet, camera_id: str, start: datetime, end: datetime
) -> recording_pb2.GetTimelineResponse:
    request = recording_pb2.GetTimelineRequest(
        camera_id=camera_id, start_time=ts(start), end_time=ts(end)
    )
    resp: recording_pb2.GetTimelineResponse = await retried(
        lambda: fleet.recordings.GetTimeline(request, metadata=fleet.admin, timeout=15)
    )
    return resp


async def gaps_without_a_cause(
    fleet: Fleet,
    names: list[str],
    started: datetime,
    drained: list[str],
    window: tuple[datetime, datetime],
    segment_s: float,
) -> list[str]:
    """Every gap in every timeline has a cause (not unspecified, not unknown), every hole
    between the indexed segments is such a gap (nothing stopped on purpose here, so nothing
    may go unexplained), and the drained cameras have no gap during the drain. What is not so,
    one line each."""
    problems = []
    cams = await cameras(fleet)
    end = datetime.now(UTC) - timedelta(seconds=2 * segment_s)
    for name in names:
        timeline = await _timeline(fleet, cams[name].id, started, end)
        problems += [
            f"{name}: {(b - a).total_seconds():.1f} s without a segment from {a:%H:%M:%S.%f} in no "
            f"gap of the timeline (gaps: {[_gap_line(g) for g in timeline.gaps]})"
            for a, b in _unexplained_holes(
                await listed_recordings(fleet, cams[name].id, started), timeline, end
            )
        ]
        unexplained = [
            g for g in timeline.gaps
            if g.cause in (recording_pb2.GAP_CAUSE_UNSPECIFIED, recording_pb2.GAP_CAUSE_UNKNOWN)
        ]  # fmt: skip
        problems += [f"{name}: gap without a cause: {_gap_line(g)}" for g in unexplained]
        if name in drained:
            during = [
                g for g in timeline.gaps
                if g.start_time.ToDatetime(UTC) < window[1]
                and (not g.HasField("end_time") or g.end_time.ToDatetime(UTC) > window[0])
            ]  # fmt: skip
            problems += [f"{name}: gap during its drain: {_gap_line(g)}" for g in during]
    return problems


async def listed_recordings(
    fleet: Fleet, camera_id: str, started: datetime
) -> list[recording_pb2.Recording]:
    """The camera's indexed segments since a minute before `started`, every page."""
    request = recording_pb2.ListRecordingsRequest(
        camera_id=camera_id,
        start_time=ts(started - timedelta(minutes=1)),
        end_time=ts(datetime.now(UTC) + timedelta(minutes=1)),
        page_size=500,
    )
    return await retried(partial(all_recordings, fleet.recordings, request, fleet.admin))


def _unexplained_holes(
    listed: list[recording_pb2.Recording],
    timeline: recording_pb2.GetTimelineResponse,
    end: datetime,
) -> list[tuple[datetime, datetime]]:
    """Holes longer than the timeline's merge slack (1.5 s) between the camera's segments,
    before `end` (the timeline's), that its gaps leave more than half a second of uncovered."""
    spans = sorted((r.start_time.ToDatetime(UTC), r.end_time.ToDatetime(UTC)) for r in listed)
    gaps = [
        (g.start_time.ToDatetime(UTC), g.end_time.ToDatetime(UTC))
        for g in timeline.gaps
        if g.HasField("end_time")
    ]
    holes = []
    covered_to = spans[0][1] if spans else None
    for start, stop in spans[1:]:
        assert covered_to is not None
        if (start - covered_to).total_seconds() > 1.5 and start <= end:
            hole = (covered_to, start)
            inside = sum(
                max(0.0, (min(hole[1], b) - max(hole[0], a)).total_seconds()) for a, b in gaps
            )
            if (hole[1] - hole[0]).total_seconds() - inside > 0.5:
                holes.append(hole)
        covered_to = max(covered_to, stop)
    return holes
