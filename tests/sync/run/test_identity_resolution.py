"""Identity: email rules, masking, joining both systems, duplicates, quarantine, engine facts."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import ContactRef, DealContact, LostDeal
from mappings.emails import email_problem, mask_email, normalize_email, parse_email
from mappings.facts import DealFacts
from sync.run import identity
from sync.run.identity import Person, Resolution, deal_facts, to_person_facts

T0 = datetime(2024, 5, 1, tzinfo=UTC)
OPTOUT = "hs_email_optout"  # the default mapping's [optout] hubspot_property


def resolve(deals: Iterable[LostDeal], contacts: Iterable[ContactRef], *,
            optout_property: str = OPTOUT) -> Resolution:
    return identity.resolve(deals, contacts, optout_property=optout_property)


def sf_contact(cid: str, email: str | None, *, opted_out: bool = False, first: str = "Taro") -> DealContact:
    return DealContact(cid, email, first, "Yamada", opted_out, is_primary=True)


def lost(
    oid: str,
    *contacts: DealContact,
    lost_on: date = date(2024, 4, 1),
    modified: datetime = T0,
    deleted: bool = False,
    employees: int | None = 250,
    state: str = "lost",
) -> LostDeal:
    return LostDeal(
        oid,
        f"Deal {oid}",
        state,
        "Closed Lost",
        "Negotiation/Review",
        "Price",  # type: ignore[arg-type]
        lost_on,
        5000.0,
        "005OWNER",
        "001ACC",
        "Acme",
        employees,
        "Software",
        contacts,
        modified,
        deleted,
    )


def hs(
    cid: str,
    email: str | None,
    *,
    modified: datetime = T0,
    archived: bool = False,
    **props: str | None,
) -> ContactRef:
    return ContactRef(cid, email, props, modified, archived)


# --------------------------------------------------------------------------- email rules


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  Taro.Yamada@Example.COM ", "taro.yamada@example.com"),
        ("first+tag@sub.example.co.jp", "first+tag@sub.example.co.jp"),
        ("山田太郎@例え.jp", "山田太郎@例え.jp"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("x@a-b.example", "x@a-b.example"),
        ("ÉLODIE@EXAMPLE.FR", "élodie@example.fr"),
        ("STRASSE@example.de", "strasse@example.de"),
    ],
)
def test_usable_emails_are_normalized(raw: str, expected: str) -> None:
    assert parse_email(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "no email"),
        ("   ", "no email"),
        ("taro.example.com", "exactly one @"),
        ("a@b@example.com", "exactly one @"),
        ("@example.com", "nothing before the @"),
        ("taro yamada@example.com", "special character"),
        ("taro\u200b@example.com", "special character"),
        ("<taro@example.com>", "special character"),
        (".taro@example.com", "misplaced dot"),
        ("taro..y@example.com", "misplaced dot"),
        ("taro@localhost", "domain"),
        ("taro@example..com", "domain"),
        ("taro@-example.com", "domain"),
        ("taro@10.0.0.1", "domain"),
        ("taro@example_.com", "domain"),
        ("taro@🚀.com", "domain"),
        ("a" * 65 + "@example.com", "more than 64"),
        ("a@" + "b" * 250 + ".com", "longer than 254"),
    ],
)
def test_unusable_emails_have_a_reason(raw: str | None, reason: str) -> None:
    key, problem = parse_email(raw)
    assert key is None
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "email, masked",
    [
        ("taro.yamada@example.com", "ta***@example.com"),
        ("ab@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
        ("山田太郎@例え.jp", "山田***@例え.jp"),
        ("not-an-email", "no***"),
        (None, "<no email>"),
    ],
)
def test_mask_email(email: str | None, masked: str) -> None:
    assert mask_email(email) == masked


@given(st.text(max_size=80))
def test_email_rules_never_raise_and_usable_emails_are_stable(raw: str) -> None:
    key, problem = parse_email(raw)
    assert (key is None) != (problem is None)
    if key is not None:
        assert normalize_email(key) == key and email_problem(key) is None
        assert key not in mask_email(key) or len(key.split("@")[0]) <= 2


# --------------------------------------------------------------------------- joining


def test_case_differing_emails_join_one_person_across_systems() -> None:
    res = resolve(
        [lost("006A", sf_contact("003A", " Taro@Example.com "))],
        [hs("101", "taro@example.COM", lifecyclestage="lead")],
    )
    (person,) = res.people.values()
    assert person.key == "taro@example.com"
    assert (person.salesforce_contact_ids, person.hubspot_contact_ids) == (("003A",), ("101",))
    assert person.emails == ("Taro@Example.com", "taro@example.COM")
    assert [d.opportunity_id for d in person.deals] == ["006A"]
    assert res.duplicates == () and res.quarantined == ()


@pytest.mark.parametrize("system", ["salesforce", "hubspot"])
def test_duplicates_within_one_system_are_kept_and_reported(system: str) -> None:
    if system == "salesforce":
        res = resolve(
            [lost("006A", sf_contact("003B", "p@x.com")), lost("006B", sf_contact("003A", "P@x.com"))], []
        )
        ids = ("003A", "003B")
    else:
        res = resolve([], [hs("102", "p@x.com"), hs("101", "P@X.com")])
        ids = ("101", "102")
    person = res.people["p@x.com"]
    assert getattr(person, f"{system}_contact_ids") == ids
    (dup,) = res.duplicates
    assert (dup.key, dup.system, dup.record_ids) == ("p@x.com", system, ids)
    assert "p@x.com" not in dup.message() and "p***@x.com" in dup.message()


def test_records_without_a_usable_email_are_quarantined_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sync.run.identity")
    deals = [
        lost(
            "006A", sf_contact("003A", None), sf_contact("003B", "bad@@x.com"), sf_contact("003C", "ok@x.com")
        )
    ]
    res = resolve(deals, [hs("101", ""), hs("102", "nobody @example.com"), hs("103", "ok@x.com")])
    assert set(res.people) == {"ok@x.com"}
    got = {(q.system, q.record_id): q.reason for q in res.quarantined}
    assert got == {
        ("salesforce", "003A"): "no email",
        ("salesforce", "003B"): "malformed email: needs exactly one @",
        ("hubspot", "101"): "no email",
        ("hubspot", "102"): "malformed email: space, control or special character before the @",
    }
    failures = [q.as_failure() for q in res.quarantined]
    assert {f.stage for f in failures} == {"identity"}
    assert "ok@x.com" not in caplog.text and "bad@@x.com" not in caplog.text


def test_archived_hubspot_contacts_are_ignored_and_listed() -> None:
    res = resolve([], [hs("101", "a@x.com", archived=True), hs("102", "b@x.com")])
    assert set(res.people) == {"b@x.com"}
    assert res.ignored == (("hubspot", "101", "archived"),)


def test_a_contact_on_several_deals_takes_email_and_opt_out_from_the_latest() -> None:
    old = lost("006A", sf_contact("003A", "old@x.com"), modified=T0)
    new = lost("006B", sf_contact("003A", "new@x.com", opted_out=True), modified=T0 + timedelta(days=1))
    res = resolve([new, old], [])
    assert set(res.people) == {"new@x.com"}
    person = res.people["new@x.com"]
    assert person.salesforce_opted_out and {d.opportunity_id for d in person.deals} == {"006A", "006B"}


def test_deleted_deals_leave_the_person_but_not_the_deal() -> None:
    res = resolve([lost("006A", sf_contact("003A", "a@x.com"), deleted=True)], [])
    person = res.people["a@x.com"]
    assert person.salesforce_contact_ids == ("003A",) and person.deals == ()


def test_later_snapshots_replace_earlier_ones() -> None:
    first = lost("006A", sf_contact("003A", "a@x.com"), modified=T0)
    won = replace(first, state="won", modified_at=T0 + timedelta(hours=1))
    res = resolve(
        [won, first],
        [
            hs("1", "a@x.com", modified=T0, lifecyclestage="lead"),
            hs("1", "a@x.com", modified=T0 + timedelta(1), lifecyclestage="customer"),
        ],
    )
    person = res.people["a@x.com"]
    assert [d.state for d in person.deals] == ["won"]
    assert person.hubspot_properties["lifecyclestage"] == "customer"


def test_deals_are_most_recent_first() -> None:
    c = sf_contact("003A", "a@x.com")
    deals = [
        lost("006A", c, lost_on=date(2023, 1, 1)),
        lost("006B", c, lost_on=date(2024, 3, 1)),
        lost("006C", c, lost_on=date(2023, 6, 1)),
    ]
    assert [d.opportunity_id for d in resolve(deals, []).people["a@x.com"].deals] == ["006B", "006C", "006A"]


def test_hubspot_properties_merge_newest_non_blank_first_whatever_the_input_order() -> None:
    contacts = [
        hs("101", "p@x.com", modified=T0, lifecyclestage="lead", hs_email_open="3", numemployees="50"),
        hs("102", "p@x.com", modified=T0 + timedelta(days=2), lifecyclestage="", hs_email_open="9"),
        hs("103", "p@x.com", modified=None, lifecyclestage="subscriber", hs_email_click="1"),  # type: ignore[arg-type]
    ]
    results = set()
    for seed in range(5):
        shuffled = contacts[:]
        random.Random(seed).shuffle(shuffled)
        person = resolve([], shuffled).people["p@x.com"]
        results.add(tuple(sorted(person.hubspot_properties.items())))
    assert results == {
        (("hs_email_click", "1"), ("hs_email_open", "9"), ("lifecyclestage", "lead"), ("numemployees", "50"))
    }


@pytest.mark.parametrize(
    "sf_out, hs_out, expected",
    [
        (False, None, False),
        (True, None, True),
        (False, "true", True),
        (False, "TRUE", True),
        (False, "false", False),
    ],
)
def test_opted_out_in_either_system(sf_out: bool, hs_out: str | None, expected: bool) -> None:
    res = resolve(
        [lost("006A", sf_contact("003A", "a@x.com", opted_out=sf_out))],
        [hs("101", "a@x.com", hs_email_optout=hs_out)],
    )
    person = res.people["a@x.com"]
    assert person.opted_out is expected
    assert to_person_facts(person).opted_out is expected


def test_the_opt_out_flag_is_the_property_the_caller_names() -> None:
    contacts = [hs("101", "a@x.com", hs_email_optout="true", custom_unsubscribed="false"),
                hs("102", "b@x.com", hs_email_optout="false", custom_unsubscribed="true")]
    res = resolve([], contacts, optout_property="custom_unsubscribed")
    assert {k: p.opted_out for k, p in res.people.items()} == {"a@x.com": False, "b@x.com": True}
    res = resolve([], contacts)
    assert {k: p.opted_out for k, p in res.people.items()} == {"a@x.com": True, "b@x.com": False}


def test_japanese_emoji_and_huge_values_pass_through_untouched() -> None:
    huge = "長" * 200_000
    contact = sf_contact("003A", "yamada@example.jp", first="太郎 🎌")
    res = resolve([lost("006A", contact)], [hs("101", "YAMADA@example.jp", firstname="太郎 🎌", notes=huge)])
    person = res.people["yamada@example.jp"]
    assert person.hubspot_properties == {"firstname": "太郎 🎌", "notes": huge}
    assert person.deals[0].contacts[0].first_name == "太郎 🎌"


# --------------------------------------------------------------------------- engine facts


def test_person_facts_carry_both_systems() -> None:
    older = lost("006A", sf_contact("003A", "a@x.com"), lost_on=date(2023, 1, 1), employees=10)
    newer = replace(
        lost("006B", sf_contact("003A", "a@x.com"), lost_on=date(2024, 1, 1), employees=1200),
        account_industry="Retail",
    )
    res = resolve([older, newer], [hs("101", "a@x.com", hs_email_open="4", lifecyclestage="lead")])
    facts = to_person_facts(res.people["a@x.com"])
    assert facts.key == "a@x.com"
    assert facts.values == {
        "hubspot.hs_email_open": "4",
        "hubspot.lifecyclestage": "lead",
        "salesforce.Account.NumberOfEmployees": 1200,
        "salesforce.Account.Industry": "Retail",
        "salesforce.Account.Name": "Acme",
        "salesforce.Contact.HasOptedOutOfEmail": False,
    }
    assert facts.deals == (
        DealFacts(
            "006B", "lost", "Negotiation/Review", "Price", date(2024, 1, 1), 5000.0, "005OWNER", "Deal 006B"
        ),
        DealFacts(
            "006A", "lost", "Negotiation/Review", "Price", date(2023, 1, 1), 5000.0, "005OWNER", "Deal 006A"
        ),
    )


def test_a_hubspot_only_person_has_no_salesforce_values() -> None:
    facts = to_person_facts(resolve([], [hs("101", "a@x.com", lifecyclestage="lead")]).people["a@x.com"])
    assert facts.values == {"hubspot.lifecyclestage": "lead"} and facts.deals == ()


def test_the_name_is_no_fact_unless_the_rules_read_it() -> None:
    """The connector reads every contact's lastname/firstname for the console's search; they stay on
    the person (shown by the views) but enter the engine's facts only when the mapping reads them."""
    person = resolve([], [hs("101", "a@x.com", lifecyclestage="lead", lastname="山田",
                             firstname="太郎")]).people["a@x.com"]
    assert person.hubspot_properties["lastname"] == "山田"
    assert to_person_facts(person).values == {"hubspot.lifecyclestage": "lead"}
    assert to_person_facts(person, {"hubspot.lifecyclestage"}).values == {"hubspot.lifecyclestage": "lead"}
    assert to_person_facts(person, {"hubspot.lastname"}).values == {"hubspot.lifecyclestage": "lead",
                                                                    "hubspot.lastname": "山田"}


