"""Search against the emulator (the incremental read; the full read's catch-up): past the 10,000-result
cap without truncation (also with more than 10,000 contacts sharing one lastmodifieddate), exact window
bounds, faults, pacing."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.base import ContactRef
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.read import MAX_EXCLUDED, SEARCH_PAGE, iter_search, to_ms
from sandbox.hubspot.timefmt import parse_ms

from .conftest import SEEDED, Hub, start_hub

SPREAD = 2_400  # contacts on distinct-ish timestamps (three per second)
BULK = 10_050  # contacts sharing one lastmodifieddate (a bulk import): more than the search cap
LATE = 60
BULK_AT = SEEDED + timedelta(days=1)


@pytest.fixture(scope="module")
def big() -> Iterator[Hub]:
    hub = start_hub()
    store = hub.emu.store
    for i in range(SPREAD):
        store.create_contact({"email": f"s{i}@example.com", "firstname": f"S{i}"},
                             at=SEEDED + timedelta(seconds=i // 3))
    for i in range(BULK):
        store.create_contact({"email": f"b{i}@example.com", "firstname": f"B{i}"}, at=BULK_AT)
    for i in range(LATE):
        store.create_contact({"email": f"l{i}@example.com"}, at=BULK_AT + timedelta(seconds=i + 1))
    yield hub
    hub.server.stop()


@pytest.fixture
def hub(big: Hub) -> Hub:
    big.reset_counts()
    big.emu.faults.clear()
    big.clock.advance(11.0)  # the previous test's calls leave the emulator's rate windows
    return big


def search(conn: HubSpotConnector, since: datetime | None, properties: list[str]) -> Iterator[ContactRef]:
    """The search read, also without `since` (the connector reads everything through the list
    endpoint then: test_hs_full_read.py)."""
    return iter_search(conn.transport, since, None, properties)


def expected_ids(hub: Hub, since: datetime | None, until: datetime | None) -> set[str]:
    lo = to_ms(since) if since else -math.inf
    hi = to_ms(until, ceil=True) if until else math.inf
    return {c["id"] for c in hub.emu.store.contacts()
            if lo <= (parse_ms(c["properties"]["lastmodifieddate"]) or 0) < hi}


def test_full_scan_crosses_the_cap_without_truncation(hub: Hub) -> None:
    refs = list(search(hub.connector(), None, ["firstname"]))
    ids = [r.contact_id for r in refs]
    assert len(ids) == len(set(ids)), "a contact was yielded twice"
    assert set(ids) == expected_ids(hub, None, None)
    assert len(ids) == SPREAD + BULK + LATE > 10_000
    assert sum(1 for r in refs if r.modified_at == BULK_AT) == BULK > 10_000
    stamps = [r.modified_at for r in refs]
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    assert all(r.properties["firstname"] for r in refs if r.email and not r.email.startswith("l"))
    assert {"email", "lastmodifieddate", "hs_object_id"} <= set(refs[0].properties)
    # full pages: one search per 200 contacts, plus a few boundary re-reads
    searches = hub.counted()["search"]
    assert len(ids) / SEARCH_PAGE <= searches <= math.ceil(len(ids) / SEARCH_PAGE) + 5
    assert hub.counted() == hub.calls()


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (None, SEEDED + timedelta(seconds=300)),
        (SEEDED + timedelta(seconds=100), BULK_AT),  # stops just before the bulk instant
        (BULK_AT, BULK_AT + timedelta(milliseconds=1)),  # the bulk instant alone: > 10,000 results
        (SEEDED + timedelta(seconds=700, microseconds=500), None),  # sub-millisecond bound
        (BULK_AT + timedelta(seconds=30), BULK_AT + timedelta(seconds=30)),  # empty window
    ],
)
def test_window_bounds_are_exact(hub: Hub, since: datetime | None, until: datetime | None) -> None:
    ids = [r.contact_id for r in hub.connector().iter_contacts(since, [], until=until)]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(hub, since, until)


def test_scan_survives_faults_and_counts_every_attempt(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    faults = hub.emu.faults
    faults.add("hubspot.search", "429", 1.0, count=3, arg="2")  # a burst with Retry-After
    faults.add("hubspot.search", "429", 0.04, arg="none")  # scattered, without Retry-After
    faults.add("hubspot.search", "500", 0.04)
    faults.add("hubspot.search", "503", 0.02)
    faults.add("hubspot.search", "drop", 0.03)
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        ids = [r.contact_id for r in search(hub.connector(), None, [])]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(hub, None, None)
    injected = sum(n for (endpoint, _kind), n in faults.injected.items() if endpoint == "hubspot.search")
    assert injected >= 10
    assert hub.counted() == hub.calls()  # every attempt counted, none hidden by urllib3 retries
    assert sum("retry" in r.getMessage() for r in caplog.records) == injected


def test_search_pacing_holds_in_server_time(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    conn = hub.connector(searches_per_second=5.0, requests_per_10s=190)
    starts: list[float] = []
    conn.pacing.searches.on_start = starts.append  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        n = sum(1 for _ in conn.iter_contacts(SEEDED, [], until=BULK_AT))
    assert n == SPREAD
    assert len(starts) == hub.counted()["search"] >= SPREAD / SEARCH_PAGE
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 1 / 5.0
    per_second = Counter(int(s) for s in starts)
    assert max(per_second.values()) <= 5
    assert not caplog.records, "the emulator refused a paced search (429)"


def test_contact_modified_during_the_scan_is_not_lost(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    store = hub.emu.store
    ids = [store.create_contact({"email": f"m{i}@example.com"}, at=SEEDED + timedelta(seconds=i))
           for i in range(1000)]
    scan = search(hub.connector(), None, [])
    seen = [next(scan).contact_id for _ in range(300)]
    # offset paging would now skip a record: an already-read contact moves to the end
    store.update_contact(ids[5], {"firstname": "moved"})
    store.update_contact(ids[700], {"firstname": "moved too"})  # not yet read: seen once, later
    seen += [r.contact_id for r in scan]
    assert set(seen) == set(ids)
    assert Counter(seen)[ids[5]] == 2  # once before, once with its new timestamp
    assert Counter(seen)[ids[700]] == 1
    assert len(seen) == 1001


def test_archived_contacts_come_from_their_own_pass(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    store = hub.emu.store
    ids = [store.create_contact({"email": f"a{i}@example.com"}, at=SEEDED) for i in range(230)]
    for i, cid in enumerate(ids[:150]):
        store.archive_contact(cid, at=SEEDED + timedelta(days=1 if i < 50 else 3))
    conn = hub.connector()
    active = {r.contact_id for r in conn.iter_contacts(None, [])}
    assert active == set(ids[150:])
    archived = list(conn.iter_archived(SEEDED + timedelta(days=2)))
    assert {r.contact_id for r in archived} == set(ids[50:150])
    assert all(r.archived and r.modified_at == SEEDED + timedelta(days=3) for r in archived)
    assert {r.contact_id for r in conn.iter_archived(None)} == set(ids[:150])
    assert hub.counted()["contacts"] == 2 * math.ceil(150 / 100)


def test_read_by_email_batches_and_skips_unknown(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    store = hub.emu.store
    ids = {store.create_contact({"email": f"e{i}@example.com", "lifecyclestage": "lead"}, at=SEEDED): i
           for i in range(240)}
    emails = [f"E{i}@Example.com" for i in range(240)] + [f"nobody{i}@example.com" for i in range(50)]
    emails += [f"e{i}@example.com" for i in range(10)]  # the same people again, other case
    refs = list(hub.connector().read_by_email(emails, ["lifecyclestage"]))
    assert {r.contact_id for r in refs} == set(ids)
    assert len(refs) == 240
    assert all(r.properties["lifecyclestage"] == "lead" for r in refs)
    assert hub.counted() == {"batch_read": math.ceil(290 / 100)} == hub.calls()


@pytest.mark.parametrize("batch", [100, 37, 150])
def test_contacts_sharing_a_timestamp_are_read_once(make_hub, batch: int) -> None:  # noqa: ANN001
    """HubSpot batch updates give each batch one lastmodifieddate: the scan reads the rest of a shared
    instant with `hs_object_id NOT_IN` what it already read, so no record is read twice and the pages
    are the minimum (up to MAX_EXCLUDED ids at the boundary; beyond it, the instant is re-read)."""
    hub: Hub = make_hub()
    n = 2_050
    store = hub.emu.store
    for i in range(n):
        store.create_contact({"email": f"t{i}@example.com"}, at=SEEDED + timedelta(seconds=i // batch))
    refs = list(search(hub.connector(), None, []))
    ids = [r.contact_id for r in refs]
    assert len(ids) == len(set(ids)) == n
    assert set(ids) == expected_ids(hub, None, None)
    searches = hub.counted()["search"]
    if batch <= MAX_EXCLUDED:
        assert searches <= math.ceil(n / SEARCH_PAGE) + 1
    else:  # above the NOT_IN limit the boundary instant is re-read, as before
        assert searches > math.ceil(n / SEARCH_PAGE) + 1
    # a window starting inside a shared instant reads from it on, once each
    since = SEEDED + timedelta(seconds=7)
    hub.reset_counts()
    tail = [r.contact_id for r in hub.connector().iter_contacts(since, [])]
    assert len(tail) == len(set(tail)) and set(tail) == expected_ids(hub, since, None)
    if batch <= MAX_EXCLUDED:
        assert hub.counted()["search"] <= math.ceil(len(tail) / SEARCH_PAGE) + 1
