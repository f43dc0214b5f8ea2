"""Camera kinds, each one set-based query per rule (never one per camera): offline, error,
recording gaps (open gap length, recorded / expected over a window), recorder crash loops,
and stream quality (presence's live metrics, then one query for the cameras below).

A rule's match_labels select cameras by their labels (EXISTS per pair, in the same query).
A camera's `node` label is the node where it went dark: its node, or, when it is on none now
(a lost node's pull cameras with nowhere to go are taken off it), the node it was last taken
off (placement history), so a lost node's alert inhibits them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, and_, exists, func, select

from server.alerts.conditions.common import Evaluation, Sources, ago, alert_labels, spoken
from server.alerts.model import (
    Finding,
    RecorderCrashLoop,
    RecordingGap,
    Rule,
    StreamQuality,
)
from server.cameras.model import CameraStatus
from server.db.models import (
    CameraLabelRow,
    CameraRow,
    NodeRow,
    PlacementRow,
    RecordingEventRow,
    RecordingGapRow,
    RecordingRow,
)

_CHUNK = 500
# A stream younger than this has no meaningful frame rate or bitrate yet.
STREAM_SETTLE = timedelta(seconds=10)


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    node_id: str
    node_name: str
    status: str
    status_reason: str
    status_changed_at: datetime
    created_at: datetime
    labels: dict[str, str]


# Ids bound in one IN list at most (SQLite allows 32,766 variables a statement).
_IDS_PER_QUERY = 5000


def _scope(rule: Rule) -> list[ColumnElement[bool]]:
    """Active cameras holding every match_labels pair."""
    conditions: list[ColumnElement[bool]] = [CameraRow.active.is_(True)]
    for key, value in sorted(rule.match_labels.items()):
        conditions.append(
            exists().where(
                CameraLabelRow.camera_id == CameraRow.id,
                CameraLabelRow.key == key,
                CameraLabelRow.value == value,
            )
        )
    return conditions


def _last_node() -> ScalarSelect[str]:
    """The node a camera was last taken off (its newest placement that left it on none)."""
    return (
        select(PlacementRow.from_node_id)
        .where(PlacementRow.camera_id == CameraRow.id, PlacementRow.to_node_id == "")
        .order_by(PlacementRow.id.desc())
        .limit(1)
        .correlate(CameraRow)
        .scalar_subquery()
    )


async def _cameras(sources: Sources, where: Sequence[ColumnElement[bool]]) -> dict[str, Camera]:
    """The cameras matching `where`, with the node where they are (or were last: see the
    module's docstring) and its name, and their labels (two queries, a third for the names of
    nodes cameras were last on)."""
    session = sources.session
    stmt = (
        select(
            CameraRow.id,
            CameraRow.name,
            # COALESCE reads the history only for cameras on no node.
            func.coalesce(CameraRow.node_id, _last_node()),
            NodeRow.name,
            CameraRow.status,
            CameraRow.status_reason,
            CameraRow.status_changed_at,
            CameraRow.created_at,
        )
        .select_from(CameraRow)
        .outerjoin(NodeRow, NodeRow.id == CameraRow.node_id)
        .where(*where)
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        return {}
    last = {r[2] for r in rows if r[2] and r[3] is None}
    names: dict[str, str] = {}
    if last:
        found = await session.execute(select(NodeRow.id, NodeRow.name).where(NodeRow.id.in_(last)))
        names = {str(row[0]): str(row[1]) for row in found}
    # The labels of exactly these cameras, by id: the condition again (a subquery) could match
    # others by now, each statement reading its own snapshot, and a camera that came back in
    # between would have got no labels, a new fingerprint, and a second alert.
    labels: dict[str, dict[str, str]] = {}
    ids = [str(r[0]) for r in rows]
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start : start + _IDS_PER_QUERY]
        for camera_id, key, value in await session.execute(
            select(CameraLabelRow.camera_id, CameraLabelRow.key, CameraLabelRow.value).where(
                CameraLabelRow.camera_id.in_(chunk)
            )
        ):
            labels.setdefault(camera_id, {})[key] = value
    return {
        r[0]: Camera(
            r[0],
            r[1],
            r[2] or "",
            r[3] or names.get(r[2] or "", ""),
            r[4],
            r[5],
            r[6],
            r[7],
            labels.get(r[0], {}),
        )
        for r in rows
    }


async def _count(sources: Sources, rule: Rule) -> int:
    if not sources.count:
        return 0
    return int(
        await sources.session.scalar(
            select(func.count()).select_from(CameraRow).where(*_scope(rule))
        )
        or 0
    )


def camera_labels(rule: Rule, camera: Camera) -> dict[str, str]:
    """camera, camera_name, node, node_name, site (its `site` label), its labels, the rule's."""
    about = {
        "camera": camera.id,
        "camera_name": camera.name,
        "node": camera.node_id,
        "node_name": camera.node_name,
        "site": camera.labels.get("site", ""),
    }
    return alert_labels(rule, camera.labels, about)


async def status(sources: Sources, rule: Rule, now: datetime, wanted: CameraStatus) -> Evaluation:
    """Cameras in status `wanted` (offline or error), since their status changed."""
    cameras = await _cameras(sources, [*_scope(rule), CameraRow.status == wanted.value])
    word = "offline" if wanted is CameraStatus.OFFLINE else "in error"
    findings = []
    for cam in cameras.values():
        held = ago(cam.status_changed_at, now)
        reason = f" ({cam.status_reason})" if cam.status_reason else ""
        findings.append(
            Finding(
                labels=camera_labels(rule, cam),
                summary=f"camera {cam.name} has been {word} for {spoken(held)}{reason}",
                value=held,
                since=cam.status_changed_at,
            )
        )
    return Evaluation(findings, await _count(sources, rule))


