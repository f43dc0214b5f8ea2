"""Source URLs of pull cameras: what is accepted, what ffmpeg may open for each, and how a URL
is shown in logs and events (never with its credentials).

Invariants (tests/node_agent/pull/test_source.py):
- Only rtsp, rtsps, rtmp, rtmps, http and https URLs with a host are accepted; anything else
  (file:, concat:, subfile:, pipe:, data:, …) is refused before ffmpeg runs.
- ffmpeg gets `-protocol_whitelist` with only the network protocols the scheme needs, and never
  `file`: ffmpeg otherwise follows file:, concat: and subfile: from a URL or from inside an HLS
  playlist (nested opens inherit the whitelist). HTTP sources are also held to the HLS and
  MPEG-TS demuxers (`-format_whitelist`), so a served ffconcat script is not even parsed.
- redact() of any text leaves no username, password or credential-carrying query value
  (token=, password=, user=, …) of the source in it, raw or percent-decoded, and no URL's
  userinfo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from camfleet.credentials import is_credential_param

# Long enough for any real camera URL; a 10 kB "URL" is refused, not handed to ffmpeg.
MAX_URL_CHARS = 2048

# scheme -> ffmpeg protocols it may use. tcp/udp/tls are the transports under them; rtp for RTSP
# media; crypto for AES-128 HLS (it only wraps another whitelisted protocol).
_PROTOCOLS = {
    "rtsp": "rtsp,rtp,udp,tcp",
    "rtsps": "rtsp,rtsps,rtp,udp,tcp,tls",
    "rtmp": "rtmp,tcp",
    "rtmps": "rtmp,rtmps,tcp,tls",
    "http": "http,https,tcp,tls,crypto",
    "https": "http,https,tcp,tls,crypto",
}
# Demuxers a source may be read with (None: the protocol's own, which ffmpeg picks).
_FORMATS = {"http": "hls,mpegts", "https": "hls,mpegts"}
# A short probe for RTSP: its SDP declares every track, with the codec's setup (H.264's SPS/PPS
# in sprop-parameter-sets, AAC's config), so ffmpeg need not read seconds of media to find them:
# its defaults (5 s, 5 MB) spent ~1.3 s (2.3 s on a loaded node) mostly estimating the frame
# rate before publishing anything; a quarter second finds the same video and audio tracks
# (tests/node_agent/test_pull.py). A camera the short probe is not enough for (no SPS in its SDP
# and none in the first quarter second) gets ffmpeg's full probe at once
# (node_agent.pull.puller). Other schemes keep ffmpeg's defaults: RTMP, HLS and MPEG-TS find
# their tracks only by reading media.
_SHORT_PROBE = ("-analyzeduration", "250000", "-probesize", "500000")
# Control characters and spaces never belong in a URL (and would end up in ffmpeg's requests).
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
# Any URL's userinfo in free text: scheme://user:pass@ -> scheme://***@
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")


# Besides the credentials both sides hide (camfleet.credentials), the agent's logs also lose
# the user name a source URL carries in its query, and the bare `p` some cameras use for a
# password (too short for the shared list, which would hide it in every URL it shows editors).
_ALSO_IN_LOGS = frozenset({"user", "u", "p"})


def _secret_values(query: str) -> list[str]:
    """Values of `query`'s parameters that carry credentials (`?user=admin&password=x`); not
    the others, whose short values (`channel=1`) would blank every digit of a line."""
    found = []
    for param in query.split("&"):
        name, _, value = param.partition("=")
        lowered = unquote(name).lower()
        if is_credential_param(lowered) or lowered in _ALSO_IN_LOGS:
            found.append(value)
    return found


class SourceRefused(ValueError):
    """A source URL this node will not open (the message says why, without the URL's
    credentials)."""


@dataclass(frozen=True)
class PullSource:
    """An accepted source URL."""

    url: str
    scheme: str
    # Secrets found in the URL, raw and percent-decoded: removed from any text by redact().
    secrets: tuple[str, ...]

    @property
    def protocols(self) -> str:
        """ffmpeg's -protocol_whitelist for this source."""
        return _PROTOCOLS[self.scheme]

    @property
    def formats(self) -> str | None:
        """ffmpeg's -format_whitelist for this source (None: no restriction needed)."""
        return _FORMATS.get(self.scheme)

    @property
    def probed_briefly(self) -> bool:
        """Whether ffmpeg_argv's `short_probe` applies to this source (RTSP: see _SHORT_PROBE)."""
        return self.scheme in ("rtsp", "rtsps")

    @property
    def shown(self) -> str:
        """The URL as logs and events may show it."""
        return self.redact(self.url)

    def redact(self, text: str) -> str:
        """`text` without this source's credentials, nor any URL's userinfo."""
        text = _USERINFO.sub(r"\1***@", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def parse_source(url: str) -> PullSource:
    """The accepted source `url`; SourceRefused if this node must not open it."""
    if len(url) > MAX_URL_CHARS:
        raise SourceRefused(f"the source URL is longer than {MAX_URL_CHARS} characters")
    if _UNSAFE.search(url):
        raise SourceRefused("the source URL has spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # .port raises for a bad port
    except ValueError as exc:
        raise SourceRefused(f"the source URL cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _PROTOCOLS:
        shown = scheme or url.partition(":")[0][:20]
        raise SourceRefused(
            f"source scheme {shown!r} is not allowed (only {', '.join(sorted(_PROTOCOLS))})"
        )
    if not hostname:
        raise SourceRefused("the source URL has no host")
    secrets: set[str] = set()
    for part in (parts.username, parts.password, *_secret_values(parts.query)):
        if part:
            secrets.update({part, unquote(part)})
    # Longest first, so a secret containing another is removed whole.
    ordered = tuple(sorted(secrets, key=len, reverse=True))
    return PullSource(url, scheme, ordered)


def ffmpeg_argv(
    ffmpeg: str,
    source: PullSource,
    publish_url: str,
    io_timeout_s: float,
    *,
    short_probe: bool = True,
) -> list[str]:
    """ffmpeg reading `source` and publishing it, stream copied, as FLV to `publish_url`.

    The first video track is required (`-map 0:v:0`: a source without one fails with a clear
    message instead of publishing nothing) and the first audio track taken if there is one.
    `short_probe`: an RTSP source is probed briefly (see _SHORT_PROBE); False: ffmpeg's full
    probe.
    """
    timeout_us = str(round(io_timeout_s * 1_000_000))
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    argv += ["-protocol_whitelist", source.protocols]
    if source.formats:
        argv += ["-format_whitelist", source.formats]
    if source.scheme in ("rtsp", "rtsps"):
        # TCP: works through NAT and firewalls and loses nothing; `-timeout` is RTSP's socket
        # I/O timeout (a camera that stops sending ends the run instead of hanging it).
        argv += ["-rtsp_transport", "tcp", "-timeout", timeout_us]
        if short_probe and source.probed_briefly:
            argv += _SHORT_PROBE
    else:
        argv += ["-rw_timeout", timeout_us]
    argv += ["-i", source.url, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy"]
    argv += ["-f", "flv", publish_url]
    return argv
