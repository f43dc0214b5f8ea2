"""What bench_chaos.py watches while it breaks things, as a client of the platform would: every
event (WatchEvents, resumed after the last revision it got whenever its stream breaks), a
steady load of calls counted by status code (an UpdateCamera each round, so the run commits
changes of its own), and the webhook notifications of an alert rule on every camera and node.
The end-of-run checks against the index and the database are bench/chaos_report.py."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from camfleet.v1 import camera_pb2, event_pb2, event_pb2_grpc, recording_pb2
from google.protobuf import field_mask_pb2, timestamp_pb2

from harness.fleet import Fleet

C = camera_pb2
E = event_pb2
RESUME_S = 0.5


def proxy_reset(err: grpc.aio.AioRpcError) -> bool:
    """Whether the call ended by an HTTP/2 RST_STREAM rather than a gRPC status: Envoy resets
    a client's stream when the replica under it dies mid-stream (SIGKILL: no trailers can
    come), and grpc reads a reset as INTERNAL with "RST_STREAM" in the details. No server sent
    INTERNAL: the connection broke (camfleet's CLI, clients/python/camfleet/cli/commands/
    watching.py, resumes on it as on UNAVAILABLE)."""
    return err.code() == grpc.StatusCode.INTERNAL and "RST_STREAM" in (err.details() or "")


def ts(at: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(at)
    return out


@dataclass
class EventWatcher:
    """Follows WatchEvents from `after` on; `revisions` got (bookmarks aside), the recordings
    RECORDING_ADDED named, and the stream breaks and their codes."""

    fleet: Fleet
    after: int
    revisions: set[int] = field(default_factory=set)
    recordings: set[str] = field(default_factory=set)
    breaks: Counter[str] = field(default_factory=Counter)
    compacted: list[str] = field(default_factory=list)
    # Stream ends a caller must never see (INTERNAL, UNKNOWN from the platform), when.
    bad: list[tuple[datetime, str]] = field(default_factory=list)
    # Streams Envoy reset (HTTP/2 RST_STREAM) because the replica behind them died: no status
    # of the platform's, a broken connection, which clients resume like UNAVAILABLE.
    resets: list[tuple[datetime, str]] = field(default_factory=list)
    newest: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.newest = self.after
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self.fleet.channel is not None
        stub = event_pb2_grpc.EventServiceStub(self.fleet.channel)
        while True:
            try:
                stream = stub.WatchEvents(
                    E.WatchEventsRequest(after_revision=self.newest), metadata=self.fleet.admin
                )
                async for resp in stream:
                    self._take(resp.event)
            except grpc.aio.AioRpcError as err:
                when, what = datetime.now(UTC), f"WatchEvents {err.code().name}: {err.details()}"
                if proxy_reset(err):
                    self.breaks["RST_STREAM"] += 1
                    self.resets.append((when, what))
                else:
                    self.breaks[err.code().name] += 1
                    if err.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                        self.bad.append((when, what))
                if "COMPACTED" in f"{err.details()} {err.trailing_metadata()}":
                    self.compacted.append(f"after {self.newest}: {err.details()}")
            await asyncio.sleep(RESUME_S)

    def _take(self, event: event_pb2.Event) -> None:
        if event.type == E.EVENT_TYPE_BOOKMARK:
            self.newest = max(self.newest, event.revision)
            return
        self.revisions.add(event.revision)
        self.newest = max(self.newest, event.revision)
        if event.type == E.EVENT_TYPE_RECORDING_ADDED:
            self.recordings.add(event.recording.id)

    async def caught_up(self, revision: int, within_s: float = 120.0) -> bool:
        deadline = time.monotonic() + within_s
        while self.newest < revision:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class ClientLoad:
    """A client's calls while the faults happen, about one round a second: UpdateCamera (a
    committed change), GetCamera, ListCameras, GetTimeline. Counts every outcome by code and
    keeps the INTERNAL and UNKNOWN ones (a caller must never see those)."""

    fleet: Fleet
    camera_ids: list[str]
    rng: random.Random
    codes: Counter[str] = field(default_factory=Counter)
    bad: list[tuple[datetime, str]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _call(self, method: str, call: object) -> None:
        try:
            await call  # type: ignore[misc]
            self.codes["OK"] += 1
        except grpc.aio.AioRpcError as err:
            code = "RST_STREAM" if proxy_reset(err) else err.code().name
            self.codes[code] += 1
            if code in ("INTERNAL", "UNKNOWN"):
                self.bad.append((datetime.now(UTC), f"{method} {code}: {err.details()}"))

    async def _run(self) -> None:
        fleet, n = self.fleet, 0
        while True:
            n += 1
            camera_id = self.rng.choice(self.camera_ids)
            update = C.UpdateCameraRequest(
                camera=C.Camera(id=camera_id, description=f"chaos round {n}"),
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
            )
            now = datetime.now(UTC)
            timeline = recording_pb2.GetTimelineRequest(
                camera_id=camera_id, start_time=ts(now - timedelta(minutes=5)), end_time=ts(now)
            )
            md = fleet.admin
            cams = fleet.cameras
            await self._call("UpdateCamera", cams.UpdateCamera(update, metadata=md, timeout=15))
            get = C.GetCameraRequest(id=camera_id)
            await self._call("GetCamera", cams.GetCamera(get, metadata=md, timeout=15))
            page = C.ListCamerasRequest(page_size=100)
            await self._call("ListCameras", cams.ListCameras(page, metadata=md, timeout=15))
            await self._call(
                "GetTimeline", fleet.recordings.GetTimeline(timeline, metadata=md, timeout=15)
            )
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
