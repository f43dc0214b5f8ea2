"""Agent configuration: command-line flags, each with a CAMFLEET_* environment equivalent.

Flags win over the environment, the environment over defaults. `OPTIONS` declares each of them
once (flag, variable, default, help, parser: see config_options); `AgentConfig` takes its
defaults and `load_config` its values from there.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import config_options
from config_options import (
    LOG_LEVEL,
    Option,
    OptionParser,
    add_options,
    byte_count,
    defaults,
    positive_int,
    read_options,
    seconds_between,
    stripped,
)
from node_agent import config_values as values
from node_agent.config_values import LABEL_FLAG, WILDCARDS, HostPort, parse_host_port, url_host
from node_agent.errors import ConfigError

OPTIONS: tuple[Option, ...] = (
    Option(
        "--control-plane",
        "CAMFLEET_CONTROL_PLANE",
        "127.0.0.1:50051",
        "HOST:PORT of the control plane's gRPC endpoint",
        parse=parse_host_port,
    ),
    Option(
        "--control-plane-ca",
        "CAMFLEET_CONTROL_PLANE_CA",
        "",
        "PEM file of the CA that signed the control plane's certificate: the agent speaks TLS "
        "to --control-plane and sends its credential only to a server that CA vouches for "
        "(default: plain text, for a control plane on this machine)",
        parse=values.optional_file,
    ),
    Option(
        "--control-plane-mtls",
        "CAMFLEET_CONTROL_PLANE_MTLS",
        "",
        "HOST:PORT of the control plane's listener for node certificates (its "
        "--agent-mtls-listen; needs --control-plane-ca): the agent asks for a certificate when it "
        "joins (its key is made here and never leaves DATA_DIR) and connects there with it "
        "(default: none)",
        parse=values.optional_host_port,
    ),
    Option(
        "--join-token",
        "CAMFLEET_JOIN_TOKEN",
        "",
        "join token from NodeService.CreateJoinToken; used only when no credential is stored",
        parse=stripped,
    ),
    Option(
        "--data-dir",
        "CAMFLEET_AGENT_DATA_DIR",
        "./data/node",
        "where the credential, assignment, event spool and nginx files live",
        parse=values.data_dir,
    ),
    Option(
        "--name",
        "CAMFLEET_NODE_NAME",
        "",
        "node name (default: this host's name)",
        parse=values.node_name,
    ),
    Option(
        "--rtmp-listen",
        "CAMFLEET_RTMP_LISTEN",
        "127.0.0.1:1935",
        "HOST:PORT cameras publish to",
        parse=parse_host_port,
    ),
    Option(
        "--http-listen",
        "CAMFLEET_HTTP_LISTEN",
        "127.0.0.1:8088",
        "HOST:PORT serving signed HLS",
        parse=parse_host_port,
    ),
    Option(
        "--http-tls-cert",
        "CAMFLEET_HTTP_TLS_CERT",
        "",
        "PEM certificate (chain) for --http-listen: HLS, WebRTC offers and downloads are served "
        "over HTTPS and the URLs users get start with https:// (default: plain HTTP)",
        parse=values.optional_file,
    ),
    Option(
        "--http-tls-key",
        "CAMFLEET_HTTP_TLS_KEY",
        "",
        "PEM private key of --http-tls-cert",
        parse=values.optional_file,
    ),
    Option(
        "--public-host",
        "CAMFLEET_PUBLIC_HOST",
        "",
        "host name or address in the URLs given to users (default: the listen addresses' host)",
        parse=values.public_host,
    ),
    Option(
        "--ingest-listen",
        "CAMFLEET_INGEST_LISTEN",
        "",
        "HOST:PORT of a second RTMP listener for the fleet ingest (Envoy), whose connections "
        "start with a PROXY protocol header naming the camera's address (default: none)",
        parse=values.optional_host_port,
    ),
    Option(
        "--public-rtmp-url",
        "CAMFLEET_PUBLIC_RTMP_URL",
        "",
        "the RTMP URL cameras are told to publish to, e.g. the fleet ingest in front of every "
        "node (default: rtmp://<public host>:<--rtmp-listen port>/live)",
        parse=values.rtmp_url,
    ),
    Option(
        LABEL_FLAG,
        "CAMFLEET_NODE_LABELS",
        "",
        "a label key=value of this node, sent when it registers (repeat the flag for more; the "
        "variable takes them comma-separated), matched by cameras' node selectors",
        parse=values.parse_labels,
        field="labels",
    ),
    Option(
        "--capacity",
        "CAMFLEET_CAPACITY",
        "32",
        "how many streams this node can take",
        parse=positive_int,
    ),
    Option(
        "--cpu-cores",
        "CAMFLEET_CPU_CORES",
        "",
        "CPU cores this node gives its cameras' transcoding (live ladder rungs), sent when it "
        "connects; placement prefers nodes whose estimated cost stays within them (default: "
        "the cores this process may run on)",
        parse=values.cpu_cores,
    ),
    LOG_LEVEL,
    Option(
        "--segment-seconds",
        "CAMFLEET_SEGMENT_SECONDS",
        "10",
        "length of recorded segments (cut on the next keyframe after it)",
        parse=seconds_between(1, 3600),
        field="segment_s",
    ),
    Option(
        "--warm-dir",
        "CAMFLEET_WARM_DIR",
        "",
        "second directory for older recordings, e.g. a mounted share (default: none)",
        parse=values.optional_dir,
    ),
    Option(
        "--warm-after",
        "CAMFLEET_WARM_AFTER",
        "86400",
        "seconds after which a recorded segment moves to --warm-dir",
        parse=seconds_between(1, 10 * 365 * 86400),
        field="warm_after_s",
    ),
    Option(
        "--metrics-listen",
        "CAMFLEET_AGENT_METRICS_LISTEN",
        "",
        "HOST:PORT serving this node's Prometheus metrics at /metrics (streams, recorders, "
        "disks); default: none. No authentication: bind it to loopback or a network only "
        "Prometheus reaches",
        parse=values.optional_host_port,
    ),
    Option(
        "--min-free-bytes",
        "CAMFLEET_MIN_FREE_BYTES",
        "1073741824",
        "free space kept on each recordings disk; below it the oldest segments are deleted",
        parse=byte_count,
    ),
    Option(
        "--webrtc-max-sessions",
        "CAMFLEET_WEBRTC_MAX_SESSIONS",
        "50",
        "WebRTC (WHEP) viewers this node serves at once; more are refused with 503",
        parse=positive_int,
    ),
    Option(
        "--webrtc-address",
        "CAMFLEET_WEBRTC_ADDRESSES",
        "",
        "IP addresses (comma-separated) offered to WebRTC viewers as ICE candidates (default: "
        "--http-listen's address, or every address of the host when it is a wildcard)",
        parse=values.ip_addresses,
        field="webrtc_addresses",
    ),
)


# Parsed defaults by attribute: a misspelt attribute below fails at import.
_D = defaults(OPTIONS)


@dataclass(frozen=True)
class AgentConfig:
    """Validated configuration of one node agent."""

    control_plane: HostPort
    data_dir: Path
    name: str
    rtmp_listen: HostPort
    http_listen: HostPort
    join_token: str = _D["join_token"]
    # TLS to the control plane (node_agent.node_tls): its CA (None: plain text) and the
    # listener for node certificates (None: none).
    control_plane_ca: Path | None = _D["control_plane_ca"]
    control_plane_mtls: HostPort | None = _D["control_plane_mtls"]
    # HTTPS on --http-listen (both or neither).
    http_tls_cert: Path | None = _D["http_tls_cert"]
    http_tls_key: Path | None = _D["http_tls_key"]
    # "" means: the host of each listen address.
    public_host: str = _D["public_host"]
    # The fleet ingest's PROXY-protocol RTMP listener (None: none).
    ingest_listen: HostPort | None = _D["ingest_listen"]
    # "" means: this node's own listener (rtmp_url).
    public_rtmp_url: str = _D["public_rtmp_url"]
    # Sent with RegisterNode (the first start only; NodeService.UpdateNode changes them later).
    labels: Mapping[str, str] = field(default_factory=dict)
    capacity: int = _D["capacity"]
    cpu_cores: float = _D["cpu_cores"]
    log_level: str = _D["log_level"]
    # Tunables without flags (tests shorten them).
    unknown_key_limit: int = 10
    unknown_key_window_s: float = 60.0
    check_timeout_s: float = 3.0
    stat_interval_s: float = 1.0
    # While a publish awaits its first media (node_agent.stat_poller).
    stat_fast_interval_s: float = 0.05
    hls_fragment_s: float = 1.0
    nginx_binary: str = shutil.which("nginx") or "/usr/sbin/nginx"
    # Recording.
    segment_s: float = _D["segment_s"]
    warm_dir: Path | None = _D["warm_dir"]
    warm_after_s: float = _D["warm_after_s"]
    min_free_bytes: int = _D["min_free_bytes"]
    # The /metrics listener (None: none).
    metrics_listen: HostPort | None = _D["metrics_listen"]
    ffmpeg_binary: str = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    ffprobe_binary: str = shutil.which("ffprobe") or "/usr/bin/ffprobe"
    # How often retention, free space and tier moves are checked.
    housekeeping_interval_s: float = 5.0
    # WHEP (node_agent.webrtc): the session limit; ICE addresses (empty: see --webrtc-address).
    webrtc_max_sessions: int = _D["webrtc_max_sessions"]
    webrtc_addresses: tuple[str, ...] = _D["webrtc_addresses"]

    def _public(self, listen: HostPort) -> str:
        if self.public_host:
            return self.public_host
        # A wildcard bind is no address a user can reach: the host's name is the best guess.
        return socket.gethostname() if listen.host in WILDCARDS else listen.host

    @property
    def rtmp_url(self) -> str:
        """Where cameras publish (the key is appended), as users should see it: the fleet
        ingest when one is named, else this node's own listener."""
        if self.public_rtmp_url:
            return self.public_rtmp_url
        return f"rtmp://{url_host(self._public(self.rtmp_listen))}:{self.rtmp_listen.port}/live"

    @property
    def http_url(self) -> str:
        """Base of this node's signed HLS URLs, as users should see it."""
        scheme = "https" if self.http_tls_cert else "http"
        return f"{scheme}://{url_host(self._public(self.http_listen))}:{self.http_listen.port}"


