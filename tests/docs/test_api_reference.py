"""The API reference (docs/api/, scripts/api_reference.py) is current, says what the permission
table says, and its examples work: the Python ones run against a live server, the grpcurl
bodies parse as their requests, the TypeScript ones type-check against the client and the Go
ones build offline against the Go client."""

from __future__ import annotations

import asyncio
import json
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from harness.processes import ROOT
from server.auth.permissions import RPC_RULES, Access
from tests.docs.snippets import blocks, build_go, run, typecheck_typescript
from tests.support.platform import Platform
from tests.support.rpcs import RPCS

DOCS = ROOT / "docs" / "api"
ADDRESS = "127.0.0.1:50051"


def _page_name(service: str) -> str:
    """CameraService -> camera-service.md"""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in service).lstrip("-") + ".md"


def _page(service: str) -> str:
    return (DOCS / _page_name(service)).read_text()


def _services() -> list[str]:
    return sorted({r.descriptor.containing_service.name for r in RPCS})


def _one(service: str, language: str) -> str:
    """The one example of `language` on the service's page."""
    (code,) = blocks(_page(service), language)
    return code


def _section(page: str, method: str) -> str:
    start = page.index(f"\n### {method}\n")
    end = page.find("\n### ", start + 1)
    return page[start : end if end != -1 else None]


def test_the_reference_is_current() -> None:
    """Fails when a proto, its comments or the permission table changed and docs/api was not
    regenerated (`python scripts/generate.py` does it)."""
    out = run([sys.executable, "scripts/api_reference.py", "--check"], ROOT)
    assert "up to date" in out


def test_every_rpc_is_documented_with_the_tables_permission() -> None:
    """Every RPC of the API is on its service's page (linked from the index) with the kind of
    call, the permission the table gives it, the refusal that follows, and its request's
    fields."""
    index = (DOCS / "README.md").read_text()
    for service in _services():
        assert f"[{service}]({_page_name(service)})" in index, service
    for rpc in RPCS:
        d = rpc.descriptor
        section = _section(_page(d.containing_service.name), d.name)
        kind = {
            (False, False): "unary",
            (False, True): "server streaming",
            (True, True): "bidirectional streaming",
        }[(d.client_streaming, d.server_streaming)]
        assert f"- Call: `{rpc.name}`, {kind}\n" in section, rpc.name
        rule = RPC_RULES[rpc.name]
        if rule.permission is not None:
            assert f"the permission `{rule.permission.value}`" in section, rpc.name
            assert f"`PERMISSION_DENIED` without `{rule.permission.value}`" in section
        elif rule.access is Access.PUBLIC:
            assert "no credential needed" in section, rpc.name
        else:
            assert "`UNAUTHENTICATED` without a valid credential" in section, rpc.name
        for field in rpc.request.DESCRIPTOR.fields:
            assert f"| `{field.name}` |" in section, f"{rpc.name}: {field.name}"


def test_grpcurl_bodies_parse_as_their_requests() -> None:
    """Every grpcurl command's -d body is valid protobuf JSON for the method it calls."""
    requests = {r.name.lstrip("/"): r.request for r in RPCS}
    checked = 0
    for service in _services():
        for block in blocks(_page(service), "sh"):
            command = block.replace("\\\n", " ")
            words = shlex.split(command)
            method = words[-1]
            assert method in requests, method
            if "-d" in words:
                body = json.loads(words[words.index("-d") + 1])
                json_format.ParseDict(body, requests[method]())
            checked += 1
    assert checked > len(RPCS) - 3  # one per RPC (not the client stream) plus the examples


@pytest.mark.parametrize("service", _services())
async def test_the_python_example_runs(service: str, platform: Platform) -> None:
    """Each service's Python example, as printed, against a live server (address and token
    substituted); a stream that would never end is only compiled."""
    code = _one(service, "python").replace(ADDRESS, platform.target)
    if service == "EventService":
        compile(code, f"{service} example", "exec")
        return
    if service == "AgentService":  # registers a node with a real join token
        join = await platform.join_token()
        code = code.replace('"cfj_…"', repr(join)).replace(
            '"edge-1"', repr(f"doc-{secrets.token_hex(3)}")
        )
    if service == "RecordingService":
        code = code.replace('"<camera id>"', repr((await platform.new_camera()).id))
    printed: list[Any] = []
    token = dict(platform.admin)["authorization"].removeprefix("Bearer ")
    scope = {"token": token, "print": printed.append}
    await asyncio.to_thread(exec, compile(code, f"{service} example", "exec"), scope)
    assert len(printed) == 1 and printed[0].ByteSize() >= 0
    assert type(printed[0]).__name__.endswith("Response")


def test_the_typescript_examples_type_check(tmp_path: Path) -> None:
    """Each TypeScript example compiles against clients/typescript (its paths are relative to
    src/ there)."""
    typecheck_typescript({s: _one(s, "ts") for s in _services()}, tmp_path)


@pytest.mark.timeout(900)  # a cold build of grpc-go on a loaded machine takes minutes
def test_the_go_examples_build_offline(tmp_path: Path) -> None:
    """Each Go example, wrapped in a main function, builds in GOPATH mode against the client
    in clients/go and Debian's grpc-go (no network)."""
    build_go({s: _one(s, "go") for s in _services()}, tmp_path)
