"""Sign-in, session cookie, roles and CSRF of the console (Starlette TestClient over the real app and
a real state store)."""

from __future__ import annotations

from typer.testing import CliRunner

from sync.cli.main import app as cli
from sync.console import auth

from .conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Site, csrf_of


def test_every_page_needs_a_signed_in_user(site: Site) -> None:
    client = site.client()
    for path in ("/", "/users"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.post("/users", data={}).status_code == 403


def test_a_wrong_password_or_an_unknown_user_is_refused_and_audited(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/login").text)
    for user, password in (("ops", "not the password"), ("nobody", ADMIN_PASSWORD), ("ops", "")):
        response = client.post("/login", data={"user": user, "password": password, "csrf": token})
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
    assert client.get("/").status_code == 303  # still signed out
    actions = [(a.user_name, a.action) for a in site.local.store.audit_log()]
    assert actions[:3] == [("ops", "sign-in-refused"), (None, "sign-in-refused"), ("ops", "sign-in-refused")]


def test_the_right_password_signs_in_with_a_strict_http_only_session_cookie(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"user": "ops", "password": ADMIN_PASSWORD, "csrf": token})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "leadsync_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "ops" in page.text
    assert csrf_of(page.text) != token  # a new session (and token) on sign-in
    assert site.local.store.audit_log()[0].action == "sign-in"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_post_without_the_csrf_token_is_refused_before_anything_changes(site: Site) -> None:
    client = site.client()
    client.get("/login")
    assert client.post("/login", data={"user": "ops", "password": ADMIN_PASSWORD}).status_code == 403
    assert client.post("/login", data={"user": "ops", "password": ADMIN_PASSWORD,
                                       "csrf": "forged"}).status_code == 403
    assert client.get("/").status_code == 303  # not signed in
    admin = site.signed_in("ops", ADMIN_PASSWORD)
    new_user = {"user": "mallory", "role": "admin", "password": "a long enough password"}
    assert admin.post("/users", data=new_user).status_code == 403
    assert admin.post("/users", data={**new_user, "csrf": "forged"}).status_code == 403
    assert admin.post("/logout", data={}).status_code == 403
    assert admin.post("/lang", data={"lang": "ja"}).status_code == 403
    assert site.local.store.console_user("mallory") is None
    assert admin.get("/").status_code == 200  # still signed in


def test_a_viewer_reads_but_cannot_use_an_admin_action(site: Site) -> None:
    viewer = site.signed_in("reader", VIEWER_PASSWORD)
    page = viewer.get("/")
    assert page.status_code == 200
    assert 'href="/users"' not in page.text
    assert viewer.get("/users").status_code == 403
    response = viewer.post("/users", data={"user": "reader", "role": "admin", "csrf": csrf_of(page.text),
                                           "password": "make me an admin now"})
    assert response.status_code == 403
    assert site.local.store.console_user("reader").role == "viewer"


def test_an_admin_sets_a_password_audited_and_no_hash_is_ever_rendered(site: Site) -> None:
    admin = site.signed_in("ops", ADMIN_PASSWORD)
    token = csrf_of(admin.get("/users").text)
    short = admin.post("/users", data={"user": "new", "role": "viewer", "password": "short", "csrf": token})
    assert "at least 12 characters" in short.text and site.local.store.console_user("new") is None
    saved = admin.post("/users", data={"user": "new", "role": "viewer", "password": "new viewer pass",
                                       "csrf": token})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert site.local.store.console_user("new").role == "viewer"
    assert site.local.store.audit_log()[0].detail == "user new, role viewer"
    assert site.local.store.audit_log()[0].user_name == "ops"
    for user in site.local.store.console_users():
        assert user.password_hash.startswith("$argon2id$")
        assert user.password_hash not in saved.text and "$argon2" not in saved.text
    assert "new viewer pass" not in saved.text
    site.signed_in("new", "new viewer pass")


def test_signing_out_ends_the_session(site: Site) -> None:
    admin = site.signed_in("ops", ADMIN_PASSWORD)
    response = admin.post("/logout", data={"csrf": csrf_of(admin.get("/").text)})
    assert response.status_code == 303
    assert admin.get("/").status_code == 303
    assert site.local.store.audit_log()[0].action == "sign-out"


def test_set_password_command_stores_an_argon2_hash(site: Site) -> None:
    runner = CliRunner()
    config = str(site.world.settings_path)
    ok = runner.invoke(cli, ["console", "set-password", "--user", "cli", "--role", "viewer", "--config",
                             config], input="twelve chars ok\ntwelve chars ok\n")
    assert ok.exit_code == 0, ok.output
    stored = site.local.store.console_user("cli")
    assert stored.role == "viewer" and stored.password_hash.startswith("$argon2id$")
    assert "twelve chars ok" not in stored.password_hash
    short = runner.invoke(cli, ["console", "set-password", "--user", "x", "--config", config],
                          input="short\nshort\n")
    assert short.exit_code == 2 and site.local.store.console_user("x") is None
    bad_role = runner.invoke(cli, ["console", "set-password", "--role", "root", "--config", config])
    assert bad_role.exit_code == 2


def test_a_non_loopback_bind_needs_allow_remote(site: Site) -> None:
    config = str(site.world.settings_path)
    result = CliRunner().invoke(cli, ["console", "--host", "0.0.0.0", "--config", config])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_a_hash_is_not_the_password_and_a_short_password_is_refused() -> None:
    hashed = auth.hash_password("a good long password")
    assert hashed.startswith("$argon2id$") and "a good long password" not in hashed
    try:
        auth.hash_password("too short")
    except auth.PasswordTooShort:
        pass
    else:
        raise AssertionError("a short password was hashed")


def test_the_language_switch_stays_on_the_console(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/login").text)
    for target, lands in (("/people", "/people"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
                          ("https://evil.example/", "/")):
        response = client.post("/lang", data={"lang": "ja", "next": target, "csrf": token})
        assert response.status_code == 303 and response.headers["location"] == lands, target
