"""Broken mapping files: every error names the file, the exact line and the key path, and what was expected.

Each case edits the bundled default mapping the way an admin might break it; the expected line is the
line of the edit (found by a marker in the edited text), the expected key path and message are exact.
"""

from __future__ import annotations

import pytest

from mappings import MappingError, load_mapping_data, load_mapping_text
from mappings.facts import PHASES, STAGES
from tests.mappings.mapping_helpers import default_text, line_of

FILE = "mappings/custom.toml"
KNOWN_PHASES = ", ".join(PHASES)
KNOWN_STAGES = ", ".join(STAGES)


def edit(old: str, new: str, text: str | None = None) -> str:
    base = default_text() if text is None else text
    assert base.count(old) == 1, f"edit target {old!r} must occur exactly once"
    return base.replace(old, new)


def errors_of(text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text, FILE)
    assert str(caught.value) == "\n".join(str(e) for e in caught.value.errors)
    return [str(e) for e in caught.value.errors]


CASES = [
    pytest.param(
        'high = ["comparison", "purchase"]',
        'high = ["compare", "purchase"]',
        'high = ["compare"',
        "[recycle].high",
        f'unknown phase "compare" (known: {KNOWN_PHASES})',
        id="unknown-phase-in-recycle-high",
    ),
    pytest.param(
        "warm = 30\n",
        "warm = 70\n",
        "warm = 70",
        "[rank].warm",
        "rank thresholds must be ordered hot > warm > cold (warm = 70 is not below hot = 60)",
        id="unordered-rank-thresholds",
    ),
    pytest.param(
        'Lead_Rank__c = { from = "rank", policy = "overwrite" }\n',
        'Lead_Rank__c = { from = "rank", policy = "overwrite" }\nlead_stage__c = { from = "stage", policy = '
        '"overwrite" }\n',
        "lead_stage__c",
        "[fields.salesforce.Contact].lead_stage__c",
        'field "lead_stage__c" is mapped twice (field names are case-insensitive: "Lead_Stage__c" is the '
        "same field)",
        id="field-mapped-twice",
    ),
    pytest.param(
        '[nurture.lists.warm]\nsalesforce_campaign = "Nurture - Call/DM"\n'
        'hubspot_list = "Nurture - Call/DM"\nemail = false\n',
        "",
        "[nurture.lists.hot]",
        "nurture.lists",
        'no list for rank "warm" (every rank needs a [nurture.lists.warm] with salesforce_campaign, '
        "hubspot_list and email)",
        id="no-list-for-a-rank",
    ),
    pytest.param(
        'hubspot_list = "Nurture - Call/DM"\n',
        "",
        "[nurture.lists.warm]",
        "[nurture.lists.warm].hubspot_list",
        "missing required key",
        id="list-without-its-hubspot-name",
    ),
    pytest.param(
        "wait_days = 30 ",
        'wait_days = "30" ',
        'wait_days = "30"',
        "[recycle].wait_days",
        'expected an integer, got string "30"',
        id="wrong-type",
    ),
    pytest.param(
        "hot = 60\n",
        "hot = 60\nhto = 1\n",
        "hto = 1",
        "[rank].hto",
        'unknown key "hto" (did you mean "hot"? known: hot, warm, cold)',
        id="unknown-key",
    ),
    pytest.param(
        'lead = "inquiry"',
        'lead = "inquirry"',
        'lead = "inquirry"',
        "[stages.hubspot.lifecyclestage].lead",
        f'unknown stage "inquirry" (known: {KNOWN_STAGES})',
        id="unknown-stage-for-a-native-value",
    ),
    pytest.param(
        'Lead_Score__c = { from = "score", policy = "overwrite" }',
        'Lead_Score__c = { from = "score", policy = "always" }',
        '"always"',
        "[fields.salesforce.Contact].Lead_Score__c.policy",
        'unknown write policy "always" (known: overwrite, if_blank, keep_manual)',
        id="unknown-write-policy",
    ),
    pytest.param(
        'promote_on = ["email_click", "download"]',
        'promote_on = ["email_click",\n  "webinar"]',
        '"webinar"',
        "[recycle].promote_on",
        'unknown behaviour rule "webinar" (known: email_open, email_click, download, page_view)',
        id="promote-on-unknown-behaviour-multiline-array",
    ),
    pytest.param(
        "bands = [{ min = 1000, points = 20 }, { min = 100, points = 10 }]",
        "bands = [{ min = 100, points = 10 }, { min = 1000, points = 20 }]",
        "bands = [{ min = 100",
        "[score.fit.employees].bands[1].min",
        "bands must be ordered by min, highest first (1000 comes after 100)",
        id="fit-bands-out-of-order",
    ),
    pytest.param(
        'subject = "Recycle: call back about {deal_name}"',
        'subject = "Recycle: call back about {deal}"',
        "{deal}",
        "[recycle.call_task].subject",
        'unknown placeholder "{deal}" (known: person, deal_id, deal_name, stage_at_loss, phase, loss_reason, '
        "lost_on, days_since_loss, amount, owner_id, engagement_since_loss, score, rank)",
        id="unknown-template-placeholder",
    ),
    pytest.param(
        'low = ["awareness", "interest", "information_gathering"]',
        'low = ["awareness", "interest", "information_gathering", "purchase"]',
        'low = ["awareness"',
        "[recycle].low",
        'phase "purchase" is in both high and low',
        id="phase-in-both-groups",
    ),
    pytest.param(
        'source = "hubspot.hs_email_open"',
        'source = "hs_email_open"',
        'source = "hs_email_open"',
        "[score.behaviour.email_open].source",
        'source "hs_email_open" must be "hubspot.<property>" or "salesforce.<Object>.<Field>"',
        id="source-without-system",
    ),
    pytest.param(
        "mql_score = 60 ",
        "mql_score = 500 ",
        "mql_score = 500",
        "[stages].mql_score",
        "mql_score 500 can never be reached (the maximum score is 300)",
        id="unreachable-mql-score",
    ),
    pytest.param(
        'low = "recycle_low"',
        'low = "recycle_lo"',
        '"recycle_lo"',
        "[nurture.groups].low",
        'unknown list "recycle_lo" (known: hot, warm, cold, recycle_low, recycle_high; "" for no list)',
        id="group-on-unknown-list",
    ),
    pytest.param(
        'order = ["inquiry", "mql", "tql", "sal", "sgl", "sql", "close", "recycle"]',
        'order = ["inquiry", "mql", "tql", "sal", "sql", "close", "recycle"]',
        "order = [",
        "[stages].order",
        f"missing stage(s) sgl (order must list every shared stage once: {KNOWN_STAGES})",
        id="stage-order-missing-sgl",
    ),
    pytest.param(
        "[rank]",
        "[recyle]\nwait_days = 3\n\n[rank]",
        "[recyle]",
        "[recyle]",
        'unknown key "recyle" (did you mean "recycle"? known: version, phases, stages, score, rank, recycle, '
        "nurture, fields, optout)",
        id="misspelt-section",
    ),
    pytest.param(
        "version = 1 ",
        "version = 0 ",
        "version = 0",
        "version",
        "Input should be greater than or equal to 1, got integer 0",
        id="version-below-one",
    ),
    pytest.param(
        'salesforce_campaign = "Nurture - Events"',
        f'salesforce_campaign = "{"N" * 81}"',
        "N" * 81,
        "[nurture.lists.hot].salesforce_campaign",
        f'String should have at most 80 characters, got string "{"N" * 37}..."',
        id="campaign-name-too-long",
    ),
    pytest.param(
        '"Needs Analysis" = "information_gathering"',
        '"Needs Analysis" = "情報収集"',
        '"情報収集"',
        '[phases.salesforce.opportunity_stage]."Needs Analysis"',
        f'unknown phase "情報収集" (known: {KNOWN_PHASES})',
        id="japanese-phase-name",
    ),
    pytest.param(
        "cold = 0\n",
        "cold = 10\n",
        "cold = 10",
        "[rank].cold",
        "cold must be 0 so that every score has a rank (got 10)",
        id="cold-not-zero",
    ),
]


