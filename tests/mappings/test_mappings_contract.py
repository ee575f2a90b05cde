"""What the sync layer relies on: the default mapping's names, the Mapping API, field values, coercion."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mappings import Mapping, MappingError, load_mapping_text
from mappings.coerce import to_bool, to_count, to_datetime, to_epoch, to_number, to_text
from mappings.compiled import FieldMapping
from mappings.engine import assign, assign_many, explain, field_value
from mappings.facts import Assignment, Reason
from mappings.render import EXPLANATION_MAX_CHARS, field_values
from tests.mappings.mapping_helpers import NOW, default_text, lost, person


def test_hubspot_properties_are_exactly_what_the_rules_read(default_mapping: Mapping) -> None:
    assert default_mapping.hubspot_properties() == sorted(
        [
            "hs_email_open",
            "hs_email_click",
            "hs_email_last_open_date",
            "hs_email_last_click_date",
            "num_conversion_events",
            "recent_conversion_date",
            "hs_analytics_num_page_views",
            "hs_analytics_last_visit_timestamp",
            "numemployees",
            "lifecyclestage",
            "hs_lead_status",
            "hs_email_optout",
            "inquiry_type",
        ]
    )
    assert default_mapping.salesforce_fields() == [
        "Account.NumberOfEmployees",
        "Contact.HasOptedOutOfEmail",
        "Lead.Status",
    ]


def test_the_hubspot_opt_out_flag_is_named_by_the_mapping(default_mapping: Mapping) -> None:
    assert default_mapping.hubspot_optout_property == "hs_email_optout"
    text = default_text()
    key = 'hubspot_property = "hs_email_optout"\n'
    assert key in text
    assert load_mapping_text(text.replace(key, ""), "m.toml").hubspot_optout_property == "hs_email_optout"
    custom = load_mapping_text(text.replace(key, 'hubspot_property = "unsubscribed"\n'), "m.toml")
    assert custom.hubspot_optout_property == "unsubscribed"
    with pytest.raises(MappingError):
        load_mapping_text(text.replace(key, 'hubspot_property = ""\n'), "m.toml")


def test_field_mappings_use_the_fixed_names(default_mapping: Mapping) -> None:
    assert default_mapping.fields_for("salesforce", "Contact") == (
        FieldMapping("salesforce", "Contact", "Lead_Stage__c", "stage", "overwrite"),
        FieldMapping("salesforce", "Contact", "Lead_Score__c", "score", "overwrite"),
        FieldMapping("salesforce", "Contact", "Lead_Rank__c", "rank", "overwrite"),
        FieldMapping("salesforce", "Contact", "Recycle_Group__c", "recycle_group", "keep_manual"),
        FieldMapping("salesforce", "Contact", "Nurture_List__c", "nurture_list", "overwrite"),
        FieldMapping("salesforce", "Contact", "Leadsync_Explanation__c", "explanation", "overwrite"),
    )
    assert [f.field for f in default_mapping.fields_for("hubspot")] == [
        "leadsync_stage",
        "leadsync_score",
        "leadsync_rank",
        "leadsync_recycle_group",
        "leadsync_nurture_list",
        "leadsync_explanation",
    ]
    assert default_mapping.fields_for("hubspot", "companies") == ()


def test_nurture_lists_and_recycle_policy(default_mapping: Mapping) -> None:
    assert default_mapping.list_names("salesforce") == {
        "hot": "Nurture - Events",
        "warm": "Nurture - Call/DM",
        "cold": "Nurture - Newsletter",
        "recycle_low": "Recycle - Email Nurture",
        "recycle_high": "Recycle - Sales Follow-up",
    }
    assert default_mapping.list_names("hubspot") == default_mapping.list_names("salesforce")
    assert {k: v.email for k, v in default_mapping.nurture_lists.items()} == {
        "hot": False,
        "warm": False,
        "cold": True,
        "recycle_low": True,
        "recycle_high": False,  # the high group is called by sales, never mailed
    }
    assert dict(default_mapping.nurture_groups) == {
        "high": "recycle_high", "low": "recycle_low", "waiting": None, "excluded": None}
    policy = default_mapping.recycle
    assert (policy.wait_days, policy.max_age_days, policy.call_task.due_days) == (30, 730, 3)
    assert policy.high == {"comparison", "purchase"}
    assert policy.low == {"awareness", "interest", "information_gathering"}
    assert [r.name for r in policy.promote_events] == ["email_click", "download"]
    assert default_mapping.stage_order == ("inquiry", "mql", "tql", "sal", "sgl", "sql", "close", "recycle")
    assert [n.source for n in default_mapping.natives] == [
        "hubspot.lifecyclestage",
        "hubspot.hs_lead_status",
        "salesforce.Lead.Status",
    ]
    assert "Closed Lost" not in default_mapping.phases and "Closed Won" not in default_mapping.phases


@pytest.mark.parametrize(
    ("from_name", "system", "value"),
    [
        ("stage", None, "recycle"),
        ("score", None, 0),
        ("rank", None, "cold"),
        ("recycle_group", None, "low"),
        ("nurture_list", None, "recycle_low"),
        ("nurture_list", "salesforce", "Recycle - Email Nurture"),
        ("nurture_list", "hubspot", "Recycle - Email Nurture"),
        ("mapping_version", None, 1),
        ("recycle_deal_id", None, "006000000000001AAA"),
    ],
)
def test_field_value(default_mapping: Mapping, from_name: str, system: str | None, value: object) -> None:
    assigned = assign(person(deals=(lost(60, "Prospecting"),)), default_mapping, NOW)
    assert field_value(assigned, from_name, default_mapping if system else None, system) == value


def test_blank_values_are_none(default_mapping: Mapping) -> None:
    assigned = assign(person(opted_out=True), default_mapping, NOW)
    assert field_value(assigned, "recycle_group") is None
    assert field_value(assigned, "nurture_list", default_mapping, "hubspot") is None
    assert field_value(assigned, "recycle_deal_id") is None


def test_field_values_per_object(default_mapping: Mapping) -> None:
    assigned = assign(person(deals=(lost(60),)), default_mapping, NOW)
    values = field_values(assigned, default_mapping, "hubspot", "contacts")
    assert values["leadsync_recycle_group"] == "high"
    assert values["leadsync_nurture_list"] == "Recycle - Sales Follow-up"  # called, not mailed
    assert values["leadsync_explanation"] == "\n".join(explain(assigned, stable=True))


def test_unknown_field_value_name_raises(default_mapping: Mapping) -> None:
    with pytest.raises(KeyError):
        field_value(assign(person(), default_mapping, NOW), "colour")


def test_explanation_is_cut_visibly_at_the_field_limit() -> None:
    reasons = tuple(Reason("r", 0, "x" * 1000) for _ in range(40))
    assigned = Assignment("k", "inquiry", 0, "cold", None, None, None, 1, reasons=reasons)
    text = field_value(assigned, "explanation")
    assert isinstance(text, str)
    assert len(text) == EXPLANATION_MAX_CHARS
    assert text.endswith("… (explanation truncated)")


def test_explain_lists_summary_reasons_task_and_review(default_mapping: Mapping) -> None:
    assigned = assign(person(deals=(lost(60),), hubspot__lifecyclestage="partner"), default_mapping, NOW)
    lines = explain(assigned)
    assert lines[0] == (
        "alice@example.com: stage recycle, score 0, rank cold, recycle group high, nurture list "
        "recycle_high (mapping version 1)"
    )
    assert lines[-2].startswith(
        'Call task "Recycle: call back about 006000000000001AAA" for owner unknown, due '
    )
    assert lines[-1] == "Needs review (not in the mapping): hubspot.lifecyclestage=partner"


def test_assign_many_equals_assign(default_mapping: Mapping) -> None:
    people = [person(f"p{i}@x.jp", deals=(lost(20 * i),), hubspot__hs_email_open=str(i)) for i in range(6)]
    assert list(assign_many(people, default_mapping, NOW)) == [
        assign(p, default_mapping, NOW) for p in people
    ]


def test_naive_now_is_utc(default_mapping: Mapping) -> None:
    someone = person(deals=(lost(30),))
    assert assign(someone, default_mapping, NOW.replace(tzinfo=None)) == assign(someone, default_mapping, NOW)


@pytest.mark.parametrize(
    ("raw", "number", "count"),
    [
        ("3", 3, 3),
        (" 4 ", 4, 4),
        ("2.9", 2.9, 2),
        (5, 5, 5),
        (1.5, 1.5, 1),
        ("-1", -1, None),
        ("x", None, None),
        (True, None, None),
        (None, None, None),
        ("inf", None, None),
        (float("nan"), None, None),
        ("", None, None),
    ],
)
def test_numbers_and_counts(raw: object, number: float | None, count: int | None) -> None:
    assert (to_number(raw), to_count(raw)) == (number, count)


MAY_1 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-05-01T10:00:00Z", MAY_1),
        ("2026-05-01T10:00:00.000Z", MAY_1),
        ("2026-05-01T19:00:00+09:00", MAY_1),
        ("2026-05-01T10:00:00", MAY_1),
        (str(int(MAY_1.timestamp() * 1000)), MAY_1),
        (int(MAY_1.timestamp() * 1000), MAY_1),
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        (date(2026, 5, 1), datetime(2026, 5, 1, tzinfo=UTC)),
        ("soon", None),
        ("99999999999999999999999", None),
        (None, None),
        (["2026"], None),
    ],
)
def test_dates(raw: object, expected: datetime | None) -> None:
    assert to_datetime(raw) == expected
    assert to_epoch(raw) == (expected.timestamp() if expected else None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (True, True),
        ("false", False),
        ("", False),
        ("0", False),
        (False, False),
        ("maybe", None),
        (1, None),
        (None, None),
    ],
)
def test_booleans(raw: object, expected: bool | None) -> None:
    assert to_bool(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(" lead ", "lead"), ("", None), ("  ", None), (7, "7"), (None, None), (True, None)]
)
def test_text(raw: object, expected: str | None) -> None:
    assert to_text(raw) == expected
