"""The one place failures become what a person sees: one sentence, the field violations, and a
stable exit code.

Contract for command modules: raise `CliError(sentence, ExitCode.X)` for a mistake found on this
side (bad flag value, declined confirmation, missing login); let `grpc.RpcError` propagate —
`main()` turns it into a sentence with `describe_rpc_error` here. Never print tracebacks.

Exit codes (stable; scripts may branch on them; also listed in `camfleet --help`):

    0    success
    1    any other error (local configuration, a declined confirmation, a server bug)
    2    usage: a bad command, option or value on the command line
    3    unauthenticated: not logged in, or the session ended (log in again)
    4    permission denied
    5    not found
    6    invalid argument (the server refused a value; field violations follow)
    7    unavailable: the server is down or unreachable, or did not answer in time
    8    conflict: already exists, aborted, or the current state does not allow it
    9    rate limited or out of a resource; retry later
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# Every command module imports this one (for CliError), so `camfleet --help` does too: grpc and
# the google.rpc messages, the CLI's largest imports, are imported by the functions below that
# read a failed call, which run only once a call failed (and grpc is loaded anyway).
if TYPE_CHECKING:
    import grpc
    from google.rpc import status_pb2


class ExitCode(enum.IntEnum):
    """Stable exit codes of `camfleet` (see the module docstring)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    UNAUTHENTICATED = 3
    PERMISSION_DENIED = 4
    NOT_FOUND = 5
    INVALID_ARGUMENT = 6
    UNAVAILABLE = 7
    CONFLICT = 8
    RATE_LIMITED = 9
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 error, 2 usage, 3 not logged in or session ended, "
    "4 permission denied, 5 not found, 6 invalid argument, 7 server unavailable, "
    "8 conflict, 9 rate limited, 130 interrupted."
)

# By the name of the grpc.StatusCode (grpc is not imported here, see above).
_EXIT_BY_STATUS: dict[str, ExitCode] = {
    "INVALID_ARGUMENT": ExitCode.INVALID_ARGUMENT,
    "OUT_OF_RANGE": ExitCode.INVALID_ARGUMENT,
    "NOT_FOUND": ExitCode.NOT_FOUND,
    "ALREADY_EXISTS": ExitCode.CONFLICT,
    "ABORTED": ExitCode.CONFLICT,
    "FAILED_PRECONDITION": ExitCode.CONFLICT,
    "UNAUTHENTICATED": ExitCode.UNAUTHENTICATED,
    "PERMISSION_DENIED": ExitCode.PERMISSION_DENIED,
    "UNAVAILABLE": ExitCode.UNAVAILABLE,
    "DEADLINE_EXCEEDED": ExitCode.UNAVAILABLE,
    "RESOURCE_EXHAUSTED": ExitCode.RATE_LIMITED,
    "CANCELLED": ExitCode.INTERRUPTED,
}

# What the gRPC library (not the server) says when it could not reach the server at all.
_TRANSPORT_MARKERS = (
    "failed to connect",
    "connection refused",
    "dns resolution failed",
    "name resolution",
    "socket closed",
    "connection reset",
    "no route to host",
    "network is unreachable",
    "handshake",
)


@dataclass
class CliError(Exception):
    """A failure to show as one sentence (plus optional detail lines) and an exit code."""

    message: str
    code: ExitCode = ExitCode.ERROR
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def sentence(text: str) -> str:
    """`text` ending in a full stop. The server's messages start in lower case on purpose (a
    field path, a username): they follow "Error: " as they are."""
    text = text.strip()
    if not text:
        return text
    return text if text[-1] in ".!?" else text + "."


def _status_of(err: grpc.RpcError) -> status_pb2.Status | None:
    from grpc_status import rpc_status

    try:
        return rpc_status.from_call(err)  # type: ignore[arg-type]
    except (ValueError, AttributeError):
        return None


def field_violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    """(field, description) of every google.rpc.BadRequest violation the server attached."""
    from google.rpc import error_details_pb2

    status = _status_of(err)
    if status is None:
        return []
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend((v.field, v.description) for v in bad.field_violations)
    return found


