"""camfleet node agent: runs nginx-rtmp and ffmpeg on a streaming host and reports to the
control plane over one bidirectional gRPC stream."""

__version__ = "0.1.0"
