"""The launcher: both emulators reachable by the real clients with the settings it writes."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import hubspot
import pytest
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest
from simple_salesforce import Salesforce, format_soql

from connectors.salesforce.transport import build_session
from sandbox.faults import FaultSpecError
from sandbox.launcher import Sandbox
from sandbox.settings_toml import dumps_toml
from sync.settings import Settings, load_settings


def settings_for(box: Sandbox, tmp_path: Path) -> Settings:
    path = box.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    return load_settings(path)


def salesforce_client(settings: Settings) -> Salesforce:
    """simple-salesforce logged in the way the settings say (JWT bearer, or SOAP with a password)."""
    sf = settings.salesforce
    session = build_session(domain=sf.domain, login_url=sf.login_url, ca_bundle=sf.ca_bundle)
    if sf.auth == "jwt":
        return Salesforce(username=sf.username, consumer_key=sf.consumer_key,
                          privatekey_file=str(sf.private_key_file), domain=sf.domain,
                          version=sf.api_version, session=session)
    assert sf.password is not None and sf.security_token is not None
    return Salesforce(username=sf.username, password=sf.password.get_secret_value(),
                      security_token=sf.security_token.get_secret_value(), domain=sf.domain,
                      version=sf.api_version, session=session)


def hubspot_client(settings: Settings) -> hubspot.Client:
    assert settings.hubspot.access_token is not None
    return hubspot.Client.create(access_token=settings.hubspot.access_token.get_secret_value(),
                                 host=settings.hubspot.host)


def search_email(client: hubspot.Client, email: str) -> list:
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
        properties=["email", "lifecyclestage"], limit=10)
    return client.crm.contacts.search_api.do_search(public_object_search_request=request).results


def test_settings_file_is_valid_private_and_points_at_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "settings.toml"
    target.write_text("old = true\n")
    target.chmod(0o644)
    settings = settings_for(sandbox, tmp_path)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert settings.salesforce.login_url == sandbox.salesforce_url
    assert settings.salesforce.ca_bundle == sandbox.ca_file and sandbox.ca_file.is_file()
    assert sandbox.ca_file.is_relative_to(sandbox.workdir)
    assert settings.hubspot.host == sandbox.hubspot_url
    assert settings.state.url == f"sqlite:///{tmp_path}/state.db"
    assert tomllib.loads(target.read_text()) == sandbox.settings_dict(f"sqlite:///{tmp_path}/state.db")


def test_real_clients_connect_with_the_written_settings(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = settings_for(sandbox, tmp_path)
    book = sandbox.book
    assert book is not None
    people = [p for a in book.accounts() for p in a.people]

    sf = salesforce_client(settings)
    lost = sf.query_all(format_soql(
        "SELECT Id, StageName, Loss_Reason__c, Account.Name FROM Opportunity "
        "WHERE IsClosed = true AND IsWon = {won}", won=False))
    expected = [o for a in book.accounts() for o in a.opportunities if o.outcome == "lost"]
    assert lost["totalSize"] == len(expected)
    assert {r["Loss_Reason__c"] for r in lost["records"]} == {o.loss_reason for o in expected}

    client = hubspot_client(settings)
    twin = next(p for p in people if p.in_hubspot and p.salesforce_email and p.salesforce_email != p.email
                and p.hubspot and not p.hubspot.archived_at)
    sf_spelling = sf.query(format_soql("SELECT Email FROM Contact WHERE Id != null AND Email = {e}",
                                       e=twin.salesforce_email))["records"]
    assert [r["Email"] for r in sf_spelling] == [twin.salesforce_email]
    found = search_email(client, (twin.salesforce_email or "").lower())  # normalized, as leadsync does
    assert [r.properties["email"] for r in found] == [twin.email]


def test_written_settings_log_in_with_jwt_and_the_private_key(sandbox: Sandbox, tmp_path: Path) -> None:
    """The login leadsync recommends: JWT bearer, no password in the file, no retirement notice."""
    settings = settings_for(sandbox, tmp_path)
    sf_settings = settings.salesforce
    assert sf_settings.auth == "jwt" and sf_settings.login_notice() is None
    assert sf_settings.password is None and sf_settings.security_token is None
    assert sf_settings.missing_for_auth() == []
    key = sandbox.jwt_key_file
    assert sf_settings.private_key_file == key
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600
    before = sandbox.salesforce.calls.snapshot()
    accounts = salesforce_client(settings).query("SELECT COUNT() FROM Account")
    assert accounts["totalSize"] == sandbox.loaded.accounts > 0
    after = sandbox.salesforce.calls.snapshot()
    assert after.get("salesforce.token", 0) - before.get("salesforce.token", 0) == 1
    assert after.get("salesforce.login", 0) == before.get("salesforce.login", 0)


def test_password_settings_stay_available_for_the_soap_login(sandbox: Sandbox, tmp_path: Path) -> None:
    data = sandbox.settings_dict(f"sqlite:///{tmp_path}/state.db", auth="password")
    path = tmp_path / "password.toml"
    path.write_text(dumps_toml(data), encoding="utf-8")
    path.chmod(0o600)
    settings = load_settings(path)
    assert settings.salesforce.auth == "password" and settings.salesforce.uses_soap_login()
    before = sandbox.salesforce.calls.snapshot().get("salesforce.login", 0)
    accounts = salesforce_client(settings).query("SELECT COUNT() FROM Account")
    assert accounts["totalSize"] == sandbox.loaded.accounts
    assert sandbox.salesforce.calls.snapshot()["salesforce.login"] == before + 1
    with pytest.raises(ValueError, match="auth must be"):
        sandbox.settings_dict("sqlite://", auth="session")


def test_start_with_a_fault_spec(tmp_path: Path) -> None:
    with Sandbox.start(people=0, workdir=tmp_path, faults="hubspot.search:503=1x1") as box:
        settings = settings_for(box, tmp_path)
        client = hubspot_client(settings)
        with pytest.raises(ApiException) as failure:
            search_email(client, "nobody@example.com")
        assert failure.value.status == 503
        assert search_email(client, "nobody@example.com") == []  # the rule was for one call only
        assert box.hubspot.faults.injected[("hubspot.search", "503")] == 1


def test_reset_replaces_faults_and_data(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    client = hubspot_client(settings_for(empty_sandbox, tmp_path))
    empty_sandbox.reset(people=0, faults="hubspot.search:500=1")
    with pytest.raises(ApiException) as failure:
        search_email(client, "x@example.com")
    assert failure.value.status == 500
    empty_sandbox.reset(people=0)
    assert search_email(client, "x@example.com") == []


@pytest.mark.parametrize("spec", ["nonsense", "hubspot.*:boom=1", "hubspot.*:429=2", "salesforce.*:500=x"])
def test_bad_fault_spec_fails_before_anything_starts(spec: str, tmp_path: Path) -> None:
    with pytest.raises(FaultSpecError):
        Sandbox.start(people=0, workdir=tmp_path / "w", faults=spec)
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("value", ["plain", 'quote " and \\ backslash', "日本語", "line\nbreak\ttab", ""])
def test_toml_writer_round_trips(value: str) -> None:
    data = {"section": {"text": value, "number": 3, "ratio": 0.5, "flag": True}}
    assert tomllib.loads(dumps_toml(data)) == data


def test_toml_writer_leaves_out_none_and_refuses_other_types() -> None:
    assert tomllib.loads(dumps_toml({"a": {"x": None, "y": 1}})) == {"a": {"y": 1}}
    with pytest.raises(TypeError):
        dumps_toml({"a": {"x": [1, 2]}})
