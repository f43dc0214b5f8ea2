"""compose.yaml as Docker Compose reads it: the services, with `${VAR}`, `${VAR:-default}`,
`${VAR:?message}` and `$$` interpolated from a given environment (no Docker here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.processes import ROOT

COMPOSE = ROOT / "compose.yaml"
# $$ (a literal $), or ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}.
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset: compose refuses to start, saying this."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` with its variables replaced as compose replaces them."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if empty else str(value)
        if op in (":?", "?"):
            if empty:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return str(value)
        return value or ""

    return _VARIABLE.sub(one, text)


def _resolve(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_resolve(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _resolve(value, env) for key, value in node.items()}
    return node


def raw_services(path: Path = COMPOSE) -> dict[str, Any]:
    """The services as written (YAML anchors merged), variables not interpolated."""
    services: dict[str, Any] = yaml.safe_load(path.read_text())["services"]
    return services


def services(env: Mapping[str, str], path: Path = COMPOSE) -> dict[str, Any]:
    """The services with every variable interpolated from `env`."""
    resolved: dict[str, Any] = _resolve(raw_services(path), env)
    return resolved


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment (compose takes a mapping or a list of NAME=value)."""
    given = service.get("environment") or {}
    if isinstance(given, list):
        return dict(item.split("=", 1) for item in given)
    return {str(k): "" if v is None else str(v) for k, v in given.items()}
