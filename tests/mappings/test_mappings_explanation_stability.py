"""The explanation leadsync writes into both systems changes only when the assignment does.

A record update carries all of a record's changed fields in one call, so an explanation that moved
with the clock alone ("N days ago", a task due date) would make leadsync rewrite every record every day.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from mappings import Mapping, load_mapping_text
from mappings.engine import assign
from mappings.render import field_value
from tests.mappings.mapping_helpers import NOW, default_text, lost, person


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping_text(default_text(), "default.toml")


PEOPLE = {
    "high with a call task": person(deals=(lost(45, "Negotiation/Review", "予算不足"),),
                                    salesforce__Account__NumberOfEmployees=1500),
    "low": person(deals=(lost(60, "Prospecting"),), hubspot__inquiry_type="pricing"),
    "waiting": person(deals=(lost(5, "Proposal/Price Quote"),)),
    "too old to recycle": person(deals=(lost(800, "Negotiation/Review"),)),
    "engaged long ago": person(hubspot__hs_email_open="5", hubspot__hs_email_last_open_date="2025-01-01"),
}


@pytest.mark.parametrize("shape", sorted(PEOPLE))
@pytest.mark.parametrize("days_later", [1, 2, 7])
def test_same_assignment_same_written_explanation(mapping: Mapping, shape: str, days_later: int) -> None:
    facts = PEOPLE[shape]
    before = assign(facts, mapping, NOW)
    after = assign(facts, mapping, NOW + timedelta(days=days_later))
    same = (before.stage, before.score, before.rank, before.recycle_group, before.nurture_list)
    assert same == (after.stage, after.score, after.rank, after.recycle_group, after.nurture_list)
    assert field_value(before, "explanation", mapping, "salesforce") == \
        field_value(after, "explanation", mapping, "salesforce")


def test_cli_explanation_still_shows_the_due_date(mapping: Mapping) -> None:
    from mappings.render import explain

    a = assign(PEOPLE["high with a call task"], mapping, NOW)
    assert a.task is not None
    assert any(f"due {a.task.due_on}" in line for line in explain(a))
    assert f"due {a.task.due_on}" not in str(field_value(a, "explanation", mapping, "salesforce"))
