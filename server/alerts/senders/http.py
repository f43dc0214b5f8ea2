"""The HTTP part every HTTP-speaking sender shares (webhook, Twilio-compatible and Kannel SMS):
one request with a timeout over the whole exchange, redirects not followed, no proxy from the
environment, and at most `max_bytes` of the answer read (a receiver answering 10 MB costs
64 KiB, the rest is never read: the connection is dropped). `outcome()` turns the answer into
a SendResult by the house's rule: 2xx ok; 408, 429, 5xx, timeouts and connection errors are
worth retrying; any other status is permanent. `url_problem()` is the check channels_store
applies to every URL a channel holds (http/https only, a host, no credentials)."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from server.alerts.senders import SendResult

if TYPE_CHECKING:
    import aiohttp

MAX_BYTES = 64 * 1024
# How much of an answer a SendResult (and so the delivery log) keeps.
RESPONSE_START = 1024
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class HttpAnswer:
    """What one request got: the status (0: no answer) and the start of the body (at most
    max_bytes; `truncated` when there was more), or `error` as a sentence when no answer came."""

    status: int = 0
    body: bytes = b""
    truncated: bool = False
    error: str = ""
    timed_out: bool = False
    # The URL itself is not one to send to (no request was made): retrying cannot help.
    bad_url: bool = False

    @property
    def text(self) -> str:
        """The start of the body as text (at most RESPONSE_START characters)."""
        return self.body[:RESPONSE_START].decode("utf-8", errors="replace")


def url_problem(url: str) -> str:
    """Why `url` cannot be a channel's URL, as a sentence ("" when it can)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError for a port out of range
    except ValueError as error:
        return f"the URL {url!r} is not valid ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"the URL must start with http:// or https:// (got {parts.scheme or 'none'!r})"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return (
            "the URL must not hold credentials (user:password@); put the secret in the secret field"
        )
    if any(c in url for c in "\r\n\t ") or any(ord(c) < 32 for c in url):
        return "the URL must not contain spaces or control characters"
    return ""


async def request(
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    data: bytes | Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    session: aiohttp.ClientSession | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> HttpAnswer:
    """Send one request and read at most `max_bytes` of the answer, all within `timeout_s`.
    https is verified with `tls_context` (None: the system's certificate authorities).
    Never raises for a network failure: the answer's `error` says what happened."""
    # Imported at the first send: aiohttp's client costs ~0.2 s of CPU at every start of a
    # control plane that may never send a notification.
    import aiohttp

    problem = url_problem(url)
    if problem:
        return HttpAnswer(error=problem, bad_url=True)
    try:
        async with asyncio.timeout(timeout_s):
            if session is not None:
                return await _exchange(
                    session,
                    method,
                    url=url,
                    headers=headers,
                    data=data,
                    params=params,
                    auth=auth,
                    max_bytes=max_bytes,
                    tls=tls_context,
                )
            async with aiohttp.ClientSession(
                trust_env=False, timeout=aiohttp.ClientTimeout(total=None)
            ) as own:
                return await _exchange(
                    own,
                    method,
                    url=url,
                    headers=headers,
                    data=data,
                    params=params,
                    auth=auth,
                    max_bytes=max_bytes,
                    tls=tls_context,
                )
    except TimeoutError:
        return HttpAnswer(error=f"no answer within {timeout_s:g} s", timed_out=True)
    except aiohttp.ClientConnectorError as error:
        return HttpAnswer(error=f"could not connect to {_where(url)}: {_reason(error)}")
    except aiohttp.ClientError as error:
        return HttpAnswer(error=f"the request to {_where(url)} failed: {_reason(error)}")
    except OSError as error:
        return HttpAnswer(error=f"the request to {_where(url)} failed: {_reason(error)}")


async def post(url: str, *, timeout_s: float, **kwargs: Any) -> HttpAnswer:
    return await request("POST", url, timeout_s=timeout_s, **kwargs)


async def get(url: str, *, timeout_s: float, **kwargs: Any) -> HttpAnswer:
    return await request("GET", url, timeout_s=timeout_s, **kwargs)


async def _exchange(
    session: aiohttp.ClientSession,
    method: str,
    *,
    url: str,
    headers: Mapping[str, str] | None,
    data: bytes | Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    auth: tuple[str, str] | None,
    max_bytes: int,
    tls: ssl.SSLContext | None,
) -> HttpAnswer:
    sent = dict(headers or {})
    if auth is not None:  # RFC 7617 in UTF-8 (aiohttp deprecates its BasicAuth and auth=)
        sent["Authorization"] = (
            "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        )
    async with session.request(
        method,
        url,
        headers=sent,
        data=data,
        params=dict(params) if params is not None else None,
        allow_redirects=False,
        ssl=tls if tls is not None else True,
    ) as response:
        body = bytearray()
        truncated = False
        while len(body) < max_bytes:
            chunk = await response.content.read(max_bytes - len(body))
            if not chunk:
                break
            body += chunk
        if len(body) >= max_bytes and not response.content.at_eof():
            truncated = True
            # Drop the connection rather than read (or pool) the rest.
            response.close()
        return HttpAnswer(status=response.status, body=bytes(body), truncated=truncated)


def outcome(answer: HttpAnswer, what: str = "the receiver") -> SendResult:
    """The SendResult for an answer: 2xx ok; 408/429/5xx/no answer: retry; other: permanent."""
    if not answer.status:
        error = answer.error or f"{what} did not answer"
        return SendResult(ok=False, error=error, permanent=answer.bad_url)
    status = answer.status
    if 200 <= status < 300:
        return SendResult(ok=True, response_code=status, response=answer.text)
    if 300 <= status < 400:
        error = f"{what} answered {status} (a redirect, which is not followed: use the final URL)"
        return SendResult(False, status, answer.text, error, permanent=True)
    retry = status in RETRY_STATUSES or status >= 500
    error = f"{what} answered {status}" + ("" if retry else " (not retried)")
    return SendResult(False, status, answer.text, error, permanent=not retry)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text or type(error).__name__