@pytest.mark.parametrize(("old", "new", "marker", "key", "message"), CASES)
def test_broken_mapping_reports_file_line_key_and_message(
    old: str, new: str, marker: str, key: str, message: str
) -> None:
    text = edit(old, new)
    assert errors_of(text) == [f"{FILE}:{line_of(text, marker)} {key}: {message}"]


@pytest.mark.parametrize(
    ("old", "new", "marker", "expected"),
    [
        pytest.param(
            "hot = 60\n",
            "hot = 60 60\n",
            "hot = 60 60",
            "TOML syntax error at column 10: Expected newline or end of document after a statement",
            id="two-values",
        ),
        pytest.param(
            "cap = 5\n",
            "cap = 5\ncap = 3\n",
            "cap = 3",
            "TOML syntax error at column 8: Cannot overwrite a value",
            id="duplicate-key",
        ),
        pytest.param(
            "[rank]",
            "[rank",
            "[rank",
            "TOML syntax error at column 33: Expected ']' at the end of a table declaration",
            id="unclosed-header",
        ),
    ],
)
def test_toml_syntax_error_names_its_line(old: str, new: str, marker: str, expected: str) -> None:
    text = edit(old, new) if old != "cap = 5\n" else default_text().replace(old, new, 1)
    assert errors_of(text) == [f"{FILE}:{line_of(text, marker)}: {expected}"]


