"""The sign-in token (`leadsync console --token`, and the default while no console user exists): the
printed URL signs in once as an admin; a second use, a wrong token, or a token on a console started
without one is refused; the console keeps only the token's hash; sign-ins are audited without it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient
from typer.testing import CliRunner

from sync.cli.main import app as cli
from sync.console import auth
from sync.console.app import create_app
from sync.views.local_state import open_local_state
from tests.sync.views.worlds import SeededWorld

from .conftest import Site, csrf_of

URL = re.compile(r"sign in \(once\) at (http://127\.0\.0\.1:(\d+)(/login\?token=([A-Za-z0-9_-]+)))")


def _client(app: Starlette) -> TestClient:
    return TestClient(app, follow_redirects=False)


def test_the_token_signs_in_once_as_an_admin_and_is_audited(site: Site) -> None:
    token, holder = auth.SignInToken.new()
    app = create_app(site.local.store, site.local.mapping, sign_in_token=holder)
    first = _client(app)
    response = first.get(f"/login?token={token}")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert first.get("/").status_code == 200
    users = first.get("/users")  # an admin page
    assert users.status_code == 200 and auth.TOKEN_USER in users.text
    entry = site.local.store.audit_log()[0]
    assert (entry.user_name, entry.action) == (auth.TOKEN_USER, "sign-in-token")
    # the same URL again (another browser, or the same one signed out) is refused
    second = _client(app)
    again = second.get(f"/login?token={token}")
    assert again.status_code == 401 and "already used" in again.text
    assert second.get("/").status_code == 303
    # the admin session works for admin actions, with CSRF as always
    form = {"user": "new-admin", "role": "admin", "password": "a long enough password"}
    assert first.post("/users", data=form).status_code == 403
    saved = first.post("/users", data={**form, "csrf": csrf_of(users.text)})
    assert saved.status_code == 200 and site.local.store.console_user("new-admin").role == "admin"
    assert site.local.store.audit_log()[0].user_name == auth.TOKEN_USER
    for e in site.local.store.audit_log():
        assert token not in f"{e.user_name} {e.action} {e.detail}"


def test_a_wrong_token_is_refused_and_leaves_the_right_one_usable(site: Site) -> None:
    token, holder = auth.SignInToken.new()
    app = create_app(site.local.store, site.local.mapping, sign_in_token=holder)
    client = _client(app)
    for wrong in ("", "x", token[:-1], token + "x", token.upper() if token.upper() != token else "y"):
        response = client.get("/login", params={"token": wrong})
        assert response.status_code == 401, wrong
        assert client.get("/").status_code == 303
    assert site.local.store.audit_log()[0].action == "sign-in-token-refused"
    assert client.get(f"/login?token={token}").status_code == 303  # still unused
    assert client.get("/").status_code == 200


def test_a_console_started_without_a_token_refuses_every_token(site: Site) -> None:
    client = site.client()
    response = client.get("/login?token=anything")
    assert response.status_code == 401
    assert client.get("/").status_code == 303


def test_only_the_hash_is_kept() -> None:
    token, holder = auth.SignInToken.new()
    assert len(token) >= 40  # 32 random bytes
    kept = " ".join(f"{v!r}" for v in vars(holder).values()) + repr(holder)
    assert token not in kept and token.encode() not in holder._digest  # noqa: SLF001
    assert holder.redeem(token) and holder.used and not holder.redeem(token)


def test_signing_out_of_a_token_session(site: Site) -> None:
    token, holder = auth.SignInToken.new()
    client = _client(create_app(site.local.store, site.local.mapping, sign_in_token=holder))
    client.get(f"/login?token={token}")
    page = client.get("/")
    assert client.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert client.get("/").status_code == 303
    assert (site.local.store.audit_log()[0].user_name, site.local.store.audit_log()[0].action) == (
        auth.TOKEN_USER, "sign-out")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """`uvicorn.run` replaced by a recorder: the CLI runs for real up to serving, and the test drives
    the app it would have served."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


def test_a_fresh_store_starts_with_a_token_and_says_how_to_set_a_password(
        seeded_world: SeededWorld, served: list[dict[str, Any]]) -> None:
    config = str(seeded_world.settings_path)
    result = CliRunner().invoke(cli, ["console", "--port", "8799", "--config", config])
    assert result.exit_code == 0, result.output
    assert "leadsync console set-password" in result.output
    found = URL.findall(result.output)
    assert len(found) == 1 and found[0][1] == "8799"  # printed once
    (call,) = served
    assert call["host"] == "127.0.0.1" and call["port"] == 8799 and call["access_log"] is False
    client = _client(call["app"])
    assert client.get(found[0][2]).status_code == 303
    assert client.get("/").status_code == 200
    assert _client(call["app"]).get(found[0][2]).status_code == 401
    with open_local_state(seeded_world.settings_path) as local:
        assert [e.action for e in local.store.audit_log()[:2]] == ["sign-in-token-refused", "sign-in-token"]


def test_with_users_the_token_is_only_printed_on_request(site: Site, served: list[dict[str, Any]]) -> None:
    config = str(site.world.settings_path)
    plain = CliRunner().invoke(cli, ["console", "--config", config])
    assert plain.exit_code == 0 and not URL.search(plain.output)
    assert _client(served[-1]["app"]).get("/login?token=x").status_code == 401
    with_token = CliRunner().invoke(cli, ["console", "--token", "--config", config])
    found = URL.search(with_token.output)
    assert with_token.exit_code == 0 and found
    assert "set-password" not in with_token.output
    assert _client(served[-1]["app"]).get(found.group(3)).status_code == 303


def test_a_non_loopback_bind_with_allow_remote_warns_and_serves(site: Site,
                                                               served: list[dict[str, Any]]) -> None:
    config = str(site.world.settings_path)
    refused = CliRunner().invoke(cli, ["console", "--host", "192.0.2.10", "--config", config])
    assert refused.exit_code == 2 and "--allow-remote" in refused.output and not served
    result = CliRunner().invoke(cli, ["console", "--host", "0.0.0.0", "--allow-remote", "--config", config])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "plain HTTP" in result.output
    assert served[-1]["host"] == "0.0.0.0"
    for loopback in ("127.0.0.1", "::1", "localhost"):
        ok = CliRunner().invoke(cli, ["console", "--host", loopback, "--config", config])
        assert ok.exit_code == 0 and "warning" not in ok.output, loopback
