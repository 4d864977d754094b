"""Redaction: typed sensitive values, pseudonyms, and the final secret scan.

The value kinds live in :mod:`homediag.model.kinds` (light, imported by the
models); the machinery in :mod:`homediag.redact.redactor`.
"""
