"""Fails if any HubSpot read or write is done one record per call: N records must cost about
N / (the API's maximum per call) calls, never N."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from connectors.base import FieldUpdate, ListChange
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.read import BATCH_READ_SIZE, LIST_PAGE, SEARCH_PAGE
from connectors.hubspot.write import BATCH_UPDATE_SIZE, MEMBERSHIP_CHUNK

from .conftest import SEEDED, Hub

N = 1_000


def _search(conn: HubSpotConnector, ids: list[str]) -> int:
    return sum(1 for _ in conn.iter_contacts(SEEDED - timedelta(days=1), ["firstname"]))


def _full(conn: HubSpotConnector, ids: list[str]) -> int:  # no `since`: the list endpoint
    return sum(1 for _ in conn.iter_contacts(None, ["firstname"]))


def _read(conn: HubSpotConnector, ids: list[str]) -> int:
    return sum(1 for _ in conn.read_by_email([f"n{i}@example.com" for i in range(len(ids))], ["firstname"]))


def _update(conn: HubSpotConnector, ids: list[str]) -> int:
    updates = [FieldUpdate("contacts", c, {"firstname": "x"}) for c in ids]
    return sum(r.ok for r in conn.update_fields(updates))


def _lists(conn: HubSpotConnector, ids: list[str]) -> int:
    conn.ensure_lists(["Batch"], create_missing=True)
    return sum(r.ok for r in conn.change_lists([ListChange("Batch", c, "add") for c in ids]))


OPERATIONS: list[tuple[str, Callable[[HubSpotConnector, list[str]], int], str, int]] = [
    ("search", _search, "search", SEARCH_PAGE),
    ("full read", _full, "contacts", LIST_PAGE),
    ("batch read by email", _read, "batch_read", BATCH_READ_SIZE),
    ("batch update", _update, "batch_update", BATCH_UPDATE_SIZE),
    ("list membership", _lists, "memberships", MEMBERSHIP_CHUNK),
]


@pytest.mark.parametrize(("operation", "endpoint", "per_call"),
                         [(fn, ep, size) for _, fn, ep, size in OPERATIONS],
                         ids=[name for name, *_ in OPERATIONS])
def test_no_operation_is_done_one_record_per_call(hub: Hub, operation: Any, endpoint: str,
                                                 per_call: int) -> None:
    ids = [hub.emu.store.create_contact({"email": f"n{i}@example.com", "firstname": "n"}, at=SEEDED)
           for i in range(N)]
    assert operation(hub.connector(), ids) == N
    calls = hub.counted()[endpoint]
    assert calls == hub.calls()[endpoint]
    # all N share one timestamp here, so search takes its keyset path: the first page is read again
    # by id, an exactly full last page needs an empty one after it, and one query moves past the instant
    assert math.ceil(N / per_call) <= calls <= math.ceil(N / per_call) + 3
    assert per_call >= 100  # the API maxima, not something smaller
