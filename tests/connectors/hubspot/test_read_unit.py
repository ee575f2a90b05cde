"""Time conversions, result mapping, and the search scan's refusal to continue on answers that would
lose records (out of order, no progress): answers no well-behaved server gives, so they are scripted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.base import CallCounter
from connectors.hubspot.read import (
    ALWAYS_READ,
    MAX_EXCLUDED,
    SEARCH_PAGE,
    SearchPagingError,
    iter_archived,
    iter_search,
    parse_hubspot_time,
    read_properties,
    to_contact,
    to_ms,
)
from connectors.hubspot.transport import HubSpotPacing, HubSpotTransport
from connectors.pacing import IntervalLimiter, RollingWindowLimiter, VirtualClock
from connectors.retry import RetryPolicy

PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("moment", "floor", "ceil"),
    [
        (datetime(2024, 1, 1, tzinfo=UTC), 1_704_067_200_000, 1_704_067_200_000),
        (datetime(2024, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC), 1_704_067_200_123, 1_704_067_200_123),
        (datetime(2024, 1, 1, 0, 0, 0, 123_400, tzinfo=UTC), 1_704_067_200_123, 1_704_067_200_124),
        (datetime(2024, 1, 1, 2, 0, tzinfo=PLUS_2), 1_704_067_200_000, 1_704_067_200_000),
        (datetime(2024, 1, 1), 1_704_067_200_000, 1_704_067_200_000),  # naive = UTC
    ],
)
def test_to_ms_is_exact(moment: datetime, floor: int, ceil: int) -> None:
    assert to_ms(moment) == floor
    assert to_ms(moment, ceil=True) == ceil


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T09:30:00.123Z", datetime(2024, 5, 1, 9, 30, 0, 123_000, tzinfo=UTC)),
        ("2024-05-01T09:30:00Z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("1714555800123", datetime(2024, 5, 1, 9, 30, 0, 123_000, tzinfo=UTC)),
        (datetime(2024, 5, 1, 11, 30, tzinfo=PLUS_2), datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_hubspot_time(value: Any, expected: datetime | None) -> None:
    assert parse_hubspot_time(value) == expected


def test_read_properties_always_include_what_the_connector_needs() -> None:
    props = read_properties(["hs_email_open", "email", "lifecyclestage"])
    assert props[: len(ALWAYS_READ)] == list(ALWAYS_READ)
    assert props.count("email") == 1 and "hs_email_open" in props and "lifecyclestage" in props
    assert {"lastname", "firstname"} <= set(props)  # the name, for the console's search
    assert read_properties(["lastname"]).count("lastname") == 1


def test_to_contact_maps_properties_and_merges() -> None:
    ref = to_contact({"id": "501", "updatedAt": "2024-05-02T00:00:00.000Z",
                      "properties": {"email": "a@example.com", "lastmodifieddate": "2024-05-01T00:00:00.000Z",
                                     "hs_merged_object_ids": "77;88", "hs_email_open": 3}})
    assert (ref.contact_id, ref.email, ref.merged_ids) == ("501", "a@example.com", ("77", "88"))
    assert ref.properties["hs_email_open"] == "3"
    assert ref.modified_at == datetime(2024, 5, 1, tzinfo=UTC)
    archived = to_contact({"id": "502", "archivedAt": "2024-06-01T00:00:00Z", "properties": {}},
                          archived=True)
    assert archived.archived and archived.modified_at == datetime(2024, 6, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- scripted search answers


class _Raw:
    """An unread urllib3 response as the client returns it with `_preload_content=False`."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()
        self.status = 200
        self.headers: dict[str, str] = {}

    def release_conn(self) -> None:
        pass


def _scripted_transport(pages: Iterator[list[tuple[int, int]]]) -> tuple[HubSpotTransport, list[Any]]:
    """A transport whose search answers the next scripted page of (id, lastmodifieddate ms)."""
    requests: list[Any] = []

    def do_search(request: Any, **_: Any) -> _Raw:
        requests.append(request)
        page = next(pages)
        results = [{"id": str(i), "properties": {"lastmodifieddate": str(ms), "hs_object_id": str(i)}}
                   for i, ms in page]
        return _Raw({"total": len(page), "results": results})

    client = SimpleNamespace(crm=SimpleNamespace(contacts=SimpleNamespace(
        search_api=SimpleNamespace(do_search_with_http_info=do_search))))
    clock = VirtualClock()
    pacing = HubSpotPacing(RollingWindowLimiter(100, 10.0, clock=clock, sleep=clock.sleep),
                           IntervalLimiter(5.0, clock=clock, sleep=clock.sleep))
    transport = HubSpotTransport(client, counter=CallCounter(), policy=RetryPolicy(), pacing=pacing,  # type: ignore[arg-type]
                                 daily_reserve=0, timeout=None, sleep=clock.sleep)
    return transport, requests


