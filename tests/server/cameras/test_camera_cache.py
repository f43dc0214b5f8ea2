"""The camera cache of replicas (PostgreSQL + Redis): GetCamera and ListCameras answered in
memory are never older than what the caller could already know.

Two control planes share one PostgreSQL database and one Redis prefix, as replicas behind Envoy
do. A write is read at once on the replica that made it, and on another one as soon as that
replica's log has its revision, however far behind the cache's own follower is (it waits, or
the database answers); reads never go back in time; and what a caller may see (stream keys)
still depends on who asks, whichever principal filled the cache.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from camfleet.v1 import camera_pb2, common_pb2

from harness.databases import REDIS_URL, throwaway_postgres
from server.eventlog.log import EventLog, StoredEvent
from tests.support.platform import Platform, mask, settings_for_tests, start_platform, stop_platform


@pytest.fixture
async def pair(redis_prefix: str, tmp_path: Path) -> AsyncIterator[tuple[Platform, Platform]]:
    """Replicas A and B on one fresh database and one Redis prefix."""
    with throwaway_postgres() as url:
        prefix = f"{redis_prefix}cache-{secrets.token_hex(4)}:"
        planes: list[Platform] = []
        try:
            for name in ("a", "b"):  # one after the other: the first creates admin
                settings = settings_for_tests(
                    tmp_path / name, database_url=url, redis_url=REDIS_URL, redis_prefix=prefix
                )
                planes.append(await start_platform(settings, "postgres"))
            assert all(p.plane.camera_cache is not None for p in planes)
            yield planes[0], planes[1]
        finally:
            for plane in planes:
                await stop_platform(plane)


class _Lagging:
    """The log as a slow follower sees it: each event `lag_s` late (the current revision is
    still the log's own)."""

    def __init__(self, log: EventLog, lag_s: float) -> None:
        self._log, self._lag_s = log, lag_s

    async def current_revision(self) -> int:
        return await self._log.current_revision()

    async def watch(self, after_revision: int) -> AsyncIterator[StoredEvent]:
        async for event in self._log.watch(after_revision):
            await asyncio.sleep(self._lag_s)
            yield event


async def _lag(plane: Platform, lag_s: float) -> None:
    """Make the replica's cache follow the log `lag_s` behind (its follower is started again;
    a private attribute: a test-only way to hold back a follower that is otherwise ms behind)."""
    cache: Any = plane.plane.camera_cache
    await cache.close()
    cache._events = _Lagging(cache._events, lag_s)
    cache.start()
    async with asyncio.timeout(10):
        while cache.applied == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _has(plane: Platform, revision: int) -> None:
    """Wait until the replica's log has `revision` (its tail of the shared stream: ms)."""
    events: Any = plane.plane.events
    async with asyncio.timeout(10):
        while events.revision_here() < revision:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def _get(plane: Platform, camera_id: str) -> camera_pb2.Camera:
    resp = await plane.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=plane.admin
    )
    return resp.camera


async def _listed(plane: Platform, tag: str) -> list[camera_pb2.Camera]:
    resp = await plane.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(filter=f'labels.t = "{tag}"', page_size=50),
        metadata=plane.admin,
    )
    return list(resp.cameras)


async def _rename(plane: Platform, camera_id: str, name: str) -> None:
    await plane.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=camera_id, name=name), update_mask=mask("name")
        ),
        metadata=plane.admin,
    )


# No lag, a follower behind by less than a read waits for it, and one behind by more (the
# database answers).
@pytest.mark.parametrize("lag_s", [0.0, 0.1, 1.0])
async def test_a_write_on_one_replica_is_read_on_the_other_at_once(
    pair: tuple[Platform, Platform], lag_s: float
) -> None:
    a, b = pair
    if lag_s:
        for plane in (a, b):
            await _lag(plane, lag_s)
    tag = uuid.uuid4().hex
    camera = await a.new_camera(labels={"t": tag})
    async with asyncio.timeout(60):
        for i in range(15):
            # Both replicas have the camera and the page in memory before each write.
            for plane in (a, b):
                await _get(plane, camera.id)
                await _listed(plane, tag)
            writer, reader = (a, b) if i % 2 == 0 else (b, a)
            name = f"renamed-{i}-{uuid.uuid4().hex[:6]}"
            await _rename(writer, camera.id, name)
            # Right after the write returned, on the replica that made it.
            assert (await _get(writer, camera.id)).name == name
            assert [c.name for c in await _listed(writer, tag)] == [name]
            # On the other as soon as its log has the write, whatever its cache's follower does.
            await _has(reader, await writer.revision())
            assert (await _get(reader, camera.id)).name == name
            assert [c.name for c in await _listed(reader, tag)] == [name]
    # The reads above were answered by caches that follow the log, not by a cache left off.
    async with asyncio.timeout(10):
        for plane in (a, b):
            cache = plane.plane.camera_cache
            assert cache is not None
            while cache.applied < await plane.revision():  # noqa: ASYNC110
                await asyncio.sleep(0.05)


