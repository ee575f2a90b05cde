"""Rate limits, auth and fault injection, seen through the real client with its own retry switched off."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest
from hubspot.crm.contacts.exceptions import ServiceException, UnauthorizedException

from sandbox.faults import FaultInjector

from .conftest import Sandbox, StepClock
from .people import seed_people

RATE_HEADERS = (
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Secondly",
    "X-HubSpot-RateLimit-Secondly-Remaining",
)


@pytest.mark.parametrize("retry_after", [True, False], ids=["with-retry-after", "without-retry-after"])
def test_ten_second_window(make_sandbox: Callable[..., Sandbox], retry_after: bool) -> None:
    clock = StepClock()
    hs = make_sandbox(requests_per_10s=3, retry_after_on_429=retry_after, clock=clock)
    basic = hs.client().crm.contacts.basic_api
    for _ in range(3):
        basic.get_page(limit=1)
    with pytest.raises(ApiException) as limited:
        basic.get_page(limit=1)
    error = limited.value
    assert error.status == 429
    assert ('"policyName":"TEN_SECONDLY_ROLLING"' in error.body) and (
        '"errorType":"RATE_LIMIT"' in error.body
    )
    assert "You have reached your ten_secondly_rolling limit." in error.body
    assert error.headers.get("Retry-After") == ("10" if retry_after else None)
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.advance(10)
    assert basic.get_page(limit=1).results == []


def test_search_has_its_own_per_second_limit(make_sandbox: Callable[..., Sandbox]) -> None:
    clock = StepClock()
    hs = make_sandbox(searches_per_second=2, requests_per_10s=1, clock=clock)
    search = hs.client().crm.contacts.search_api
    search.do_search(PublicObjectSearchRequest(limit=1))
    search.do_search(PublicObjectSearchRequest(limit=1))  # searches do not use the 10-second window
    with pytest.raises(ApiException) as limited:
        search.do_search(PublicObjectSearchRequest(limit=1))
    assert limited.value.status == 429
    assert '"policyName":"SECONDLY"' in limited.value.body
    assert not [h for h in limited.value.headers if h.lower().startswith("x-hubspot-ratelimit")]
    clock.advance(1)
    assert search.do_search(PublicObjectSearchRequest(limit=1)).total == 0


def test_daily_allowance(make_sandbox: Callable[..., Sandbox]) -> None:
    hs = make_sandbox(daily_limit=2, clock=StepClock())
    basic = hs.client().crm.contacts.basic_api
    basic.get_page(limit=1)
    basic.get_page(limit=1)
    with pytest.raises(ApiException) as limited:
        basic.get_page(limit=1)
    assert '"policyName":"DAILY"' in limited.value.body
    assert limited.value.headers["Retry-After"] == str(15 * 3600)  # the clock says 09:00 UTC
    assert limited.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_rate_limit_headers_count_down_per_token(make_sandbox: Callable[..., Sandbox]) -> None:
    hs = make_sandbox(tokens=("one", "two"), requests_per_10s=50, daily_limit=1000, clock=StepClock())
    first = hs.raw("GET", "/crm/v3/objects/contacts", token="one")
    second = hs.raw("GET", "/crm/v3/objects/contacts", token="one")
    other = hs.raw("GET", "/crm/v3/properties/contacts", token="two")
    assert all(h in first.headers for h in RATE_HEADERS)
    assert (
        first.headers["X-HubSpot-RateLimit-Remaining"],
        second.headers["X-HubSpot-RateLimit-Remaining"],
        other.headers["X-HubSpot-RateLimit-Remaining"],
    ) == ("49", "48", "49")
    assert second.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "998"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_missing_or_unknown_token_is_401(hs: Sandbox) -> None:
    missing = hs.raw("GET", "/crm/v3/objects/contacts", token=None)
    assert missing.status == 401
    body = missing.json()
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    with pytest.raises(UnauthorizedException):
        hs.client(token="not-a-token").crm.contacts.basic_api.get_page()


@pytest.mark.parametrize(
    ("spec", "status", "category", "retry_after"),
    [
        ("hubspot.contacts:500=1x1", 500, "INTERNAL_ERROR", None),
        ("hubspot.contacts:503=1x1", 503, "SERVICE_UNAVAILABLE", None),
        ("hubspot.contacts:429=1x1@3", 429, "RATE_LIMITS", "3"),
        ("hubspot.contacts:429=1x1@none", 429, "RATE_LIMITS", None),
        ("hubspot.*:expire=1x1", 401, "EXPIRED_AUTHENTICATION", None),
    ],
)
def test_injected_faults(
    make_sandbox: Callable[..., Sandbox], spec: str, status: int, category: str, retry_after: str | None
) -> None:
    hs = make_sandbox(faults=FaultInjector.parse(spec, seed=1))
    basic = hs.client().crm.contacts.basic_api
    with pytest.raises(ApiException) as failed:
        basic.get_page(limit=1)
    assert failed.value.status == status
    assert f'"category":"{category}"' in failed.value.body
    assert failed.value.headers.get("Retry-After") == retry_after
    assert isinstance(failed.value, ServiceException) == (status >= 500)
    assert basic.get_page(limit=1).results == []  # the rule was for one call only
    assert sum(hs.emu.faults.injected.values()) == 1


def test_dropped_connection_surfaces_as_urllib3_error(make_sandbox: Callable[..., Sandbox]) -> None:
    hs = make_sandbox(faults=FaultInjector.parse("hubspot.search:drop=1x1"))
    search = hs.client().crm.contacts.search_api
    with pytest.raises(urllib3.exceptions.HTTPError):
        search.do_search(PublicObjectSearchRequest(limit=1))
    assert search.do_search(PublicObjectSearchRequest(limit=1)).total == 0


def test_slow_answers_still_arrive(make_sandbox: Callable[..., Sandbox]) -> None:
    hs = make_sandbox(faults=FaultInjector.parse("hubspot.properties:slow=1x1@0.2"))
    assert hs.client().crm.properties.core_api.get_all("contacts").results
    assert hs.emu.faults.injected[("hubspot.properties", "slow")] == 1


def test_calls_are_counted_per_endpoint_and_reset(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 2)
    client = hs.client()
    client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    client.crm.contacts.basic_api.get_by_id(people[0].id)
    client.crm.contacts.basic_api.get_by_id(people[1].id)
    expected = {"hubspot.search": 1, "hubspot.contacts": 2}
    assert hs.emu.calls.snapshot() == expected
    inspected = hs.raw("GET", "/_sandbox/calls", token=None).json()
    assert inspected["calls"] == expected
    assert hs.raw("POST", "/_sandbox/reset", token=None).status == 200
    assert hs.emu.calls.snapshot() == {}
    assert hs.emu.store.contacts() == []
