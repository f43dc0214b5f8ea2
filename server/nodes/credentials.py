"""Secrets of the node protocol: join tokens (`cfj_…`) and node credentials (`cfn_…`).

Both read `<prefix><id>_<secret>`: the id finds the row without a scan, and only a SHA-256 of
the 256-bit secret is stored (as for API tokens: a slow hash buys nothing for a secret that long).
"""

from __future__ import annotations

import secrets
import uuid

from server.auth.api_tokens import hash_secret

JOIN_TOKEN_PREFIX = "cfj_"
NODE_CREDENTIAL_PREFIX = "cfn_"
_HEX = frozenset("0123456789abcdef")


def issue(prefix: str, row_id: str) -> tuple[str, str]:
    """A new credential string for `row_id` and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return f"{prefix}{uuid.UUID(row_id).hex}_{secret}", hash_secret(secret)


def parse(prefix: str, credential: str) -> tuple[str, str] | None:
    """(row id, secret hash) of a well-formed credential with `prefix`, else None."""
    if not credential.startswith(prefix) or len(credential) > 200:
        return None
    hex_id, sep, secret = credential[len(prefix) :].partition("_")
    if not sep or not secret or len(hex_id) != 32 or not set(hex_id) <= _HEX:
        return None
    return str(uuid.UUID(hex=hex_id)), hash_secret(secret)
