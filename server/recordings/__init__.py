"""Recordings: the segment index of every camera, its timeline, and signed URLs to its files."""
