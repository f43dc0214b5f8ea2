"""The VOD playlist of a range spread over places (issue 15 part 4's playback across nodes and
tiers), on a real database (SQLite, migrated to head); presigning is computed locally, so no
object store needs to run here (test_cold_tier.py plays such a playlist from one): a range
recorded on two nodes lists each segment at its own node, a segment in the cold tier of a
node that is gone is listed by a presigned URL of its object, and a segment that no one can
serve leaves a discontinuity; a range only such nodes hold is refused with a sentence."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.playback import Grant

from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import CameraRow, NodeRow, RecordingRow
from server.errors import FailedPrecondition
from server.recordings.cold_urls import ColdUrls
from server.recordings.media import RecordingMedia
from server.settings.model import FixedSettings, PlatformSettings, StorageSettings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET = b"p" * 32
GRANT = Grant(("user-1",), int(T0.timestamp()))
STORAGE = StorageSettings(
    cold_endpoint="http://127.0.0.1:9",
    cold_bucket="cold",
    cold_access_key="AK",
    cold_secret_key="SK",
)


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[tuple[RecordingMedia, str, dict[str, str]]]:
    engine = create_engine(sqlite_url(tmp_path), pool_size=2)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    camera_id = str(uuid.uuid4())
    nodes = {name: str(uuid.uuid4()) for name in ("a", "b", "lost")}
    async with sessions.begin() as session:
        session.add(CameraRow(id=camera_id, name="lobby", name_key="lobby", stream_key="k" * 32))
        for name, node_id in nodes.items():
            session.add(
                NodeRow(
                    id=node_id,
                    name=name,
                    name_key=name,
                    credential_hash="x" * 64,
                    state="lost" if name == "lost" else "ready",
                    http_url="" if name == "lost" else f"http://{name}.example.test:8080",
                )
            )
    try:
        yield (
            RecordingMedia(
                sessions,
                playback_secret=SECRET,
                url_ttl=timedelta(minutes=10),
                cold=ColdUrls(FixedSettings(PlatformSettings(storage=STORAGE))),
            ),
            camera_id,
            nodes,
        )
    finally:
        await engine.dispose()


async def add(media: RecordingMedia, camera_id: str, node_id: str, n: int, **cold: str) -> str:
    segment_id = str(uuid.uuid4())
    async with media._sessions.begin() as session:  # the test's own rows, written directly
        session.add(
            RecordingRow(
                id=segment_id,
                camera_id=camera_id,
                node_id=node_id,
                start_time=T0 + timedelta(seconds=2 * n),
                end_time=T0 + timedelta(seconds=2 * n + 2),
                duration_s=2.0,
                tier="cold" if cold else "hot",
                object_bucket=cold.get("bucket", ""),
                object_key=cold.get("key", ""),
            )
        )
    return segment_id


def lines(url: str) -> list[str]:
    prefix = "data:application/vnd.apple.mpegurl;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url.removeprefix(prefix)).decode().splitlines()


async def test_each_segment_is_listed_where_it_lives(
    media: tuple[RecordingMedia, str, dict[str, str]],
) -> None:
    recordings, camera_id, nodes = media
    on_a = await add(recordings, camera_id, nodes["a"], 0)
    on_b = await add(recordings, camera_id, nodes["b"], 1)
    in_cold = await add(recordings, camera_id, nodes["lost"], 2, bucket="cold", key="n/x.ts")
    await add(recordings, camera_id, nodes["lost"], 3)  # on a lost node's disk: unreachable
    on_a_again = await add(recordings, camera_id, nodes["a"], 4)
    signed = await recordings.playback_url(camera_id, T0, T0 + timedelta(seconds=10), GRANT)
    playlist = lines(signed.url)
    uris = [line for line in playlist if not line.startswith("#")]
    assert len(uris) == 4
    assert uris[0].startswith(f"http://a.example.test:8080/recordings/{on_a}/")
    assert uris[1].startswith(f"http://b.example.test:8080/recordings/{on_b}/")
    assert uris[2].startswith("http://127.0.0.1:9/cold/n/x.ts?")
    assert "X-Amz-Signature=" in uris[2] and in_cold
    assert uris[3].startswith(f"http://a.example.test:8080/recordings/{on_a_again}/")
    # The unreachable segment is a hole: a discontinuity before the next one.
    assert playlist.index("#EXT-X-DISCONTINUITY") == playlist.index(uris[3]) - 3
    assert playlist[-1] == "#EXT-X-ENDLIST"
    assert signed.expires_at <= datetime.now(UTC) + timedelta(minutes=10, seconds=1)


async def test_a_range_only_a_lost_node_holds_is_refused_with_a_sentence(
    media: tuple[RecordingMedia, str, dict[str, str]],
) -> None:
    recordings, camera_id, nodes = media
    await add(recordings, camera_id, nodes["lost"], 0)
    with pytest.raises(FailedPrecondition, match="cannot serve it now"):
        await recordings.playback_url(camera_id, T0, T0 + timedelta(seconds=2), GRANT)


async def test_a_range_on_one_ready_node_is_still_that_nodes_playlist(
    media: tuple[RecordingMedia, str, dict[str, str]],
) -> None:
    recordings, camera_id, nodes = media
    await add(recordings, camera_id, nodes["a"], 0)
    signed = await recordings.playback_url(camera_id, T0, T0 + timedelta(seconds=2), GRANT)
    assert signed.url.startswith(f"http://a.example.test:8080/vod/{camera_id}/")
