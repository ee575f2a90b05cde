"""API allocation, the limits resource, fault injection and the private inspection endpoints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceGeneralError, SalesforceRefusedRequest

from sandbox.faults import FaultInjector, FaultSpecError
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
        ("concurrent", 403, "REQUEST_LIMIT_EXCEEDED"),
        ("500", 500, "UNKNOWN_EXCEPTION"),
        ("503", 503, "SERVER_UNAVAILABLE"),
    ],
)
def test_injected_http_faults(
    sf: Salesforce, emu: SalesforceEmulator, kind: str, status: int, code: str, check: Callable[..., None]
) -> None:
    emu.faults.add("salesforce.query", kind, count=1)
    with pytest.raises(SalesforceRefusedRequest if status == 403 else SalesforceGeneralError) as info:
        sf.query("SELECT Id FROM Contact")
    assert info.value.status == status
    check("error_list", info.value.content)
    assert info.value.content[0]["errorCode"] == code
    assert sf.query("SELECT Id FROM Contact")["done"] is True  # count-limited: the next call succeeds
    assert emu.faults.injected[("salesforce.query", kind)] == 1


def test_the_concurrent_limit_is_a_403_without_retry_after(emu: SalesforceEmulator, url: str) -> None:
    """Salesforce answers no 429: the concurrent long-running request limit is a 403
    REQUEST_LIMIT_EXCEEDED naming ConcurrentRequests, and no Retry-After is sent."""
    emu.faults.add("salesforce.limits", "concurrent", count=1)
    session = requests.Session()
    session.trust_env = False
    answer = session.get(
        f"{url}/services/data/v59.0/limits",
        verify=str(emu.ca_file),
        timeout=10,
        headers={"Authorization": f"Bearer {emu.mint_session()}"},
    )
    assert (answer.status_code, "Retry-After" in answer.headers) == (403, False)
    assert answer.json() == [
        {
            "message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]


@pytest.mark.parametrize(
    "spec",
    ["salesforce.query:429=1", "salesforce.*:500=0.1,429=0.1", "*:429=0.1", "*.query:429=1", "sales*:429=1"],
)
def test_salesforce_rules_cannot_use_429(spec: str) -> None:
    with pytest.raises(FaultSpecError, match="Salesforce never answers 429"):
        FaultInjector.parse(spec)


def test_429_stays_for_hubspot_and_concurrent_is_salesforce_only() -> None:
    parsed = FaultInjector.parse("hubspot.*:429=0.1;salesforce.*:concurrent=0.1")
    rules = [(r.endpoint, r.kind) for r in parsed.rules]
    assert rules == [("hubspot.*", "429"), ("salesforce.*", "concurrent")]
    for spec in ("hubspot.search:concurrent=1", "*:concurrent=1"):
        with pytest.raises(FaultSpecError, match="HubSpot has no concurrent"):
            FaultInjector.parse(spec)
    with pytest.raises(FaultSpecError, match="Salesforce never answers 429"):
        SalesforceEmulator().faults.add("salesforce.query", "429")


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
    spec = "salesforce.*:500=0.3,concurrent=0.2"
    emulator = SalesforceEmulator(faults=FaultInjector.parse(spec, seed=seed))
    out = []
    for _ in range(40):
        fault = emulator.faults.draw("salesforce.query")
        out.append(fault.kind if fault else "-")
    return out


def test_seeded_faults_repeat() -> None:
    first, second, other = _fault_sequence(11), _fault_sequence(11), _fault_sequence(12)
    assert first == second
    assert first != other
    assert {"500", "concurrent", "-"} == set(first)


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


def test_versions_resource_lists_31_to_66(emu: SalesforceEmulator, url: str) -> None:
    """GET /services/data/ needs no session and lists the versions served (facts §14), with release names."""
    answer = requests.get(f"{url}/services/data/", verify=str(emu.ca_file), timeout=10)
    versions = answer.json()
    assert answer.status_code == 200 and emu.api_version == "66.0"
    assert versions[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert versions[-1] == {"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"}
    assert [v["version"] for v in versions] == [f"{n}.0" for n in range(31, 67)]
    assert {"label": "Winter '26", "url": "/services/data/v65.0", "version": "65.0"} in versions


@pytest.mark.parametrize(("version", "status"), [("20.0", 410), ("21.0", 410), ("30.0", 410), ("31.0", 200),
                                                 ("66.0", 200), ("67.0", 404), ("6.0", 404)])
def test_retired_versions_are_gone(emu: SalesforceEmulator, url: str, version: str, status: int) -> None:
    """21.0-30.0 were retired in Summer '25 (7.0-20.0 in Summer '22): REST answers 410 GONE."""
    answer = requests.get(
        f"{url}/services/data/v{version}/limits",
        verify=str(emu.ca_file),
        timeout=10,
        headers={"Authorization": f"Bearer {emu.mint_session()}"},
    )
    assert answer.status_code == status
    if status == 410:
        (error,) = answer.json()
        assert error["errorCode"] == "GONE" and error["message"].startswith("The requested resource has been")
