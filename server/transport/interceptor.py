"""The one server interceptor: decode safely, authenticate, authorize, map errors.

Every RPC passes through here:
1. a request that does not decode becomes INVALID_ARGUMENT (grpc's default would be INTERNAL);
2. the method's rule from the permission table is enforced (no rule → refused: fail closed);
3. refusals are written to the audit log as security events;
4. domain errors become their status codes with google.rpc details; anything unexpected is
   logged with a reference and answered INTERNAL without internals; a database that is down is
   UNAVAILABLE (retryable), not the caller's fault.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

import grpc

from server.audit.log import AuditLog
from server.auth.authenticator import Authenticator
from server.auth.permissions import Access, Rule, rule_for
from server.config import Settings
from server.errors import DomainError, InvalidArgument, PermissionDenied, Unauthenticated
from server.identity.principal import CallInfo, current_call, set_current_call
from server.transport.agent_tls import NodeCertificates
from server.transport.peer import client_address, trusted_proxies
from server.transport.status import to_grpc_status, unavailable_message
from server.transport.stream_limits import StreamLimits, bounded_public_stream

log = logging.getLogger(__name__)


class _Malformed:
    """Stands in for a request whose bytes did not decode."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _safe_deserializer(
    deserialize: Callable[[bytes], Any] | None, type_name: str
) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        if deserialize is None:
            return data
        try:
            return deserialize(data)
        except Exception:  # any decode failure is the sender's, whatever protobuf raises
            return _Malformed(type_name)

    return decode


_WANTED = frozenset({"authorization", "x-forwarded-for", "user-agent"})


def _metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    """The few metadata values the guard reads, in one pass: the first value of each, except
    x-forwarded-for, whose repeated values are one list in order (the proxy's entry is last)."""
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if key in _WANTED and isinstance(value, str):
            if key not in found:
                found[key] = value
            elif key == "x-forwarded-for":  # repeated: one list, in order (its last entry counts)
                found[key] += "," + value
    return found


if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # not subscriptable at run time
    _Interceptor = grpc.aio.ServerInterceptor


