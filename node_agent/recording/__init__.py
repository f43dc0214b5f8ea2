"""Recording on the node: ffmpeg recorders per camera, the local segment index, tiers and
retention."""
