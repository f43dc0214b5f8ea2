"""Benchmarks, each run from the checkout as `python -m bench.<module>` (see README.md)."""
