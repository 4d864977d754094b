"""Declarative integration packs: TOML files that say how to find, identify and judge an integration."""
