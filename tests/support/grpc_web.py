"""One grpc-web call as a browser makes it (POST, 5-byte framing, trailers in the body)."""

from __future__ import annotations

import ssl
import struct
import urllib.request
from pathlib import Path


def grpc_web_call(
    port: int, method: str, message: bytes, headers: dict[str, str], *, ca: Path | None = None
) -> tuple[int, dict[str, str], list[bytes], dict[str, str]]:
    """POST one grpc-web request; returns HTTP status, headers, data frames and trailers.
    With `ca`, over HTTPS verifying the server against that CA."""
    body = struct.pack(">BI", 0, len(message)) + message
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    request = urllib.request.Request(
        f"{'https' if ca else 'http'}://127.0.0.1:{port}{method}",
        data=body,
        method="POST",
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as resp:
        raw, status, resp_headers = resp.read(), resp.status, dict(resp.headers.items())
    frames, trailers, i = [], {}, 0
    while i < len(raw):
        flag, length = struct.unpack(">BI", raw[i : i + 5])
        payload = raw[i + 5 : i + 5 + length]
        i += 5 + length
        if flag & 0x80:
            for line in payload.decode().split("\r\n"):
                if line:
                    key, _, value = line.partition(":")
                    trailers[key.strip().lower()] = value.strip()
        else:
            frames.append(payload)
    return status, {k.lower(): v for k, v in resp_headers.items()}, frames, trailers
