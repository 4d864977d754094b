"""Servers the lab runs inside its namespaces (each a ``python -m`` entry point)."""
