"""Score, rank and shared stage under the default mapping, rule by rule (table-driven)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mappings import Mapping, load_mapping_text
from mappings.engine import assign
from tests.mappings.mapping_helpers import NOW, default_text, person


def iso_days_ago(days: float) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    ("values", "score"),
    [
        pytest.param({"hubspot__hs_email_open": "3"}, 30, id="open-10-each"),
        pytest.param({"hubspot__hs_email_click": "2"}, 40, id="click-20-each"),
        pytest.param({"hubspot__num_conversion_events": "1"}, 30, id="download-30-each"),
        pytest.param({"hubspot__hs_analytics_num_page_views": "5"}, 5, id="page-view-1-each"),
        pytest.param({"hubspot__hs_email_open": "9"}, 50, id="opens-capped-at-5"),
        pytest.param({"hubspot__hs_email_click": "7"}, 100, id="clicks-capped-at-5"),
        pytest.param({"hubspot__num_conversion_events": "10"}, 90, id="downloads-capped-at-3"),
        pytest.param({"hubspot__hs_analytics_num_page_views": "400"}, 20, id="page-views-capped-at-20"),
        pytest.param({"hubspot__hs_email_open": "3.7"}, 30, id="fractional-count-floored"),
        pytest.param({"hubspot__hs_email_open": 4}, 40, id="count-as-a-number"),
        pytest.param({"hubspot__hs_email_open": "abc"}, 0, id="unreadable-count"),
        pytest.param({"hubspot__hs_email_open": "-3"}, 0, id="negative-count"),
        pytest.param({"hubspot__hs_email_open": True}, 0, id="bool-is-not-a-count"),
        pytest.param({"hubspot__hs_email_open": ""}, 0, id="blank-count"),
        pytest.param({"hubspot__hs_email_open": "NaN"}, 0, id="nan-count"),
        pytest.param({"hubspot__numemployees": "1000"}, 20, id="employees-exactly-1000"),
        pytest.param({"hubspot__numemployees": "999"}, 10, id="employees-999"),
        pytest.param({"hubspot__numemployees": "100"}, 10, id="employees-exactly-100"),
        pytest.param({"hubspot__numemployees": "99"}, 0, id="employees-below-every-band"),
        pytest.param({"hubspot__numemployees": "lots"}, 0, id="employees-unreadable"),
        # HubSpot's own numemployees is an enumeration of ranges: the lower bound counts
        pytest.param({"hubspot__numemployees": "1000+"}, 20, id="employees-range-1000-plus"),
        pytest.param({"hubspot__numemployees": "500-1000"}, 10, id="employees-range-500-1000"),
        pytest.param({"hubspot__numemployees": "1,000-5,000"}, 20, id="employees-range-with-commas"),
        pytest.param({"hubspot__numemployees": "25-50"}, 0, id="employees-range-small"),
        pytest.param({"hubspot__numemployees": "100-"}, 0, id="employees-range-broken"),
        pytest.param({"salesforce__Account__NumberOfEmployees": 1200}, 20, id="employees-from-salesforce"),
        pytest.param(
            {"hubspot__numemployees": "", "salesforce__Account__NumberOfEmployees": 150},
            10,
            id="blank-hubspot-falls-back-to-salesforce",
        ),
        pytest.param(
            {"hubspot__numemployees": "50", "salesforce__Account__NumberOfEmployees": 5000},
            0,
            id="first-source-with-a-value-wins",
        ),
        pytest.param({"hubspot__inquiry_type": "demo_request"}, 20, id="inquiry-demo"),
        pytest.param({"hubspot__inquiry_type": "pricing"}, 20, id="inquiry-pricing"),
        pytest.param({"hubspot__inquiry_type": "contact_us"}, 10, id="inquiry-contact"),
        pytest.param({"hubspot__inquiry_type": "whitepaper"}, 5, id="inquiry-whitepaper"),
        pytest.param({"hubspot__inquiry_type": "newsletter"}, 0, id="inquiry-newsletter"),
        pytest.param({"hubspot__inquiry_type": "webinar"}, 0, id="inquiry-unknown-value"),
        pytest.param(
            {
                "hubspot__hs_email_open": "99",
                "hubspot__hs_email_click": "99",
                "hubspot__num_conversion_events": "99",
                "hubspot__hs_analytics_num_page_views": "99",
                "hubspot__numemployees": "5000",
                "hubspot__inquiry_type": "pricing",
            },
            300,
            id="everything-maxed",
        ),
    ],
)
def test_score_points(default_mapping: Mapping, values: dict[str, Any], score: int) -> None:
    assert assign(person(**values), default_mapping, NOW).score == score


@pytest.mark.parametrize(
    ("days_since_click", "score"),
    [
        pytest.param(None, 20, id="no-date-no-decay"),
        pytest.param(0, 20, id="today"),
        pytest.param(-5, 20, id="future-date-no-decay"),
        pytest.param(90, 10, id="one-half-life"),
        pytest.param(180, 5, id="two-half-lives"),
        pytest.param(900, 0, id="ten-half-lives-rounds-to-0"),
    ],
)
def test_behaviour_fades_with_half_life_since_its_last_event(
    default_mapping: Mapping, days_since_click: float | None, score: int
) -> None:
    values: dict[str, Any] = {"hubspot__hs_email_click": "1"}
    if days_since_click is not None:
        values["hubspot__hs_email_last_click_date"] = iso_days_ago(days_since_click)
    assert assign(person(**values), default_mapping, NOW).score == score


@pytest.mark.parametrize(
    "last_click",
    [
        pytest.param(str(int((NOW - timedelta(days=90)).timestamp() * 1000)), id="epoch-ms"),
        pytest.param((NOW - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"), id="iso-z"),
        pytest.param((NOW - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%S+00:00"), id="iso-offset"),
        pytest.param((NOW - timedelta(days=90)).astimezone().isoformat(), id="iso-local-offset"),
    ],
)
def test_last_event_dates_in_every_hubspot_form(default_mapping: Mapping, last_click: str) -> None:
    assigned = assign(
        person(hubspot__hs_email_click="1", hubspot__hs_email_last_click_date=last_click),
        default_mapping,
        NOW,
    )
    assert assigned.score == 10


def test_an_unreadable_last_event_date_means_no_decay(default_mapping: Mapping) -> None:
    assigned = assign(
        person(hubspot__hs_email_click="1", hubspot__hs_email_last_click_date="last tuesday"),
        default_mapping,
        NOW,
    )
    assert assigned.score == 20


@pytest.mark.parametrize(
    ("values", "rank"),
    [
        pytest.param(
            {"hubspot__hs_email_open": "6", "hubspot__hs_analytics_num_page_views": "10"},
            "hot",
            id="exactly-60-is-hot",
        ),
        pytest.param(
            {"hubspot__hs_email_open": "6", "hubspot__hs_analytics_num_page_views": "9"},
            "warm",
            id="59-is-warm",
        ),
        pytest.param({"hubspot__hs_email_open": "3"}, "warm", id="exactly-30-is-warm"),
        pytest.param(
            {"hubspot__hs_email_open": "2", "hubspot__hs_analytics_num_page_views": "9"},
            "cold",
            id="29-is-cold",
        ),
        pytest.param({}, "cold", id="nothing-is-cold"),
    ],
)
def test_rank_thresholds(default_mapping: Mapping, values: dict[str, Any], rank: str) -> None:
    assert assign(person(**values), default_mapping, NOW).rank == rank


@pytest.mark.parametrize(
    ("values", "stage", "review"),
    [
        pytest.param({}, "inquiry", (), id="no-native-value"),
        pytest.param({"hubspot__lifecyclestage": "subscriber"}, "inquiry", (), id="subscriber"),
        pytest.param({"hubspot__lifecyclestage": "lead"}, "inquiry", (), id="lead"),
        pytest.param({"hubspot__lifecyclestage": "marketingqualifiedlead"}, "mql", (), id="mql"),
        pytest.param({"hubspot__lifecyclestage": "salesqualifiedlead"}, "sql", (), id="sql"),
        pytest.param({"hubspot__lifecyclestage": "opportunity"}, "sql", (), id="opportunity"),
        pytest.param({"hubspot__lifecyclestage": "customer"}, "close", (), id="customer"),
        pytest.param({"hubspot__hs_lead_status": "ATTEMPTED_TO_CONTACT"}, "tql", (), id="lead-status-tql"),
        pytest.param({"hubspot__hs_lead_status": "CONNECTED"}, "sal", (), id="lead-status-sal"),
        pytest.param(
            {"salesforce__Lead__Status": "Working - Contacted"}, "sal", (), id="salesforce-lead-status"
        ),
        pytest.param(
            {"salesforce__Lead__Status": "Closed - Converted"}, "sql", (), id="salesforce-converted"
        ),
        pytest.param(
            {"hubspot__lifecyclestage": "lead", "hubspot__hs_lead_status": "CONNECTED"},
            "sal",
            (),
            id="furthest-stage-wins",
        ),
        pytest.param(
            {"hubspot__lifecyclestage": "customer", "salesforce__Lead__Status": "Open - Not Contacted"},
            "close",
            (),
            id="furthest-stage-wins-across-systems",
        ),
        pytest.param({"hubspot__lifecyclestage": " lead "}, "inquiry", (), id="surrounding-spaces-ignored"),
        pytest.param(
            {"hubspot__lifecyclestage": "partner"},
            "inquiry",
            ("hubspot.lifecyclestage=partner",),
            id="unknown-native-goes-to-review",
        ),
        pytest.param(
            {"hubspot__lifecyclestage": "partner", "hubspot__hs_lead_status": "CONNECTED"},
            "sal",
            ("hubspot.lifecyclestage=partner",),
            id="unknown-native-falls-back-to-known-ones",
        ),
        pytest.param(
            {"hubspot__lifecyclestage": "Lead"},
            "inquiry",
            ("hubspot.lifecyclestage=Lead",),
            id="native-values-are-case-sensitive",
        ),
        pytest.param(
            {"salesforce__Lead__Status": "未対応"},
            "inquiry",
            ("salesforce.Lead.Status=未対応",),
            id="unknown-japanese-status",
        ),
    ],
)
def test_shared_stage_from_native_values(
    default_mapping: Mapping, values: dict[str, Any], stage: str, review: tuple[str, ...]
) -> None:
    assigned = assign(person(**values), default_mapping, NOW)
    assert (assigned.stage, assigned.review) == (stage, review)


@pytest.mark.parametrize(
    ("lifecycle", "page_views", "stage"),
    [
        pytest.param("lead", "10", "mql", id="score-exactly-60-lifts-inquiry"),
        pytest.param("lead", "9", "inquiry", id="score-59-stays-inquiry"),
        pytest.param(None, "10", "mql", id="no-native-stage-lifted-too"),
        pytest.param("salesqualifiedlead", "10", "sql", id="later-stages-are-not-lowered"),
    ],
)
def test_mql_score_lifts_an_inquiry(
    default_mapping: Mapping, lifecycle: str | None, page_views: str, stage: str
) -> None:
    values: dict[str, Any] = {
        "hubspot__hs_email_open": "5",
        "hubspot__hs_analytics_num_page_views": page_views,
    }
    if lifecycle:
        values["hubspot__lifecyclestage"] = lifecycle
    assert assign(person(**values), default_mapping, NOW).stage == stage


def test_explicit_score_max_clamps() -> None:
    mapping = load_mapping_text(default_text().replace("decay_half_life_days = 90", "max = 100"), "m.toml")
    assert mapping.score_max == 100
    assigned = assign(person(hubspot__hs_email_click="9", hubspot__num_conversion_events="9"), mapping, NOW)
    assert assigned.score == 100
    assert any("clamped from 190 to 0..100" in r.text for r in assigned.reasons)


def test_negative_fit_points_never_make_a_negative_score() -> None:
    text = default_text().replace("newsletter = 0 }", "newsletter = -40 }")
    mapping = load_mapping_text(text, "m.toml")
    assert assign(person(hubspot__inquiry_type="newsletter"), mapping, NOW).score == 0
    assert (
        assign(person(hubspot__inquiry_type="newsletter", hubspot__hs_email_open="5"), mapping, NOW).score
        == 10
    )


def test_the_default_maximum_score(default_mapping: Mapping) -> None:
    # behaviour: 10*5 + 20*5 + 30*3 + 1*20 = 260; fit: employees 20 + inquiry type 20
    assert default_mapping.score_max == 300


@pytest.mark.parametrize(
    ("values", "words"),
    [
        pytest.param(
            {"hubspot__hs_email_open": "9"}, "email opens: 9 (capped at 5) × 10 = 50 points", id="cap"
        ),
        pytest.param(
            {"hubspot__hs_email_open": "abc"},
            "email opens: cannot read hubspot.hs_email_open = 'abc' as a count: no points",
            id="bad-count",
        ),
        pytest.param({"hubspot__numemployees": "250"}, "company size: 250 ≥ 100 = +10 points", id="band"),
        pytest.param(
            {"hubspot__inquiry_type": "webinar"},
            "inquiry type: hubspot.inquiry_type = 'webinar' has no points in the mapping",
            id="unknown-fit-value",
        ),
        pytest.param(
            {"hubspot__hs_email_click": "1", "hubspot__hs_email_last_click_date": iso_days_ago(90)},
            "email clicks: 1 × 20 = 20 points, faded to 10 (last one on 2026-03-03, half-life 90 days)",
            id="decay",
        ),
        pytest.param(
            {"hubspot__lifecyclestage": "partner"},
            'hubspot.lifecyclestage = "partner" is not in [stages]: ignored and sent for review',
            id="unknown-native",
        ),
    ],
)
def test_explanations_say_why(default_mapping: Mapping, values: dict[str, Any], words: str) -> None:
    assigned = assign(person(**values), default_mapping, NOW)
    assert words in [r.text for r in assigned.reasons]
