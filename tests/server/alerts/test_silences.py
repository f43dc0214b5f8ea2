"""Silences (server/alerts/silences.py) on both backends: create with its checks, list by
state, update, expire, and how many open alerts one mutes now."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from server.alerts.model import Matcher, Op, Silence
from server.alerts.routing import Routing
from server.alerts.silences import SilenceStore
from server.common.listing import ListRequest
from server.db.engine import Sessions
from server.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.server.alerts.test_routing_support import Alerts, Clock, add_rule, fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as s:
        yield s


def silence(*matchers: Matcher, hours: float = 1.0, start_in: float = 0.0, clock: Clock) -> Silence:
    start = clock() + timedelta(hours=start_in)
    return Silence(
        id="",
        matchers=list(matchers),
        start_time=start,
        end_time=start + timedelta(hours=hours),
        comment="maintenance",
        author="alice",
    )


async def test_create_list_update_expire(sessions: Sessions) -> None:
    clock = Clock()
    store = SilenceStore(sessions, clock)
    rule_id = await add_rule(sessions, "offline", "camera_offline")
    alerts = Alerts(sessions, Routing(clock), clock)
    await alerts.fire(rule_id, "offline", {"camera": "c1", "node": "n1"})
    await alerts.fire(rule_id, "offline", {"camera": "c2", "node": "n1"})
    await alerts.fire(rule_id, "offline", {"camera": "c3", "node": "n2"})

    now_on_n1 = await store.create(silence(Matcher("node", "n1"), clock=clock))
    later = await store.create(silence(Matcher("site", "north"), start_in=2, clock=clock))
    nothing = await store.create(silence(Matcher("camera", "no-such-camera"), clock=clock))
    assert now_on_n1.id and now_on_n1.author == "alice" and now_on_n1.state(clock()) == "active"
    assert await store.matched(now_on_n1) == 2
    assert await store.matched(nothing) == 0  # allowed: matches nothing now
    assert await store.matched(later) == 0  # a maintenance window mutes nothing before it

    page = await store.list(ListRequest(filter="state = ACTIVE"))
    assert {s.id: n for s, n in page.items} == {now_on_n1.id: 2, nothing.id: 0}
    pending = await store.list(ListRequest(filter="state = SILENCE_STATE_PENDING"))
    assert [s.id for s, _ in pending.items] == [later.id]
    assert (await store.list(ListRequest())).total_size == 3

    # A not-equal matcher: every open alert not on n1.
    changed = await store.update(
        now_on_n1.id,
        {"matchers", "comment"},
        replace(now_on_n1, matchers=[Matcher("node", "n1", Op.NOT_EQUAL)], comment="swap"),
    )
    assert changed.comment == "swap" and await store.matched(changed) == 1

    expired = await store.expire(later.id)  # a pending one ends before it started
    assert expired.state(clock()) == "expired"
    assert [s.id for s, _ in (await store.list(ListRequest(filter="state = EXPIRED"))).items] == [
        later.id
    ]
    with pytest.raises(FailedPrecondition, match="expired"):
        await store.update(later.id, {"comment"}, replace(later, comment="x"))

    clock.advance(3600 + 1)  # the first two ran out
    active = await store.list(ListRequest(filter="state = ACTIVE"))
    assert active.items == []


async def test_bad_silences_are_refused_with_sentences(sessions: Sessions) -> None:
    clock = Clock()
    store = SilenceStore(sessions, clock)
    with pytest.raises(InvalidArgument, match="at least one matcher") as no_matcher:
        await store.create(silence(clock=clock))
    assert no_matcher.value.violations[0].field == "silence.matchers"
    too_many = [Matcher(f"l{i}", "x") for i in range(17)]
    with pytest.raises(InvalidArgument, match="at most 16 matchers"):
        await store.create(silence(*too_many, clock=clock))
    with pytest.raises(InvalidArgument, match="label name") as bad_name:
        await store.create(silence(Matcher("Bad Name", "x"), clock=clock))
    assert bad_name.value.violations[0].field == "silence.matchers[0].name"
    with pytest.raises(InvalidArgument, match="control characters"):
        await store.create(silence(Matcher("camera", "Lobby\r\nBcc: x"), clock=clock))
    backwards = silence(Matcher("camera", "c1"), start_in=2, clock=clock)
    backwards.end_time = backwards.start_time - timedelta(minutes=1)
    with pytest.raises(InvalidArgument, match="must be after the start"):
        await store.create(backwards)
    with pytest.raises(InvalidArgument, match="at most a year"):
        await store.create(silence(Matcher("camera", "c1"), hours=24 * 400, clock=clock))
    with pytest.raises(InvalidArgument, match="within a year from now") as far:
        await store.create(silence(Matcher("camera", "c1"), start_in=24 * 400, clock=clock))
    assert far.value.violations[0].field == "silence.start_time"
    with pytest.raises(InvalidArgument, match="must be in the future"):
        past = silence(Matcher("camera", "c1"), start_in=-3, clock=clock)
        await store.create(past)
    with pytest.raises(NotFound, match="no silence"):
        await store.expire("00000000-0000-0000-0000-000000000000")
    assert (await store.list(ListRequest())).total_size == 0
    with pytest.raises(InvalidArgument):
        await store.list(ListRequest(filter="state = SOMETIMES"))