def build_parser(prog: str = "python -m node_agent") -> OptionParser:
    """The flags of `python -m node_agent`, one per OPTIONS entry."""
    parser = OptionParser(prog=prog, description="camfleet node agent (nginx-rtmp + ffmpeg)")
    add_options(parser, [o for o in OPTIONS if o.flag != LABEL_FLAG])
    (label,) = [o for o in OPTIONS if o.flag == LABEL_FLAG]
    # Repeatable: each flag one pair (read_options sees them comma-joined, as the variable).
    parser.add_argument(
        LABEL_FLAG, action="append", dest=label.dest, metavar="KEY=VALUE",
        help=f"{label.help} [${label.env}]",
    )  # fmt: skip
    return parser


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """Parse flags and environment into an AgentConfig; raises ConfigError on bad values."""
    env = os.environ if environ is None else environ
    try:
        args = build_parser().parse_args(argv)
        labels = getattr(args, "label", None)
        if labels is not None:
            for pair in labels:
                if "," in pair:
                    raise ConfigError(f"{LABEL_FLAG}: one key=value per flag, got {pair!r}")
            args.label = ",".join(labels)
        values = read_options(OPTIONS, args, env, names="flag")
    except config_options.ConfigError as exc:
        # The agent's own ConfigError carries its exit code (2).
        raise ConfigError(str(exc)) from None
    if bool(values["http_tls_cert"]) != bool(values["http_tls_key"]):
        raise ConfigError("--http-tls-cert and --http-tls-key go together")
    if values["control_plane_mtls"] is not None and values["control_plane_ca"] is None:
        raise ConfigError(
            "--control-plane-mtls needs --control-plane-ca (the CA that signed the control "
            "plane's certificate)"
        )
    return AgentConfig(**values)
