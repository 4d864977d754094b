"""Typed facts of each probe: pydantic models only, no I/O, importable on the support side without the probing stack."""