def test_many_errors_are_reported_at_once_sorted_by_line() -> None:
    text = edit('high = ["comparison", "purchase"]', 'high = ["compare", "purchase"]')
    text = edit("warm = 30\n", "warm = 70\n", text)
    text = edit(
        'Lead_Score__c = { from = "score", policy = "overwrite" }',
        'Lead_Score__c = { from = "score", policy = "always" }',
        text,
    )
    text = edit("decay_half_life_days = 90", "decay_half_life_days = -1", text)
    text = edit("cold = 0\n", "cold = 0\ncoold = 0\n", text)  # a typo does not hide the ordering error
    found = errors_of(text)
    assert [e.split(" ")[1].rstrip(":") for e in found] == [
        "[score].decay_half_life_days",
        "[rank].warm",
        "[rank].coold",
        "[recycle].high",
        "[fields.salesforce.Contact].Lead_Score__c.policy",
    ]
    lines = [int(e.split(" ")[0].rsplit(":", 1)[1]) for e in found]
    assert lines == sorted(lines)
    assert lines[1] == line_of(text, "warm = 70")


def test_an_empty_file_lists_every_missing_section() -> None:
    found = errors_of("")
    assert found == [
        f"{FILE}:1 {name}: {'missing required key' if name == 'version' else 'missing required table'}"
        for name in sorted(["version", "phases", "stages", "score", "rank", "recycle", "nurture", "fields"])
    ]


def test_data_built_in_code_reports_paths_without_lines() -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping_data({"version": "one"}, "<code>")
    assert '<code>:1 version: expected an integer, got string "one"' in str(caught.value).splitlines()


def test_the_default_mapping_is_valid() -> None:
    mapping = load_mapping_text(default_text(), "mappings/default.toml")
    assert mapping.version == 1
    assert mapping.filename == "mappings/default.toml"


def test_errors_inside_an_array_of_inline_tables() -> None:
    text = edit("{ min = 100, points = 10 }", "{ min = 100, pts = 10 }")
    line = line_of(text, "pts = 10")
    assert errors_of(text) == [
        f"{FILE}:{line} [score.fit.employees].bands[1].points: missing required key",
        f'{FILE}:{line} [score.fit.employees].bands[1].pts: unknown key "pts" (did you mean "points"? known: '
        "min, points)",
    ]