async def recording_gap(
    sources: Sources, rule: Rule, cond: RecordingGap, now: datetime
) -> Evaluation:
    """Open gaps at least min_gap long; recorded / expected over the window under the ratio."""
    session = sources.session
    found: dict[str, Finding] = {}
    if cond.min_gap_s > 0:
        oldest = (
            select(RecordingGapRow.camera_id, func.min(RecordingGapRow.start_time).label("start"))
            .where(
                RecordingGapRow.end_time.is_(None),
                RecordingGapRow.start_time <= now - timedelta(seconds=cond.min_gap_s),
            )
            .group_by(RecordingGapRow.camera_id)
        )
        starts: dict[str, datetime] = dict((await session.execute(oldest)).all())
        if starts:
            cameras = await _in(sources, rule, list(starts))
            for cid, cam in cameras.items():
                held = ago(starts[cid], now)
                found[cid] = Finding(
                    labels=camera_labels(rule, cam),
                    summary=f"camera {cam.name} has not recorded for {spoken(held)}",
                    value=held,
                    since=starts[cid] + timedelta(seconds=cond.min_gap_s),
                )
    if cond.min_recorded_percent > 0:
        start = now - timedelta(seconds=cond.window_s)
        recording = [*_scope(rule), CameraRow.recording_enabled.is_(True)]
        cameras = await _cameras(sources, recording)
        recorded = {
            cid: float(total or 0)
            for cid, total in await session.execute(
                select(RecordingRow.camera_id, func.sum(RecordingRow.duration_s))
                .where(RecordingRow.end_time > start, RecordingRow.start_time < now)
                .group_by(RecordingRow.camera_id)
            )
        }
        for cid, cam in cameras.items():
            expected = ago(max(start, cam.created_at), now)
            if expected < 60 or cid in found:
                continue
            percent = min(100.0, 100.0 * recorded.get(cid, 0.0) / expected)
            if percent < cond.min_recorded_percent:
                found[cid] = Finding(
                    labels=camera_labels(rule, cam),
                    summary=(
                        f"camera {cam.name} recorded {percent:.0f}% of the last "
                        f"{spoken(expected)} (under {cond.min_recorded_percent:g}%)"
                    ),
                    value=percent,
                )
    return Evaluation(list(found.values()), await _count(sources, rule))


async def _in(sources: Sources, rule: Rule, ids: list[str]) -> dict[str, Camera]:
    """Cameras among `ids` in the rule's scope (IN lists of at most _CHUNK)."""
    out: dict[str, Camera] = {}
    for i in range(0, len(ids), _CHUNK):
        out |= await _cameras(sources, [*_scope(rule), CameraRow.id.in_(ids[i : i + _CHUNK])])
    return out


async def crash_loop(
    sources: Sources, rule: Rule, cond: RecorderCrashLoop, now: datetime
) -> Evaluation:
    """Cameras whose recorder reported an error at least `restarts` times within the window."""
    counts = {
        cid: int(n)
        for cid, n in await sources.session.execute(
            select(RecordingEventRow.camera_id, func.count())
            .where(
                and_(
                    RecordingEventRow.kind == "recorder",
                    RecordingEventRow.state == "error",
                    RecordingEventRow.time >= now - timedelta(seconds=cond.window_s),
                )
            )
            .group_by(RecordingEventRow.camera_id)
            .having(func.count() >= cond.restarts)
        )
    }
    findings = []
    if counts:
        for cid, cam in (await _in(sources, rule, list(counts))).items():
            findings.append(
                Finding(
                    labels=camera_labels(rule, cam),
                    summary=(
                        f"camera {cam.name}'s recorder failed {counts[cid]} times in "
                        f"{spoken(cond.window_s)}"
                    ),
                    value=float(counts[cid]),
                )
            )
    return Evaluation(findings, await _count(sources, rule))


async def stream_quality(
    sources: Sources, rule: Rule, cond: StreamQuality, now: datetime
) -> Evaluation:
    """Live streams under the frame rate or bitrate (presence's latest metrics)."""
    if sources.presence is None:
        return Evaluation([], 0)
    low: dict[str, tuple[float, str]] = {}
    streams = await sources.presence.streams()
    for s in streams:
        if s.status is not CameraStatus.ONLINE:
            continue
        started = s.metrics.publish_start
        if started is not None and now - started < STREAM_SETTLE:
            continue
        fps, kbps = s.metrics.fps, s.metrics.bitrate_bps / 1000
        if cond.min_fps and fps < cond.min_fps:
            low[s.camera_id] = (fps, f"{fps:.1f} fps (under {cond.min_fps:g})")
        elif cond.min_bitrate_kbps and kbps < cond.min_bitrate_kbps:
            low[s.camera_id] = (kbps, f"{kbps:.0f} kbit/s (under {cond.min_bitrate_kbps})")
    findings = []
    if low:
        for cid, cam in (await _in(sources, rule, list(low))).items():
            value, text = low[cid]
            findings.append(
                Finding(
                    labels=camera_labels(rule, cam),
                    summary=f"camera {cam.name}'s stream runs at {text}",
                    value=value,
                )
            )
    return Evaluation(findings, len(streams))
