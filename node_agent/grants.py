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

from camfleet.playback import Grant

from node_agent.assignment import CurrentAssignment
from node_agent.desired import PlaybackPolicy

# Clock difference between control plane and node.
LEEWAY_S = 60.0


class GrantCheck:
    """Checks a signed URL's grant and expiry against the current assignment."""

    def __init__(self, assignment: CurrentAssignment | None = None) -> None:
        self._assignment = assignment
        self._version = -1
        self._revoked: dict[str, float] = {}
        self._policy = PlaybackPolicy()

    def _refresh(self) -> None:
        # Rebuilt only when a new assignment was applied.
        if self._assignment is None or self._assignment.version == self._version:
            return
        current = self._assignment.assignment
        self._version = current.version
        self._policy = current.playback
        revoked: dict[str, float] = {}
        for grant in current.revoked_grants:
            revoked[grant.principal] = max(grant.not_before, revoked.get(grant.principal, 0.0))
        self._revoked = revoked

    @property
    def policy(self) -> PlaybackPolicy:
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
