"""Benchmarks that print figures (not timed tests): run them as ``bench/<name>``."""
