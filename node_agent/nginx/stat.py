"""Read nginx-rtmp's `rtmp_stat all` XML into per-stream metrics."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamStat:
    """What nginx knows about one live stream (named by its stream key)."""

    name: str
    uptime_ms: int
    bitrate_bps: int
    clients: int
    publishing: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    bytes_in: int = 0


def _int(node: ET.Element | None, path: str) -> int:
    text = node.findtext(path) if node is not None else None
    try:
        return int(float(text)) if text else 0
    except ValueError:
        return 0


def _bitrate(stream: ET.Element) -> int:
    """Bits per second in. nginx-rtmp recomputes `bw_in` once per 10 s interval and reports 0
    for a stream's first interval, so a new stream would look dead for 10 s; until then the
    average since the stream started stands in."""
    bw_in = _int(stream, "bw_in")
    uptime_ms = _int(stream, "time")
    if bw_in > 0 or uptime_ms <= 0:
        return bw_in
    return _int(stream, "bytes_in") * 8 * 1000 // uptime_ms


def parse_stat(xml_text: str, application: str = "live") -> list[StreamStat]:
    """Streams of `application` in an rtmp_stat document; malformed input gives []."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314 - our own nginx on loopback, not user input
    except ET.ParseError:
        return []
    streams: list[StreamStat] = []
    for app in root.iter("application"):
        if app.findtext("name") != application:
            continue
        for stream in app.iterfind("live/stream"):
            video = stream.find("meta/video")
            fps_text = video.findtext("frame_rate") if video is not None else None
            publishing = stream.find("publishing") is not None
            streams.append(
                StreamStat(
                    name=stream.findtext("name") or "",
                    uptime_ms=_int(stream, "time"),
                    bitrate_bps=_bitrate(stream),
                    # nclients counts the publisher too, when there is one.
                    clients=max(0, _int(stream, "nclients") - int(publishing)),
                    publishing=publishing,
                    width=_int(video, "width"),
                    height=_int(video, "height"),
                    fps=float(fps_text)
                    if fps_text and fps_text.replace(".", "", 1).isdigit()
                    else 0.0,
                    video_codec=(video.findtext("codec") or "") if video is not None else "",
                    audio_codec=stream.findtext("meta/audio/codec") or "",
                    bytes_in=_int(stream, "bytes_in"),
                )
            )
    return streams
