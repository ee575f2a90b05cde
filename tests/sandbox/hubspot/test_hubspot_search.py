"""Search through the real hubspot-api-client: filters, sorts, paging, the 10,000 cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from .conftest import Sandbox
from .people import BASE, Person, ms, seed_people

N = 450
W_LO, W_HI = BASE + timedelta(minutes=100), BASE + timedelta(minutes=299)

CASES: list[tuple[str, list[dict[str, Any]], Callable[[Person], bool]]] = [
    (
        "between-epoch-ms",
        [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "BETWEEN",
                        "value": ms(W_LO),
                        "highValue": ms(W_HI),
                    }
                ]
            }
        ],
        lambda p: W_LO <= p.modified <= W_HI,
    ),
    (
        "gte-iso-lt-ms",
        [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": W_LO.isoformat()},
                    {"propertyName": "lastmodifieddate", "operator": "LT", "value": ms(W_HI)},
                ]
            }
        ],
        lambda p: W_LO <= p.modified < W_HI,
    ),
    (
        "in-and-numeric-lt",
        [
            {
                "filters": [
                    {"propertyName": "lifecyclestage", "operator": "IN", "values": ["lead", "customer"]},
                    {"propertyName": "hs_analytics_num_page_views", "operator": "LT", "value": "1000"},
                ]
            }
        ],
        lambda p: p.stage in ("lead", "customer") and p.views < 1000,
    ),
    (
        "or-of-groups",
        [
            {"filters": [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@acme.example"}]},
            {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]},
        ],
        lambda p: p.email.endswith("@acme.example") or p.stage == "customer",
    ),
    (
        "not-has-property",
        [{"filters": [{"propertyName": "hs_email_open", "operator": "NOT_HAS_PROPERTY"}]}],
        lambda p: p.opens is None,
    ),
    (
        "neq-and-has-property",
        [
            {
                "filters": [
                    {"propertyName": "lifecyclestage", "operator": "NEQ", "value": "lead"},
                    {"propertyName": "hs_email_last_open_date", "operator": "HAS_PROPERTY"},
                ]
            }
        ],
        lambda p: p.stage != "lead" and p.last_open is not None,
    ),
    (
        "not-in-and-gte",
        [
            {
                "filters": [
                    {"propertyName": "lifecyclestage", "operator": "NOT_IN", "values": ["subscriber"]},
                    {"propertyName": "hs_email_open", "operator": "GTE", "value": "7"},
                ]
            }
        ],
        lambda p: p.stage != "subscriber" and p.opens is not None and p.opens >= 7,
    ),
    (
        "datetime-property-gt",
        [
            {
                "filters": [
                    {
                        "propertyName": "hs_email_last_open_date",
                        "operator": "GT",
                        "value": ms(BASE + timedelta(hours=400)),
                    }
                ]
            }
        ],
        lambda p: p.last_open is not None and p.last_open > BASE + timedelta(hours=400),
    ),
]


@pytest.mark.parametrize(("groups", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_search_pages_through_every_match(
    hs: Sandbox, groups: list[dict[str, Any]], expected: Callable[[Person], bool]
) -> None:
    people = seed_people(hs.emu, N)
    api = hs.client().crm.contacts.search_api
    seen: list[str] = []
    after: str | None = None
    totals = set()
    while True:
        page = api.do_search(
            PublicObjectSearchRequest(
                filter_groups=groups, limit=40, after=after, properties=["email", "lifecyclestage"]
            )
        )
        totals.add(page.total)
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    want = [p.id for p in people if expected(p)]
    assert seen == sorted(want, key=int)
    assert totals == {len(want)}


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_search_sorts_by_one_property(hs: Sandbox, direction: str) -> None:
    people = seed_people(hs.emu, 60)
    page = hs.client().crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "hs_analytics_num_page_views", "operator": "HAS_PROPERTY"}]}
            ],
            sorts=[{"propertyName": "hs_analytics_num_page_views", "direction": direction}],
            limit=100,
            properties=["hs_analytics_num_page_views"],
        )
    )
    got = [int(r.properties["hs_analytics_num_page_views"]) for r in page.results]
    assert got == sorted((p.views for p in people), reverse=direction == "DESCENDING")


def test_search_keyset_on_object_id_and_properties_are_strings(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 30)
    pivot = people[20].id
    page = hs.client().crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": pivot}]}],
            sorts=["hs_object_id"],
            limit=100,
            properties=["email", "hs_email_open", "firstname"],
        )
    )
    assert [r.id for r in page.results] == [p.id for p in people[21:]]
    first = page.results[0].properties
    assert set(first) == {
        "email",
        "hs_email_open",
        "firstname",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }
    assert all(v is None or isinstance(v, str) for v in first.values())
    assert first["hs_object_id"] == people[21].id
    assert first["lastmodifieddate"] == people[21].modified.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_search_by_email_is_case_insensitive(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 10)
    page = hs.client().crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": people[4].email.upper()}]}
            ]
        )
    )
    assert [r.id for r in page.results] == [people[4].id]


def test_archived_and_merged_contacts_never_appear(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 12)
    hs.emu.store.archive_contact(people[3].id)
    hs.emu.store.merge_contacts(people[5].id, people[6].id)
    page = hs.client().crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=100))
    ids = [r.id for r in page.results]
    assert people[3].id not in ids and people[6].id not in ids
    assert page.total == 10


def test_paging_stops_at_ten_thousand_results(hs: Sandbox) -> None:
    seed_people(hs.emu, 10_050)
    api = hs.client().crm.contacts.search_api
    last = api.do_search(PublicObjectSearchRequest(limit=100, after="9900"))
    assert last.total == 10_050
    assert len(last.results) == 100
    assert last.paging.next.after == "10000"  # the API offers a next page it will refuse
    with pytest.raises(ApiException) as refused:
        api.do_search(PublicObjectSearchRequest(limit=100, after=last.paging.next.after))
    assert refused.value.status == 400
    assert '"category":"VALIDATION_ERROR"' in refused.value.body
    with pytest.raises(ApiException) as straddling:
        api.do_search(PublicObjectSearchRequest(limit=200, after="9900"))
    assert straddling.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 201},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}]},
        {"sorts": ["email", "firstname"]},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "no_such_property", "operator": "EQ", "value": "x"}]}
            ]
        },
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN"}]}]},
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_object_id",
                            "operator": "NOT_IN",
                            "values": [str(i) for i in range(101)],
                        }
                    ]
                }
            ]
        },
        {
            "filterGroups": [
                {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": "yesterday"}]}
            ]
        },
    ],
    ids=[
        "limit-201",
        "six-groups",
        "seven-filters",
        "two-sorts",
        "unknown-property",
        "in-without-values",
        "not-in-101-values",
        "bad-date",
    ],
)
def test_invalid_search_requests_are_refused(hs: Sandbox, body: dict[str, Any]) -> None:
    response = hs.raw("POST", "/crm/v3/objects/contacts/search", body)
    assert response.status == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_search_responses_carry_no_rate_limit_headers(hs: Sandbox) -> None:
    search = hs.raw("POST", "/crm/v3/objects/contacts/search", {"limit": 1})
    listing = hs.raw("GET", "/crm/v3/objects/contacts?limit=1")
    assert search.status == listing.status == 200
    assert not [h for h in search.headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert listing.headers["X-HubSpot-RateLimit-Max"] == "100000"


@pytest.mark.parametrize("windowed", [False, True], ids=["whole-portal", "window"])
@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_search_ordered_by_lastmodifieddate(hs: Sandbox, direction: str, windowed: bool) -> None:
    people = seed_people(hs.emu, 40)
    hs.emu.store.update_contact(people[3].id, {"firstname": "Touched"}, at=BASE + timedelta(hours=5))
    groups = (
        [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": ms(BASE + timedelta(minutes=10)),
                    }
                ]
            }
        ]
        if windowed
        else []
    )
    page = hs.client().crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=groups,
            sorts=[{"propertyName": "lastmodifieddate", "direction": direction}],
            limit=15,
        )
    )
    modified = {p.id: p.modified for p in people} | {people[3].id: BASE + timedelta(hours=5)}
    eligible = [i for i, at in modified.items() if not windowed or at >= BASE + timedelta(minutes=10)]
    want = sorted(eligible, key=lambda i: (modified[i], int(i)), reverse=direction == "DESCENDING")
    assert [r.id for r in page.results] == want[:15]
    assert page.total == len(eligible)


def test_not_in_takes_up_to_one_hundred_values(hs: Sandbox) -> None:
    seed_people(hs.emu, 5)
    body = {"filterGroups": [{"filters": [
        {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": [str(i) for i in range(100)]}]}]}
    assert hs.raw("POST", "/crm/v3/objects/contacts/search", body).status == 200


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
@pytest.mark.parametrize("overlap", [False, True], ids=["disjoint", "overlapping"])
def test_keyset_of_two_ored_groups_pages_in_order(hs: Sandbox, direction: str, overlap: bool) -> None:
    """(GT t AND LT u) OR (EQ t AND hs_object_id NOT_IN ...): the shape a keyset reader sends to read
    the rest of a shared timestamp; answered in sort order with the exact total (groups may overlap)."""
    people = seed_people(hs.emu, 120)
    t = BASE + timedelta(minutes=60, seconds=30)  # between two seeded people
    shared = [p.id for p in people[10:40]]
    for pid in shared:
        hs.emu.store.update_contact(pid, {"firstname": "Batch"}, at=t)
    modified = {p.id: p.modified for p in people} | dict.fromkeys(shared, t)
    u = BASE + timedelta(hours=400)
    excluded = shared[::3]
    second = [{"propertyName": "lastmodifieddate", "operator": "GTE" if overlap else "EQ", "value": ms(t)},
              {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": excluded}]
    groups = [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": ms(t)},
                           {"propertyName": "lastmodifieddate", "operator": "LT", "value": ms(u)}]},
              {"filters": second}]
    t_ms, u_ms = int(ms(t)), int(ms(u))

    def at(i: str) -> int:
        return int(ms(modified[i]))

    def matches(i: str) -> bool:
        in_first = t_ms < at(i) < u_ms
        in_second = (at(i) >= t_ms if overlap else at(i) == t_ms) and i not in excluded
        return in_first or in_second

    want = sorted((i for i in modified if matches(i)), key=lambda i: (at(i), int(i)),
                  reverse=direction == "DESCENDING")
    api = hs.client().crm.contacts.search_api
    got: list[str] = []
    after: str | None = None
    while True:
        page = api.do_search(PublicObjectSearchRequest(
            filter_groups=groups, sorts=[{"propertyName": "lastmodifieddate", "direction": direction}],
            limit=25, after=after))
        assert page.total == len(want)
        got += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert got == want
    assert any(i in shared for i in got)
