"""Organisations, users, upload tokens, the audit log (admin)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["admin"])
