"""The evaluator: the leader job that turns every enabled rule's findings into alert state.

It runs a round every `tick_s` (1 s) and at once when a camera or node changes (it follows the
event log like server/placement/scheduler.py). A round reads the open alerts once, evaluates
each rule with set-based queries (server/alerts/conditions/), and writes only what changed:
- a new finding opens an alert: PENDING from `since` (or now), or FIRING at once when it has
  already held for the rule's `for`;
- a PENDING alert held for `for` goes FIRING; one whose finding went away resolves (it never
  fired: routing tells no one);
- a FIRING alert whose finding went away resolves after `keep_firing_for` (counted from when it
  last held, remembered in memory and written once when it stops holding);
- open alerts of deleted or disabled rules resolve.
All changes of a rule's round commit in one fenced transaction (the leader's), each through
server/alerts/evaluate_state.py (row, ALERT_CHANGED, routing). Slow kinds (recording ratios,
disks, audit scans) run every few seconds rather than every round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.alerts.alerts_store import alert_of
from server.alerts.conditions import DiskHistory, Evaluation, Sources, evaluate
from server.alerts.conditions.disk import EVERY as DISK_EVERY
from server.alerts.conditions.nodes import sample_disks
from server.alerts.evaluate_state import (
    AlertEvents,
    Move,
    OnChange,
    Transitions,
    fingerprint,
    no_routing,
)
from server.alerts.model import Alert, AlertState, Finding, Kind, Rule
from server.alerts.rules import check_rule, rule_of
from server.common.tasks import raise_if_cancelling
from server.db.models import AlertRow, AlertRuleRow, utcnow
from server.eventlog.log import EventLog
from server.leader.model import NotLeader
from server.nodes.presence import Presence

log = logging.getLogger(__name__)

Fence = Callable[[AsyncSession], Awaitable[object]]
Clock = Callable[[], datetime]

# Kinds whose queries scan windows of history: evaluated at most this often (seconds).
# The least pause between two rounds woken by events.
MIN_GAP_S = 0.25
KIND_EVERY_S = {
    Kind.RECORDING_GAP: 10.0,
    Kind.NODE_DISK: 10.0,
    Kind.RECORDER_CRASH_LOOP: 5.0,
    Kind.FAILED_LOGINS: 2.0,
    Kind.TOKEN_NEW_ADDRESS: 2.0,
}
# Event subjects that can change what camera and node rules find.
_WAKING = ("cameras/", "nodes/")


@dataclass(frozen=True)
class Previewed:
    """What a rule would raise now: the finding, PENDING or FIRING, and since when."""

    finding: Finding
    state: AlertState
    active_time: datetime


@dataclass(frozen=True)
class Preview:
    """A preview's alerts and how many things the rule looked at."""

    alerts: list[Previewed]
    evaluated: int

    @property
    def findings(self) -> list[Finding]:
        """The findings alone (state and active time dropped)."""
        return [a.finding for a in self.alerts]


@dataclass
class RoundStats:
    """What the last round did (the bench and tests read it)."""

    rules: int = 0
    opened: int = 0
    fired: int = 0
    resolved: int = 0
    seconds: float = 0.0
    failed_rules: list[str] = field(default_factory=list)


