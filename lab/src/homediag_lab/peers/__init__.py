"""Implementations written by others that the lab runs in place of its own responders and servers."""
