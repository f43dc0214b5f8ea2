"""Pull ingest: for each camera assigned here with ingest PULL, a supervised ffmpeg reads the
camera's source and publishes it, stream copied, into this node's own nginx-rtmp under the
camera's stream key, so live HLS, recording, status and metrics work as for push cameras.

- source.py: which source URLs are accepted, the protocols each may use, and redaction;
- reasons.py: ffmpeg's stderr turned into reasons a person understands;
- puller.py: one camera's ffmpeg, restarted with backoff, its failures reported;
- manager.py: the pullers matched to every new assignment.
"""
