"""Checks shared by every domain: ids, free text, field masks. Each raises InvalidArgument."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Collection, Iterable

from server.errors import InvalidArgument

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_id(value: str) -> bool:
    """True for a well-formed resource id (a lower-case UUID)."""
    return bool(_UUID_RE.fullmatch(value))


def require_id(value: str, field: str = "id") -> str:
    """A resource id: a lower-case UUID. Anything else is the caller's mistake."""
    if not value:
        raise InvalidArgument.for_field(field, "is required")
    if not _UUID_RE.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise InvalidArgument.for_field(
            field, f"must be a UUID like {uuid.UUID(int=0)}, got {shown!r}"
        )
    return value


def _bad_char(value: str, multiline: bool) -> str | None:
    for ch in value:
        if multiline and ch in "\n\t":
            continue
        # Cc: control characters (NUL breaks PostgreSQL text); Cs: lone surrogates;
        # Zl/Zp and bidi overrides can make names render differently from what is stored.
        if (
            unicodedata.category(ch) in {"Cc", "Cs", "Zl", "Zp"}
            or ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        ):
            return f"U+{ord(ch):04X}"
    return None


def clean_text(
    value: str,
    field: str,
    *,
    max_len: int,
    required: bool = False,
    multiline: bool = False,
) -> str:
    """Trimmed `value`, or InvalidArgument when empty (if required), too long, or with control
    characters."""
    text = value.strip()
    if required and not text:
        raise InvalidArgument.for_field(field, "must not be empty")
    if len(text) > max_len:
        raise InvalidArgument.for_field(
            field, f"must be at most {max_len} characters, got {len(text)}"
        )
    bad = _bad_char(text, multiline)
    if bad:
        raise InvalidArgument.for_field(field, f"must not contain control characters ({bad})")
    return text


def resolve_update_mask(
    paths: Iterable[str], allowed: Collection[str], field: str = "update_mask"
) -> set[str]:
    """The set of fields to change. Empty is refused (say which fields); "*" means all allowed."""
    given = [p.strip() for p in paths]
    if not given:
        raise InvalidArgument.for_field(
            field, f"is required: name the fields to change ({', '.join(sorted(allowed))}) or '*'"
        )
    if given == ["*"]:
        return set(allowed)
    unknown = [p for p in given if p not in allowed]
    if unknown:
        shown = ", ".join(repr(p[:64]) for p in unknown[:5])
        raise InvalidArgument.for_field(
            field, f"cannot update {shown}; updatable fields: {', '.join(sorted(allowed))}"
        )
    return set(given)
