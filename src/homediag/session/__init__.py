"""A run: which probes, the runner that schedules them, and the pipeline merge → redact → analyze.

This is the layer above both the probes and the analyzers; the generic probe
API below it (:mod:`homediag.runtime`) knows no probe by name.
"""
