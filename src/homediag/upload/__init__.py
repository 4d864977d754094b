"""Sending bundles to the support team's homediag server (``homediag upload``, ``run --upload``).

The installer's side of ``homediag serve``: it needs only aiohttp (core), never
the server's stack. See :func:`upload_bundle`.
"""

from __future__ import annotations

from homediag.upload.client import (
    UPLOAD_PATH,
    UploadReceipt,
    UploadTarget,
    upload_bundle,
    upload_target,
)

__all__ = ["UPLOAD_PATH", "UploadReceipt", "UploadTarget", "upload_bundle", "upload_target"]
