"""Render nginx.conf for one node.

Debian's nginx keeps compiled-in paths (/run/nginx.pid, /var/lib/nginx/*) even with `-p`, so
every path is set explicitly inside the agent's data directory. Two TCP listeners, both
public, and one Unix socket:
- RTMP ingest (`rtmp_listen`): cameras publish; on_publish asks the agent (fails closed); only
  the agent's recorders play, from loopback, by camera id with a one-time token that the agent
  checks in on_play and answers with a local redirect to the stream (so no process argument
  carries a stream key);
- optionally the fleet ingest's listener (`ingest_listen`): the same RTMP server behind Envoy's
  TCP proxy, which opens each connection with a PROXY protocol header, so on_publish sees the
  camera's own address rather than Envoy's (per-address limits, the loopback-only rule of pull
  cameras' keys);
- public HTTP (`http_listen`): signed HLS only — every request is checked by the agent through
  auth_request (200/403, nothing else), and served from a link named by the camera id, so
  keys appear neither in URLs nor in headers;
- internal HTTP (`stat_socket`, a Unix socket only the agent can reach): rtmp_stat XML for the
  agent's metrics, and rtmp_control, through which the agent drops publishers whose stream key
  was revoked. Anyone reaching /control could disconnect every camera, /stat lists every key.
nginx reaches the agent's callbacks on the agent's Unix socket (`agent_socket`), which only
nginx's workers may use (node_agent.nginx.access): nobody else on the host can forge a
publish notification or an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
# Response headers a browser's script may read from recorded media (partial downloads).
_EXPOSED = "Content-Length, Content-Range, Accept-Ranges"
# The internal location nginx sends recorded files from, named by the agent's X-Accel-Redirect
# (node_agent/recording_http.py). Declared here, with the rest of nginx's layout, so the config
# imports nothing of the agent's handlers.
MEDIA_PREFIX = "/_media"
# What nginx answers a WHEP request the agent could not take (its socket's backlog was full).
WHEP_BUSY = "The node is too busy to answer WebRTC offers now; try again later or watch over HLS."
# /hls/<camera id>/<grant>/<expires>/<signature>/<file> (grant: camfleet.playback.Grant);
# node_agent.http_api.HLS_PATH is the same shape.
HLS_LOCATION = (
    r"^/hls/(?<camera>[0-9a-f-]{36})/(?<grant>[0-9]{1,12}(?:\.[A-Za-z0-9_-]{1,64}){1,2})/"
    r"(?<expires>[0-9]{1,12})/(?<sig>[A-Za-z0-9_-]{16,100})/"
    r"(?<file>[A-Za-z0-9_.-]{1,64}\.(m3u8|ts))$"
)
# The live ladder (node_agent/ladder/): /abr/<camera id>/<grant>/<expires>/<signature>/<file>,
# signed as /hls/ is; node_agent.ladder.http.ABR_PATH is the same shape.
ABR_LOCATION = HLS_LOCATION.replace("^/hls/", "^/abr/", 1)


@dataclass(frozen=True)
class NginxLayout:
    """Where nginx keeps its files under the agent's data directory."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def hls(self) -> Path:
        return self.root / "hls"

    @property
    def by_camera(self) -> Path:
        """Links <camera id> -> ../hls/<stream key>, kept by the agent: what nginx serves."""
        return self.root / "hls-by-camera"

    @property
    def ladder(self) -> Path:
        """<camera id>/ of each running ladder (node_agent.ladder), written by its ffmpeg."""
        return self.root / "ladder"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def temp(self) -> Path:
        return self.root / "temp"

    def create(self) -> None:
        """Make every directory nginx writes to."""
        for path in (self.root, self.hls, self.by_camera, self.logs, self.temp):
            path.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class NginxPorts:
    """host:port of the two public listeners; the internal Unix sockets; nginx's worker user."""

    rtmp_listen: str
    http_listen: str
    # nginx's /stat and /control.
    stat_socket: Path
    # The agent's callback API.
    agent_socket: Path
    # nginx's `user` directive ("" for none: the agent is not root).
    user_directive: str = ""
    # The fleet ingest's PROXY-protocol RTMP listener ("" for none).
    ingest_listen: str = ""
    # PEM certificate and key: `http_listen` speaks HTTPS (None: plain HTTP).
    http_tls: tuple[Path, Path] | None = None


