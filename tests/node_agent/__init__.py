"""Tests of the node agent (node_agent/), mirroring its modules and subpackages, with the real
nginx-rtmp and ffmpeg."""
