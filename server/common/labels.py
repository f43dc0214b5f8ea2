"""Label syntax shared by node labels and cameras' node selectors.

A selector matches a node when the node's labels hold every pair of the selector, so both sides
must be spelled alike: keys 1 to 63 of [a-z0-9_.-], values up to 63 of [A-Za-z0-9_.-] (empty
allowed). Kept narrower than free text on purpose: these strings end up in placement reasons
("no READY node matches site=north"), filters and the UI, where a space, '=' or ',' would make
the sentence ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from server.errors import InvalidArgument

LABEL_KEY_RE = re.compile(r"[a-z0-9_.-]{1,63}")
LABEL_VALUE_RE = re.compile(r"[A-Za-z0-9_.-]{0,63}")
KEY_RULE = "keys are 1–63 characters of a-z, 0-9, '_', '.', '-'"  # noqa: RUF001
VALUE_RULE = "values are up to 63 characters of A-Z, a-z, 0-9, '_', '.', '-'"


def _shown(text: str) -> str:
    """`text` quoted for an error message, cut short (a 10 kB key must not make a 10 kB error)."""
    return repr(text if len(text) <= 64 else text[:64] + "…")


def check_label_map(labels: Mapping[str, str], field: str, *, max_pairs: int) -> dict[str, str]:
    """`labels` as stored (a plain dict), or InvalidArgument naming the bad key under `field`."""
    if len(labels) > max_pairs:
        raise InvalidArgument.for_field(field, f"at most {max_pairs} pairs, got {len(labels)}")
    out: dict[str, str] = {}
    for key in sorted(labels):
        value = labels[key]
        if not LABEL_KEY_RE.fullmatch(key):
            raise InvalidArgument.for_field(
                f"{field}[{_shown(key)}]", f"{KEY_RULE}; got {_shown(key)}"
            )
        if not LABEL_VALUE_RE.fullmatch(value):
            raise InvalidArgument.for_field(
                f"{field}[{_shown(key)}]", f"{VALUE_RULE}; got {_shown(value)}"
            )
        out[key] = value
    return out


def describe_labels(labels: Mapping[str, str]) -> str:
    """ "a=1,b=2" (sorted): how reasons and audit details spell a selector or a node's labels."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
