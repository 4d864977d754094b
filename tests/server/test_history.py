"""A site's history on a real server: bundles in the order they were made, what each fixed.

"After the fix: router.packet_loss resolved" is what support reads first when
the installer uploads again. Bundles arrive out of order (an offline laptop
uploads an older bundle later): the history follows the bundles' own times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.server.running import RunningServer
from tests.server.sites import another_site, gallery, write

DAY1 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY3 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
LOSSY = ["router.packet_loss", "dns.resolver_timeouts", "internet.endpoint_unreachable",
         "router.high_latency"]  # fmt: skip


def _bundle(tmp_path: Path, scenario: str, when: datetime) -> bytes:
    return write(
        another_site(gallery(scenario), 1, created_at=when), tmp_path, f"{scenario}-{when:%d}"
    )


def _history(client: httpx.Client, site: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/sites/{site}/history", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_the_history_says_what_each_bundle_fixed_even_out_of_order(
    server: RunningServer, tmp_path: Path
) -> None:
    site = "Musterweg 1"
    lossy = server.upload(_bundle(tmp_path, "gateway-lossy", DAY1), site=site).json()["id"]
    healthy = server.upload(_bundle(tmp_path, "healthy", DAY3), site=site).json()["id"]
    with server.login("acme-support") as client:
        first = _history(client, site)
        assert [i["id"] for i in first] == [lossy, healthy]
        assert first[0]["previous_id"] is None
        assert first[0]["changes"] is None
        assert first[1]["changes"] == {"previous_id": lossy, "resolved": LOSSY, "new": []}
        # The installer's laptop was offline on day 2: that bundle arrives last.
        blocked = server.upload(_bundle(tmp_path, "multicast-blocked", DAY2), site=site)
        assert blocked.status_code == 201, blocked.text
        middle = blocked.json()["id"]
        items = _history(client, site)
        assert [i["id"] for i in items] == [lossy, middle, healthy]
        assert items[1]["changes"] == {
            "previous_id": lossy,
            "resolved": LOSSY,
            "new": ["mdns.no_answers"],
        }
        assert items[2]["previous_id"] == middle
        assert items[2]["changes"] == {
            "previous_id": middle,
            "resolved": ["mdns.no_answers"],
            "new": [],
        }
        # The bundle's own view and the list carry the same link.
        assert client.get(f"/api/v1/bundles/{healthy}").json()["previous_id"] == middle
        # Pages of one.
        page = client.get(f"/api/v1/sites/{site}/history", params={"limit": 1}).json()
        assert [i["id"] for i in page["items"]] == [lossy]
        rest = client.get(
            f"/api/v1/sites/{site}/history", params={"limit": 5, "cursor": page["next_cursor"]}
        ).json()
        assert [i["id"] for i in rest["items"]] == [middle, healthy]
        assert rest["next_cursor"] is None
    # Deleting the middle one links its neighbours again.
    with server.login("acme-admin") as client:
        assert client.delete(f"/api/v1/bundles/{middle}").status_code == 204
        items = _history(client, site)
        assert [i["id"] for i in items] == [lossy, healthy]
        assert items[1]["changes"] == {"previous_id": lossy, "resolved": LOSSY, "new": []}


def test_sites_are_per_organisation_and_may_hold_a_slash(
    server: RunningServer, tmp_path: Path
) -> None:
    site = "Block A/3"
    mine = server.upload(_bundle(tmp_path, "gateway-lossy", DAY1), site=site).json()["id"]
    theirs = server.upload(
        _bundle(tmp_path, "healthy", DAY2), server.accounts["other"].token, site=site
    ).json()["id"]
    with server.login("acme-support") as client:
        items = _history(client, site)
        assert [i["id"] for i in items] == [mine]
        assert items[0]["changes"] is None
        missing = client.get("/api/v1/sites/nowhere/history")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        bad = client.get(f"/api/v1/sites/{site}/history", params={"cursor": "x"})
        assert bad.status_code == 400
    with server.login("other-support") as client:
        assert [i["id"] for i in _history(client, site)] == [theirs]


def test_without_a_site_the_case_is_the_site(server: RunningServer, tmp_path: Path) -> None:
    first = server.upload(_bundle(tmp_path, "gateway-lossy", DAY1), case="4711").json()["id"]
    second = server.upload(_bundle(tmp_path, "healthy", DAY2), case="4711").json()["id"]
    with server.login("acme-support") as client:
        items = _history(client, "4711")
    assert [i["id"] for i in items] == [first, second]
    assert items[1]["changes"]["resolved"][0] == "router.packet_loss"
