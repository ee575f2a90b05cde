"""`leadsync mappings validate` and `leadsync mappings explain` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.mappings import app
from tests.mappings.mapping_helpers import default_text, line_of

runner = CliRunner()

ALICE = {
    "email": " Alice@Example.com ",
    "values": {
        "hubspot.hs_email_open": "3",
        "hubspot.hs_email_click": "1",
        "hubspot.hs_email_last_click_date": "2026-05-20T10:00:00Z",
        "hubspot.lifecyclestage": "lead",
        "hubspot.numemployees": "250",
    },
    "deals": [
        {
            "deal_id": "006000000000001AAA",
            "state": "lost",
            "stage_at_loss": "Needs Analysis",
            "loss_reason": "予算不足",
            "lost_on": "2026-03-01",
            "amount": 1200000,
            "owner_id": "005000000000001AAA",
            "name": "山田商事",
        }
    ],
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_the_bundled_default() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("mappings/default.toml: valid (version 1;")
    assert "score 0..300" in result.stdout


def test_validate_a_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, "custom.toml", default_text().replace("version = 1 ", "version = 7 "))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith(f"{path}: valid (version 7;")


def test_validate_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    text = default_text().replace('high = ["comparison", "purchase"]', 'high = ["compare", "purchase"]')
    text = text.replace("warm = 30\n", "warm = 70\n")
    path = write(tmp_path, "custom.toml", text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:{line_of(text, 'warm = 70')} [rank].warm: rank thresholds must be ordered hot > warm > cold "
        "(warm = 70 is not below hot = 60)",
        f'{path}:{line_of(text, "compare")} [recycle].high: unknown phase "compare" '
        "(known: awareness, interest, information_gathering, comparison, purchase)",
        "2 errors",
    ]


def test_validate_reports_a_toml_syntax_error_with_its_line(tmp_path: Path) -> None:
    text = default_text().replace("[rank]", "[rank", 1)
    path = write(tmp_path, "broken.toml", text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:{line_of(text, '[rank')}: TOML syntax error")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "missing.toml", "file not found", id="missing"),
        pytest.param(lambda p: p, "is a directory", id="directory"),
        pytest.param(
            lambda p: (p / "latin1.toml", (p / "latin1.toml").write_bytes(b"version = '\xe9'"))[0],
            "1: not UTF-8 text",  # names the line the bad byte is on
            id="not-utf8",
        ),
    ],
)
def test_validate_unreadable_file_exits_2(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:{message}" if message[0].isdigit() else f"{path}: {message}")
    assert result.stderr.rstrip().endswith("1 error")


def test_explain_prints_the_assignment_and_its_reasons(tmp_path: Path) -> None:
    path = write(tmp_path, "alice.json", json.dumps(ALICE, ensure_ascii=False))
    result = runner.invoke(app, ["explain", "--person", str(path), "--now", "2026-06-01T09:00:00Z"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "At 2026-06-01T09:00:00+00:00 with mappings/default.toml (version 1):"
    assert lines[1] == (
        "  alice@example.com: stage recycle, score 58, rank warm, recycle group high, nurture list "
        "recycle_high (mapping version 1)"
    )
    assert "  email opens: 3 × 10 = 30 points" in lines
    assert any("promoted to group high" in line for line in lines)
    assert "    Loss reason: 予算不足" in lines
    assert "    salesforce.Contact.Nurture_List__c = Recycle - Sales Follow-up  [overwrite]" in lines
    assert "    hubspot.contacts.leadsync_recycle_group = high  [keep_manual]" in lines


def test_explain_json(tmp_path: Path) -> None:
    path = write(tmp_path, "alice.json", json.dumps(ALICE, ensure_ascii=False))
    result = runner.invoke(app, ["explain", "--person", str(path), "--now", "2026-06-01", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["key"], data["stage"], data["recycle_group"], data["nurture_list"]) == (
        "alice@example.com",
        "recycle",
        "high",
        "recycle_high",
    )
    assert data["task"]["due_on"] == "2026-06-04"
    assert data["task"]["owner_id"] == "005000000000001AAA"
    assert data["fields"]["salesforce.Contact"]["Lead_Score__c"] == data["score"]
    assert data["fields"]["hubspot.contacts"]["leadsync_nurture_list"] == "Recycle - Sales Follow-up"
    assert data["lists"] == {"salesforce_campaign": "Recycle - Sales Follow-up",
                             "hubspot_list": "Recycle - Sales Follow-up"}
    assert data["explanation"][0].startswith("alice@example.com: stage recycle")
    # the written explanation is the CLI's minus what moves with the clock alone (the task's due date)
    written = data["fields"]["salesforce.Contact"]["Leadsync_Explanation__c"]
    assert written == "\n".join(data["explanation"]).replace(f", due {data['task']['due_on']}", "")
    assert {"rule", "points", "text"} == set(data["reasons"][0])


def test_explain_several_people_with_a_custom_mapping(tmp_path: Path) -> None:
    mapping = write(tmp_path, "m.toml", default_text().replace("wait_days = 30 ", "wait_days = 200 "))
    people = write(tmp_path, "people.json", json.dumps([ALICE, {"key": "bob", "opted_out": True}]))
    result = runner.invoke(
        app, ["explain", "--person", str(people), "--mapping", str(mapping), "--now", "2026-06-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(d["key"], d["recycle_group"], d["nurture_list"]) for d in data] == [
        ("alice@example.com", "waiting", None),
        ("bob", None, None),
    ]


def test_explain_reports_person_file_errors_with_lines(tmp_path: Path) -> None:
    text = (
        '{\n  "email": "a@b.c",\n  "deals": [\n    {"deal_id": "006", "state": "lostt",\n'
        '     "lost_on": "soon"}\n  ],\n  "colour": 1\n}\n'
    )
    path = write(tmp_path, "bad.json", text)
    result = runner.invoke(app, ["explain", "--person", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}:4 deals[0].state: Input should be 'lost', 'won' or 'open', got \"lostt\"",
        f"{path}:5 deals[0].lost_on: Input should be a valid date or datetime, input is too short, "
        'got "soon"',
        f"{path}:7 colour: unknown key (see docs/explain-person.md for the shape)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["explain", "alice@example.com", "--config", "none.toml"],
            "settings file not found: none.toml",
            id="email-needs-settings",
        ),
        pytest.param(
            ["explain", "alice@example.com", "--person", "p.json"],
            "give either EMAIL or --person",
            id="email-and-person",
        ),
        pytest.param(
            ["explain", "alice@example.com", "--mapping", "m.toml"],
            "--mapping applies to --person",
            id="email-with-mapping",
        ),
        pytest.param(["explain"], "nothing to explain: give EMAIL or --person FILE.json", id="nothing"),
        pytest.param(
            ["explain", "--person", "p.json", "--now", "yesterday"],
            '--now: "yesterday" is not an ISO',
            id="bad-now",
        ),
        pytest.param(
            ["explain", "--person", "nope.json"], "nope.json: file not found", id="missing-person-file"
        ),
        pytest.param(
            ["explain", "--person", "p.json", "--mapping", "nope.toml"],
            "nope.toml: file not found",
            id="missing-mapping",
        ),
        pytest.param(
            ["explain", "--person", "p.json", "--mapping", "bad.toml"],
            "bad.toml:1: TOML syntax error",
            id="broken-mapping",
        ),
        pytest.param(
            ["explain", "--person", "broken.json"], "broken.json:1: invalid JSON at column", id="bad-json"
        ),
        pytest.param(
            ["explain", "--person", "empty.json"], "empty.json:1: no people in the file", id="empty-array"
        ),
    ],
)
def test_explain_bad_input_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "p.json", "{}")
    write(tmp_path, "bad.toml", "version = = 1")
    write(tmp_path, "broken.json", "{nope")
    write(tmp_path, "empty.json", "[]")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr


def test_explain_without_now_uses_the_clock(tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", '{"key": "x"}')
    result = runner.invoke(app, ["explain", "--person", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("At 20")


def test_validate_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + default_text().encode("utf-8"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
