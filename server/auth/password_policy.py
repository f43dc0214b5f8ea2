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

from collections.abc import Sequence
from dataclasses import dataclass

from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # no stubs are published

from server.errors import InvalidArgument

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
    if len(password) < min_length:
        return f"must be at least {min_length} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if "\x00" in password:
        return "must not contain NUL characters"
    if min_score <= 0:
        return None
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[u for u in user_inputs if u])
    if int(result["score"]) >= min_score:
        return None
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "").rstrip(".")
    suggestions = " ".join(str(s) for s in feedback.get("suggestions") or ())
    why = warning[:1].lower() + warning[1:] if warning else "it would be guessed quickly"
    advice = f" {suggestions}" if suggestions else " Add a few uncommon words."
    return f"is too common or easy to guess ({why}).{advice}"


@dataclass(frozen=True)
class PasswordPolicy:
    """The configured rule (CAMFLEET_PASSWORD_MIN_LENGTH, CAMFLEET_PASSWORD_MIN_SCORE)."""

    min_length: int = 12
    min_score: int = 3

    def check(
        self, password: str, field: str = "password", user_inputs: Sequence[str] = ()
    ) -> None:
        """InvalidArgument naming `field` and saying why, when `password` may not be used."""
        problem = password_problem(password, self.min_length, self.min_score, user_inputs)
        if problem:
            raise InvalidArgument.for_field(field, problem)
