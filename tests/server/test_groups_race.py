"""Uploads of one problem arriving together: every one is stored, all in one group (found by bench/serve)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import httpx

from homediag.bundle.reader import load_bundle
from homediag.bundle.writer import write_archive
from tests.server.running import RunningServer

GALLERY = Path(__file__).resolve().parents[2] / "reports"


def _same_problem(tmp: Path, count: int) -> list[bytes]:
    """``count`` bundles of different bytes with the gateway-lossy problem (one fingerprint)."""
    bundle = load_bundle(GALLERY / "gateway-lossy" / "bundle.zip")
    out = []
    for i in range(count):
        later = bundle.model_copy(
            update={"created_at": bundle.created_at + timedelta(seconds=i + 1)}
        )
        out.append(write_archive(later, tmp / f"{i}.zip").read_bytes())
    return out


async def _upload_together(url: str, token: str, bundles: list[bytes]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/api/v1/bundles",
                    content=data,
                    params={"site": f"site-{i}"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                for i, data in enumerate(bundles)
            )
        )


def test_the_first_uploads_of_a_problem_arriving_together_share_one_group(
    server: RunningServer, tmp_path: Path
) -> None:
    bundles = _same_problem(tmp_path, 8)
    assert len({hashlib.sha256(b).digest() for b in bundles}) == 8
    token = server.accounts["acme"].token
    answers = asyncio.run(_upload_together(server.url, token, bundles))
    # Each of them a new group's first bundle as far as it knew: none may fail for that.
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    groups = {a.json()["group_id"] for a in answers}
    assert len(groups) == 1
    assert None not in groups
    assert "Traceback" not in server.log.read_text()
