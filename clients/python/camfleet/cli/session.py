"""A connection to one camfleet server with the credentials of a context.

Contract for command modules (through `camfleet.cli.state.session(ctx)`):

    s = state.session(ctx)
    stub = s.stub(camera_pb2_grpc.CameraServiceStub)
    resp = s.call(stub.ListCameras, camera_pb2.ListCamerasRequest(...))   # unary
    for item in s.stream(stub.WatchEvents, request):                      # server streaming
        ...

`call` and `stream` add `authorization: Bearer <token>`. A password session's access token is
refreshed before it expires and again, once, when the server answers UNAUTHENTICATED; the new
pair is saved to the config file under its lock (a refresh token works once, so two processes
must not both spend it). When the refresh itself is refused, the call fails with a "log in
again" sentence (exit code 3). `grpc.RpcError`s propagate to `main()`, which describes them.

Credentials come from, in order: `$CAMFLEET_TOKEN` (an API token; with `--server` no config
file is needed at all), else the context's API token or login tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from camfleet.cli import config as config_file
from camfleet.cli.config import Context
from camfleet.cli.errors import CliError, ExitCode, describe_rpc_error, error_reason

if TYPE_CHECKING:
    from camfleet.v1 import auth_pb2

TOKEN_ENV = "CAMFLEET_TOKEN"
# Refresh this long before the access token expires (clocks differ a little).
REFRESH_AHEAD = timedelta(seconds=30)
# Unary calls give up after this long; streams have no deadline unless the command sets one.
DEFAULT_TIMEOUT_S = 60.0
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.enable_retries", 0),
]

StubT = TypeVar("StubT")


def parse_server(server: str) -> tuple[str, bool]:
    """(gRPC target, use TLS) of a server as a person writes it: `host:port`,
    `grpc://host:port`, `http://host:port`, or `grpcs://` / `https://` for TLS."""
    text = server.strip().rstrip("/")
    tls = False
    for prefix, secure in (("grpcs://", True), ("https://", True), ("grpc://", False)):
        if text.startswith(prefix):
            text, tls = text[len(prefix) :], secure
            break
    else:
        text = text.removeprefix("http://")
    if not text or "/" in text:
        raise CliError(
            f"{server!r} is not a server address; write host:port (e.g. 127.0.0.1:50051).",
            ExitCode.USAGE,
        )
    if ":" not in text.rsplit("]", 1)[-1]:
        text = f"{text}:{443 if tls else 50051}"
    return text, tls


def read_ca(path: str) -> bytes:
    """The PEM certificates in the CA file `path`; a CliError saying what is wrong otherwise."""
    try:
        pem = Path(path).expanduser().read_bytes()
    except OSError as err:
        raise CliError(
            f"Cannot read the CA file {path}: {err.strerror or err}.", ExitCode.USAGE
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise CliError(
            f"{path} holds no PEM certificate; --ca takes the CA's certificate file "
            "(ca.pem: ./start prints where it is).",
            ExitCode.USAGE,
        )
    return pem


def open_channel(server: str, tls: bool = False, ca: str = "") -> grpc.Channel:
    """A channel to `server` (host:port or a URL, see parse_server); over TLS for a grpcs:// or
    https:// server, `tls`, or a CA file `ca` (the server's certificate verified against it
    instead of the system's roots)."""
    target, url_tls = parse_server(server)
    if tls or url_tls or ca:
        roots = read_ca(ca) if ca else None
        credentials = grpc.ssl_channel_credentials(root_certificates=roots)
        return grpc.secure_channel(target, credentials, _CHANNEL_OPTIONS)
    return grpc.insecure_channel(target, _CHANNEL_OPTIONS)


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def store_tokens(context: Context, tokens: auth_pb2.TokenPair) -> None:
    """Put a login's or refresh's token pair into `context`."""
    context.auth = "password"
    context.api_token = ""
    context.access_token = tokens.access_token
    context.refresh_token = tokens.refresh_token
    context.access_token_expire_time = (
        tokens.access_token_expire_time.ToJsonString()
        if tokens.HasField("access_token_expire_time")
        else ""
    )
    context.refresh_token_expire_time = (
        tokens.refresh_token_expire_time.ToJsonString()
        if tokens.HasField("refresh_token_expire_time")
        else ""
    )