class Evaluator:
    """Evaluates alert rules while this replica leads (run() is the singleton job)."""

    def __init__(  # noqa: PLR0917 (the wiring's documented order)
        self,
        sessions: async_sessionmaker[AsyncSession],
        events: EventLog | None,
        fence: Fence,
        alert_events: AlertEvents,
        on_change: OnChange = no_routing,
        clock: Clock = utcnow,
        *,
        presence: Presence | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._fence = fence
        self.transitions = Transitions(alert_events, on_change)
        self._clock = clock
        self._presence = presence
        self._tick_s = tick_s
        self.disks = DiskHistory()
        self._last_true: dict[str, datetime] = {}  # alert id -> last round its finding held
        self._last_run: dict[str, datetime] = {}  # rule id -> last evaluation (slow kinds)
        self._last_disk_sample: datetime | None = None
        self._wake = asyncio.Event()
        self.last_round = RoundStats()

    # --- the job -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Evaluate every tick and on camera/node events until cancelled."""
        self._last_true.clear()
        self._last_run.clear()
        follower = asyncio.create_task(self._follow()) if self._events is not None else None
        try:
            while True:
                raise_if_cancelling()
                began = time.monotonic()
                try:
                    await self.evaluate_once(self._clock(), every_rule=False)
                except asyncio.CancelledError:
                    raise
                except NotLeader as why:
                    log.info("alert evaluation stops: %s", why)
                    await asyncio.sleep(1.0)
                except Exception:  # a database hiccup: the next round retries
                    raise_if_cancelling()
                    log.exception("alert evaluation round failed")
                    await asyncio.sleep(1.0)
                took = time.monotonic() - began
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._tick_s)
                self._wake.clear()
                # A burst of events makes one round, not many; and while cameras keep changing
                # (1,000 going offline within 20 s wake it 50 times a second) rounds take at
                # most about half of the time, however long a round grows.
                await asyncio.sleep(max(MIN_GAP_S, took))
        finally:
            if follower is not None:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)

    async def _follow(self) -> None:
        assert self._events is not None
        while True:
            raise_if_cancelling()
            try:
                revision = await self._events.current_revision()
                async for stored in self._events.watch(revision):
                    if stored.subject.startswith(_WAKING):
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # compaction or a broken log: the ticks go on; follow again
                raise_if_cancelling()
                log.exception("alert evaluator's event follower restarts")
                await asyncio.sleep(1.0)

    # --- one round ---------------------------------------------------------------------------

    async def evaluate_once(self, now: datetime | None = None, *, every_rule: bool = True) -> None:
        """One round at `now` (tests pass their clock's time). `every_rule=False` (the job)
        skips slow kinds evaluated less than KIND_EVERY_S ago."""
        now = now or self._clock()
        started = asyncio.get_running_loop().time()
        stats = RoundStats()
        async with self._sessions() as session:
            rows = await session.scalars(select(AlertRuleRow).where(AlertRuleRow.enabled))
            rules = [rule_of(r) for r in rows]
            open_rows = await session.scalars(
                select(AlertRow).where(AlertRow.state != AlertState.RESOLVED.value)
            )
            open_alerts: dict[str, dict[str, Alert]] = {}
            for row in open_rows:
                open_alerts.setdefault(row.rule_id, {})[row.fingerprint] = alert_of(row)
            open_ids = {a.id for by_fp in open_alerts.values() for a in by_fp.values()}
            # Disk growth needs history before a rule asks: sampled once a minute, rules or not.
            last_sample = self._last_disk_sample
            if last_sample is None or now - last_sample >= DISK_EVERY or now < last_sample:
                self._last_disk_sample = now
                await sample_disks(Sources(session, self._presence, self.disks), now)
        stats.rules = len(rules)
        for rule in rules:
            every = KIND_EVERY_S.get(rule.kind, 0.0)
            last = self._last_run.get(rule.id)
            if not every_rule and last is not None and (now - last).total_seconds() < every:
                continue
            self._last_run[rule.id] = now
            try:
                async with self._sessions() as session:
                    found = await evaluate(Sources(session, self._presence, self.disks), rule, now)
                await self._apply(rule, found.findings, open_alerts.pop(rule.id, {}), now, stats)
            except NotLeader:
                raise
            except Exception:
                raise_if_cancelling()
                log.exception("alert rule %s (%s) failed to evaluate", rule.name, rule.id)
                stats.failed_rules.append(rule.id)
                open_alerts.pop(rule.id, None)
        # What is left: alerts of rules deleted or disabled (the store resolves them too; this
        # catches a round that raced the change) and of rules skipped this round.
        known = {r.id for r in rules}
        orphans = [
            a for rid, by_fp in open_alerts.items() if rid not in known for a in by_fp.values()
        ]
        if orphans:
            why = "its rule is gone or disabled"
            async with self._sessions.begin() as session:
                await self._fence(session)
                moves = [Move(a, AlertState.RESOLVED, why=why) for a in orphans]
                stats.resolved += len(await self.transitions.move_many(session, moves, now))
        # Forget alerts no longer open (kept: those open at the start and those opened now).
        self._last_true = {k: v for k, v in self._last_true.items() if k in open_ids or v == now}
        stats.seconds = asyncio.get_running_loop().time() - started
        self.last_round = stats

    async def _apply(
        self,
        rule: Rule,
        findings: list[Finding],
        open_alerts: dict[str, Alert],
        now: datetime,
        stats: RoundStats,
    ) -> None:
        """Write what changed for one rule, in one fenced transaction (none if nothing did)."""
        hold = timedelta(seconds=rule.for_s)
        keep = timedelta(seconds=rule.keep_firing_s)
        found = {fingerprint(rule.id, f.labels): f for f in findings}
        to_open: list[tuple[Finding, datetime, bool]] = []
        to_fire: list[tuple[Alert, Finding]] = []
        to_resolve: list[tuple[Alert, datetime | None, str]] = []
        to_touch: list[tuple[Alert, datetime]] = []
        for fp, finding in found.items():
            alert = open_alerts.get(fp)
            if alert is None:
                active = min(finding.since or now, now)
                to_open.append((finding, active, now - active >= hold))
                continue
            self._last_true[alert.id] = now
            if alert.state is AlertState.PENDING and now - alert.active_time >= hold:
                to_fire.append((alert, finding))
        for fp, alert in open_alerts.items():
            if fp in found:
                continue
            if alert.state is AlertState.PENDING:
                to_resolve.append((alert, None, "the condition cleared before it fired"))
                continue
            remembered = self._last_true.get(alert.id)
            last = max(alert.last_true_time, remembered) if remembered else alert.last_true_time
            if now - last >= keep:
                to_resolve.append((alert, last if last > alert.last_true_time else None, ""))
            elif last > alert.last_true_time:
                to_touch.append((alert, last))
        if not (to_open or to_fire or to_resolve or to_touch):
            return
        async with self._sessions.begin() as session:
            await self._fence(session)
            for finding, active, firing in to_open:
                opened = await self.transitions.open(
                    session,
                    rule,
                    labels=finding.labels,
                    summary=finding.summary,
                    value=finding.value,
                    active=active,
                    now=now,
                    firing=firing,
                )
                self._last_true[opened.id] = now
                stats.opened += 1
                stats.fired += firing
            moves = [
                Move(alert, AlertState.FIRING, finding.summary, finding.value, now)
                for alert, finding in to_fire
            ] + [
                Move(alert, AlertState.RESOLVED, last_true=held, why=why)
                for alert, held, why in to_resolve
            ]
            for moved in await self.transitions.move_many(session, moves, now):
                if moved.state is AlertState.FIRING:
                    stats.fired += 1
                else:
                    stats.resolved += 1
                    self._last_true.pop(moved.id, None)
            for alert, held_until in to_touch:
                await self.transitions.touch(session, alert, held_until)

    # --- preview -----------------------------------------------------------------------------

    async def preview(self, rule: Rule, now: datetime | None = None) -> Preview:
        """What `rule` (stored or not; checked like a new one) would raise now; nothing is
        stored. An empty name is allowed (a rule being written)."""
        checked = check_rule(replace(rule, name=rule.name.strip() or "preview", id=rule.id or ""))
        at = now or self._clock()
        async with self._sessions() as session:
            evaluation: Evaluation = await evaluate(
                Sources(session, self._presence, self.disks, count=True), checked, at
            )
        hold = timedelta(seconds=checked.for_s)
        alerts = []
        for finding in evaluation.findings:
            active = min(finding.since or at, at)
            state = AlertState.FIRING if at - active >= hold else AlertState.PENDING
            alerts.append(Previewed(finding, state, active))
        return Preview(alerts, evaluation.evaluated)
