"""Typed domain errors. Domain code raises these; `server.transport.status` maps them to gRPC.

Each error names what the caller must fix. Field-level problems travel as `FieldViolation`s and
reach clients as a `google.rpc.BadRequest`; every error also carries an ErrorInfo reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: `field` is the request path (e.g. "camera.name"), `description` the fix."""

    field: str
    description: str


@dataclass
class DomainError(Exception):
    """Base of all errors that are the caller's to fix (never a server bug)."""

    message: str
    reason: str = "ERROR_REASON_UNSPECIFIED"
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass
class InvalidArgument(DomainError):
    """The request itself is wrong; `violations` lists the fields to fix."""

    violations: list[FieldViolation] = field(default_factory=list)
    reason: str = "ERROR_REASON_INVALID_ARGUMENT"

    @classmethod
    def for_field(cls, field_name: str, description: str) -> InvalidArgument:
        """One-field shortcut: the message is the field's description, prefixed by its name."""
        return cls(
            f"{field_name}: {description}", violations=[FieldViolation(field_name, description)]
        )


@dataclass
class NotFound(DomainError):
    """The named resource does not exist (or the caller may not know it exists)."""

    reason: str = "ERROR_REASON_NOT_FOUND"


@dataclass
class AlreadyExists(DomainError):
    """A unique field (name, username) is taken."""

    reason: str = "ERROR_REASON_ALREADY_EXISTS"


@dataclass
class FailedPrecondition(DomainError):
    """The request is well formed but the system is not in a state to do it."""

    reason: str = "ERROR_REASON_FAILED_PRECONDITION"


@dataclass
class Aborted(DomainError):
    """A concurrent change won (a stale version): read again, reapply, retry."""

    reason: str = "ERROR_REASON_ABORTED"


@dataclass
class Unauthenticated(DomainError):
    """No valid credential: missing, expired, forged or revoked."""

    reason: str = "ERROR_REASON_TOKEN_INVALID"


@dataclass
class PermissionDenied(DomainError):
    """Authenticated, but not allowed to do this."""

    reason: str = "ERROR_REASON_PERMISSION_DENIED"


@dataclass
class ResourceExhausted(DomainError):
    """Rate limited; `retry_after_seconds` tells when trying again can succeed."""

    retry_after_seconds: float = 1.0
    reason: str = "ERROR_REASON_RATE_LIMITED"


@dataclass
class Unavailable(DomainError):
    """Try again shortly (the peer should reconnect or retry); not the caller's fault."""

    reason: str = "ERROR_REASON_UNAVAILABLE"
