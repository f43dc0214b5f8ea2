"""The one place domain errors become gRPC statuses, with google.rpc details attached.

Clients get a human message plus machine-readable details in `grpc-status-details-bin`:
ErrorInfo (reason, domain), BadRequest field violations, RetryInfo for rate limits.
"""

from __future__ import annotations

import sys

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from server import errors

ERROR_DOMAIN = "camfleet.io"

_CODES: dict[type[errors.DomainError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Aborted: code_pb2.ABORTED,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_rpc_status(err: errors.DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error."""
    code = _CODES.get(type(err), code_pb2.FAILED_PRECONDITION)
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=err.reason.removeprefix("ERROR_REASON_"),
                domain=ERROR_DOMAIN,
                metadata=dict(err.metadata),
            )
        )
    ]
    if isinstance(err, errors.InvalidArgument) and err.violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in err.violations
                    ]
                )
            )
        )
    if isinstance(err, errors.ResourceExhausted):
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(max(1, int(err.retry_after_seconds * 1000)))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=code, message=err.message, details=details)


def to_grpc_status(err: errors.DomainError) -> grpc.Status:
    """Status ready for `context.abort`, details in the trailer."""
    return rpc_status.to_status(to_rpc_status(err))


def unavailable_message(exc: BaseException) -> str | None:
    """The sentence for a store that did not answer (UNAVAILABLE: retry, not the caller's
    fault and not a bug), or None when `exc` is something else."""
    # redis-py is imported only with Redis configured (it costs ~0.1 s of CPU at start); when
    # it is not, no Redis error can reach here.
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is not None and isinstance(
        exc, redis_errors.ConnectionError | redis_errors.TimeoutError
    ):
        return "Redis is unavailable; retry shortly"
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return "the database is unavailable; retry shortly"
    # Drivers let some failures to connect through unwrapped (asyncpg: ConnectionRefusedError
    # or TimeoutError while dialling).
    if isinstance(exc, ConnectionError | TimeoutError):
        return "the database or Redis is unavailable; retry shortly"
    return None
