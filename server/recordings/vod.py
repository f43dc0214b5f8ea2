"""A VOD playlist of a range whose segments live in several places (several nodes after a
failover, the cold tier of a node that is gone), written by the control plane: each segment's
URI is where it can be fetched now (a signed download URL at its node, which serves it or
redirects to its object; else a presigned URL of its cold object). One node's index cannot
write it: it knows only its own segments.

The playlist travels inline, as a `data:` URL (players and ffmpeg open it like any other), so
no control-plane HTTP endpoint is needed; its segment URLs are absolute and signed. The playlist
itself is written by camfleet.hls, as the nodes write theirs.
"""

from __future__ import annotations

import base64

from camfleet.hls import MEDIA_TYPE


def data_url(text: str) -> str:
    """`text` as a data: URL of an HLS playlist."""
    return f"data:{MEDIA_TYPE};base64,{base64.b64encode(text.encode()).decode()}"