class Session:
    """One channel to a context's server, and that context's credentials."""

    def __init__(
        self,
        name: str,
        context: Context,
        *,
        server_override: str | None = None,
        token_override: str | None = None,
        persist: bool = True,
    ) -> None:
        self.name = name
        self.context = context
        self.server = server_override or context.server
        self._token_override = token_override
        # False for a context made up from flags only (nothing to save refreshed tokens to).
        self._persist = persist
        self._channel = open_channel(self.server, context.tls, context.ca)
        self._stubs: dict[type[Any], Any] = {}
        self._refreshed = False

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    def close(self) -> None:
        self._channel.close()

    def stub(self, cls: Callable[[grpc.Channel], StubT]) -> StubT:
        """A (cached) stub of this session's channel."""
        key: Any = cls
        if key not in self._stubs:
            self._stubs[key] = cls(self._channel)
        return self._stubs[key]  # type: ignore[no-any-return]

    # --- credentials -------------------------------------------------------------------------

    def _token(self) -> str:
        if self._token_override:
            return self._token_override
        ctx = self.context
        if ctx.api_token:
            return ctx.api_token
        if not ctx.access_token and not ctx.refresh_token:
            raise self._login_again("you are not logged in")
        expires = _parse_time(ctx.access_token_expire_time)
        # Refreshed ahead of expiry, once per run: a server with access tokens shorter than
        # REFRESH_AHEAD would otherwise get a refresh before every call.
        ahead = timedelta(0) if self._refreshed else REFRESH_AHEAD
        if ctx.refresh_token and (
            not ctx.access_token or (expires is not None and expires - ahead <= datetime.now(UTC))
        ):
            self.refresh()
        return self.context.access_token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata with this session's credential (refreshed first when due)."""
        return (("authorization", f"Bearer {self._token()}"),)

    def _can_refresh(self) -> bool:
        ctx = self.context
        return not self._token_override and not ctx.api_token and bool(ctx.refresh_token)

    def _login_again(self, why: str) -> CliError:
        flags = "" if self.name == config_file.DEFAULT_CONTEXT else f" --context {self.name}"
        return CliError(
            f"{why[0].upper()}{why[1:]}; log in again: camfleet login{flags}",
            ExitCode.UNAUTHENTICATED,
        )

    def refresh(self) -> None:
        """Exchange the refresh token for a new pair and save it (under the config's lock; when
        another process refreshed meanwhile, its pair is used instead)."""
        from camfleet.v1 import auth_pb2, auth_pb2_grpc  # a refresh is rare: imported for it

        spent = self.context.refresh_token
        with config_file.locked():
            stored = config_file.load() if self._persist else None
            current = stored.contexts.get(self.name) if stored else None
            if current is not None and current.refresh_token and current.refresh_token != spent:
                self.context, self._refreshed = current, True
                return
            stub = self.stub(auth_pb2_grpc.AuthServiceStub)
            try:
                resp = stub.Refresh(
                    auth_pb2.RefreshRequest(refresh_token=spent), timeout=DEFAULT_TIMEOUT_S
                )
            except grpc.RpcError as err:
                if err.code() in (
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.PERMISSION_DENIED,
                ):
                    reason = error_reason(err)
                    why = "your session has ended" + (
                        f" ({reason.lower().replace('_', ' ')})" if reason else ""
                    )
                    raise self._login_again(why) from None
                raise describe_rpc_error(err, self.server) from None
            store_tokens(self.context, resp.tokens)
            self._refreshed = True
            if stored is not None:
                stored.contexts[self.name] = self.context
                config_file.save(stored)

    # --- calls -------------------------------------------------------------------------------

    def call(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None
    ) -> Any:
        """A unary call with credentials; refreshed and retried once on UNAUTHENTICATED."""
        deadline = DEFAULT_TIMEOUT_S if timeout is None else timeout
        try:
            return method(request, metadata=self.metadata(), timeout=deadline)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAUTHENTICATED or not self._can_refresh():
                raise
        self.refresh()
        return method(request, metadata=self.metadata(), timeout=deadline)

    def stream(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None
    ) -> Iterator[Any]:
        """A server-streaming call with credentials; refreshed and restarted once when the
        server refuses the credential before the first message."""
        received = False
        try:
            for item in method(request, metadata=self.metadata(), timeout=timeout):
                received = True
                yield item
            return
        except grpc.RpcError as err:
            if received or err.code() != grpc.StatusCode.UNAUTHENTICATED or not self._can_refresh():
                raise
        self.refresh()
        yield from method(request, metadata=self.metadata(), timeout=timeout)
