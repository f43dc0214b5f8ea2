"""Password hashing with argon2id, off the event loop (hashing takes ~50 ms of CPU)."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.identity.password_policy import MAX_PASSWORD_LENGTH

__all__ = ["MAX_PASSWORD_LENGTH", "hash_password", "verify_password"]

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong username costs the same time
    as a wrong password and does not reveal which usernames exist. Made on the first login
    rather than at import, which every start (and every command) would pay."""
    return _hasher.hash("camfleet-dummy-password")


async def hash_password(password: str) -> str:
    """argon2id hash of `password`, computed in a worker thread."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash (unknown user) it burns equal time, then False."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored_hash, password)
