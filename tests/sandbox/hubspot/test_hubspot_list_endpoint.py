"""GET /crm/v3/objects/contacts as strict as production: at most 100 per page (50 with
`propertiesWithHistory`), `after` as an id keyset, the 10-second window (not search's per-second cap),
and 414 for a request target over 8,000 bytes."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from sandbox.hubspot.app import MAX_TARGET_BYTES

from .conftest import Sandbox, StepClock
from .people import seed_people


@pytest.mark.parametrize(("limit", "ok"), [(100, True), (101, False), (0, False)])
def test_page_size_is_at_most_100(hs: Sandbox, limit: int, ok: bool) -> None:
    seed_people(hs.emu, 120)
    basic = hs.client().crm.contacts.basic_api
    if ok:
        page = basic.get_page(limit=limit)
        assert len(page.results) == 100 and page.paging.next.after
        return
    with pytest.raises(ApiException) as refused:
        basic.get_page(limit=limit)
    assert refused.value.status == 400 and "VALIDATION_ERROR" in refused.value.body


def test_properties_with_history_allow_50_per_page(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 60)
    hs.emu.store.update_contact(people[0].id, {"lifecyclestage": "customer"})
    basic = hs.client().crm.contacts.basic_api
    with pytest.raises(ApiException) as refused:
        basic.get_page(limit=51, properties_with_history=["lifecyclestage"])
    assert refused.value.status == 400 and "propertiesWithHistory" in refused.value.body
    page = basic.get_page(limit=50, properties=["email"], properties_with_history=["lifecyclestage"])
    assert len(page.results) == 50
    first = page.results[0]
    assert first.id == people[0].id
    assert [h.value for h in first.properties_with_history["lifecyclestage"]][0] == "customer"
    assert basic.get_page(limit=100, properties=["email"]).results[0].properties_with_history is None


def test_after_is_a_keyset_stable_under_modification(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 30)
    basic = hs.client().crm.contacts.basic_api
    first = basic.get_page(limit=10)
    hs.emu.store.update_contact(people[2].id, {"firstname": "changed"})  # read already: no shift
    rest: list[str] = []
    after = first.paging.next.after
    while after:
        page = basic.get_page(limit=10, after=after)
        rest += [r.id for r in page.results]
        after = page.paging.next.after if page.paging else None
    assert [r.id for r in first.results] + rest == [p.id for p in people]


def test_list_rides_the_ten_second_window_not_the_search_cap(make_sandbox: Callable[..., Sandbox]) -> None:
    clock = StepClock()
    hs = make_sandbox(requests_per_10s=20, searches_per_second=2, clock=clock)
    client = hs.client()
    search, basic = client.crm.contacts.search_api, client.crm.contacts.basic_api
    for _ in range(2):
        search.do_search(PublicObjectSearchRequest(limit=1))
    for _ in range(20):  # the search cap is spent; the list still has its whole window
        basic.get_page(limit=100)
    with pytest.raises(ApiException) as limited:
        basic.get_page(limit=100)
    assert limited.value.status == 429 and '"policyName":"TEN_SECONDLY_ROLLING"' in limited.value.body
    with pytest.raises(ApiException) as searched:
        search.do_search(PublicObjectSearchRequest(limit=1))
    assert '"policyName":"SECONDLY"' in searched.value.body


def test_a_request_target_over_8000_bytes_is_414(hs: Sandbox) -> None:
    seed_people(hs.emu, 2)
    basic = hs.client().crm.contacts.basic_api
    prefix = "/crm/v3/objects/contacts?limit=100"
    fits = ["p" * 40] * ((MAX_TARGET_BYTES - len(prefix)) // len("&properties=" + "p" * 40))
    assert len(basic.get_page(limit=100, properties=fits).results) == 2
    calls = hs.emu.calls.snapshot()
    with pytest.raises(ApiException) as too_long:
        basic.get_page(limit=100, properties=[*fits, "q" * 60])
    assert too_long.value.status == 414
    assert hs.emu.calls.snapshot() == calls  # refused at the edge: not an API call
    # a gateway's HTML page, not an API answer the spec describes: drop its record once the server
    # thread has appended it (it may do so after the client has the answer; popping the last record
    # then dropped another one and left the 414 to fail the next test's spec check)
    deadline = time.monotonic() + 10
    while not any(r.status == 414 for r in hs.recorder.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(r.status == 414 for r in hs.recorder.records) == 1
    hs.recorder.records[:] = [r for r in hs.recorder.records if r.status != 414]
