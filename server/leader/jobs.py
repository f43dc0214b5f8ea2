"""The singleton jobs of the fleet (node liveness sweeper, scheduler...): run while this replica
leads, cancelled the moment it stops. A job that fails is restarted after a pause, so one bad
sweep cannot end a duty nobody else performs while this replica leads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from server.common.tasks import awaiting, cancel_and_wait, raise_if_cancelling
from server.leader.model import SingletonJob

log = logging.getLogger(__name__)

RESTART_AFTER_S = 1.0
STUCK_AFTER_S = 5.0


class SingletonJobs:
    """Named jobs, each started on `start()` and cancelled (and awaited) on `stop()`."""

    def __init__(self) -> None:
        self._jobs: dict[str, SingletonJob] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def names(self) -> list[str]:
        """The registered jobs, in registration order."""
        return list(self._jobs)

    @property
    def running(self) -> list[str]:
        """The jobs running now."""
        return [name for name, task in self._tasks.items() if not task.done()]

    def add(self, jobs: Mapping[str, SingletonJob], *, start_now: bool) -> None:
        """Register `jobs` (names are unique); `start_now` when this replica already leads."""
        for name, job in jobs.items():
            if name in self._jobs:
                raise ValueError(f"singleton job {name!r} is registered twice")
            self._jobs[name] = job
            if start_now:
                self._start(name)

    def start(self) -> None:
        """Start every registered job (leadership was just won)."""
        for name in self._jobs:
            if name not in self._tasks or self._tasks[name].done():
                self._start(name)

    async def stop(self) -> None:
        """Cancel every job and wait until each has ended (leadership is lost or given up).
        A job slow to end is logged with its stack every STUCK_AFTER_S: until it ends, this
        replica can neither lead again nor let the leadership go."""
        tasks, self._tasks = list(self._tasks.values()), {}
        waiting = asyncio.ensure_future(cancel_and_wait(tasks))
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=STUCK_AFTER_S)
            if done:
                waiting.result()
                return
            for task in tasks:
                if not task.done():
                    log.error(
                        "singleton job %s does not end on cancel; it waits at:\n%s",
                        task.get_name(),
                        awaiting(task),
                    )
                    # Asked again: a library that swallowed the first request (redis-py does)
                    # does not swallow every one, and a job left running blocks leadership.
                    task.cancel()

    def _start(self, name: str) -> None:
        self._tasks[name] = asyncio.create_task(
            self._supervised(name, self._jobs[name]), name=f"leader:{name}"
        )

    async def _supervised(self, name: str, job: SingletonJob) -> None:
        task = asyncio.current_task()
        while True:
            raise_if_cancelling()
            try:
                await job()
                log.warning("singleton job %s ended by itself; starting it again", name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("singleton job %s failed; starting it again", name)
            # A job that turned its cancellation into an error or a return must not be started
            # again: stop() waits for this task, and leadership cannot change until it ends.
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            await asyncio.sleep(RESTART_AFTER_S)
