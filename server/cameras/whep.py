"""The signed WHEP URL of a camera's live video: the node serves WebRTC under the signature of
its live HLS (the same `live:` resource; node_agent/webrtc/endpoint.py)."""

from __future__ import annotations


def whep_url(hls: str) -> str:
    """The WHEP endpoint beside the signed live HLS URL `hls` (…/hls/<camera>/<grant>/
    <expires>/<signature>/index.m3u8 → …/whep/<camera>/<grant>/<expires>/<signature>)."""
    base, _, rest = hls.partition("/hls/")
    return f"{base}/whep/{rest.rsplit('/', 1)[0]}"