async def test_a_deleted_camera_is_gone_on_both_replicas(pair: tuple[Platform, Platform]) -> None:
    a, b = pair
    tag = uuid.uuid4().hex
    camera = await a.new_camera(labels={"t": tag})
    await _get(b, camera.id)
    assert len(await _listed(b, tag)) == 1
    await a.cameras.DeleteCamera(camera_pb2.DeleteCameraRequest(id=camera.id), metadata=a.admin)
    await _has(b, await a.revision())
    with pytest.raises(Exception) as caught:
        await _get(b, camera.id)
    assert "does not exist" in str(caught.value)
    assert await _listed(b, tag) == []


async def test_reads_never_go_back_to_an_older_revision(pair: tuple[Platform, Platform]) -> None:
    """A writer on A numbers the description 0, 1, 2, …; a reader on B (its cache's follower
    0.1 s behind) alternates GetCamera, a label filtered ListCameras and a list of everything,
    and remembers the highest number it saw: no later read may show less. A write is read on
    A at once, and on B once its log has it."""
    a, b = pair
    await _lag(b, 0.1)
    tag = uuid.uuid4().hex
    camera = await a.new_camera(labels={"t": tag}, description="0")
    done = False

    async def write() -> None:
        nonlocal done
        try:
            for i in range(1, 41):
                await a.cameras.UpdateCamera(
                    camera_pb2.UpdateCameraRequest(
                        camera=camera_pb2.Camera(id=camera.id, description=str(i)),
                        update_mask=mask("description"),
                    ),
                    metadata=a.admin,
                )
                assert int((await _get(a, camera.id)).description) == i  # read-your-writes
        finally:
            done = True

    async def read() -> int:
        seen = reads = 0
        while not done or reads < 6:
            kind = reads % 3
            if kind == 0:
                value = int((await _get(b, camera.id)).description)
            elif kind == 1:
                value = int((await _listed(b, tag))[0].description)
            else:
                page = await b.cameras.ListCameras(
                    camera_pb2.ListCamerasRequest(page_size=1000), metadata=b.admin
                )
                value = int(next(c for c in page.cameras if c.id == camera.id).description)
            assert value >= seen, f"read {value} after having seen {seen}"
            seen, reads = value, reads + 1
        return seen

    async with asyncio.timeout(120):
        await asyncio.gather(write(), read())
    await _has(b, await a.revision())
    assert (await _get(b, camera.id)).description == "40"
    assert (await _listed(b, tag))[0].description == "40"


async def test_what_a_caller_sees_still_depends_on_who_asks(
    pair: tuple[Platform, Platform],
) -> None:
    a, b = pair
    tag = uuid.uuid4().hex
    camera = await a.new_camera(labels={"t": tag})
    assert camera.stream_key
    viewer = await b.as_role(common_pb2.ROLE_VIEWER)
    for _ in range(3):  # the admin's read fills the cache, the viewer's comes from it
        assert (await _get(b, camera.id)).stream_key == camera.stream_key
        shown = await b.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id), metadata=viewer
        )
        assert shown.camera.name == camera.name and shown.camera.stream_key == ""
        page = await b.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(filter=f'labels.t = "{tag}"'), metadata=viewer
        )
        assert [c.stream_key for c in page.cameras] == [""]
    # A filter on a label that changed on the other replica: the page follows at once.
    await a.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=camera.id, labels={"t": f"{tag}-moved"}),
            update_mask=mask("labels"),
        ),
        metadata=a.admin,
    )
    await _has(b, await a.revision())
    assert await _listed(b, tag) == []
    assert [c.id for c in await _listed(b, f"{tag}-moved")] == [camera.id]


async def test_without_its_follower_a_replica_reads_the_database(
    pair: tuple[Platform, Platform],
) -> None:
    a, b = pair
    camera = await a.new_camera()
    await _get(b, camera.id)
    cache = b.plane.camera_cache
    assert cache is not None
    await cache.close()  # as when the log cannot be followed: nothing is answered from memory
    await _rename(a, camera.id, "after-the-follower-stopped")
    await _has(b, await a.revision())
    assert (await _get(b, camera.id)).name == "after-the-follower-stopped"
