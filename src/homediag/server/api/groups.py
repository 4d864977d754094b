"""Groups of bundles with one root cause, and each site's history."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["groups"])
