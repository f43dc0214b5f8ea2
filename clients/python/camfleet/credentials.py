"""Which query parameters of a camera's source URL carry credentials (`?user=admin&pwd=...`,
`?loginpas=...`, `?token=...`).

Shared by the control plane, which shows their values as '***' to whoever may not see secrets,
and the node agent, which keeps them out of its logs and events: one list, so the two never
disagree about what a secret is.
"""

from __future__ import annotations

# Matched as substrings of the lower-cased name...
SECRET_PARAM_PARTS = ("pass", "pwd", "secret", "token", "credential")
# ...or exactly, for names too short to match as substrings without hiding harmless ones.
SECRET_PARAM_NAMES = frozenset(
    {"key", "apikey", "api_key", "auth", "sig", "signature", "loginpas", "pw"}
)


def is_credential_param(name: str) -> bool:
    """True when a query parameter named `name` carries a credential."""
    lowered = name.lower()
    return lowered in SECRET_PARAM_NAMES or any(part in lowered for part in SECRET_PARAM_PARTS)
