"""Recording on the node: a recorder per camera (a collector of nginx-rtmp's live HLS
fragments, or an ffmpeg for a re-encoding profile), the local segment index, tiers and
retention."""
