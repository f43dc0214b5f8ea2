"""Live video over WebRTC through WHEP: a signed POST of an SDP offer answered by aiortc, one
H.264 passthrough media path per camera fanned out to every viewer (no re-encode)."""
