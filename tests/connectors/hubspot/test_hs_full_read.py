"""The first full read (no `since`) through the list endpoint, against the emulator with the real
client: every contact once with what the search read gives (properties, modified_at, merged ids), a
catch-up for what changes while it runs, `until`, faults, the 10-second window, the URI budget."""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from connectors.hubspot import read as hubspot_read
from connectors.hubspot.read import LIST_PAGE, LIST_URI_BUDGET, SEARCH_PAGE, list_uri_length

from .conftest import SEEDED, Hub


def seed(hub: Hub, n: int, *, per_second: int = 3) -> list[str]:
    store = hub.emu.store
    return [store.create_contact({"email": f"f{i}@example.com", "firstname": f"F{i}",
                                  "lifecyclestage": "lead"}, at=SEEDED + timedelta(seconds=i // per_second))
            for i in range(n)]


def test_full_read_pages_the_list_and_keeps_what_search_gives(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    ids = seed(hub, 2_450)
    hub.emu.store.merge_contacts(ids[10], ids[11])  # the survivor is modified now, lists the merged id
    refs = list(hub.connector().iter_contacts(None, ["firstname", "lifecyclestage"]))
    got = [r.contact_id for r in refs]
    live = {c["id"] for c in hub.emu.store.contacts()}
    assert len(got) == len(set(got)) and set(got) == live == set(ids) - {ids[11]}
    by_id = {r.contact_id: r for r in refs}
    assert by_id[ids[10]].merged_ids == (ids[11],)
    assert all(r.properties["lifecyclestage"] == "lead" and r.properties["firstname"] for r in refs)
    assert {"email", "lastmodifieddate", "hs_object_id", "hs_merged_object_ids"} <= set(refs[0].properties)
    assert by_id[ids[20]].modified_at == SEEDED + timedelta(seconds=20 // 3)
    # the run's watermark (the newest modified_at) is the merge, the newest change in the portal
    newest = max(r.modified_at for r in refs)  # type: ignore[type-var]
    assert newest == by_id[ids[10]].modified_at > SEEDED + timedelta(days=1)
    # one list call per 100 contacts; one search before (newest first), one catch-up after
    assert hub.counted() == {"contacts": math.ceil(len(live) / LIST_PAGE), "search": 2} == hub.calls()


def test_a_book_that_fits_one_search_page_is_read_in_one_call(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    ids = seed(hub, SEARCH_PAGE - 1)
    refs = list(hub.connector().iter_contacts(None, ["firstname"]))
    assert [r.contact_id for r in refs] == ids  # ascending, like the search read
    assert hub.counted() == {"search": 1} == hub.calls()


def test_contacts_changed_during_the_list_are_read_again_with_their_new_values(make_hub) -> None:  # noqa: ANN001
    """Without the catch-up, a contact the list read before it changed keeps its old values in the
    snapshot, and the watermark (the newest timestamp the list saw) already lies past the change."""
    hub: Hub = make_hub()
    store = hub.emu.store
    ids = seed(hub, 1_000)
    scan = hub.connector().iter_contacts(None, ["firstname"])
    seen = [next(scan) for _ in range(300)]
    store.update_contact(ids[5], {"firstname": "moved"})  # read already: must come again
    store.update_contact(ids[700], {"firstname": "moved too"})  # not read yet: once, new values
    late = store.create_contact({"email": "late@example.com"})  # created meanwhile
    hub.clock.advance(2.0)
    store.update_contact(ids[900], {"firstname": "last"})  # a later change the list will see
    seen += list(scan)
    count = Counter(r.contact_id for r in seen)
    assert set(count) == set(ids) | {late}
    assert count[ids[5]] == 2 and count[ids[700]] == 1 and count[late] == 1 and count[ids[900]] == 1
    final = {r.contact_id: r for r in seen}  # the last value read of each
    assert final[ids[5]].properties["firstname"] == "moved"
    assert final[ids[700]].properties["firstname"] == "moved too"
    stored = {c["id"]: c for c in store.contacts()}
    for cid in (ids[5], ids[700], ids[900], late):
        assert final[cid].properties["lastmodifieddate"] == stored[cid]["properties"]["lastmodifieddate"]


def test_full_read_with_until_reads_before_it_only(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    ids = seed(hub, 900)
    until = SEEDED + timedelta(seconds=100)
    refs = list(hub.connector().iter_contacts(None, [], until=until))
    assert sorted(r.contact_id for r in refs) == sorted(ids[:300])
    assert hub.counted()["contacts"] == math.ceil(900 / LIST_PAGE)


def test_full_read_survives_faults_and_counts_every_attempt(make_hub, caplog) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    ids = seed(hub, 2_000)
    faults = hub.emu.faults
    faults.add("hubspot.contacts", "429", 1.0, count=2, arg="1")
    faults.add("hubspot.contacts", "500", 0.05)
    faults.add("hubspot.contacts", "503", 0.05)
    faults.add("hubspot.contacts", "drop", 0.05)
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        got = [r.contact_id for r in hub.connector().iter_contacts(None, [])]
    assert len(got) == len(set(got)) and set(got) == set(ids)
    injected = sum(n for (endpoint, _), n in faults.injected.items() if endpoint == "hubspot.contacts")
    assert injected >= 3
    assert hub.counted() == hub.calls()
    assert hub.counted()["contacts"] == math.ceil(2_000 / LIST_PAGE) + injected


def test_full_read_rides_the_ten_second_window_not_the_search_cap(make_hub, caplog) -> None:  # noqa: ANN001
    """30 list pages fit one 10-second window (100 calls), so they start at once in server time; the
    same book by search (15 pages at 5 per second) takes about three seconds."""
    hub: Hub = make_hub(requests_per_10s=100, searches_per_second=5.0)
    seed(hub, 3_000)
    conn = hub.connector(requests_per_10s=100, searches_per_second=5.0)
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        start = hub.clock()
        assert sum(1 for _ in conn.iter_contacts(None, [])) == 3_000
        listed = hub.clock() - start
        hub.clock.advance(11.0)
        start = hub.clock()
        assert sum(1 for _ in hubspot_read.iter_search(conn.transport, None, None, [])) == 3_000
        searched = hub.clock() - start
    assert not caplog.records, "the emulator refused a paced call (429)"
    assert listed < 1.0 <= (math.ceil(3_000 / SEARCH_PAGE) - 1) / 5.0 <= searched


def test_too_many_properties_for_one_uri_read_everything_by_search(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    ids = seed(hub, 450)
    many = [f"custom_property_with_a_long_name_{i:04d}" for i in range(260)]
    assert list_uri_length(hubspot_read.read_properties(many)) > LIST_URI_BUDGET
    refs = list(hub.connector().iter_contacts(None, many))
    assert sorted(r.contact_id for r in refs) == sorted(ids)
    assert hub.counted() == {"search": math.ceil(450 / SEARCH_PAGE)} == hub.calls()


def test_the_uri_estimate_matches_what_the_client_sends(make_hub) -> None:  # noqa: ANN001
    """The budget is checked against an estimate: it must not be shorter than the real request target."""
    hub: Hub = make_hub()
    seed(hub, 3)
    props = hubspot_read.read_properties([f"prop_{i}" for i in range(40)])
    sent: list[str] = []
    api = hub.connector().transport.client.crm.contacts.basic_api
    pool = api.api_client.rest_client.pool_manager
    original = pool.request

    def spy(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        fields = kwargs.get("fields")  # urllib3 puts a GET's fields in the URL (urlencode)
        sent.append(url + ("?" + urlencode(fields) if fields else ""))
        return original(method, url, *args, **kwargs)

    pool.request = spy
    api.get_page(limit=LIST_PAGE, after="9" * 20, archived=False, properties=props)
    target = "/" + sent[0].split("://", 1)[-1].split("/", 1)[1]
    assert target.count("properties=") == len(props)
    assert len(target) <= list_uri_length(props) <= len(target) + 20


@pytest.mark.parametrize("n", [SEARCH_PAGE, SEARCH_PAGE + 1])
def test_the_edge_of_one_search_page(make_hub, n: int) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    ids = seed(hub, n)
    got = [r.contact_id for r in hub.connector().iter_contacts(None, [])]
    assert sorted(got) == sorted(ids) and len(got) == n
    assert hub.counted()["contacts"] == math.ceil(n / LIST_PAGE)