def _http_tls(tls: tuple[Path, Path] | None) -> tuple[str, str]:
    """The HTTP listener's `ssl` flag and its certificate directives ("" for plain HTTP).
    nginx's master reads the key at start, before its workers drop to their account."""
    if tls is None:
        return "", ""
    cert, key = (_unix_path(p.resolve()) for p in tls)
    return (
        " ssl",
        f"""
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:camfleet_tls:1m;""",
    )


def _unix_path(path: Path) -> str:
    """`path` checked for what nginx's configuration syntax cannot carry unquoted."""
    text = str(path)
    if not path.is_absolute() or any(c in text for c in " \t\n;{}'\"$:#"):
        raise ValueError(f"unusable socket path for nginx: {text!r}")
    return text


def _host_port(listen: str) -> tuple[str, str]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), port


def loopback_rtmp(rtmp_listen: str) -> str:
    """host:port on which the agent's own recorders reach the RTMP server: loopback always,
    since play is allowed from loopback only."""
    host, port = _host_port(rtmp_listen)
    return f"[::1]:{port}" if host in ("::", "::1") else f"127.0.0.1:{port}"


def _recorder_listen(rtmp_listen: str) -> str:
    """An extra loopback listener when the ingest one is bound to another single address."""
    host, port = _host_port(rtmp_listen)
    if host in ("127.0.0.1", "::1", "0.0.0.0", "::"):  # noqa: S104 - names, not binds
        return ""
    return f"\n        listen 127.0.0.1:{port};"


def _ingest_listen(ingest_listen: str) -> str:
    """The fleet ingest's listener: every connection starts with a PROXY protocol header (from
    Envoy), which nginx-rtmp takes the publisher's address from."""
    return f"\n        listen {ingest_listen} proxy_protocol;" if ingest_listen else ""


