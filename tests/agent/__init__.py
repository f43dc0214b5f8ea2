"""Tests of the node agent's building blocks, with the real nginx-rtmp and ffmpeg."""
