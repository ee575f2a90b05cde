"""API allocation, the limits resource, fault injection and the private inspection endpoints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceGeneralError, SalesforceRefusedRequest

from sandbox.faults import FaultInjector
from sandbox.salesforce import SalesforceEmulator


def test_sforce_limit_info_is_parsed_into_api_usage(sf: Salesforce, emu: SalesforceEmulator) -> None:
    for _ in range(3):
        sf.query("SELECT Id FROM Contact")
    usage = sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (3, emu.daily_limit)


def test_request_limit_exceeded(sf: Salesforce, emu: SalesforceEmulator, check: Callable[..., None]) -> None:
    emu.daily_limit = 2
    sf.query("SELECT Id FROM Contact")
    sf.query("SELECT Id FROM Contact")
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Contact")
    check("error_list", info.value.content)
    assert info.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert emu.api_used == 2


def test_limits_resource(sf: Salesforce, emu: SalesforceEmulator, check: Callable[..., None]) -> None:
    sf.query("SELECT Id FROM Contact")
    limits = sf.limits()
    check("limits", limits)
    assert limits["DailyApiRequests"] == {"Max": emu.daily_limit, "Remaining": emu.daily_limit - 2}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("429", 429, "REQUEST_LIMIT_EXCEEDED"),
        ("500", 500, "UNKNOWN_EXCEPTION"),
        ("503", 503, "SERVER_UNAVAILABLE"),
    ],
)
def test_injected_http_faults(
    sf: Salesforce, emu: SalesforceEmulator, kind: str, status: int, code: str, check: Callable[..., None]
) -> None:
    emu.faults.add("salesforce.query", kind, count=1, arg="3" if kind == "429" else None)
    with pytest.raises(SalesforceGeneralError) as info:
        sf.query("SELECT Id FROM Contact")
    assert info.value.status == status
    check("error_list", info.value.content)
    assert info.value.content[0]["errorCode"] == code
    assert sf.query("SELECT Id FROM Contact")["done"] is True  # count-limited: the next call succeeds
    assert emu.faults.injected[("salesforce.query", kind)] == 1


def test_retry_after_header_on_429(emu: SalesforceEmulator, url: str) -> None:
    emu.faults.add("salesforce.limits", "429", count=1, arg="7")
    session = requests.Session()
    session.trust_env = False
    answer = session.get(
        f"{url}/services/data/v59.0/limits",
        verify=str(emu.ca_file),
        timeout=10,
        headers={"Authorization": f"Bearer {emu.mint_session()}"},
    )
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "7")


def test_dropped_connection(sf: Salesforce, emu: SalesforceEmulator) -> None:
    emu.faults.add("salesforce.sobject", "drop", count=1)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        sf.Contact.create({"LastName": "x"})
    assert sf.Contact.create({"LastName": "y"})["success"] is True


def test_slow_answer_is_delayed_not_failed(sf: Salesforce, emu: SalesforceEmulator) -> None:
    emu.faults.add("salesforce.describe", "slow", count=1, arg="0.05")
    assert sf.Contact.describe()["name"] == "Contact"
    assert emu.faults.injected[("salesforce.describe", "slow")] == 1


def test_login_fault(emu: SalesforceEmulator, connect: Callable[[str], Salesforce]) -> None:
    from simple_salesforce import SalesforceAuthenticationFailed

    emu.faults.add("salesforce.login", "500", count=1)
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        connect("soap")
    assert info.value.code == "UNKNOWN_EXCEPTION"
    assert connect("soap").query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def _fault_sequence(seed: int) -> list[str]:
    emulator = SalesforceEmulator(faults=FaultInjector.parse("salesforce.*:500=0.3,429=0.2", seed=seed))
    out = []
    for _ in range(40):
        fault = emulator.faults.draw("salesforce.query")
        out.append(fault.kind if fault else "-")
    return out


def test_seeded_faults_repeat() -> None:
    first, second, other = _fault_sequence(11), _fault_sequence(11), _fault_sequence(12)
    assert first == second
    assert first != other
    assert {"500", "429", "-"} == set(first)


def test_inspection_endpoints(sf: Salesforce, emu: SalesforceEmulator, url: str) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emu.ca_file)
    seeded = session.post(f"{url}/_sandbox/records/Contact", json={"LastName": "Seeded"}, timeout=10)
    assert seeded.status_code == 201
    sf.query("SELECT Id FROM Contact")
    calls = session.get(f"{url}/_sandbox/calls", timeout=10).json()
    assert calls["calls"] == {"salesforce.query": 1}
    assert calls["api_usage"] == {"used": 1, "max": emu.daily_limit}
    records = session.get(f"{url}/_sandbox/records/Contact", timeout=10).json()["records"]
    assert [r["LastName"] for r in records] == ["Seeded"]
    assert (
        session.post(
            f"{url}/_sandbox/faults", json={"spec": "salesforce.query:503=1x1"}, timeout=10
        ).status_code
        == 204
    )
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Contact")
    assert session.post(f"{url}/_sandbox/reset", timeout=10).status_code == 204
    assert emu.store.all("Contact") == [] and emu.calls.snapshot() == {}


def test_unknown_api_version_is_404(emu: SalesforceEmulator, url: str) -> None:
    session = requests.Session()
    session.trust_env = False
    answer = session.get(
        f"{url}/services/data/v99.0/limits",
        verify=str(emu.ca_file),
        timeout=10,
        headers={"Authorization": f"Bearer {emu.mint_session()}"},
    )
    assert answer.status_code == 404
    assert answer.json()[0]["errorCode"] == "NOT_FOUND"


@pytest.mark.parametrize(("query_bytes", "header_bytes", "status"),
                         [(15_000, 0, 200), (16_400, 0, 414), (15_000, 2_000, 431)])
def test_uri_and_header_size_limit(
    emu: SalesforceEmulator, url: str, query_bytes: int, header_bytes: int, status: int
) -> None:
    token = emu.mint_session()
    padding = "x" * (query_bytes - 60)
    soql = f"SELECT Id FROM Contact WHERE LastName = '{padding}'"
    headers = {"Authorization": f"Bearer {token}", **({"X-Pad": "p" * header_bytes} if header_bytes else {})}
    answer = requests.get(f"{url}/services/data/v59.0/query", params={"q": soql}, headers=headers,
                          verify=str(emu.ca_file), timeout=30)
    assert answer.status_code == status, answer.text[:200]
