"""Why a pull failed, from ffmpeg's stderr, in words a person understands.

The camera's status shows the reason (stream events of kind ERROR), so it names the cause, not
ffmpeg's wording. Patterns are matched on ffmpeg 5.1's messages (seen in tests against a real
RTSP server; HTTP and RTMP wordings from ffmpeg's sources), first match wins, in order:
authentication is checked before "not found" because a server may answer both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

AUTHENTICATION_FAILED = "authentication failed"
NOT_FOUND = "not found"
CONNECTION_REFUSED = "connection refused"
TIMED_OUT = "timed out"
NO_VIDEO = "no video track"
UNSUPPORTED_CODEC = "unsupported codec"
FORBIDDEN = "the source refers to a local file or a protocol it may not use"
SOURCE_ENDED = "the source ended the stream"
OTHER = "source failed"
# Not the source: the node's nginx, which the puller publishes into, died (it is started again
# at once, and so is the pull).
NGINX_RESTARTED = "nginx on this node restarted"
# ffmpeg ended by a signal (killed, out of memory): whatever it printed before is no reason.
KILLED = "the puller's ffmpeg was killed"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # The whitelists at work (node_agent.pull.source), e.g. an HLS playlist naming file: or a
    # served ffconcat script: "Protocol 'file' not on whitelist 'http,…'!", "Format not on
    # whitelist 'hls,mpegts'". First: the segments' other errors (404s) are not the cause.
    (re.compile(r"not on whitelist", re.I), FORBIDDEN),
    # RTSP "method DESCRIBE failed: 401 Unauthorized"; HTTP "Server returned 401 Unauthorized
    # (authorization failed)" and "403 Forbidden"; RTMP servers' "NetConnection.Connect.Rejected".
    (
        re.compile(r"\b40[13]\b|unauthori[sz]ed|authori[sz]ation failed|Connect\.Rejected", re.I),
        AUTHENTICATION_FAILED,
    ),
    # RTSP "method DESCRIBE failed: 404 Not Found"; HTTP "Server returned 404 Not Found"; RTMP
    # "NetStream.Play.StreamNotFound"; an unknown host name.
    (
        re.compile(
            r"\b404\b|not found|StreamNotFound|Name or service not known|"
            r"Temporary failure in name resolution",
            re.I,
        ),
        NOT_FOUND,
    ),
    (re.compile(r"Connection refused", re.I), CONNECTION_REFUSED),
    # ETIMEDOUT ("Connection timed out"); not "timeout", which ffmpeg prints in URLs
    # ("tcp://host:554?timeout=0").
    (re.compile(r"timed out", re.I), TIMED_OUT),
    # With -map 0:v:0: "Stream map '0:v:0' matches no streams."
    (
        re.compile(r"Stream map '0:v:0' matches no streams|does not contain any stream", re.I),
        NO_VIDEO,
    ),
    # FLV cannot carry the codec: "Video codec hevc not compatible with flv", "codec not
    # currently supported in container", "Tag ... incompatible with output codec id".
    (
        re.compile(
            r"not compatible with flv|not currently supported in container|"
            r"incompatible with output codec|Could not write header",
            re.I,
        ),
        UNSUPPORTED_CODEC,
    ),
)

# How much of ffmpeg's last line an "other" reason carries.
_DETAIL_CHARS = 200
# ffmpeg's "[hls @ 0x5627b0304a00] " prefix: an address that differs in every run would make
# every retry's reason new, and so another event (node_agent.pull.puller reports changes only).
_CONTEXT = re.compile(r"^\[[^\]@]* @ 0x[0-9a-f]+\]\s*")


def classify(lines: Iterable[str], returncode: int, *, outlasted_timeout: bool = False) -> str:
    """The reason for a run of ffmpeg that ended with `returncode`, given its (already redacted)
    stderr lines. `outlasted_timeout`: the run never published and lasted the I/O timeout.

    RTSP's I/O timeout says nothing of itself: a server that accepts and stays silent ends
    ffmpeg with only "Invalid data found when processing input" once `-timeout` has passed
    (seen with ffmpeg 5.1), so an unexplained failure that took the timeout is taken as one.
    """
    kept = [line.strip() for line in lines if line.strip()]
    for pattern, reason in _RULES:
        if any(pattern.search(line) for line in kept):
            return reason
    if returncode == 0:
        return SOURCE_ENDED
    if returncode < 0:
        # Its last line is some earlier warning (chaos soak: "Timestamps are unset in a
        # packet", shown as the source's failure).
        return f"{KILLED} (signal {-returncode})"
    if outlasted_timeout:
        return TIMED_OUT
    if not kept:
        return f"{OTHER}: ffmpeg exited with status {returncode}"
    return f"{OTHER}: {_CONTEXT.sub('', kept[-1])[:_DETAIL_CHARS]}"
