"""What a new password must be: long enough, and not common or guessable.

NIST SP 800-63B §5.1.1.2 asks verifiers to refuse passwords found in lists of common and breached
passwords, dictionary words and repetitive or sequential characters, rather than impose
composition rules; zxcvbn does that, estimating how many guesses a password takes from its
frequency lists (common passwords, English words, names) and patterns (sequences, repeats,
keyboard walks, dates, l33t). Its score runs 0-4; the default floor, 3, means at least 10^8
guesses: out of reach online (login limits) and some protection should the hashes leak. The
minimum length defaults to 12 (OWASP ASVS 2.1.1; NIST's 8 assumes a blocklist, which this is).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # no stubs are published

from server.errors import InvalidArgument

log = logging.getLogger(__name__)

MAX_PASSWORD_LENGTH = 1024
# zxcvbn refuses longer input (its matching is superlinear): judge the first 72 characters. A
# password whose first 72 are strong is at least as strong as a whole.
_ZXCVBN_MAX = 72


def password_problem(
    password: str, min_length: int, min_score: int, user_inputs: Sequence[str] = ()
) -> str | None:
    """Why `password` may not be used, as the end of a sentence ("must be …", "is too
    common: …"), or None when it is acceptable. `user_inputs` (the username, …) count as
    known to an attacker."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if "\x00" in password:
        return "must not contain NUL characters"
    weak = _weakness(password, min_score, user_inputs)
    if len(password) < min_length:
        # Both reasons when both hold: "password" is short, but mostly it is everyone's.
        return f"must be at least {min_length} characters" + (f", and {weak}" if weak else "")
    return weak


def _weakness(password: str, min_score: int, user_inputs: Sequence[str]) -> str | None:
    """zxcvbn's reason `password` is guessable, or None when it scores `min_score` or more."""
    if min_score <= 0 or not password:
        return None
    try:
        result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[u for u in user_inputs if u])
    except Exception:  # a bug in the estimator must not pass a password unjudged, nor crash
        log.exception("zxcvbn failed on a password of %d characters", len(password))
        return "could not be judged for strength; choose another"
    if int(result["score"]) >= min_score:
        return None
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "").rstrip(".")
    suggestions = " ".join(str(s) for s in feedback.get("suggestions") or ())
    why = warning[:1].lower() + warning[1:] if warning else "it would be guessed quickly"
    advice = f" {suggestions}" if suggestions else " Add a few uncommon words."
    return f"is too common or easy to guess ({why}).{advice}"


class PasswordCheck(Protocol):
    """What judges new passwords: a fixed PasswordPolicy, or the one in the settings now
    (server/settings/security.py)."""

    async def check(
        self, password: str, field: str = "password", user_inputs: Sequence[str] = ()
    ) -> None: ...


@dataclass(frozen=True)
class PasswordPolicy:
    """The configured rule (CAMFLEET_PASSWORD_MIN_LENGTH, CAMFLEET_PASSWORD_MIN_SCORE)."""

    min_length: int = 12
    min_score: int = 3

    async def check(
        self, password: str, field: str = "password", user_inputs: Sequence[str] = ()
    ) -> None:
        """InvalidArgument naming `field` and saying why, when `password` may not be used.
        Judged in a worker thread: zxcvbn takes up to ~0.2 s of CPU on a long password."""
        problem = await asyncio.to_thread(
            password_problem, password, self.min_length, self.min_score, user_inputs
        )
        if problem:
            raise InvalidArgument.for_field(field, problem)