class GuardInterceptor(_Interceptor):
    """Authentication, authorization, audit of refusals and error mapping for every call."""

    def __init__(self, authenticator: Authenticator, audit: AuditLog, settings: Settings) -> None:
        self._auth = authenticator
        self._audit = audit
        self._proxies = trusted_proxies(settings)
        # Only with a listener that takes node certificates is there one to check.
        self._node_certs = (
            NodeCertificates(settings.require_node_certs) if settings.agent_mtls_listen else None
        )
        self._streams = StreamLimits(
            settings.max_public_streams_per_address, settings.max_streams_per_principal
        )
        # Wrapped handlers by method: building the closures per call cost more than using them.
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # unknown method: grpc answers UNIMPLEMENTED
        rule = rule_for(method)
        if rule is not None and rule.access is Access.PUBLIC and method.startswith("/grpc."):
            # Health and reflection: nothing to guard or map; their streams bounded per address.
            if not (handler.unary_stream or handler.stream_stream):
                return handler
            public: grpc.RpcMethodHandler[Any, Any] = bounded_public_stream(
                handler, self._streams, lambda context: self._call(method, context)
            )
            self._wrapped[method] = public
            return public
        built: grpc.RpcMethodHandler[Any, Any] = self._wrap(handler, method, rule)
        self._wrapped[method] = built
        return built

    def _wrap(self, handler: Any, method: str, rule: Rule | None) -> Any:
        type_name = method.rsplit("/", 1)[-1] + "Request"
        decode = _safe_deserializer(handler.request_deserializer, type_name)
        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: Any) -> Any:
                try:
                    token = await self._begin(method, rule, request, context)
                    try:
                        return await inner_uu(request, context)
                    finally:
                        token.var.reset(token)
                except Exception as exc:
                    await self._fail(context, method, exc)

            return handler._replace(unary_unary=unary_unary, request_deserializer=decode)
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                try:
                    token = await self._begin(method, rule, request, context)
                    try:
                        with self._streams.slot(current_call()):
                            async for item in inner_us(request, context):
                                yield item
                    finally:
                        token.var.reset(token)
                except Exception as exc:
                    await self._fail(context, method, exc)

            return handler._replace(unary_stream=unary_stream, request_deserializer=decode)
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: AsyncIterator[Any], context: Any) -> Any:
                try:
                    token = await self._begin(method, rule, None, context)
                    try:
                        return await inner_su(_checked(requests), context)
                    finally:
                        token.var.reset(token)
                except Exception as exc:
                    await self._fail(context, method, exc)

            return handler._replace(stream_unary=stream_unary, request_deserializer=decode)
        inner_ss = handler.stream_stream

        async def stream_stream(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
            try:
                token = await self._begin(method, rule, None, context)
                try:
                    with self._streams.slot(current_call()):
                        async for item in inner_ss(_checked(requests), context):
                            yield item
                finally:
                    token.var.reset(token)
            except Exception as exc:
                await self._fail(context, method, exc)

        return handler._replace(stream_stream=stream_stream, request_deserializer=decode)

    def _call(self, method: str, context: Any, metadata: dict[str, str] | None = None) -> CallInfo:
        """Who calls, before authentication: the method, client address and user agent."""
        metadata = _metadata(context) if metadata is None else metadata
        return CallInfo(
            method=method,
            source_address=client_address(
                context.peer() or "", metadata.get("x-forwarded-for"), self._proxies
            ),
            user_agent=metadata.get("user-agent", "")[:200],
        )

    async def _begin(self, method: str, rule: Rule | None, request: Any, context: Any) -> Any:
        metadata = _metadata(context)
        call = self._call(method, context, metadata)
        token = set_current_call(call)
        if rule is None:
            await self._refuse(
                PermissionDenied(f"{method} is not open to any caller"), "authz.denied"
            )
        if isinstance(request, _Malformed):
            raise InvalidArgument(
                f"the request could not be decoded as camfleet.v1.{request.type_name}; "
                "check the message type and that strings are valid UTF-8"
            )
        assert rule is not None
        if rule.access is Access.PUBLIC:
            return token
        try:
            principal = await self._auth.authenticate(
                metadata.get("authorization", ""), call.source_address
            )
        except (Unauthenticated, PermissionDenied) as err:
            await self._refuse(err, "authn.failed")
        # Node credentials open the agent API and nothing else; user credentials never open it.
        if (rule.access is Access.NODE) != bool(principal.node_id):
            set_current_call(replace(call, principal=principal))
            await self._refuse(
                PermissionDenied(
                    f"{method.rsplit('/', 1)[-1]} is for node agents, with their node credential"
                    if rule.access is Access.NODE
                    else f"a node credential may not call {method.rsplit('/', 1)[-1]}"
                ),
                "authz.denied",
            )
        if principal.node_id and self._node_certs is not None:
            try:
                self._node_certs.check(context, principal.node_id)
            except (Unauthenticated, PermissionDenied) as err:
                set_current_call(replace(call, principal=principal))
                await self._refuse(err, "authn.failed")
        if rule.permission is not None and not principal.can(rule.permission):
            set_current_call(replace(call, principal=principal))
            await self._refuse(
                PermissionDenied(
                    f"{principal.username} ({principal.role.value}"
                    f"{', API token' if principal.api_token_id else ''}) may not call "
                    f"{method.rsplit('/', 1)[-1]}: it needs the {rule.permission.value} permission"
                ),
                "authz.denied",
            )
        set_current_call(replace(call, principal=principal))
        return token

    async def _refuse(self, err: DomainError, action: str) -> NoReturn:
        await self._audit.security_event(action, outcome="denied", details={"reason": err.message})
        raise err

    async def _fail(self, context: Any, method: str, exc: Exception) -> NoReturn:
        if isinstance(exc, DomainError):
            status = to_grpc_status(exc)
            await context.abort(status.code, status.details, status.trailing_metadata)
        unavailable = unavailable_message(exc)
        if unavailable is not None:
            log.warning("%s during %s: %s", unavailable, method, exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, unavailable)
        if isinstance(exc, grpc.aio.AbortError) or context.code() is not None:
            raise exc  # the handler already chose a status
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error in %s (ref %s)", method, ref)
        await context.abort(
            grpc.StatusCode.INTERNAL, f"internal error (ref {ref}); the server log has details"
        )
        raise RuntimeError("context.abort returned")  # it raises; this tells the type checker


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Client-streamed messages, with an undecodable one turned into INVALID_ARGUMENT."""
    async for message in requests:
        if isinstance(message, _Malformed):
            raise InvalidArgument(f"a streamed message could not be decoded as {message.type_name}")
        yield message
