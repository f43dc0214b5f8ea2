"""Render envoy.yaml for a single machine: loopback listener and loopback upstreams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).with_name("envoy.yaml")


def render(listen_port: int, admin_port: int, upstreams: list[tuple[str, int]]) -> dict[str, Any]:
    """The compose config with the listener on 127.0.0.1:`listen_port` and these upstreams."""
    config: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    config["admin"]["address"]["socket_address"]["port_value"] = admin_port
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": listen_port}
    cluster = config["static_resources"]["clusters"][0]
    cluster["type"] = "STATIC"
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
        for host, port in upstreams
    ]
    return config
