"""Implementations written by others that the lab runs in its namespaces (knxd, amqtt…)."""
