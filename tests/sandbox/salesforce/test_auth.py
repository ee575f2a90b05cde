"""Every auth mode through the real client, wrong credentials, and session expiry with re-login."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce, SalesforceAuthenticationFailed, SalesforceExpiredSession

from connectors.salesforce.transport import build_session
from sandbox.salesforce import SalesforceEmulator

from .conftest import MovableClock

MODES = ["soap", "oauth_password", "jwt", "client_credentials", "session"]


@pytest.mark.parametrize("mode", MODES)
def test_every_auth_mode_logs_in_and_queries(
    connect: Callable[[str], Salesforce], emu: SalesforceEmulator, url: str, mode: str
) -> None:
    emu.store.create("Account", {"Name": "Acme"})
    sf = connect(mode)
    assert f"https://{sf.sf_instance}" == url
    assert [r["Name"] for r in sf.query("SELECT Name FROM Account")["records"]] == ["Acme"]
    expected_login_calls = {"soap": ("salesforce.login", 1), "session": ("salesforce.login", 0)}
    endpoint, count = expected_login_calls.get(mode, ("salesforce.token", 1))
    assert emu.calls.snapshot().get(endpoint, 0) == count


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("soap", "INVALID_LOGIN"),
        ("oauth_password", "invalid_grant"),
        ("jwt", "invalid_grant"),
        ("client_credentials", "invalid_client"),
    ],
)
def test_wrong_credentials_fail_like_the_real_login(
    emu: SalesforceEmulator, url: str, mode: str, code: str
) -> None:
    creds = emu.credentials
    domain = "leadsync-sandbox.my" if mode == "client_credentials" else "login"
    session = build_session(domain=domain, login_url=url, ca_bundle=emu.ca_file)
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        if mode == "soap":
            Salesforce(
                username=creds.username,
                password="wrong",
                security_token=creds.security_token,
                session=session,
            )
        elif mode == "oauth_password":
            Salesforce(
                username=creds.username,
                password="wrong",
                consumer_key=creds.consumer_key,
                consumer_secret=creds.consumer_secret,
                session=session,
            )
        elif mode == "jwt":
            Salesforce(
                username=creds.username,
                consumer_key=creds.consumer_key,
                privatekey=_other_key(),
                session=session,
            )
        else:
            Salesforce(
                consumer_key=creds.consumer_key, consumer_secret="wrong", domain=domain, session=session
            )
    assert info.value.code == code


def test_soap_fault_is_http_500_with_exception_code(emu: SalesforceEmulator, url: str) -> None:
    body = (
        '<?xml version="1.0"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>nobody</n1:username>'
        "<n1:password>x</n1:password></n1:login></env:Body></env:Envelope>"
    )
    answer = requests.post(
        f"{url}/services/Soap/u/59.0",
        data=body,
        verify=str(emu.ca_file),
        headers={"content-type": "text/xml", "SOAPAction": "login"},
        timeout=10,
    )
    assert answer.status_code == 500
    assert "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>" in answer.text


def test_oauth_token_response_shape(emu: SalesforceEmulator, url: str, check: Callable[..., None]) -> None:
    creds = emu.credentials
    answer = requests.post(
        f"{url}/services/oauth2/token",
        verify=str(emu.ca_file),
        timeout=10,
        data={
            "grant_type": "password",
            "client_id": creds.consumer_key,
            "client_secret": creds.consumer_secret,
            "username": creds.username,
            "password": creds.password + creds.security_token,
        },
    )
    assert answer.status_code == 200
    check("oauth_token", answer.json())
    assert answer.json()["instance_url"] == url


def test_jwt_with_wrong_issuer_is_rejected(emu: SalesforceEmulator, url: str) -> None:
    assertion = jwt.encode(
        {
            "iss": "someone-else",
            "sub": emu.credentials.username,
            "aud": "https://login.salesforce.com",
            "exp": 4102444800,
        },
        emu.credentials.private_key_pem,
        algorithm="RS256",
    )
    answer = requests.post(
        f"{url}/services/oauth2/token",
        verify=str(emu.ca_file),
        timeout=10,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client_id"


@pytest.mark.parametrize("mode", ["soap", "jwt", "client_credentials"])
def test_expired_session_makes_the_client_log_in_again(
    connect: Callable[[str], Salesforce], emu: SalesforceEmulator, clock: MovableClock, mode: str
) -> None:
    sf = connect(mode)
    first = sf.session_id
    clock.advance(7200 + 1)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    assert sf.session_id != first
    login_endpoint = "salesforce.login" if mode == "soap" else "salesforce.token"
    assert emu.calls.snapshot()[login_endpoint] == 2


def test_session_stays_alive_while_used(sf: Salesforce, clock: MovableClock) -> None:
    for _ in range(3):
        clock.advance(7000)
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_given_session_id_cannot_refresh_and_gets_the_real_401(
    sf: Salesforce, clock: MovableClock, check: Callable[..., None]
) -> None:
    clock.advance(7201)
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.query("SELECT Id FROM Contact")
    check("error_list", info.value.content)
    assert info.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_expire_fault_forces_one_relogin(
    connect: Callable[[str], Salesforce], emu: SalesforceEmulator
) -> None:
    sf = connect("soap")
    emu.faults.add("salesforce.query", "expire", count=1)
    assert sf.query("SELECT COUNT() FROM Contact")["done"] is True
    assert emu.calls.snapshot()["salesforce.login"] == 2
    assert emu.calls.snapshot()["salesforce.query"] == 2


def test_soap_login_is_gone_from_version_65(emu: SalesforceEmulator, url: str) -> None:
    creds = emu.credentials
    body = (
        '<?xml version="1.0"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{creds.username}</n1:username>"
        f"<n1:password>{creds.password}{creds.security_token}</n1:password></n1:login></env:Body></env:Envelope>"
    )
    headers = {"content-type": "text/xml", "SOAPAction": "login"}
    post = lambda version: requests.post(  # noqa: E731
        f"{url}/services/Soap/u/{version}", data=body, headers=headers, verify=str(emu.ca_file), timeout=10
    )
    assert post("64.0").status_code == 200
    gone = post("65.0")
    assert gone.status_code == 500 and "<sf:exceptionCode>INVALID_OPERATION</sf:exceptionCode>" in gone.text
    emu.soap_login_retired = True  # Summer '27: every version
    assert post("59.0").status_code == 500


def _refresh(emu: SalesforceEmulator, url: str, **overrides: str) -> requests.Response:
    creds = emu.credentials
    form = {
        "grant_type": "refresh_token",
        "refresh_token": creds.refresh_token,
        "client_id": creds.consumer_key,
        "client_secret": creds.consumer_secret,
        **overrides,
    }
    return requests.post(f"{url}/services/oauth2/token", data=form, verify=str(emu.ca_file), timeout=10)


def test_refresh_token_grant(emu: SalesforceEmulator, url: str, check: Callable[..., None]) -> None:
    """The refresh flow's answer (facts §15): the usual token fields, no refresh_token unless the app
    rotates them, and a session that works."""
    answer = _refresh(emu, url)
    assert answer.status_code == 200
    body = answer.json()
    check("oauth_token", body)
    fields = {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}
    assert set(body) == fields
    assert body["token_type"] == "Bearer" and body["issued_at"].isdigit()
    session = build_session(login_url=url, ca_bundle=emu.ca_file)
    sf = Salesforce(session_id=body["access_token"], instance_url=body["instance_url"], session=session)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


@pytest.mark.parametrize(
    ("overrides", "error", "description"),
    [
        ({"refresh_token": "5Aep861unknown"}, "invalid_grant", "expired access/refresh token"),
        ({"client_secret": "wrong"}, "invalid_client", "invalid client credentials"),
        ({"client_id": "someone-else"}, "invalid_client_id", "client identifier invalid"),
    ],
)
def test_refresh_token_grant_refusals(
    emu: SalesforceEmulator, url: str, overrides: dict[str, str], error: str, description: str
) -> None:
    answer = _refresh(emu, url, **overrides)
    assert (answer.status_code, answer.json()) == (400, {"error": error, "error_description": description})


def test_rotated_refresh_tokens_are_single_use(emu: SalesforceEmulator, url: str) -> None:
    emu.rotate_refresh_tokens = True
    first = _refresh(emu, url).json()
    assert first["refresh_token"] != emu.credentials.refresh_token
    assert _refresh(emu, url).status_code == 400  # the used one is gone
    second = _refresh(emu, url, refresh_token=first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