def render(
    layout: NginxLayout,
    ports: NginxPorts,
    hls_fragment_s: float = 1.0,
    hls_playlist_length_s: float | None = None,
) -> str:
    """The complete nginx.conf text; ValueError for a socket path nginx cannot take. The
    playlist covers `hls_playlist_length_s` (default: six fragments, at least six seconds)."""
    playlist_s = (
        max(6.0, hls_fragment_s * 6) if hls_playlist_length_s is None else hls_playlist_length_s
    )
    stat_socket = _unix_path(ports.stat_socket)
    # nginx-rtmp's notifications take nginx's `http://unix:PATH:URI` form.
    notify = f"http://unix:{_unix_path(ports.agent_socket)}:"
    temp = layout.temp
    extra_listens = _recorder_listen(ports.rtmp_listen) + _ingest_listen(ports.ingest_listen)
    ssl_flag, ssl_directives = _http_tls(ports.http_tls)
    return f"""# Generated by the camfleet node agent; edits are overwritten.
load_module {RTMP_MODULE};
{ports.user_directive}worker_processes 1;
pid {layout.root / "nginx.pid"};
error_log {layout.logs / "error.log"} info;
# Foreground, so the agent supervises the master process itself (never pass -g as well).
daemon off;
events {{ worker_connections 1024; }}

rtmp {{
    server {{
        listen {ports.rtmp_listen};{extra_listens}
        chunk_size 4096;
        application live {{
            live on;
            # One publisher per key: a second one is refused while the first is live.
            allow publish all;
            # Only the agent's recorders play, from loopback, by camera id with a one-time token:
            # on_play answers with a redirect to the stream's key (a local rename inside
            # nginx), so the key is in no process's arguments. Viewers get signed HLS instead.
            allow play 127.0.0.1;
            allow play ::1;
            deny play all;
            on_play {notify}/rtmp/on_play;
            # Players are cut off when the publisher leaves, so a recorder ends with its publish.
            idle_streams off;
            drop_idle_publisher 10s;
            on_publish {notify}/rtmp/on_publish;
            on_publish_done {notify}/rtmp/on_publish_done;
            notify_method post;
            hls on;
            hls_path {layout.hls};
            hls_nested on;
            hls_fragment {round(hls_fragment_s * 1000)}ms;
            hls_playlist_length {round(max(playlist_s, hls_fragment_s) * 1000)}ms;
            hls_cleanup on;
            # A fragment is named by the wall time (ms) its first packet arrived: recordings
            # are made of these fragments (node_agent.recording.fragments) and take their
            # times from the names, and names never repeat across publishes.
            hls_fragment_naming system;
        }}
    }}
}}

http {{
    access_log off;
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }}
    server_tokens off;
    upstream camfleet_agent {{ server unix:{_unix_path(ports.agent_socket)}; }}

    server {{
        listen {ports.http_listen}{ssl_flag};{ssl_directives}
        # /hls/<camera id>/<expires>/<signature>/<file>: the signature is in the path so the
        # playlist's relative segment URLs carry it too. The agent answers 200 or 403 and
        # keeps hls-by-camera/<camera id> linked to the live stream's directory.
        location ~ "{HLS_LOCATION}" {{
            auth_request /_auth_hls;
            alias {layout.by_camera}/$camera/$file;
            add_header Access-Control-Allow-Origin * always;
            add_header Cache-Control no-cache always;
        }}
        # Recorded media (node_agent/recording_http.py): the agent checks the signed URL and
        # names the file, found through its segment index, in X-Accel-Redirect; nginx sends it
        # from /_media/ with Range support. Proxied as sent (no URI part), so the agent sees
        # the raw path; exports may take minutes to assemble on first request.
        location ~ "^/(recordings|vod|exports)/" {{
            proxy_pass http://camfleet_agent;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_read_timeout 900s;
            add_header Access-Control-Allow-Origin * always;
            add_header Access-Control-Expose-Headers "{_EXPOSED}" always;
        }}
        # WebRTC (node_agent/webrtc/endpoint.py): signed WHEP offers and session DELETEs go to
        # the agent with their bodies; it answers CORS itself.
        location ^~ /whep/ {{
            proxy_pass http://camfleet_agent;
            client_max_body_size 64k;
            proxy_read_timeout 60s;
            # A flood beyond the agent's socket backlog: a reason, not a bare 502.
            error_page 502 504 = @whep_busy;
        }}
        location @whep_busy {{
            add_header Access-Control-Allow-Origin * always;
            add_header Retry-After 10 always;
            default_type text/plain;
            return 503 "{WHEP_BUSY}\n";
        }}
        location {MEDIA_PREFIX}/ {{
            # Only X-Accel-Redirect from the agent reaches this; a client asking gets 404.
            internal;
            alias /;
            add_header Access-Control-Allow-Origin * always;
            add_header Access-Control-Expose-Headers "{_EXPOSED}" always;
        }}
        # The ladder: the agent checks the signature (and starts the camera's ladder on the
        # first request, answering once its master playlist exists).
        location ~ "{ABR_LOCATION}" {{
            auth_request /_auth_abr;
            alias {layout.ladder}/$camera/$file;
            add_header Access-Control-Allow-Origin * always;
            add_header Cache-Control no-cache always;
        }}
        location = /_auth_abr {{
            internal;
            proxy_pass http://camfleet_agent/auth/abr;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
        location = /_auth_hls {{
            internal;
            proxy_pass http://camfleet_agent/auth/hls;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
        location / {{
            add_header Access-Control-Allow-Origin * always;
            return 403;
        }}
    }}

    server {{
        # A Unix socket in a directory only the agent may enter (nginx makes the socket 0666).
        listen unix:{stat_socket};
        location = /stat {{ rtmp_stat all; }}
        # /control/drop/publisher?app=live&name=<key>: the agent ends revoked publishes.
        location /control {{ rtmp_control all; }}
    }}
}}
"""
