"""People a range of keys at a time (`sync.state.people` + `sync.run.people`) are exactly the people of
resolving everyone at once (`sync.run.identity.resolve`), on SQLite and PostgreSQL: same people with
the same records and deals, same duplicates, same quarantine, in key order, whatever the range size.

The world is random (seeded) and made to hit the hard cases: a Salesforce contact whose email changed
between deals (its newest deal decides, and may put it in another range), contacts named twice on a
deal, contacts only on deleted deals, unusable emails, archived and merged HubSpot contacts, keys that
sort differently by locale (upper case, accents, Japanese), one email in several records of a system.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.base import ContactRef, DealContact, LostDeal
from sync.run import people
from sync.run.identity import resolve
from sync.state.store import StateStore

OPTOUT = "hs_email_optout"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
LOCALS = ["ann", "Bob", "zoë", "émile", "taro", "山田", "a.b", "x-y", "Zed", "_u", "ann1", "b0b"]
DOMAINS = ["example.com", "Example.co.jp", "exämple.de"]
BAD = [None, "", "  ", "no-at-sign", "two@@example.com", "a@b", "@example.com"]


def _email(rng: random.Random) -> str | None:
    if rng.random() < 0.08:
        return rng.choice(BAD)
    email = f"{rng.choice(LOCALS)}@{rng.choice(DOMAINS)}"
    return email.upper() if rng.random() < 0.1 else (f"  {email} " if rng.random() < 0.1 else email)


def world(seed: int) -> tuple[list[LostDeal], list[ContactRef], list[ContactRef]]:
    """(deals, HubSpot contacts, HubSpot contacts seen again later — newer snapshots and merges)."""
    rng = random.Random(seed)
    contact_ids = [f"003{i:04d}" for i in range(40)]
    emails = {cid: _email(rng) for cid in contact_ids}
    deals = []
    for i in range(60):
        named = rng.sample(contact_ids, rng.randint(0, 3))
        if named and rng.random() < 0.1:
            named.append(named[0])  # one contact in two roles
        contacts = []
        for cid in named:
            email = _email(rng) if rng.random() < 0.15 else emails[cid]  # this deal's copy differs
            contacts.append(DealContact(cid, email, "F", "L", rng.random() < 0.1, rng.random() < 0.5))
        deals.append(LostDeal(
            f"006{i:04d}", f"Deal {i}", rng.choice(["lost", "won", "open"]), "Closed Lost", "Proposal",
            rng.choice(["Price", None]), date(2024, 1, 1) + timedelta(days=rng.randint(0, 300)), 100.0 * i,
            "005O", "001A", "Acme", 50, "Software", tuple(contacts),
            T0 + timedelta(hours=rng.randint(0, 5)),  # ties on purpose: the deal id breaks them
            rng.random() < 0.1))
    hubspot = [ContactRef(str(100 + i), _email(rng), {OPTOUT: rng.choice(["true", "false", None]),
                                                      "score": str(rng.randint(0, 9))},
                          T0 + timedelta(minutes=rng.randint(0, 30)), archived=rng.random() < 0.1)
               for i in range(50)]
    later = [ContactRef(str(100 + i), _email(rng), {"score": "7"}, T0 + timedelta(days=1),
                        merged_ids=(str(100 + i + 1),) if rng.random() < 0.3 else ())
             for i in range(0, 50, 7)]
    return deals, hubspot, later


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranges_resolve_the_same_people_as_everyone_at_once(db_url: str, seed: int) -> None:
    deals, hubspot, later = world(seed)
    with StateStore.open(db_url) as store:
        store.upsert_deals(deals[:30])
        store.upsert_contacts("hubspot", hubspot)
        store.upsert_deals(deals[30:])
        store.upsert_deals(deals[5:10])  # stored again: its people are not doubled
        store.upsert_contacts("hubspot", later)
        whole = resolve(store.iter_deals(include_deleted=True), store.iter_contacts("hubspot"),
                        optout_property=OPTOUT)
        assert len(whole.people) > 20 and whole.quarantined and whole.duplicates  # the world has them
        for size in (1, 2, 7, 10_000):
            parts = list(people.iter_people(store, optout_property=OPTOUT, size=size))
            keys = [k for part in parts for k in part.people]
            assert keys == sorted(whole.people), size  # each person once, in key order
            assert {k: p for part in parts for k, p in part.people.items()} == whole.people
            assert [d for part in parts for d in part.duplicates] == list(whole.duplicates)
            quarantined = list(people.quarantined(store, optout_property=OPTOUT, size=size))
            assert quarantined == list(whole.quarantined)
        for key, person in whole.people.items():
            assert people.find_person(store, key, optout_property=OPTOUT) == person
        assert people.find_person(store, "nobody@example.com", optout_property=OPTOUT) is None


def test_a_contact_whose_newest_deal_has_another_email_moves_to_that_person(db_url: str) -> None:
    """The range of the old email must not keep the contact (its newest deal lies outside the range)."""
    old = LostDeal("006A", "A", "lost", "Closed Lost", "Proposal", "Price", date(2024, 1, 1), 1.0, None, None,
                   None, None, None, (DealContact("003X", "aaa@example.com", None, None, False, True),), T0)
    new = LostDeal("006B", "B", "lost", "Closed Lost", "Proposal", "Price", date(2024, 2, 1), 2.0, None, None,
                   None, None, None, (DealContact("003X", "zzz@example.com", None, None, False, True),),
                   T0 + timedelta(days=1))
    with StateStore.open(db_url) as store:
        store.upsert_deals([old, new])
        parts = list(people.iter_people(store, optout_property=OPTOUT, size=1))
    found = {k: p for part in parts for k, p in part.people.items()}
    assert list(found) == ["zzz@example.com"]
    assert found["zzz@example.com"].salesforce_contact_ids == ("003X",)
    assert [d.opportunity_id for d in found["zzz@example.com"].deals] == ["006B", "006A"]


def test_deal_emails_without_a_hubspot_contact(db_url: str) -> None:
    """The emails to look up in HubSpot: on deals stored since the run began, no live contact has them."""
    def deal(oid: str, *emails: str | None) -> LostDeal:
        return LostDeal(oid, oid, "lost", "Closed Lost", "Proposal", None, None, None, None, None, None, None,
                        None, tuple(DealContact(f"003{oid}{i}", e, None, None, False, False)
                                    for i, e in enumerate(emails)), T0)
    with StateStore.open(db_url) as store:
        store.upsert_deals([deal("1", "old@example.com")], at=T0)
        store.upsert_contacts("hubspot", [ContactRef("1", "Known@example.com", {}, T0),
                                          ContactRef("2", "gone@example.com", {}, T0, archived=True)])
        store.upsert_deals([deal("2", " known@example.com", "GONE@example.com", None, "new@example.com"),
                            deal("3", "new@example.com")], at=T0 + timedelta(days=1))
        assert list(store.deal_emails_without_contact(T0 + timedelta(hours=1))) == [
            "gone@example.com", "new@example.com"]
