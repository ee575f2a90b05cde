"""Fuzzed mapping files: `leadsync mappings validate FILE` never shows a traceback; it exits 0 (valid)
or 2 with every error as `FILE:LINE key: message` (see badinput_cli.check_validate_answer).

Hypothesis runs derandomized (the same examples on every machine, no example database); set
LEADSYNC_FUZZ_EXAMPLES to explore more, LEADSYNC_FUZZ_RANDOM=1 for fresh random examples.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import MappingError, load_mapping_text
from mappings.engine import assign
from mappings.facts import DealFacts, PersonFacts
from mappings.loader import load_mapping_data
from tests.reliability.badinput_cli import check_validate_answer, invoke, run_cli
from tests.reliability.badinput_mapping_mutations import (
    DEFAULT_TEXT,
    HUGE,
    mutated_data,
    mutated_documents,
    mutated_texts,
)

EXAMPLES = int(os.environ.get("LEADSYNC_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("LEADSYNC_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mapping-fuzz")


def validate(folder: Path, text: str, log: list[str]) -> list[tuple[int, str]]:
    path = folder / "custom.toml"
    path.write_text(text, encoding="utf-8")
    outcome = invoke("mappings", "validate", str(path))
    try:
        return check_validate_answer(outcome, path, text)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nmutations: {log}") from None


def test_the_unmutated_default_is_valid(fuzz_dir: Path) -> None:
    """The baseline the mutations start from (so a fuzz failure is the mutation's doing)."""
    assert validate(fuzz_dir, DEFAULT_TEXT, []) == []


@FUZZ
@given(case=mutated_documents())
def test_structural_mutations_exit_0_or_2_with_file_line_errors(fuzz_dir: Path,
                                                               case: tuple[str, list[str]]) -> None:
    text, log = case
    validate(fuzz_dir, text, log)


@FUZZ
@given(case=mutated_texts())
def test_textual_mutations_exit_0_or_2_with_file_line_errors(fuzz_dir: Path,
                                                            case: tuple[str, list[str]]) -> None:
    text, log = case
    validate(fuzz_dir, text, log)


@FUZZ
@given(junk=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_exit_0_or_2_with_file_line_errors(fuzz_dir: Path, junk: str) -> None:
    validate(fuzz_dir, junk, [f"text {junk!r:.120}"])


def _replace(old: str, new: str) -> str:
    assert old in DEFAULT_TEXT, old
    return DEFAULT_TEXT.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# Each case: a targeted edit, and a line of the edited file that an error must point at.
TARGETED = {
    "unknown phase": (_replace('"Prospecting" = "awareness"', '"Prospecting" = "aware"'), '"Prospecting"'),
    "unknown stage": (_replace('lead = "inquiry"', 'lead = "lead_stage"'), 'lead = "lead_stage"'),
    "wrong type": (_replace("wait_days = 30", 'wait_days = "thirty"'), "wait_days"),
    "out of range": (_replace("wait_days = 30", "wait_days = -5"), "wait_days"),
    "zero cap": (_replace("cap = 5", "cap = 0"), "cap = 0"),
    "version zero": (_replace("version = 1 ", "version = 0 "), "version = 0"),
    "unknown key": (_replace("wait_days = 30", "wait_days = 30\nwiat_days = 31"), "wiat_days"),
    "duplicate key": (_replace("hot = 60", "hot = 60\nhot = 61"), "hot = 61"),
    "duplicate field target": (
        _replace('Lead_Rank__c = { from = "rank", policy = "overwrite" }',
                 'Lead_Rank__c = { from = "rank", policy = "overwrite" }\n'
                 'lead_rank__c = { from = "score", policy = "overwrite" }'), "lead_rank__c"),
    "unknown policy": (_replace('from = "score", policy = "overwrite" }',
                                'from = "score", policy = "sometimes" }'), '"sometimes"'),
    "huge campaign name": (_replace('salesforce_campaign = "Nurture - Events"',
                                    f'salesforce_campaign = "{HUGE}"'), "salesforce_campaign = "),
    "huge task subject": (_replace('subject = "Recycle: call back about {deal_name}"', f'subject = "{HUGE}"'),
                          None),  # valid: the writer cuts a subject to Task.Subject's 255 characters
    "unknown placeholder": (_replace("Loss reason: {loss_reason}", "Loss reason: {loss_raeson}"),
                            "description"),
    "japanese list name": (_replace('salesforce_campaign = "Nurture - Events"',
                                    'salesforce_campaign = "ナーチャリング - イベント"'), None),
    "emoji in label": (_replace('label = "email opens"', 'label = "📧 opens"'), None),
    "broken syntax": (_replace("[rank]", "[rank"), "[rank"),
    "unterminated string": (_replace('hubspot_list = "Nurture - Events"', 'hubspot_list = "Nurture - Events'),
                            'hubspot_list = "Nurture - Events'),
}


@pytest.mark.parametrize("case", sorted(TARGETED))
def test_targeted_bad_values_point_at_their_line(fuzz_dir: Path, case: str) -> None:
    text, needle = TARGETED[case]
    errors = validate(fuzz_dir, text, [case])
    if needle is None:  # a valid edit: unicode names and labels are fine
        assert errors == []
        return
    assert errors, f"{case}: accepted"
    want = _line_of(text, needle)
    # a table header line also counts for a key defined in that table's inline value
    assert want in {n for n, _ in errors}, f"{case}: no error on line {want}: {errors}"


def test_subprocess_prints_file_line_errors_and_exits_2(tmp_path: Path) -> None:
    """The real entry point (console script, real stderr), not only the in-process runner."""
    path = tmp_path / "bad.toml"
    content = DEFAULT_TEXT.replace("wait_days = 30", "wait_days = []").replace("[rank]", "[rank]\nhto = 1")
    path.write_text(content, encoding="utf-8")
    outcome = run_cli("mappings", "validate", str(path))
    assert outcome.exit_code == 2
    assert len(check_validate_answer(outcome, path, content)) == 2


def test_non_utf8_file_reports_file_and_line(fuzz_dir: Path) -> None:
    path = fuzz_dir / "latin1.toml"
    raw = DEFAULT_TEXT.replace('label = "email opens"', 'label = "e-mail \xe9"').encode("latin-1")
    path.write_bytes(raw)
    outcome = invoke("mappings", "validate", str(path))
    errors = check_validate_answer(outcome, path, raw.decode("latin-1"))
    assert errors and errors[0][0] == _line_of(DEFAULT_TEXT, 'label = "email opens"')


@pytest.mark.parametrize("edit", [
    pytest.param(("wait_days = 30", 'wait_days = 30\n"evil\\rkey" = 1'), id="CR-in-unknown-key"),
    pytest.param(("due_days = 3", 'due_days = "line\\nbreak"'), id="LF-in-wrong-typed-value"),
    pytest.param(('low = "recycle_low"', 'low = "no\\nsuch list"'), id="LF-in-unknown-list-name"),
])
def test_control_characters_in_values_stay_on_one_error_line(fuzz_dir: Path, edit: tuple[str, str]) -> None:
    text = _replace(*edit)
    errors = validate(fuzz_dir, text, [repr(edit)])
    assert errors


# ----------------------------------------------------------------------------- valid means usable
# A mapping that `validate` accepts must not crash the engine later (`sync`, `explain`): assign a few
# different people with every structurally mutated mapping that loads.

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PEOPLE = [
    PersonFacts("lost@example.com", {"hubspot.hs_email_click": "2",
                                     "hubspot.hs_email_last_click_date": "2026-05-20T10:00:00Z",
                                     "hubspot.lifecyclestage": "lead", "hubspot.numemployees": "250",
                                     "salesforce.Account.NumberOfEmployees": 1200},
                deals=(DealFacts("006A", "lost", "Proposal/Price Quote", "Price", date(2026, 3, 1), 1e6,
                                 "005A", "山田商事"),)),
    PersonFacts("early@example.com", {"hubspot.hs_email_open": "9"},
                deals=(DealFacts("006B", "lost", "Prospecting", "Duplicate", date(2026, 5, 25), None, None,
                                 None),)),
    PersonFacts("won@example.com", {"hubspot.lifecyclestage": "customer"},
                deals=(DealFacts("006C", "won", None, None, None, closed_on=date(2025, 1, 15)),)),
    PersonFacts("new@example.com", {"hubspot.inquiry_type": "pricing", "hubspot.numemployees": "x"},
                opted_out=True),
]


@FUZZ
@given(case=mutated_data())
def test_a_mapping_that_validates_never_crashes_the_engine(case: tuple[dict[str, Any], list[str]]) -> None:
    doc, log = case
    try:
        mapping = load_mapping_data(doc, "fuzzed.toml")
    except MappingError:
        return
    for person in PEOPLE:
        try:
            assign(person, mapping, NOW)
        except Exception as exc:
            raise AssertionError(f"{type(exc).__name__}: {exc} for {person.key}\nmutations: {log}") from exc


@pytest.mark.parametrize("edits", [
    pytest.param([("due_days = 3", "due_days = 3000000")], id="due_days"),
    pytest.param([("due_days = 3", "due_days = 99999999999")], id="due_days-overflow"),
    pytest.param([("wait_days = 30", "wait_days = 3000000"),
                  ("max_age_days = 730", "max_age_days = 3000000")], id="wait_days"),
])
def test_huge_day_counts_are_rejected_or_harmless(fuzz_dir: Path, edits: list[tuple[str, str]]) -> None:
    text = DEFAULT_TEXT
    for old, new in edits:
        text = text.replace(old, new, 1)
    errors = validate(fuzz_dir, text, [repr(edits)])
    if errors:
        return  # rejected with FILE:LINE errors: fine
    mapping = load_mapping_text(text, "huge.toml")
    for person in PEOPLE:
        assign(person, mapping, NOW)
