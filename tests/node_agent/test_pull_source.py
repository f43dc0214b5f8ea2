"""Source URLs of pull cameras (node_agent.pull.source) and the reasons read from ffmpeg's
stderr (node_agent.pull.reasons), on their own; test_pull.py runs them with ffmpeg."""

from __future__ import annotations

import pytest

from node_agent.pull import reasons
from node_agent.pull.source import MAX_URL_CHARS, SourceRefused, ffmpeg_argv, parse_source


@pytest.mark.parametrize(
    ("url", "protocols"),
    [
        ("rtsp://cam.local:554/stream1", "rtsp,rtp,udp,tcp"),
        ("RTSPS://cam.local/s", "rtsp,rtsps,rtp,udp,tcp,tls"),
        ("rtmp://10.0.0.5/live/x", "rtmp,tcp"),
        ("rtmps://10.0.0.5/live/x", "rtmp,rtmps,tcp,tls"),
        ("http://cam/live.m3u8", "http,https,tcp,tls,crypto"),
        ("https://cam/live.ts", "http,https,tcp,tls,crypto"),
    ],
)
def test_accepted_schemes_get_network_protocols_only(url: str, protocols: str) -> None:
    source = parse_source(url)
    assert source.protocols == protocols
    assert "file" not in source.protocols.split(",")
    argv = ffmpeg_argv("ffmpeg", source, "rtmp://127.0.0.1:1935/live/k", 10.0)
    # The whitelist is an input option: before -i.
    assert argv.index("-protocol_whitelist") < argv.index("-i")
    assert argv[argv.index("-c") + 1] == "copy"
    assert argv[-3:] == ["-f", "flv", "rtmp://127.0.0.1:1935/live/k"]
    if source.scheme.startswith("rtsp"):
        assert argv[argv.index("-rtsp_transport") + 1] == "tcp"
    if source.scheme.startswith("http"):
        assert argv[argv.index("-format_whitelist") + 1] == "hls,mpegts"
    # Only RTSP, whose SDP declares every track, is probed briefly (a fast start); the others
    # find their tracks by reading media and keep ffmpeg's full probe, as does a retry.
    probed = "-analyzeduration" in argv[: argv.index("-i")]
    assert probed == source.scheme.startswith("rtsp")
    full = ffmpeg_argv("ffmpeg", source, "rtmp://h/live/k", 10.0, short_probe=False)
    assert "-analyzeduration" not in full and "-probesize" not in full


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("/etc/passwd", "is not allowed"),
        ("concat:/etc/passwd|/etc/hosts", "scheme 'concat'"),
        ("subfile:,,start,0,end,0,,:/etc/passwd", "scheme 'subfile'"),
        ("pipe:0", "scheme 'pipe'"),
        ("data:text/plain,hello", "scheme 'data'"),
        ("udp://0.0.0.0:1234", "scheme 'udp'"),
        ("rtsp:///no-host", "no host"),
        ("rtsp://cam:99999/x", "cannot be parsed"),
        ("rtsp://cam/x y", "control characters"),
        ("rtsp://cam/\x00", "control characters"),
        ("rtsp://cam/" + "a" * MAX_URL_CHARS, "longer than"),
    ],
)
def test_other_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(SourceRefused, match=why):
        parse_source(url)


def test_refusals_do_not_repeat_credentials() -> None:
    with pytest.raises(SourceRefused) as refused:
        parse_source("ftp://admin:hunter2@cam/x")
    assert "hunter2" not in str(refused.value)


def test_redact_removes_credentials_raw_and_decoded() -> None:
    source = parse_source(
        "rtsp://cam%20op:p%40ss%3Aw@10.0.0.9:554/s?channel=1&token=abc123&Password=zz%2Fy"
    )
    line = (
        "rtsp://cam%20op:p%40ss%3Aw@10.0.0.9:554/s?token=abc123: Server returned 401 "
        "(user cam op, password p@ss:w, token abc123) rtmp://x:y@other/z"
    )
    shown = source.redact(line)
    for secret in ("cam%20op", "cam op", "p%40ss%3Aw", "p@ss:w", "abc123", "x:y"):
        assert secret not in shown
    assert "rtsp://***@10.0.0.9:554/s" in shown
    assert source.shown == "rtsp://***@10.0.0.9:554/s?channel=1&token=***&Password=***"


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (
            "[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized\n"
            "rtsp://***@127.0.0.1:42631/camera: Server returned 401 Unauthorized "
            "(authorization failed)",
            reasons.AUTHENTICATION_FAILED,
        ),
        (
            "http://cam/x.m3u8: Server returned 403 Forbidden (access denied)",
            reasons.AUTHENTICATION_FAILED,
        ),
        (
            "[rtsp @ 0x55] method DESCRIBE failed: 404 Not Found\n"
            "rtsp://***@127.0.0.1:42631/nope: Server returned 404 Not Found",
            reasons.NOT_FOUND,
        ),
        (
            "[tcp @ 0x5] Failed to resolve hostname nocam: Name or service not known",
            reasons.NOT_FOUND,
        ),
        (
            "[tcp @ 0x56] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused\n"
            "rtsp://127.0.0.1:1/x: Connection refused",
            reasons.CONNECTION_REFUSED,
        ),
        ("rtsp://10.9.9.9/x: Connection timed out", reasons.TIMED_OUT),
        ("Stream map '0:v:0' matches no streams.", reasons.NO_VIDEO),
        (
            "[flv @ 0x5] Video codec hevc not compatible with flv\nCould not write header",
            reasons.UNSUPPORTED_CODEC,
        ),
        (
            "[file @ 0x5] Protocol 'file' not on whitelist 'http,https,tcp,tls,crypto'!\n"
            "[http @ 0x5] HTTP error 404 Not Found",
            reasons.FORBIDDEN,
        ),
    ],
)
def test_ffmpeg_messages_become_reasons(stderr: str, reason: str) -> None:
    assert reasons.classify(stderr.splitlines(), 1) == reason


def test_other_failures_say_what_ffmpeg_said_last() -> None:
    assert reasons.classify(["", "x: Invalid data found when processing input", ""], 1) == (
        f"{reasons.OTHER}: x: Invalid data found when processing input"
    )
    assert reasons.classify([], 1) == f"{reasons.OTHER}: ffmpeg exited with status 1"
    # The same failure reads the same in every run (no per-process addresses).
    assert reasons.classify(["[hls @ 0x5627b0304a00] Error when loading first segment"], 1) == (
        f"{reasons.OTHER}: Error when loading first segment"
    )
    assert reasons.classify([], 0) == reasons.SOURCE_ENDED
    # Killed, its last warning is not the reason.
    warned = ["Timestamps are unset in a packet for stream 0. This is deprecated"]
    assert reasons.classify(warned, -9) == f"{reasons.KILLED} (signal 9)"
    # RTSP's silent-server timeout reads as invalid data; the run's length tells.
    silent = ["rtsp://127.0.0.1:18556/x: Invalid data found when processing input"]
    assert reasons.classify(silent, 1, outlasted_timeout=True) == reasons.TIMED_OUT
    assert reasons.classify(silent, 1).startswith(reasons.OTHER)
