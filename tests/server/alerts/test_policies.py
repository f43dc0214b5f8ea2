"""Notification policies (server/alerts/policies_store.py) on both backends: create with the
API's defaults, list in the order they are tried, update by field, delete with its groups, and
every bad field refused with a sentence naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from server.alerts.model import Matcher, Op, Policy, Severity
from server.common.listing import ListRequest
from server.db.models import AlertGroupRow
from server.errors import InvalidArgument, NotFound
from tests.server.alerts.test_routing_support import Env, add_rule, policy, routing_env


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with routing_env(request.param, tmp_path) as e:
        yield e


async def groups(env: Env) -> list[AlertGroupRow]:
    async with env.sessions() as session:
        return list(await session.scalars(select(AlertGroupRow)))


async def test_create_list_update_delete(env: Env) -> None:
    defaults = await env.policies.create(Policy(id="", name="  ops  ", channel_ids=env.channels))
    assert defaults.id and defaults.name == "ops"
    assert defaults.group_by == ["rule", "node"]
    assert (defaults.group_wait_s, defaults.group_interval_s, defaults.repeat_interval_s) == (
        30.0,
        300.0,
        4 * 3600.0,
    )
    assert defaults.send_resolved and not defaults.stop
    first = await env.policies.create(
        policy(
            env.channels[:1],
            name="pager",
            order=-1,
            matchers=[Matcher("site", "north"), Matcher("camera", "c9", Op.NOT_EQUAL)],
            severities=[Severity.CRITICAL],
            stop=True,
        )
    )
    page = await env.policies.list(ListRequest())
    assert [p.id for p in page.items] == [first.id, defaults.id]
    assert page.items[0].matchers[1] == Matcher("camera", "c9", Op.NOT_EQUAL)
    assert page.items[0].severities == [Severity.CRITICAL]

    # A group of the policy; a change of its grouping starts its groups afresh.
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})
    assert len(await groups(env)) == 1
    renamed = await env.policies.update(
        defaults.id,
        {"name", "repeat_interval"},
        replace(defaults, name="ops2", repeat_interval_s=60),
    )
    assert (renamed.name, renamed.repeat_interval_s, renamed.group_by) == (
        "ops2",
        60,
        ["rule", "node"],
    )
    assert len(await groups(env)) == 1
    regrouped = await env.policies.update(
        defaults.id, {"group_by"}, replace(defaults, group_by=["site"])
    )
    # The old groups are gone; the alert firing now is routed again, into its new group.
    assert regrouped.group_by == ["site"]
    assert [g.group_labels for g in await groups(env)] == [{"site": ""}]

    await env.alerts.fire(rule, "offline", {"camera": "c2", "node": "n1", "site": "north"})
    assert len(await groups(env)) == 2
    await env.policies.delete(defaults.id)
    assert await groups(env) == []
    assert [p.id for p in (await env.policies.list(ListRequest())).items] == [first.id]
    with pytest.raises(NotFound, match="no notification policy"):
        await env.policies.get(defaults.id)
    with pytest.raises(NotFound):
        await env.policies.delete(defaults.id)


@pytest.mark.parametrize(
    ("fields", "field", "sentence"),
    [
        ({"name": ""}, "policy.name", "must not be empty"),
        ({"channel_ids": []}, "policy.channel_ids", "at least one channel"),
        (
            {"channel_ids": ["00000000-0000-0000-0000-000000000000"]},
            "policy.channel_ids[0]",
            "no channel",
        ),
        ({"group_wait_s": -1.0}, "policy.group_wait", "between 0 s and 1 hour"),
        ({"group_wait_s": float("nan")}, "policy.group_wait", "between"),
        ({"group_interval_s": 0.0}, "policy.group_interval", "between 1 s and 1 day"),
        ({"repeat_interval_s": 365 * 86400.0}, "policy.repeat_interval", "and 30 days"),
        ({"group_by": ["rule", "..."]}, "policy.group_by", "stands alone"),
        ({"group_by": ["Not A Label"]}, "policy.group_by[0]", "label name"),
        ({"matchers": [Matcher("", "x")]}, "policy.matchers[0].name", "label name"),
        ({"matchers": [Matcher(f"l{i}", "x") for i in range(17)]}, "policy.matchers", "at most 16"),
        ({"severities": ["fatal"]}, "policy.severities[0]", "info, warning or critical"),
    ],
)
async def test_bad_policies_are_refused(
    env: Env, fields: dict[str, object], field: str, sentence: str
) -> None:
    given = policy(env.channels)
    for name, value in fields.items():
        setattr(given, name, value)
    with pytest.raises(InvalidArgument, match=sentence) as bad:
        await env.policies.create(given)
    assert bad.value.violations[0].field == field
    assert (await env.policies.list(ListRequest())).items == []
