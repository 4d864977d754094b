"""Upload tokens, passwords and session ids never reach a stored byte or a log line.

After uploads, logins (good, bad, with a one-time password), a new token, a
password change and a password typed into the user name field, every file under
the server's data directory (the SQLite database and its WAL, the bundle store,
the server's log) is searched for each secret, while the server runs and after
it stopped.
"""

from __future__ import annotations

from pathlib import Path

from tests.server.running import PASSWORD, RunningServer, start_server

GALLERY = Path(__file__).resolve().parents[2] / "reports"
NEW_PASSWORD = "another long passphrase 42"
MISTYPED = "my-secret-passphrase-typed-as-a-name"


def _holding(data_dir: Path, secrets: list[str]) -> list[str]:
    found = []
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "homediag.db" for p in files)
    assert any(p.name == "server.log" for p in files)
    for path in files:
        data = path.read_bytes()
        found += [f"{path.relative_to(data_dir)}: {s[:12]}…" for s in secrets if s.encode() in data]
    return found


def _exercise(server: RunningServer, secrets: list[str]) -> None:
    acme = server.accounts["acme"]
    secrets += [a.token for a in server.accounts.values()]
    bundle = (GALLERY / "gateway-lossy" / "bundle.zip").read_bytes()
    assert server.upload(bundle, case="4711").status_code == 201
    assert server.upload(bundle, case="4711").status_code == 200
    wrong = "hdu_" + "Z" * 43
    secrets.append(wrong)
    assert server.upload(bundle, token=wrong).status_code == 401
    with server.client() as client:
        for username, password in (
            (acme.admin, "wrong password attempt 1"),
            (MISTYPED, "wrong password attempt 2"),
        ):
            secrets.append(password)
            answer = client.post(
                "/api/v1/session", json={"username": username, "password": password}
            )
            assert answer.status_code == 401
    secrets.append(MISTYPED)
    with server.login(acme.admin) as admin:
        secrets += [admin.cookies["homediag_session"], admin.headers["X-CSRF-Token"]]
        made = admin.post("/api/v1/tokens", json={"name": "van", "expires_in_days": 7}).json()
        secrets.append(made["token"])
        user = admin.post("/api/v1/users", json={"username": "acme-new", "role": "support"})
        one_time = user.json()["one_time_password"]
        secrets.append(one_time)
    other = (GALLERY / "dns-broken" / "bundle.zip").read_bytes()
    assert server.upload(other, token=made["token"], case="4712").status_code == 201
    with server.login("acme-new", one_time) as fresh:
        secrets += [fresh.cookies["homediag_session"], fresh.headers["X-CSRF-Token"]]
        assert fresh.post("/api/v1/me/password", json={"password": NEW_PASSWORD}).status_code == 204
        secrets.append(NEW_PASSWORD)
    with server.login("acme-new", NEW_PASSWORD) as again:
        assert again.get("/api/v1/bundles").status_code == 200
        assert again.delete("/api/v1/session").status_code == 204


def test_no_secret_is_stored_or_logged(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    server = start_server(data_dir)
    secrets = [PASSWORD]
    try:
        _exercise(server, secrets)
        assert _holding(data_dir, secrets) == []
    finally:
        server.stop()
    assert _holding(data_dir, secrets) == []
    assert len(secrets) >= 12
