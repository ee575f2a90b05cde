"""Every auth mode against the emulator's real login endpoints, re-login on expiry, TLS trust."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.base import AuthenticationError, FatalAPIError, FieldUpdate
from sandbox.salesforce import SalesforceEmulator
from sandbox.server import make_tls

from .conftest import Org, Run, emulator_calls


@pytest.mark.parametrize(
    ("overrides", "login_endpoint"),
    [
        ({"auth": "password"}, "salesforce.login"),  # SOAP with security token
        ({"auth": "password", "security_token": None, "consumer_key": "K", "consumer_secret": "S"}, None),
        ({"auth": "jwt"}, "salesforce.token"),
        ({"auth": "client_credentials"}, "salesforce.token"),
        ({"auth": "session"}, None),
    ],
    ids=["password-soap", "password-oauth", "jwt", "client_credentials", "session"],
)
def test_each_auth_mode_logs_in_and_reads(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, overrides: dict, login_endpoint: str | None
) -> None:
    if overrides.get("consumer_key") == "K":  # OAuth username-password flow with the app's real keys
        overrides = {
            **overrides,
            "consumer_key": emu.credentials.consumer_key,
            "consumer_secret": emu.credentials.consumer_secret,
        }
        login_endpoint = "salesforce.token"
    cid = org.contact()
    run = make(**overrides)
    run.connector.connect()
    assert [r["Id"] for r in run.connector.read_contacts([cid], ["Email"])] == [cid]
    expected = {"salesforce.query": 1} | ({login_endpoint: 1} if login_endpoint else {})
    assert run.calls() == expected == emulator_calls(emu)


def test_expired_session_logs_in_again_once(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    cid = org.contact()
    run = make()
    run.connector.connect()
    emu.sessions.expire()  # every session ends (as after 2 h of inactivity)
    assert [r["Id"] for r in run.connector.read_contacts([cid], [])] == [cid]
    assert run.calls() == {"salesforce.login": 2, "salesforce.query": 2} == emulator_calls(emu)


def test_an_expired_given_session_is_a_clear_error(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    cid = org.contact()
    run = make(auth="session")
    emu.sessions.expire()
    with pytest.raises(AuthenticationError, match="auth = 'session'"):
        list(run.connector.read_contacts([cid], []))


def test_wrong_password_is_an_authentication_error_without_retries(
    make: Callable[..., Run], emu: SalesforceEmulator
) -> None:
    run = make(password="wrong")
    with pytest.raises(AuthenticationError) as info:
        run.connector.connect()
    assert info.value.code == "INVALID_LOGIN" and "wrong" not in str(info.value)
    assert emu.calls.snapshot()["salesforce.login"] == 1


def test_login_outage_is_retried(make: Callable[..., Run], emu: SalesforceEmulator) -> None:
    emu.faults.add("salesforce.login", "503", 1.0, 2)
    emu.faults.add("salesforce.login", "drop", 1.0, 1)
    run = make()
    run.connector.connect()
    assert run.calls() == {"salesforce.login": 4} == emulator_calls(emu)


def test_tls_is_verified_against_the_configured_ca(make: Callable[..., Run], tmp_path: Path) -> None:
    other_ca = make_tls(tmp_path / "other").ca_file  # a CA that did not sign the emulator's certificate
    with pytest.raises(FatalAPIError) as info:
        make(ca_bundle=other_ca).connector.connect()
    assert info.value.code == "TLS"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"auth": "password"}, "SOAP login(), which Salesforce does not offer from API version 65.0"),
        ({"auth": "password", "security_token": None, "consumer_key": "K", "consumer_secret": "S"},
         "OAuth username-password flow"),
        ({"auth": "jwt"}, None),
        ({"auth": "client_credentials"}, None),
    ],
    ids=["password-soap", "password-oauth", "jwt", "client_credentials"],
)
def test_retiring_login_paths_warn_at_connect(
    make: Callable[..., Run], emu: SalesforceEmulator, caplog: pytest.LogCaptureFixture,
    overrides: dict, expected: str | None,
) -> None:
    if overrides.get("consumer_key") == "K":
        overrides = {**overrides, "consumer_key": emu.credentials.consumer_key,
                     "consumer_secret": emu.credentials.consumer_secret}
    with caplog.at_level("WARNING", logger="connectors.salesforce.client"):
        make(**overrides).connector.connect()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and expected in warnings[0] and "auth = 'jwt'" in warnings[0]
        assert emu.credentials.password not in warnings[0]


@pytest.mark.parametrize("auth", ["password", "jwt"])
@pytest.mark.parametrize("api_version", ["59.0", "66.0"])
def test_reads_and_writes_at_the_default_and_the_newest_api_version(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, auth: str, api_version: str
) -> None:
    """The org serves up to v66.0 (Spring '26) and no SOAP login() from 65.0: leadsync works at its
    default 59.0 and at 66.0, with password login (sent at 64.0 when api_version >= 65.0) and JWT."""
    assert emu.api_version == "66.0"
    cid = org.contact()
    run = make(auth=auth, api_version=api_version)
    assert [r["Id"] for r in run.connector.read_contacts([cid], ["Email"])] == [cid]
    (result,) = run.connector.update_fields([FieldUpdate("Contact", cid, {"Lead_Score__c": 7})])
    assert result.ok and emu.store.get("Contact", cid)["Lead_Score__c"] == 7
    assert run.calls() == {"salesforce.login" if auth == "password" else "salesforce.token": 1,
                           "salesforce.query": 1, "salesforce.collections": 1}


def test_retired_password_logins_are_refused_clearly(
    make: Callable[..., Run], emu: SalesforceEmulator
) -> None:
    emu.soap_login_retired = emu.password_grant_retired = True
    with pytest.raises(AuthenticationError, match="INVALID_OPERATION"):
        make().connector.connect()
    oauth = {"security_token": None, "consumer_key": emu.credentials.consumer_key,
             "consumer_secret": emu.credentials.consumer_secret}
    with pytest.raises(AuthenticationError, match="unsupported_grant_type"):
        make(**oauth).connector.connect()
    make(auth="jwt").connector.connect()  # the documented default keeps working
