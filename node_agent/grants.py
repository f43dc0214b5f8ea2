"""Who may still use a signed URL, beyond its signature: the grants the control plane revoked
and the longest lifetime it gives a URL, both from the node's current Assignment (desired
state, kept on disk, so they hold while the control plane is away).

- A URL whose grant names a revoked principal (a disabled or deleted user, ended sessions, a
  revoked API token) and was issued before that revocation is refused.
- A URL expiring further out than the longest lifetime the control plane gives (plus leeway for
  clocks) is refused: with a stolen secret one could sign a URL valid for years; this bounds it
  to what an honest URL could have.
"""

from __future__ import annotations

from dataclasses import dataclass

from camfleet.playback import Grant
from camfleet.v1 import agent_pb2

from node_agent.assignment import CurrentAssignment

# Clock difference between control plane and node.
LEEWAY_S = 60.0
# Until the first assignment says otherwise: the control plane's default URL lifetime.
DEFAULT_MAX_URL_TTL_S = 3600.0
DEFAULT_MAX_CLIP_S = 3600.0
DEFAULT_EXPORT_CACHE_BYTES = 2 * 1024**3
DEFAULT_EXPORTS_PER_NODE = 2
DEFAULT_EXPORTS_PER_PRINCIPAL = 1


@dataclass(frozen=True)
class Policy:
    """How this node serves signed URLs and exports (agent_pb2.PlaybackPolicy with defaults)."""

    max_url_ttl_s: float = DEFAULT_MAX_URL_TTL_S
    max_clip_s: float = DEFAULT_MAX_CLIP_S
    export_cache_bytes: int = DEFAULT_EXPORT_CACHE_BYTES
    exports_per_node: int = DEFAULT_EXPORTS_PER_NODE
    exports_per_principal: int = DEFAULT_EXPORTS_PER_PRINCIPAL

    @classmethod
    def of(cls, policy: agent_pb2.PlaybackPolicy) -> Policy:
        """The policy an assignment sends; unset fields keep the defaults."""
        ttl = policy.max_url_ttl.ToTimedelta().total_seconds()
        clip = policy.max_clip_duration.ToTimedelta().total_seconds()
        return cls(
            max_url_ttl_s=ttl if ttl > 0 else DEFAULT_MAX_URL_TTL_S,
            max_clip_s=clip if clip > 0 else DEFAULT_MAX_CLIP_S,
            export_cache_bytes=policy.export_cache_bytes or DEFAULT_EXPORT_CACHE_BYTES,
            exports_per_node=policy.exports_per_node or DEFAULT_EXPORTS_PER_NODE,
            exports_per_principal=policy.exports_per_principal or DEFAULT_EXPORTS_PER_PRINCIPAL,
        )


class GrantCheck:
    """Checks a signed URL's grant and expiry against the current assignment."""

    def __init__(self, assignment: CurrentAssignment | None = None) -> None:
        self._assignment = assignment
        self._version = -1
        self._revoked: dict[str, float] = {}
        self._policy = Policy()

    def _refresh(self) -> None:
        # Rebuilt only when a new assignment was applied (a copy of it is not free).
        if self._assignment is None or self._assignment.version == self._version:
            return
        current = self._assignment.assignment
        self._version = current.version
        self._policy = Policy.of(current.playback)
        revoked: dict[str, float] = {}
        for grant in current.revoked_grants:
            at = grant.not_before.ToDatetime().timestamp() if grant.not_before.seconds else 0.0
            revoked[grant.principal] = max(at, revoked.get(grant.principal, 0.0))
        self._revoked = revoked

    @property
    def policy(self) -> Policy:
        """The current playback policy."""
        self._refresh()
        return self._policy

    def allows(self, grant: Grant, expires: int, now: float) -> bool:
        """True unless `grant` was revoked after it was issued, or the URL's life (or issue
        time) is beyond what the control plane ever signs."""
        self._refresh()
        longest = self._policy.max_url_ttl_s + LEEWAY_S
        if expires > now + longest or grant.issued > now + LEEWAY_S:
            return False
        if expires - grant.issued > longest:
            return False
        return all(
            grant.issued >= self._revoked.get(principal, float("-inf"))
            for principal in grant.principals
        )
