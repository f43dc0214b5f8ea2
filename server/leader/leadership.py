"""One Leadership per control-plane process: whether this replica leads the fleet, under which
epoch, the singleton jobs it runs while it does, and the fence of leader-only writes.

PostgreSQL (replicas): the replica holding the advisory lock (server/leader/advisory.py) leads.
The others try every POLL_S, and at once when a leader announces a clean release. On winning,
the leader bumps the epoch of the leader row (server/leader/row.py), then starts its jobs. It
checks its lock connection every POLL_S; when that fails it stops leading at once (jobs
cancelled, fence refusing), because PostgreSQL has freed, or is about to free, the lock.
SQLite (embedded): this process is the only one and always leads; it still bumps the epoch on
start, so placements made by an earlier run of the process are told apart.

Usage (see /tmp/brief/LEADER_API.md):
    leadership.run_while_leader({"scheduler": scheduler.run_forever})
    async with sessions.begin() as session:
        await leadership.fence(session)  # raises NotLeader: the transaction rolls back
        ...leader-only writes...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.common.tasks import cancel_and_wait
from server.leader import row
from server.leader.advisory import AdvisoryLock, libpq_url
from server.leader.jobs import SingletonJobs
from server.leader.model import LeaderInfo, NotLeader, SingletonJob

log = logging.getLogger(__name__)

# How often a follower tries the lock and the leader checks its lock connection.
POLL_S = 0.5
# After an error on the lock connection (the database away), wait this long before a new one.
RETRY_S = 1.0
# start() waits this long for the first round of the election, so a lone replica leads as soon
# as it serves; a slow database only delays leading, never the start.
FIRST_ROUND_S = 5.0


def new_replica_id() -> str:
    """host:pid:random, unique per process start (GetLeader shows it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leadership:
    """This replica's part in the election; see the module docstring."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lock_url: str | None,
        replica_id: str | None = None,
    ) -> None:
        """`lock_url`: the libpq URL for the dedicated lock connection, or None for embedded
        mode (this process always leads)."""
        self._sessions = sessions
        self._lock_url = lock_url
        self.replica_id = replica_id or new_replica_id()
        self._jobs = SingletonJobs()
        self._leading = False
        self._epoch = 0
        self._lock: AdvisoryLock | None = None
        self._deposed = asyncio.Event()
        self._leads = asyncio.Event()  # set exactly while _leading
        self._settled = asyncio.Event()
        self._campaign_task: asyncio.Task[None] | None = None
        self._failing = False  # the last round failed (logged once per outage)
        self._stopping: asyncio.Task[None] | None = None  # embedded: jobs stopping on deposal

    @classmethod
    def for_engine(
        cls, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> Leadership:
        """Elected through PostgreSQL for a PostgreSQL engine; always leading on SQLite."""
        lock_url = libpq_url(engine.url) if engine.dialect.name == "postgresql" else None
        return cls(sessions, lock_url=lock_url)

    @property
    def is_leader(self) -> bool:
        """Whether this replica leads now (and its fenced writes can succeed)."""
        return self._leading

    @property
    def epoch(self) -> int:
        """The epoch this replica leads (or last led) under; 0 if it never led."""
        return self._epoch

    @property
    def running_jobs(self) -> list[str]:
        """The singleton jobs running in this process now (none unless leading)."""
        return self._jobs.running

    async def wait_leading(self) -> None:
        """Return once this replica leads (at once if it does now)."""
        await self._leads.wait()

    def run_while_leader(self, jobs: Mapping[str, SingletonJob]) -> None:
        """Run each job (name -> coroutine factory) whenever this replica leads: started on
        winning (at once if it leads already), cancelled on losing, restarted if it fails."""
        self._jobs.add(jobs, start_now=self._leading)

    async def current(self) -> LeaderInfo:
        """The leader row as stored (what every replica's GetLeader answers)."""
        return await row.read_leader(self._sessions)

    async def fence(self, session: AsyncSession) -> int:
        """Call first inside a leader-only write transaction: returns this replica's epoch if
        it is still the current one, else raises NotLeader (let it propagate: the transaction
        rolls back). A foreign epoch in the row means this replica was deposed: it stops
        leading at once."""
        if not self._leading:
            raise self._not_leader("it is not the leader now")
        current = await row.current_epoch(session)
        if current != self._epoch:
            self._step_down_soon()
            held = "no leader row" if current is None else f"the current epoch is {current}"
            raise self._not_leader(f"it holds epoch {self._epoch}, {held}")
        if not self._leading:  # lost while waiting for the row
            raise self._not_leader("it stopped leading during this write")
        return current

    async def start(self) -> None:
        """Embedded: lead now. PostgreSQL: campaign in the background, after waiting (a little)
        for the first round so that a lone replica leads before it serves."""
        if self._lock_url is None:
            await self._win()
            return
        self._campaign_task = asyncio.create_task(self._campaign(), name="leader-election")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_ROUND_S):
                await self._settled.wait()

    async def close(self) -> None:
        """Give leadership up now: stop the jobs, clear the row's holder, unlock and wake the
        other replicas, so one of them leads at once rather than after a timeout."""
        if self._campaign_task is not None:
            await cancel_and_wait([self._campaign_task])
            self._campaign_task = None
        was_leading, self._leading = self._leading, False
        self._leads.clear()
        if self._stopping is not None:
            await self._stopping
        await self._jobs.stop()
        if was_leading:
            try:
                await row.release(self._sessions, self.replica_id, self._epoch)
            except Exception as exc:  # the next leader claims the row anyway
                log.warning("could not clear the leader row on stop: %s", exc)
        if self._lock is not None:
            if was_leading:
                with contextlib.suppress(Exception):  # closing frees the lock anyway
                    await self._lock.release()
            await self._lock.close()
            self._lock = None
        if was_leading:
            log.info(
                "replica %s gave up leading the fleet (epoch %d)", self.replica_id, self._epoch
            )

    async def _campaign(self) -> None:
        while True:
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or the lock session is away: start over
                why = f"{type(exc).__name__}: {exc}".strip()
                if not self._failing and not self._leading:
                    log.warning("leader election cannot reach the database (%s); retrying", why)
                self._failing = True
                try:
                    await self._lose(why)
                except Exception:  # the campaign must outlive any failure, or nobody leads
                    log.exception("stopping leadership after %s failed", why)
                self._settled.set()
                await asyncio.sleep(RETRY_S)
            else:
                self._failing = False
                self._settled.set()

    async def _round(self) -> None:
        assert self._lock_url is not None
        if self._lock is None:
            self._lock = await AdvisoryLock.connect(
                self._lock_url, f"camfleet leader {self.replica_id}"
            )
        if self._deposed.is_set():  # before trying: this session may still hold the lock
            await self._lose("another replica claimed a newer epoch")
            await asyncio.sleep(RETRY_S)  # let the replica that claimed take the lock first
            return
        if self._leading:
            await self._lock.check()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._deposed.wait()
        elif await self._lock.try_acquire():
            await self._win()
        else:
            self._settled.set()  # a follower for now: start() need not wait for the poll
            await self._lock.wait_release(POLL_S)

    async def _win(self) -> None:
        info = await row.claim(self._sessions, self.replica_id)
        self._epoch = info.epoch
        self._deposed.clear()
        self._leading = True
        self._leads.set()
        log.info("replica %s leads the fleet (epoch %d)", self.replica_id, self._epoch)
        self._jobs.start()

    async def _lose(self, why: str) -> None:
        """Stop leading: refuse fenced writes first, then end the jobs and the lock session."""
        was_leading = self._leading or self._deposed.is_set()
        self._leading = False
        self._leads.clear()
        await self._jobs.stop()
        if self._lock is not None:
            await self._lock.close()
            self._lock = None
        self._deposed.clear()
        if was_leading:
            log.warning(
                "replica %s stopped leading the fleet (epoch %d): %s",
                self.replica_id,
                self._epoch,
                why,
            )

    def _step_down_soon(self) -> None:
        self._leading = False
        self._leads.clear()
        self._deposed.set()
        if self._lock_url is None and self._stopping is None:
            # Embedded, nobody campaigns to stop the jobs: another process claimed this
            # database's leader row (two control planes on one SQLite file), so stop them here.
            log.warning("another process leads on this database; %s stops", self.replica_id)
            self._stopping = asyncio.create_task(self._jobs.stop(), name="leader-step-down")

    def _not_leader(self, why: str) -> NotLeader:
        return NotLeader(
            f"control-plane replica {self.replica_id} does not lead the fleet ({why}); "
            "the leader does this work"
        )