def test_out_of_order_answers_stop_the_scan_loudly() -> None:
    pages = iter([[(1, 1_000), (2, 900)]])
    transport, _ = _scripted_transport(pages)
    with pytest.raises(SearchPagingError, match="out of order"):
        list(iter_search(transport, None, None, []))


def test_keyset_without_progress_stops_the_scan_loudly() -> None:
    full_instant = [(i, 5_000) for i in range(1, SEARCH_PAGE + 1)]
    # the first page is one full instant; the keyset by id then answers the same ids again
    pages = iter([full_instant, full_instant, full_instant])
    transport, _ = _scripted_transport(pages)
    with pytest.raises(SearchPagingError, match="no progress"):
        list(iter_search(transport, None, None, []))


def _groups(request: Any) -> list[list[tuple[str, str, Any]]]:
    return [[(f.property_name, f.operator, f.values if f.operator == "NOT_IN" else f.value)
             for f in g.filters] for g in request.filter_groups]


def test_scan_requests_use_the_keyset_not_offsets() -> None:
    first = [(i, 1_000 + i // 2) for i in range(1, SEARCH_PAGE + 1)]  # two per timestamp
    second = [(SEARCH_PAGE + 1, 1_000 + SEARCH_PAGE // 2), (SEARCH_PAGE + 2, 2_000)]
    transport, requests = _scripted_transport(iter([first, second]))
    ids = [r.contact_id for r in iter_search(transport, datetime(1970, 1, 1, tzinfo=UTC), None, [])]
    assert ids == [str(i) for i in range(1, SEARCH_PAGE + 3)]
    assert all(r.after is None and r.limit == SEARCH_PAGE for r in requests)
    last = 1_000 + SEARCH_PAGE // 2  # ids 200 (read) and 201 (not yet) share it
    # the rest of the boundary instant without what was read at it, OR everything after it
    assert _groups(requests[1]) == [
        [("lastmodifieddate", "GT", str(last))],
        [("lastmodifieddate", "EQ", str(last)), ("hs_object_id", "NOT_IN", [str(SEARCH_PAGE)])],
    ]


def test_a_boundary_too_large_to_exclude_is_re_read_and_skipped() -> None:
    crowd = MAX_EXCLUDED + 1  # ids at the last timestamp: more than one NOT_IN filter may hold
    first = [(i, 1_000) for i in range(1, SEARCH_PAGE - crowd + 1)]
    first += [(i, 2_000) for i in range(SEARCH_PAGE - crowd + 1, SEARCH_PAGE + 1)]
    second = [(i, 2_000) for i in range(SEARCH_PAGE - crowd + 1, SEARCH_PAGE + 2)]  # re-read, + one
    transport, requests = _scripted_transport(iter([first, second]))
    ids = [r.contact_id for r in iter_search(transport, None, None, [])]
    assert ids == [str(i) for i in range(1, SEARCH_PAGE + 2)]  # each once
    assert _groups(requests[1]) == [[("lastmodifieddate", "GTE", "2000")]]


def test_an_ignored_exclusion_stops_the_scan_loudly() -> None:
    first = [(i, 1_000 + i // 2) for i in range(1, SEARCH_PAGE + 1)]
    again = [(SEARCH_PAGE, 1_000 + SEARCH_PAGE // 2), (SEARCH_PAGE + 1, 2_000)]  # 200 was excluded
    transport, _ = _scripted_transport(iter([first, again]))
    with pytest.raises(SearchPagingError, match="NOT_IN"):
        list(iter_search(transport, None, None, []))


def test_a_list_cursor_answered_with_itself_stops_loudly() -> None:
    """The contacts list (archived pass, full read) must not stop quietly, nor loop, when HubSpot
    answers a cursor with itself: the rest of the book would be lost or read forever."""
    calls: list[Any] = []

    def get_page(**kwargs: Any) -> _Raw:
        calls.append(kwargs.get("after"))
        return _Raw({"results": [{"id": "7", "properties": {}, "archivedAt": "2024-01-01T00:00:00Z"}],
                     "paging": {"next": {"after": "7"}}})

    transport, _ = _scripted_transport(iter([]))
    transport.client.crm.contacts.basic_api = SimpleNamespace(get_page_with_http_info=get_page)
    with pytest.raises(SearchPagingError, match="cursor 7"):
        list(iter_archived(transport, None))
    assert calls == [None, "7"]