def error_reason(err: grpc.RpcError) -> str:
    """The google.rpc.ErrorInfo reason ("TOKEN_EXPIRED", ...) or ""."""
    from google.rpc import error_details_pb2

    status = _status_of(err)
    if status is None:
        return ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


def retry_after_seconds(err: grpc.RpcError) -> float | None:
    """The google.rpc.RetryInfo delay, when the server sent one."""
    from google.rpc import error_details_pb2

    status = _status_of(err)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToMilliseconds()) / 1000.0
    return None


def is_unreachable(err: grpc.RpcError) -> bool:
    """True when the call never reached a server (down, wrong address, not gRPC)."""
    import grpc

    code = err.code() if hasattr(err, "code") else None
    if code != grpc.StatusCode.UNAVAILABLE:
        return False
    text = f"{getattr(err, 'details', lambda: '')() or ''}".lower()
    return any(marker in text for marker in _TRANSPORT_MARKERS) or not text


def tls_failure(err: grpc.RpcError, server: str = "") -> CliError | None:
    """The sentence for a connection that failed in its TLS handshake (grpc says only
    UNAVAILABLE, with OpenSSL's words in the details), or None when it did not."""
    import grpc

    if (err.code() if hasattr(err, "code") else None) != grpc.StatusCode.UNAVAILABLE:
        return None
    text = f"{getattr(err, 'details', lambda: '')() or ''}"
    lowered = text.lower()
    where = f" at {server}" if server else ""
    if "certificate_verify_failed" in lowered:
        reason = lowered.split("certificate_verify_failed", 1)[1].strip(" :").split(":")[0]
        why = f" ({reason.strip()})" if reason.strip() else ""
        return CliError(
            f"The camfleet server{where} presented a TLS certificate this client does not "
            f"trust{why}: pass --ca with the CA certificate that signed it (./start's "
            "DATA_DIR/tls/ca.pem), or log in again with camfleet login --ca.",
            ExitCode.UNAVAILABLE,
        )
    if "peer name" in lowered and "not in peer certificate" in lowered:
        return CliError(
            f"The camfleet server{where} presented a TLS certificate for other names: "
            "use the name or address the certificate was made for in --server.",
            ExitCode.UNAVAILABLE,
        )
    if "wrong_version_number" in lowered or "handshake failed" in lowered:
        return CliError(
            f"The TLS handshake with the camfleet server{where} failed ({text.strip()}); if "
            "the server speaks plain text (./start --plaintext), drop https:// and --ca.",
            ExitCode.UNAVAILABLE,
        )
    return None


def describe_rpc_error(err: grpc.RpcError, server: str = "") -> CliError:
    """The sentence, detail lines and exit code for a failed call."""
    import grpc

    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = (err.details() if hasattr(err, "details") else "") or ""
    where = f" at {server}" if server else ""
    if (tls := tls_failure(err, server)) is not None:
        return tls
    if is_unreachable(err):
        return CliError(
            f"The camfleet server{where} is not reachable: check that it is running and that "
            "--server (or the context's server) is its gRPC address (a server on TLS, as "
            "./start's Envoy is, needs https:// or --ca).",
            ExitCode.UNAVAILABLE,
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(
            f"The camfleet server{where} did not answer in time; retry, or check its load.",
            ExitCode.UNAVAILABLE,
        )
    if code == grpc.StatusCode.CANCELLED:
        return CliError("Interrupted.", ExitCode.INTERRUPTED)
    details = [f"{name}: {why}" if name else why for name, why in field_violations(err)]
    if len(details) == 1 and details[0].rstrip(".") == message.strip().rstrip("."):
        details = []  # the message is the one violation
    delay = retry_after_seconds(err)
    if delay is not None:
        details.append(f"retry in {delay:.0f} s")
    exit_code = _EXIT_BY_STATUS.get(code.name, ExitCode.ERROR)
    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL) or not message:
        message = f"the server failed ({code.name}): {message or 'no message'}"
    return CliError(sentence(message), exit_code, details)
