"""Alert rules (server/alerts/rules.py checks, rules_store.py CRUD) on both backends: bad input
is refused with every bad field named, updates follow the field mask, and deleting or disabling
a rule resolves its open alerts in the same call (events staged, routing told)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from server.alerts.model import (
    AlertState,
    CameraOffline,
    FailedLogins,
    NodeDisk,
    RecorderCrashLoop,
    RecordingGap,
    Rule,
    Severity,
    StreamQuality,
    TokenNewAddress,
)
from server.common.listing import ListRequest
from server.errors import AlreadyExists, InvalidArgument, NotFound
from tests.server.alerts.evaluator_fixtures import Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with environment(request.param, tmp_path) as e:
        yield e


def offline_rule(name: str = "Camera offline", **kw: object) -> Rule:
    kw.setdefault("condition", CameraOffline())
    return Rule(id="", name=name, **kw)  # type: ignore[arg-type]


def violations(exc: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: v.description for v in exc.value.violations}


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        (offline_rule(for_s=-5), "rule.for", "must not be negative"),
        (offline_rule(keep_firing_s=365 * 86400), "rule.keep_firing_for", "365 days"),
        (offline_rule(cooldown_s=float("inf")), "rule.cooldown", "finite"),
        (
            offline_rule(condition=RecordingGap(min_gap_s=30, window_s=365 * 86400)),
            "rule.condition.recording_gap.window",
            "1 min to 7 days, got 365 days",
        ),
        (
            offline_rule(condition=RecordingGap(min_recorded_percent=150)),
            "rule.condition.recording_gap.min_recorded_percent",
            "0 (off) or 1 to 100",
        ),
        (
            offline_rule(condition=RecordingGap()),
            "rule.condition.recording_gap",
            "never fires",
        ),
        (
            offline_rule(condition=RecorderCrashLoop(restarts=-3)),
            "rule.condition.recorder_crash_loop.restarts",
            "2 to 1000 restarts, got -3",
        ),
        (
            offline_rule(condition=NodeDisk(min_free_percent=-1)),
            "rule.condition.node_disk.min_free_percent",
            "got -1",
        ),
        (
            offline_rule(condition=StreamQuality(min_fps=float("nan"))),
            "rule.condition.stream_quality.min_fps",
            "finite",
        ),
        (
            offline_rule(condition=FailedLogins(count=0)),
            "rule.condition.failed_logins.count",
            "1 to 100000",
        ),
        (
            offline_rule(condition=FailedLogins(window_s=365 * 86400)),
            "rule.condition.failed_logins.window",
            "10 s to 1 day",
        ),
        (offline_rule(name="  "), "rule.name", "must not be empty"),
        (offline_rule(labels={"Bad Key": "x"}), "rule.labels['Bad Key']", "keys are"),
        (
            offline_rule(condition=TokenNewAddress(), match_labels={"site": "north"}),
            "rule.match_labels",
            "only camera and node conditions",
        ),
    ],
)
async def test_bad_rules_are_refused_naming_the_field(
    env: Env, rule: Rule, field: str, words: str
) -> None:
    store = env.rules(env.evaluator())
    with pytest.raises(InvalidArgument) as exc:
        await store.create(rule)
    assert words in violations(exc)[field], violations(exc)
    assert field in exc.value.message
    assert (await store.list(ListRequest())).total_size == 0


async def test_every_problem_is_named_at_once(env: Env) -> None:
    store = env.rules(env.evaluator())
    bad = offline_rule(name="", for_s=-1, condition=RecordingGap(window_s=10))
    with pytest.raises(InvalidArgument) as exc:
        await store.create(bad)
    assert set(violations(exc)) == {
        "rule.name",
        "rule.for",
        "rule.condition.recording_gap.window",
        "rule.condition.recording_gap",
    }
    assert exc.value.message.startswith("the rule has 4 problems")


async def test_create_get_list_update_delete(env: Env) -> None:
    store = env.rules(env.evaluator())
    made = await store.create(
        offline_rule(
            name=" Lobby offline ",
            severity=Severity.CRITICAL,
            labels={"team": "ops"},
            match_labels={"site": "north"},
            for_s=60,
        )
    )
    await store.create(Rule(id="", name="Logins", condition=FailedLogins(count=5, window_s=300)))
    assert made.name == "Lobby offline" and made.id
    assert await store.get(made.id) == made
    page = await store.list(ListRequest(filter="kind = camera_offline AND severity = CRITICAL"))
    assert [r.name for r in page.items] == ["Lobby offline"]
    assert (await store.list(ListRequest(order_by="name desc"))).items[0].name == "Logins"
    with pytest.raises(AlreadyExists, match="'lobby offline' already exists"):
        await store.create(offline_rule(name="lobby offline"))

    env.clock.advance(10)
    changed = await store.update(
        replace(made, name="ignored", for_s=120, condition=RecordingGap(min_gap_s=30)),
        ["for", "condition"],
    )
    assert changed.name == "Lobby offline"  # not in the mask
    assert changed.for_s == 120 and changed.condition == RecordingGap(min_gap_s=30)
    assert changed.update_time == env.clock.now and changed.create_time == made.create_time
    with pytest.raises(InvalidArgument) as exc:
        await store.update(replace(made, keep_firing_s=-1), ["keep_firing_for"])
    assert "rule.keep_firing_for" in violations(exc)
    with pytest.raises(InvalidArgument, match="cannot update 'kind'"):
        await store.update(made, ["kind"])
    assert (await store.get(made.id)).for_s == 120  # the refused updates changed nothing

    await store.delete(made.id)
    with pytest.raises(NotFound):
        await store.get(made.id)
    with pytest.raises(NotFound):
        await store.delete(made.id)
    with pytest.raises(InvalidArgument, match="must be a UUID"):
        await store.get("nope")


async def test_deleting_or_disabling_a_rule_resolves_its_alerts(env: Env) -> None:
    evaluator = env.evaluator()
    store = env.rules(evaluator)
    alerts = env.alerts()
    cams = [await env.camera(f"Cam {i}", status="offline") for i in range(2)]
    first = await store.create(offline_rule("First"))
    second = await store.create(offline_rule("Second"))
    await evaluator.evaluate_once(env.clock.now)
    firing = await alerts.list(ListRequest(filter="state = FIRING"))
    assert firing.total_size == 4
    env.routed.clear()

    await store.delete(first.id)
    left = await alerts.list(ListRequest(filter="state = FIRING"))
    assert {a.rule_name for a in left.items} == {"Second"}
    resolved = await alerts.list(ListRequest(filter=f'state = RESOLVED AND rule_id = "{first.id}"'))
    assert resolved.total_size == 2
    assert all(a.resolved_time == env.clock.now for a in resolved.items)
    assert [p for _, p, _ in env.routed] == [AlertState.FIRING] * 2
    events = await env.alert_events()
    assert events.count(f"alerts/{resolved.items[0].id}") == 2  # firing, then resolved

    env.clock.advance(5)
    await store.update(replace(second, enabled=False), ["enabled"])
    assert (await alerts.list(ListRequest(filter="state != RESOLVED"))).total_size == 0
    # A disabled rule is not evaluated: nothing opens again while the cameras stay offline.
    await evaluator.evaluate_once(env.clock.advance(5))
    assert (await alerts.list(ListRequest(filter="state != RESOLVED"))).total_size == 0
    assert len(cams) == 2
