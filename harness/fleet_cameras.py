"""A push camera for a test fleet (harness.fleet): it publishes a test pattern with ffmpeg to
the fleet ingest (harness.ingest) and, like a real camera, publishes again whenever its
connection ends, so after its node died it lands on a healthy one. Ended by PID."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from harness.processes import Child

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
# A write that blocks this long (a link gone silent) ends the publisher, which then reconnects.
RW_TIMEOUT_US = 3_000_000
RECONNECT_S = 0.5


def publish_argv(url: str, *, size: str = "320x180", fps: int = 15) -> list[str]:
    """A live H.264 test pattern, a keyframe every second, to `url` until stopped."""
    return [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps),
        "-rw_timeout", str(RW_TIMEOUT_US),
        "-f", "flv", url,
    ]  # fmt: skip


@dataclass
class PushCamera:
    """A camera publishing to `url` (through the fleet ingest), reconnecting after every end of
    its connection; `connects` counts its publishes."""

    name: str
    url: str
    log: Path
    connects: int = 0
    child: Child | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            argv = publish_argv(self.url)
            self.child = Child(f"push camera {self.name}", argv, None, self.log, parent_death=True)
            self.connects += 1
            # Cancelling stops waiting at once; stop() then ends the ffmpeg, which ends the wait.
            await asyncio.to_thread(self.child.proc.wait)
            await asyncio.sleep(RECONNECT_S)

    async def stop(self) -> None:
        """Stop publishing for good (its ffmpeg by PID)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.child is not None:
            self.child.stop(grace_s=5)
