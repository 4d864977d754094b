"""Webhooks: configuring them and their deliveries."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["hooks"])
