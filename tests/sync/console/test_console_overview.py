"""The overview page over a hand-seeded world, synced by a real run against the sandbox: the numbers
the test works out by hand from what it seeded, CRM text that tries to break out of the HTML or drive a
terminal shown as text, and both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.sync.views.worlds import SeededWorld

from .conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Site, open_site

SCRIPT = "<script>alert(1)</script>"
BREAKER = '"><img src=x onerror=alert(2)>'
NAME = "<script>alert(3)</script>"
SHORT_TERMINAL = "\x1b[2Jx\x07"  # FirstName holds 40 characters (the sandbox refuses more, as Salesforce)
TERMINAL = "\x1b[31mred\x1b]8;;http://evil.example\x07link\x1b]8;;\x07"


@pytest.fixture
def hostile(seeded_world: SeededWorld) -> Iterator[Site]:
    """Seven people lost at known phases, for known reasons (three of them hostile), and one run.
    The recycle groups (same seeds as tests/sync/views/test_report.py's world):
    a lost early, clicked after the loss -> high (promoted); b early -> low; c, d late -> high
    (c opened after the loss: re-engaged); e lost 10 days ago -> waiting; f "Spam" -> excluded;
    g early, no reason -> low. Each person on an account of their own, so no one's deal is a new deal
    on another's account."""
    w = seeded_world
    person = w.person

    def own_account(email: str, **kwargs: Any) -> None:
        w.account = w.box.salesforce.store.create(
            "Account", {"Name": f"Account of {email}", "NumberOfEmployees": 500, "OwnerId": w.owner},
            at=w.now - timedelta(days=800))
        person(email, **kwargs)

    w.person = own_account  # type: ignore[method-assign]
    w.person("a@example.com", lost_stage="Prospecting", lost_days_ago=40, reason=SCRIPT, amount=1_000_000,
             hubspot={"hs_email_click": "1", "hs_email_last_click_date": w.days_ago(5)})
    w.person("b@example.com", lost_stage="Prospecting", lost_days_ago=40, reason=SCRIPT, amount=2_000_000)
    w.person("c@example.com", lost_stage="Negotiation/Review", lost_days_ago=60, reason=BREAKER,
             amount=4_000_000, hubspot={"hs_email_open": "2", "hs_email_last_open_date": w.days_ago(10)})
    w.person("d@example.com", lost_stage="Negotiation/Review", lost_days_ago=60, reason=BREAKER,
             amount=8_000_000, hubspot={"hs_email_open": "2", "hs_email_last_open_date": w.days_ago(90)})
    w.person("e@example.com", lost_stage="Value Proposition", lost_days_ago=10, reason=TERMINAL,
             amount=16_000_000)
    w.person("f@example.com", lost_stage="Proposal/Price Quote", lost_days_ago=50, reason="Spam",
             amount=32_000_000)
    w.person("g@example.com", lost_stage="Qualification", lost_days_ago=45, reason=None, amount=64_000_000)
    sf = w.box.salesforce.store
    c = next(r for r in sf.all("Contact") if r["Email"] == "c@example.com")
    sf.update("Contact", c["Id"], {"FirstName": SHORT_TERMINAL, "LastName": NAME},
              at=w.now - timedelta(days=300))
    w.sync()
    yield from open_site(w)


def _row(page: str, attr: str, value: str) -> list[str]:
    row = re.search(rf'<tr {attr}="{re.escape(value)}">(.*?)</tr>', page, re.S)
    assert row, (attr, value)
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


def _stage(page: str, stage: str) -> str:
    found = re.search(rf'data-stage="{stage}">([^<]*)<', page)
    assert found, stage
    return found.group(1)


def test_the_overview_shows_the_numbers_of_the_seeded_world(hostile: Site) -> None:
    page = hostile.signed_in("reader", VIEWER_PASSWORD, lang="en").get("/")
    assert page.status_code == 200
    text = page.text
    assert "7 people in the store" in text
    assert _stage(text, "recycle") == "6"  # the excluded person keeps the stage of the systems
    # group: people, lost amount, re-engaged since the loss, promoted
    assert _row(text, "data-group", "high") == ["high", "3", "13,000,000", "2", "1"]  # a + c + d
    assert _row(text, "data-group", "low") == ["low", "2", "66,000,000", "0", "0"]  # b + g
    assert _row(text, "data-group", "waiting") == ["waiting", "1", "16,000,000", "0", "0"]
    assert _row(text, "data-group", "excluded") == ["excluded", "1", "32,000,000", "0", "0"]
    assert _row(text, "data-group", "review") == ["review", "0", "0", "0", "0"]
    # the second pipeline: six people entered recycling (not the excluded one), two re-engaged after the
    # loss (a, c), a call task for each of the three in high; no task done, no new deal yet
    total = re.search(r'<table id="pipeline-total">.*?<tbody><tr>(.*?)</tr>', text, re.S)
    assert total
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", total.group(1))]
    assert cells == ["6", "2", "3", "0", "0", "0", "0", "0"]
    # the one run: a sync, ok, with its API calls per system
    runs = re.search(r'<table id="run-table">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert runs and runs.group(1).count("<tr>") == 1
    assert "sync" in runs.group(1) and "ok" in runs.group(1)
    assert re.search(r"hubspot [1-9][\d,]*", runs.group(1)) and re.search(r"salesforce [1-9][\d,]*",
                                                                             runs.group(1))
    assert re.search(r'id="open-failures">0<', text)


def test_hostile_crm_text_is_shown_as_text(hostile: Site) -> None:
    text = hostile.signed_in("ops", ADMIN_PASSWORD).get("/").text
    assert SCRIPT not in text and "<img" not in text and "onerror=alert(2)>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    assert "\x1b" not in text and "\x07" not in text
    assert r"\x1b[31mred" in text  # the control characters made visible, as the CLI shows them
    reasons = re.search(r'<table id="reason-table">.*?</table>', text, re.S)
    assert reasons and "Spam (excluded)" in reasons.group(0)


def test_the_overview_in_japanese(hostile: Site) -> None:
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    english = client.get("/").text
    assert 'lang="en"' in english
    token = re.search(r'name="csrf" value="([^"]+)"', english)
    assert token
    switched = client.post("/lang", data={"lang": "ja", "next": "/", "csrf": token.group(1)})
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    assert "samesite=strict" in switched.headers["set-cookie"].lower()
    page = client.get("/")
    text = page.text
    assert 'lang="ja"' in text and page.headers["content-language"] == "ja"
    for term in ("選別", "育成", "再育成", "失注分析", "ホット", "ウォーム", "コールド"):
        assert term in text, term
    assert "ストア内の人数 7 人" in text  # the number where Japanese puts it
    # amounts in 万 as Japanese business writing counts them (high: 13,000,000 -> 1,300万)
    assert _row(text, "data-group", "high") == ["高", "3", "1,300万", "2", "1"]
    assert _row(text, "data-group", "low") == ["低", "2", "6,600万", "0", "0"]
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d UTC", text)


def test_the_browser_language_is_the_default(hostile: Site) -> None:
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    assert 'lang="ja"' in client.get("/", headers={"Accept-Language": "ja-JP,ja;q=0.9"}).text
    assert 'lang="en"' in client.get("/", headers={"Accept-Language": "en-US"}).text


def test_the_overview_of_an_empty_store(site: Site) -> None:
    text = site.signed_in("ops", ADMIN_PASSWORD).get("/").text
    assert "0 people in the store" in text
    assert "No run yet." in text and "No recycle cycle recorded yet." in text


def test_no_secret_of_the_settings_is_rendered(hostile: Site) -> None:
    settings = hostile.world.settings_path.read_text()
    secrets = [v for k, v in re.findall(r'^\s*(\w+)\s*=\s*"([^"]+)"', settings, re.M)
               if re.search(r"token|secret|password|key", k) and len(v) >= 6]
    assert secrets, settings  # the sandbox's settings hold credentials: the test checks something
    admin = hostile.signed_in("ops", ADMIN_PASSWORD)
    for path in ("/", "/users", "/login"):
        page = admin.get(path).text
        for secret in secrets:
            assert secret not in page, path
