"""How much of a pull camera's source URL a caller sees.

A source URL is a secret as a whole: besides a password it may carry a key in its path
(`rtmp://h/live/<key>`) or its query, in any spelling a redaction list would miss. So:
- callers who may read stream keys (admin, operator) see it exactly as configured;
- callers who may change cameras but not read keys (a scoped API token) see it with the
  password and credential-like query values masked, enough to edit it;
- everyone else (viewers) sees only its scheme and host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from server.cameras.fields import redact_url_password
from server.identity.permissions import Permission
from server.identity.principal import Principal


def source_origin(url: str) -> str:
    """`scheme://host` of `url` (no userinfo, port, path or query); "" when unreadable."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    return f"{parts.scheme}://[{host}]" if ":" in host else f"{parts.scheme}://{host}"


def shown_source_url(url: str, *, show_secrets: bool, may_edit: bool) -> str:
    """`url` as a caller with these rights may see it (rules above)."""
    if not url or show_secrets:
        return url
    if may_edit:
        return redact_url_password(url)
    return source_origin(url)


def may_edit_cameras(principal: Principal) -> bool:
    """True when `principal` may change cameras (and so sees more of a source URL)."""
    return principal.can(Permission.CAMERAS_WRITE)
