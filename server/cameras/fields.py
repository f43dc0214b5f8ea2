"""A camera's caller-settable fields and their checks (labels, source URLs, retention), and
the redaction of credentials in source URLs for callers who may not see secrets."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from camfleet.credentials import is_credential_param

from server.cameras.model import IngestMode
from server.common.labels import check_label_map
from server.common.ladder import ladder_problem
from server.common.validation import clean_text
from server.errors import InvalidArgument

UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "location",
        "active",
        "recording_enabled",
        "ingest_mode",
        "source_url",
        "labels",
        "recording_profile",
        "retention_max_age",
        "retention_max_bytes",
        "node_selector",
        "live_ladder",
    }
)
PULL_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https"})
LABEL_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_LABELS = 32
MAX_SELECTOR_PAIRS = 16
MAX_SOURCE_URL = 2000
_SOURCE_FIELD = "camera.source_url"
# A host name as a resolver takes it: ASCII letters, digits, '-', '_' and '.' (IP literals are
# checked by ipaddress). Anything else (percent-escapes, control characters, non-ASCII) would
# reach ffmpeg's resolver as something other than what the operator sees.
_HOST_RE = re.compile(r"[A-Za-z0-9_.-]{1,253}")


def name_key(name: str) -> str:
    """The case-insensitive form of a camera name: what uniqueness and ordering use.

    Never longer than the name: str.lower() turns "İ" (U+0130, the only such character) into
    two code points, which would push a valid 200-character name past the 200-character key
    column (an error from the database instead of a created camera). Its simple lower case "i"
    keeps the length.
    """
    return name.replace("\u0130", "i").lower()


@dataclass
class CameraFields:
    """Caller-settable camera fields, as the transport decoded them."""

    name: str = ""
    description: str = ""
    location: str = ""
    active: bool = True
    recording_enabled: bool = False
    ingest_mode: IngestMode | None = None
    source_url: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    # None: unset, so a new camera takes the recording settings' default profile (an update
    # naming the field resets it to original); the transport refuses values it cannot name.
    recording_profile: str | None = None
    # Seconds; 0 means no limit. Negative values are refused. None: unset, so a new camera
    # takes the recording settings' default retention (an update naming the field clears it).
    retention_max_age_s: float | None = None
    retention_max_bytes: int = 0
    # Pull cameras go only to nodes whose labels hold every pair (server/placement/).
    node_selector: Mapping[str, str] = field(default_factory=dict)
    # The live ladder's rungs; empty: the streaming settings' default (server/common/ladder.py).
    live_ladder: tuple[str, ...] = ()


def check_live_ladder(rungs: tuple[str, ...]) -> list[str]:
    """A camera's ladder as stored, or InvalidArgument saying what is wrong with it."""
    problem = ladder_problem(rungs, allow_empty=True)
    if problem is not None:
        raise InvalidArgument.for_field("camera.live_ladder", problem)
    return list(rungs)


def check_node_selector(selector: Mapping[str, str]) -> dict[str, str]:
    """A node selector as stored (label syntax, at most 16 pairs), or InvalidArgument naming
    the bad key. A selector no node matches is valid: the camera waits, with a reason."""
    return check_label_map(selector, "camera.node_selector", max_pairs=MAX_SELECTOR_PAIRS)


def check_retention(fields: CameraFields, default_max_age_s: int = 0) -> tuple[int, int]:
    """(max age in whole seconds, rounded up, `default_max_age_s` when unset; max bytes), or
    InvalidArgument."""
    if fields.retention_max_age_s is None:
        max_age_s: float = default_max_age_s
    else:
        max_age_s = fields.retention_max_age_s
    if max_age_s < 0:
        raise InvalidArgument.for_field(
            "camera.retention_max_age", "must not be negative (0 or unset: no age limit)"
        )
    if fields.retention_max_bytes < 0:
        raise InvalidArgument.for_field(
            "camera.retention_max_bytes", "must not be negative (0: no size limit)"
        )
    return math.ceil(max_age_s), fields.retention_max_bytes


def _check_host(host: str) -> None:
    """InvalidArgument unless `host` is a plain host name or an IP literal."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if not _HOST_RE.fullmatch(host):
        shown = host if len(host) <= 64 else host[:64] + "…"
        raise InvalidArgument.for_field(
            _SOURCE_FIELD,
            f"host {shown!r} must be a host name (ASCII letters, digits, '-', '.'; write an "
            "international name in its xn-- form) or an IP address",
        )


def _check_authority(parts: SplitResult) -> None:
    """The port is a number and nothing of the user name or password spilled out of the
    authority: a '/', '?' or '#' left unescaped in a password ends it early, and ffmpeg would
    then connect to the wrong host (and show the rest of the password as a path)."""
    if parts.fragment or "#" in parts.geturl():
        raise InvalidArgument.for_field(
            _SOURCE_FIELD,
            "must not contain '#' (a source URL has no fragment); in a user name or password, "
            "write it as %23",
        )
    try:
        parts.port  # noqa: B018 (reading it validates it)
    except ValueError:
        raise InvalidArgument.for_field(
            _SOURCE_FIELD,
            "has a port that is not a number from 0 to 65535; if a password holds '/', '?' or "
            "'#', write them as %2F, %3F and %23",
        ) from None


def check_source_url(url: str, mode: IngestMode) -> str:
    """The source URL of a camera in `mode`, or InvalidArgument naming what to fix. Never echoes
    the URL: it may carry a password."""
    url = clean_text(url, _SOURCE_FIELD, max_len=MAX_SOURCE_URL)
    if mode is IngestMode.PUSH:
        if url:
            raise InvalidArgument.for_field(
                "camera.source_url", "is only used with INGEST_MODE_PULL; leave it empty for PUSH"
            )
        return url
    if not url:
        raise InvalidArgument.for_field("camera.source_url", "is required for INGEST_MODE_PULL")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme.lower() not in PULL_SCHEMES or not host or " " in url:
        raise InvalidArgument.for_field(
            "camera.source_url",
            "must be an absolute rtsp://, rtsps://, rtmp://, rtmps://, http:// or https:// URL "
            "with a host",
        )
    _check_authority(parts)
    _check_host(host)
    return url


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels as stored, or InvalidArgument naming the label to fix."""
    if len(labels) > MAX_LABELS:
        raise InvalidArgument.for_field("camera.labels", f"at most {MAX_LABELS} labels")
    out = {}
    for key, value in labels.items():
        if not LABEL_KEY_RE.fullmatch(key):
            raise InvalidArgument.for_field(
                f"camera.labels[{key[:64]!r}]",
                "keys are 1–63 characters of a-z, 0-9, '_', '.', '-' starting with a letter "  # noqa: RUF001
                "or digit",
            )
        out[key] = clean_text(value, f"camera.labels[{key!r}]", max_len=200)
    return out


def _redact_param(param: str) -> str:
    name, eq, value = param.partition("=")
    if eq and value and is_credential_param(name):
        return f"{name}=***"
    return param


def redact_url_password(url: str) -> str:
    """The URL with its password, and the values of query parameters that carry credentials,
    replaced by '***' (for callers who may not see secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: return it exactly as configured
    return parts._replace(netloc=netloc, query=query).geturl()
