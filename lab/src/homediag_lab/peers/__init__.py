"""Implementations written by others that the lab runs inside its namespaces (peers of the probes)."""
