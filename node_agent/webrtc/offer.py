"""What a WHEP offer must hold before aiortc sees it: SDP text of a sane size with a video
section that offers H.264 (the node forwards the camera's H.264 as it is, so a browser that
offers only VP8 cannot be served). Each refusal is a sentence for the viewer."""

from __future__ import annotations

import re

# A browser's offer is a few KiB; ten times that is no offer.
MAX_OFFER_BYTES = 65_536
_MEDIA = re.compile(r"^m=(?P<kind>[a-z]+) ", re.MULTILINE)
_RTPMAP = re.compile(r"^a=rtpmap:[0-9]{1,3} (?P<codec>[A-Za-z0-9_.-]{1,32})/", re.MULTILINE)


class OfferRefused(ValueError):
    """The offer cannot be answered; the message says why, as a sentence."""


def check_offer(body: bytes) -> str:
    """The offer's SDP text, or OfferRefused saying what is wrong with it."""
    if len(body) > MAX_OFFER_BYTES:
        raise OfferRefused(f"The offer is larger than {MAX_OFFER_BYTES} bytes.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise OfferRefused("The offer is not SDP text (it is not UTF-8).") from None
    text = text.replace("\r\n", "\n")
    if not text.startswith("v=0\n") or "\no=" not in text:
        raise OfferRefused("The offer is not an SDP session description (no v=0 and o= lines).")
    sections = _sections(text)
    video = [body for kind, body in sections if kind == "video"]
    if not video:
        raise OfferRefused("The offer has no video section; this endpoint sends video.")
    codecs = {m["codec"].upper() for section in video for m in _RTPMAP.finditer(section)}
    if "H264" not in codecs:
        offered = ", ".join(sorted(codecs)) or "no codec"
        raise OfferRefused(
            f"The offer's video allows {offered} but not H.264, which is what this node sends "
            "(it forwards the camera's video without re-encoding)."
        )
    return text.replace("\n", "\r\n")


def _sections(text: str) -> list[tuple[str, str]]:
    """(kind, text) of every m= section."""
    starts = list(_MEDIA.finditer(text))
    return [
        (m["kind"], text[m.start() : starts[i + 1].start() if i + 1 < len(starts) else None])
        for i, m in enumerate(starts)
    ]
