"""Redaction: typed sensitive values, pseudonyms, and the final secret scan.

The value kinds live in :mod:`homediag.redact.kinds` (light, imported by the
models); the machinery in :mod:`homediag.redact.redactor`.
"""
