"""The contact's name (lastname, firstname) comes with every read the connector makes (full read by list,
incremental search, batch read by email) whatever properties the caller names, for the console's
people search; and costs no call: the same reads without the names make exactly the same calls."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from connectors.base import MA_NAME_PROPERTIES
from connectors.hubspot import read as hubspot_read
from connectors.hubspot.read import BATCH_READ_SIZE, LIST_PAGE, SEARCH_PAGE

from .conftest import SEEDED, Hub

N = 450  # more than two search pages and four list pages
NAMES = [("山田", "太郎"), ("Yamada", "Taro"), ("佐藤", "花子"), ("Smith", "Jane")]


def seed(hub: Hub) -> dict[str, tuple[str, str]]:
    """N contacts, each with one of NAMES (and a lifecycle stage); returns id -> (lastname, firstname)."""
    out = {}
    for i in range(N):
        last, first = NAMES[i % len(NAMES)]
        cid = hub.emu.store.create_contact({"email": f"n{i}@example.com", "lastname": last,
                                            "firstname": first, "lifecyclestage": "lead"},
                                           at=SEEDED + timedelta(seconds=i))
        out[cid] = (last, first)
    return out


def _reads(hub: Hub) -> tuple[dict[str, dict[str, str | None]], dict[str, int]]:
    """Every contact by a full read, by an incremental search and by batch read (properties per read and
    id), asking only for `lifecyclestage`; and the calls they made."""
    conn = hub.connector()
    got: dict[str, dict[str, str | None]] = {}
    for ref in conn.iter_contacts(None, ["lifecyclestage"]):
        got[f"list:{ref.contact_id}"] = dict(ref.properties)
    for ref in conn.iter_contacts(SEEDED, ["lifecyclestage"]):
        got[f"search:{ref.contact_id}"] = dict(ref.properties)
    for ref in conn.read_by_email([f"n{i}@example.com" for i in range(N)], ["lifecyclestage"]):
        got[f"batch:{ref.contact_id}"] = dict(ref.properties)
    return got, hub.counted()


def test_every_read_brings_the_name_at_no_extra_call(make_hub, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    names = seed(hub)
    assert hubspot_read.NAME_PROPERTIES == MA_NAME_PROPERTIES == ("lastname", "firstname")
    got, calls = _reads(hub)
    assert len(got) == 3 * N
    for key, props in got.items():
        last, first = names[key.split(":", 1)[1]]
        assert (props["lastname"], props["firstname"], props["lifecyclestage"]) == (last, first, "lead"), key
    # the reads themselves: the list (one search first, 100 a page, a catch-up search), search (200 a
    # page) and batch read (100 a call)
    expected = {"search": 1 + 1 + math.ceil(N / SEARCH_PAGE), "contacts": math.ceil(N / LIST_PAGE),
                "batch_read": math.ceil(N / BATCH_READ_SIZE)}
    assert calls == expected == hub.calls()

    # the same reads as before the names were read: the same calls, and no name
    hub.reset_counts()
    hub.clock.advance(11.0)  # a fresh rate-limit window: a new connector paces from nothing
    monkeypatch.setattr(hubspot_read, "NAME_PROPERTIES", ())
    without, calls_without = _reads(hub)
    assert calls_without == calls
    assert set(without) == set(got)
    assert not any("lastname" in p or "firstname" in p for p in without.values())


def test_a_contact_without_a_name_reads_as_none(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub()
    cid = hub.emu.store.create_contact({"email": "nameless@example.com"}, at=SEEDED)
    [ref] = hub.connector().read_by_email(["nameless@example.com"], [])
    assert ref.contact_id == cid
    assert ref.properties.get("lastname") is None and ref.properties.get("firstname") is None
