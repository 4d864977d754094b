"""The leaf data types every layer shares: redaction markers, address helpers, findings, the bundle models.

Nothing here does I/O or imports another homediag package except
:mod:`homediag.errors`.
"""
