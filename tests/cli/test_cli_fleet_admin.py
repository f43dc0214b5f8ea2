"""`camfleet nodes`, `users`, `api-tokens` and `audit` against the worker's shared control plane
(tests/cli/conftest.py), each result checked through the API."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml
from camfleet.v1 import agent_pb2, api_token_pb2, common_pb2, node_pb2, user_pb2

from tests.cli.cli_process import Cli
from tests.support.platform import ADMIN_PASSWORD, Platform

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def cli(platform: Platform, tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "cli")
    await c.login(platform.target, "admin", ADMIN_PASSWORD)
    return c


async def _node(platform: Platform, node_id: str) -> node_pb2.Node:
    resp = await platform.nodes.GetNode(
        node_pb2.GetNodeRequest(id=node_id), metadata=platform.admin
    )
    return resp.node


async def test_join_token_registers_a_node_that_is_cordoned_drained_and_labelled(
    cli: Cli, platform: Platform
) -> None:
    made = await cli.run("nodes", "join-token", "create", "-d", "cli test", "--ttl", "10m")
    assert made.code == 0, made
    secret = made.stdout.strip()
    assert "shown only now" in made.stderr
    name = f"cli-node-{secrets.token_hex(3)}"
    registered = await platform.agents.RegisterNode(
        agent_pb2.RegisterNodeRequest(join_token=secret, name=name)
    )
    node_id = registered.node_id
    tokens = await cli.run("-o", "json", "nodes", "join-token", "list")
    used = [t for t in json.loads(tokens.stdout) if t["description"] == "cli test"]
    assert any(t["uses"] == 1 for t in used), tokens

    listed = await cli.run("-o", "json", "nodes", "list", "--filter", f'name = "{name}"')
    assert [n["id"] for n in json.loads(listed.stdout)] == [node_id]

    cordoned = await cli.run("nodes", "cordon", name)
    assert cordoned.code == 0 and f"Cordoned node {name}" in cordoned.stdout, cordoned
    assert not (await _node(platform, node_id)).schedulable
    table = await cli.run("nodes", "list", "--filter", f'name = "{name}"')
    assert "cordoned" in table.stdout.splitlines()[2], table
    # Its agent never connected, so it said no CPU cores: "-" (no core limit in placement).
    wide = await cli.run("-o", "wide", "nodes", "get", name)
    assert ["CORES", "-"] in [line.split() for line in wide.stdout.splitlines()], wide
    assert (await cli.run("nodes", "uncordon", node_id)).code == 0
    assert (await _node(platform, node_id)).schedulable

    # No pull camera on it: the drain is done as soon as it starts.
    drained = await cli.run("nodes", "drain", name, "--timeout", "2m")
    assert drained.code == 0, drained
    assert f"Drained node {name}" in drained.stdout
    node = await _node(platform, node_id)
    assert node.draining and not node.schedulable
    again = await cli.run("nodes", "drain", name)
    assert again.code == 0 and "draining already" in again.stderr, again

    labelled = await cli.run("nodes", "label", name, "site=north", "tier=edge")
    assert labelled.code == 0, labelled
    assert dict((await _node(platform, node_id)).labels) == {"site": "north", "tier": "edge"}
    assert (await cli.run("nodes", "label", name, "tier-")).code == 0
    assert dict((await _node(platform, node_id)).labels) == {"site": "north"}

    refused = await cli.run("nodes", "delete", name)
    assert refused.code == 2 and "--yes" in refused.stderr, refused
    assert (await cli.run("nodes", "delete", name, "--yes")).code == 0
    missing = await cli.run("nodes", "get", name)
    assert missing.code == 5, missing


async def test_users_are_created_changed_and_deleted(cli: Cli, platform: Platform) -> None:
    username = f"cli-{secrets.token_hex(4)}"
    password = "quiet-harbour-lantern-7"
    created = await cli.run(
        "users", "create", username, "--role", "operator", "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert created.code == 0, created
    assert (await platform.login(username, password)).user.role == common_pb2.ROLE_OPERATOR

    weak = await cli.run("users", "create", f"w{username}", "--password-stdin", stdin="short\n")
    assert weak.code == 6 and "password" in weak.stderr, weak

    changed = await cli.run("users", "update", username, "--role", "viewer", "--disable")
    assert changed.code == 0, changed
    got = await cli.run("-o", "yaml", "users", "get", username)
    user = yaml.safe_load(got.stdout)
    assert user["role"] == "ROLE_VIEWER" and user["disabled"] is True

    bad_role = await cli.run("users", "update", username, "--role", "boss")
    assert bad_role.code == 2 and "not a role" in bad_role.stderr, bad_role
    listed = await cli.run("users", "list", "--filter", f'username = "{username}"')
    assert listed.stdout.splitlines()[2].split()[:3] == [username, "-", "VIEWER"], listed

    assert (await cli.run("users", "delete", username, "-y")).code == 0
    resp = await platform.users.ListUsers(
        user_pb2.ListUsersRequest(filter=f'username = "{username}"'), metadata=platform.admin
    )
    assert list(resp.users) == []


async def test_api_tokens_are_created_used_and_revoked(
    cli: Cli, platform: Platform, tmp_path: Path
) -> None:
    name = f"ci-{secrets.token_hex(4)}"
    created = await cli.run(
        "-o", "json", "api-tokens", "create", name, "--scope", "cameras.read", "--ttl", "1d"
    )
    assert created.code == 0, created
    body = json.loads(created.stdout)
    secret, token_id = body["secret"], body["api_token"]["id"]

    user = Cli(tmp_path / "token-user")
    login = await user.run("login", "-s", platform.target, "--token", secret)
    assert login.code == 0, login
    assert (await user.run("cameras", "list")).code == 0

    listed = await cli.run("api-tokens", "list", "--filter", f'name = "{name}"')
    assert name in listed.stdout and "cameras.read" in listed.stdout and secret not in listed.stdout
    assert (await cli.run("api-tokens", "revoke", token_id)).code == 0
    got = await platform.tokens.GetApiToken(
        api_token_pb2.GetApiTokenRequest(id=token_id), metadata=platform.admin
    )
    assert got.api_token.HasField("revoke_time")
    after = await user.run("cameras", "list")
    assert after.code == 3, after


async def test_audit_lists_with_filters(cli: Cli, platform: Platform) -> None:
    name = f"audited-{secrets.token_hex(4)}"
    camera = await platform.new_camera(name)
    found = await cli.run(
        "-o", "json", "audit", "list", "--action", "camera.create", "--actor", "admin",
        "--since", "1h", "--limit", "1000",
    )  # fmt: skip
    assert found.code == 0, found
    entries = json.loads(found.stdout)
    assert any(e["target"] == f"cameras/{camera.id}" for e in entries), found.stdout[:2000]
    assert all(e["action"] == "camera.create" and e["actor"] == "admin" for e in entries)

    table = await cli.run("audit", "list", "--target", f"cameras/{camera.id}")
    assert table.code == 0, table
    assert table.stdout.splitlines()[0].split() == ["TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME"]
    assert "camera.create" in table.stdout

    future = await cli.run("audit", "list", "--since", "2999-01-01T00:00:00Z")
    assert future.code == 0 and future.stdout == "", future
    bad = await cli.run("audit", "list", "--since", "yesterday-ish")
    assert bad.code == 2 and "--since" in bad.stderr, bad
    syntax = await cli.run("audit", "list", "--filter", "outcome = = denied")
    assert syntax.code == 6 and "position" in syntax.stderr, syntax