def test_deal_facts_of_a_won_deal() -> None:
    d = replace(lost("006A", state="won"), lost_date=None)
    assert deal_facts(d) == DealFacts(
        "006A", "won", "Negotiation/Review", "Price", None, 5000.0, "005OWNER", "Deal 006A"
    )


# --------------------------------------------------------------------------- properties


emails = st.sampled_from(["a@x.com", "A@x.com ", "b@x.com", "c@y.org", None, "bad"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["003A", "003B", "003C"]), emails), max_size=6),
    st.lists(st.tuples(st.sampled_from(["1", "2", "3", "4"]), emails), max_size=6),
    st.randoms(use_true_random=False),
)
def test_every_record_ends_up_on_exactly_one_person_or_in_quarantine(
    sf: list[tuple[str, str | None]], hsc: list[tuple[str, str | None]], rnd: random.Random
) -> None:
    deals = [
        lost(f"006{i}", sf_contact(cid, email), modified=T0 + timedelta(minutes=i))
        for i, (cid, email) in enumerate(sf)
    ]
    contacts = [hs(cid, email, modified=T0 + timedelta(minutes=i)) for i, (cid, email) in enumerate(hsc)]
    res = resolve(deals, contacts)
    placed: list[tuple[str, str]] = []
    for p in res.people.values():
        placed += [("salesforce", i) for i in p.salesforce_contact_ids] + [
            ("hubspot", i) for i in p.hubspot_contact_ids
        ]
    placed += [(q.system, q.record_id) for q in res.quarantined]
    expected = {("salesforce", c) for c, _ in sf} | {("hubspot", c) for c, _ in hsc}
    assert sorted(placed) == sorted(expected)  # each exactly once
    rnd.shuffle(deals)
    rnd.shuffle(contacts)
    again = resolve(deals, contacts)
    assert again.people == res.people and sorted(again.quarantined, key=str) == sorted(
        res.quarantined, key=str
    )


def test_person_is_hashable_free_data() -> None:
    p = Person("a@x.com", ("a@x.com",), (), ("1",), ())
    assert p.masked == "a***@x.com" and not p.opted_out
