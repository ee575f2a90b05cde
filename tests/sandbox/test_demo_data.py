"""The demo book: deterministic for a seed, and believable (every case the demo and tests rely on)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from sandbox.demo_data import DemoAccount, DemoBook, DemoPerson, generate
from sandbox.demo_pools import CLOSED_WON, LOSS_REASONS, OPEN_STAGES, lost_stage

NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def accounts(people: int = 200, seed: int = 1, now: datetime = NOW) -> list[DemoAccount]:
    return list(generate(people=people, seed=seed, now=now).accounts())


def people_of(accs: list[DemoAccount]) -> list[DemoPerson]:
    return [p for a in accs for p in a.people]


def test_same_seed_same_book() -> None:
    assert accounts(seed=3) == accounts(seed=3)
    assert generate(200, 3, NOW).users == generate(200, 3, NOW).users


def test_other_seed_other_book() -> None:
    first, second = people_of(accounts(seed=1)), people_of(accounts(seed=2))
    assert [p.email for p in first] != [p.email for p in second]


def test_each_iteration_starts_again() -> None:
    book = generate(120, 5, NOW)
    assert list(book.accounts()) == list(book)


@pytest.mark.parametrize("people", [1, 7, 50, 333])
def test_exact_number_of_people(people: int) -> None:
    assert len(people_of(accounts(people=people))) == people


def test_empty_book() -> None:
    assert accounts(people=0) == []


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="people"):
        generate(people=-1)


def test_large_book_streams() -> None:
    """A million-people book is not materialized: its first accounts come at once."""
    book = generate(people=1_000_000, seed=1, now=NOW)
    first = list(islice(book.accounts(), 3))
    assert len(first) == 3 and book.people == 1_000_000
    assert len(book.users) == 50


@pytest.mark.parametrize(("people", "seed"), [(60, 1), (60, 2), (200, 1), (200, 9)])
def test_every_case_is_present(people: int, seed: int) -> None:
    accs = accounts(people=people, seed=seed)
    persons = people_of(accs)
    opps = [o for a in accs for o in a.opportunities]
    lost = [o for o in opps if o.outcome == "lost"]
    hs = [p.hubspot for p in persons if p.hubspot]
    cases = {
        "no email": any(p.email is None for p in persons),
        "salesforce opt-out": any(p.sf_opted_out for p in persons),
        "hubspot opt-out": any(h.opted_out for h in hs),
        "case-differing duplicate": any(p.in_hubspot and p.salesforce_email and p.salesforce_email != p.email
                                        for p in persons),
        "archived": any(h.archived_at for h in hs),
        "merged": any(h.duplicate_email for h in hs),
        "won": any(o.outcome == "won" for o in opps),
        "open": any(o.outcome == "open" for o in opps),
        "hubspot-only": any(not p.in_salesforce for p in persons),
        "salesforce-only": any(p.in_salesforce and not p.in_hubspot for p in persons),
        "japanese name": any(JAPANESE.search(p.last_name) for p in persons),
        "english name": any(p.last_name.isascii() for p in persons),
    }
    assert [case for case, present in cases.items() if not present] == []
    assert {o.lost_at_stage for o in lost} == set(OPEN_STAGES)
    if people >= 200:
        assert {o.loss_reason for o in lost} == {r for r, _ in LOSS_REASONS}


def test_engagement_after_the_loss_exists() -> None:
    found = []
    for acc in accounts(people=60):
        lost_at: dict[str, datetime] = {}
        for opp in (o for o in acc.opportunities if o.outcome == "lost"):
            for role in opp.contact_roles:
                lost_at[role.person_key] = max(lost_at.get(role.person_key, opp.path[-1].at), opp.path[-1].at)
        for p in acc.people:
            last = p.hubspot.engagement.last_activity if p.hubspot else None
            if last and p.key in lost_at and last > lost_at[p.key]:
                found.append(p.key)
    assert found


def test_company_sizes_and_languages() -> None:
    companies = [a.company for a in accounts(people=300)]
    bands = Counter(next(i for i, top in enumerate((50, 200, 1000, 10**9)) if c.employees <= top)
                    for c in companies)
    assert set(bands) == {0, 1, 2, 3}
    assert any(JAPANESE.search(c.name) for c in companies)
    assert any(c.name.isascii() for c in companies)
    assert len({c.industry for c in companies}) >= 8


def test_loss_ages_span_five_days_to_three_years() -> None:
    lost = [o for a in accounts(people=200) for o in a.opportunities if o.outcome == "lost"]
    ages = [NOW - o.path[-1].at for o in lost]
    assert min(ages) >= timedelta(days=5)
    assert max(ages) <= timedelta(days=3 * 365, hours=9)
    assert min(ages) < timedelta(days=6) and max(ages) > timedelta(days=3 * 365 - 1)


@pytest.mark.parametrize("seed", [1, 4])
def test_stage_paths_are_realistic(seed: int) -> None:
    for opp in (o for a in accounts(people=200, seed=seed) for o in a.opportunities):
        stages = [s.stage for s in opp.path]
        times = [s.at for s in opp.path]
        assert times == sorted(times) and times[-1] <= NOW
        assert stages[0] == "Prospecting"
        open_part = stages[:-1] if opp.outcome != "open" else stages
        assert open_part == list(OPEN_STAGES[: len(open_part)])  # stage by stage, no skips
        final = {"lost": lost_stage(opp.loss_reason), "won": CLOSED_WON}.get(opp.outcome)
        if final:
            assert stages[-1] == final and opp.close_date == opp.path[-1].at.date()
        else:
            assert opp.close_date > NOW.date()
        assert (opp.loss_reason is not None) == (opp.outcome == "lost")


def test_contact_roles_have_the_primary_first() -> None:
    for acc in accounts(people=200):
        in_sf = {p.key for p in acc.people if p.in_salesforce}
        for opp in acc.opportunities:
            roles = opp.contact_roles
            if roles:
                assert roles[0].is_primary and not any(r.is_primary for r in roles[1:])
                assert {r.person_key for r in roles} <= in_sf


def test_emails_are_unique_ignoring_case() -> None:
    emails = []
    for p in people_of(accounts(people=500)):
        emails += [e.lower() for e in (p.email,) if e]
        if p.hubspot and p.hubspot.duplicate_email:
            emails.append(p.hubspot.duplicate_email)
    assert len(emails) == len(set(emails))


def test_engagement_is_mostly_cold_and_never_in_the_future() -> None:
    persons = people_of(accounts(people=1000))
    hs = [p.hubspot for p in persons if p.hubspot]
    temps = Counter(h.engagement.temperature for h in hs)
    assert temps["cold"] > temps["warm"] > temps["hot"] > 0
    for h in hs:
        e = h.engagement
        assert e.delivered >= e.opens >= e.clicks >= 0
        for moment in (e.last_open, e.last_click, e.last_visit, e.last_conversion):
            assert moment is None or h.created_at <= moment <= NOW
        assert (e.last_open is None) == (e.opens == 0) and (e.last_click is None) == (e.clicks == 0)
        assert h.email == h.email.lower()


def test_hubspot_only_people_have_an_email() -> None:
    for p in people_of(accounts(people=300)):
        if not p.in_salesforce:
            assert p.in_hubspot and p.email


def test_users_own_everything() -> None:
    book: DemoBook = generate(200, 1, NOW)
    keys = {u.key for u in book.users}
    assert len({u.username for u in book.users}) == len(book.users)
    for acc in book.accounts():
        assert acc.company.owner_key in keys
        assert all(o.owner_key in keys for o in acc.opportunities)


def test_some_reps_have_left_and_still_own_old_deals_but_no_account() -> None:
    book: DemoBook = generate(600, 1, NOW)
    left = {u.key for u in book.users if not u.active}
    assert left and len(left) < len(book.users)
    accounts = list(book.accounts())
    assert not any(acc.company.owner_key in left for acc in accounts)
    assert any(o.owner_key in left for acc in accounts for o in acc.opportunities)
