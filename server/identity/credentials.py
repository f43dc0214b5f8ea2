"""The bearer secrets callers present: API tokens (`cft_…`), node join tokens (`cfj_…`) and
node credentials (`cfn_…`).

All read `<prefix><id>_<secret>`: the id finds the row without a scan, and only a SHA-256 of the
256-bit secret is stored (a slow hash buys nothing for a secret that long, and it would cost
every API call tens of milliseconds). Here, not in auth or nodes, because both issue them and
the authenticator tells them apart by prefix.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

TOKEN_PREFIX = "cft_"
JOIN_TOKEN_PREFIX = "cfj_"
NODE_CREDENTIAL_PREFIX = "cfn_"
_HEX = frozenset("0123456789abcdef")


def issue(prefix: str, row_id: str) -> tuple[str, str]:
    """A new credential string for `row_id` and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return f"{prefix}{uuid.UUID(row_id).hex}_{secret}", hash_secret(secret)


def parse(prefix: str, credential: str) -> tuple[str, str] | None:
    """(row id, secret hash) of a well-formed credential with `prefix`, else None."""
    parts = _split(prefix, credential)
    return (parts[0], hash_secret(parts[1])) if parts else None


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed API token string, else None."""
    return _split(TOKEN_PREFIX, token)


def hash_secret(secret: str) -> str:
    """Stored form of a token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(prefix: str, credential: str) -> tuple[str, str] | None:
    if not credential.startswith(prefix) or len(credential) > 200:
        return None
    hex_id, sep, secret = credential[len(prefix) :].partition("_")
    if not sep or not secret or len(hex_id) != 32 or not set(hex_id) <= _HEX:
        return None
    return str(uuid.UUID(hex=hex_id)), secret
