"""The loss analysis drill-down and trend over the seeded world of test_console_overview: every heat-map
cell links to the deals behind it (as many as the cell counts, with the people on them), reasons that
try to break the HTML or the URL round-trip and are shown as text, paging, and the trend by quarter
with the numbers this test works out from the world it seeded."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from sync.views import loss_drill

from .conftest import VIEWER_PASSWORD, Site
from .test_console_overview import BREAKER, NAME, SCRIPT, TERMINAL, hostile  # noqa: F401  (the fixture)

# email -> (phase at loss, loss reason label, days ago lost, amount), as test_console_overview seeds them
WORLD = {"a@example.com": ("awareness", SCRIPT, 40, 1_000_000),
         "b@example.com": ("awareness", SCRIPT, 40, 2_000_000),
         "c@example.com": ("purchase", BREAKER, 60, 4_000_000),
         "d@example.com": ("purchase", BREAKER, 60, 8_000_000),
         "e@example.com": ("comparison", TERMINAL, 10, 16_000_000),
         "f@example.com": ("purchase", "Spam", 50, 32_000_000),
         "g@example.com": ("interest", "(none)", 45, 64_000_000)}


def _links(page: str) -> list[tuple[str, str]]:
    """(href, the cell's number of deals) of every heat-map cell link."""
    return [(html.unescape(href), n) for href, n in
            re.findall(r'<a class="cell" href="([^"]+)"[^>]*>([\d,]+)<br>', page)]


def _deals(page: str) -> list[str]:
    body = re.search(r'<table id="cell-deals">.*?<tbody>(.*?)</tbody>', page, re.S)
    return re.findall(r'<tr data-deal="([^"]+)">', body.group(1)) if body else []


def test_every_cell_links_to_the_deals_it_counts(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("reader", VIEWER_PASSWORD, lang="en")
    links = _links(client.get("/losses").text)
    assert len(links) == 5  # the five cells with deals
    deals_of = {opp: email for email, opp in hostile.world.deals.items()}
    listed: list[str] = []
    for href, n in links:
        page = client.get(href)
        assert page.status_code == 200, href
        shown = _deals(page.text)
        assert len(shown) == int(n), href
        # the cell's own deals: same phase and reason in the world this test seeded
        cells = {(WORLD[deals_of[o]][0], WORLD[deals_of[o]][1]) for o in shown}
        assert len(cells) == 1, href
        phase, reason = cells.pop()
        assert sorted(shown) == sorted(hostile.world.deals[e] for e, w in WORLD.items()
                                       if (w[0], w[1]) == (phase, reason))
        listed += shown
    assert sorted(listed) == sorted(hostile.world.deals.values())  # every lost deal in one cell


def test_hostile_reasons_round_trip_and_are_escaped(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("reader", VIEWER_PASSWORD, lang="en")
    page = client.get("/losses/cell", params={"phase": "purchase", "reason": BREAKER})
    assert page.status_code == 200
    text = page.text
    assert sorted(_deals(text)) == sorted(hostile.world.deals[e] for e in ("c@example.com", "d@example.com"))
    assert BREAKER not in text and "<img" not in text and NAME not in text and "\x1b" not in text
    assert '<dd id="cell-reason">&#34;&gt;&lt;img src=x onerror=alert(2)&gt;</dd>' in text
    assert '<dd id="cell-count">2 · 12,000,000</dd>' in text
    # c's contact: LastName the script, FirstName a terminal escape, shown as text, linked to c's page
    assert re.search(r'<a href="/person\?email=c%40example.com">\\x1b\[2Jx\\x07 &lt;script&gt;alert\(3\)'
                     r'&lt;/script&gt;</a>', text)
    assert '<a href="/person?email=d%40example.com">Taro d</a>' in text
    script = client.get("/losses/cell", params={"phase": "awareness", "reason": SCRIPT}).text
    assert SCRIPT not in script and "&lt;script&gt;alert(1)&lt;/script&gt;" in script
    assert len(_deals(script)) == 2
    terminal = client.get("/losses/cell", params={"phase": "comparison", "reason": TERMINAL}).text
    assert "\x1b" not in terminal and len(_deals(terminal)) == 1 and r"\x1b[31mred" in terminal
    # a reason with & and " in a link: encoded in the href, which round-trips
    links = dict(_links(client.get("/losses").text))
    assert any("reason=%22%3E%3Cimg" in href for href in links)


def test_a_cell_is_paged(hostile: Site, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(loss_drill, "PAGE_SIZE", 1)
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    first = client.get("/losses/cell", params={"phase": "awareness", "reason": SCRIPT}).text
    more = re.search(r'<a id="next-page" href="([^"]+)">', first)
    assert more
    second = client.get(html.unescape(more.group(1))).text
    assert 'id="next-page"' not in second
    assert sorted(_deals(first) + _deals(second)) == sorted(
        hostile.world.deals[e] for e in ("a@example.com", "b@example.com"))
    assert '<dd id="cell-count">2 · 3,000,000</dd>' in second  # the cell's count on every page


def test_an_empty_or_unknown_cell_and_sign_in(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    page = client.get("/losses/cell", params={"phase": "awareness", "reason": "Spam"})
    assert page.status_code == 404 and "No deal in this cell." in page.text
    assert client.get("/losses/cell").status_code == 404
    assert hostile.client().get("/losses/cell", params={"phase": "purchase",
                                                        "reason": "Spam"}).status_code == 303  # to /login


def _quarter(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def test_the_trend_by_quarter(hostile: Site) -> None:  # noqa: F811
    """Deals lost per quarter of the lost date, high (comparison, purchase) and low (awareness,
    interest) phases, worked out from the days ago and amounts seeded."""
    now = hostile.world.now
    want: dict[tuple[int, int], dict[str, list[int]]] = {}
    for phase, _reason, days, amount in WORLD.values():
        group = "high" if phase in ("comparison", "purchase") else "low"
        cell = want.setdefault(_quarter((now - timedelta(days=days)).date()), {}).setdefault(group, [0, 0])
        cell[0] += 1
        cell[1] += amount
    text = hostile.signed_in("reader", VIEWER_PASSWORD, lang="en").get("/losses").text
    table = re.search(r'<table id="trend-groups">(.*?)</table>', text, re.S)
    assert table
    head = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table.group(1))
    assert head == ["Quarter", "high", "low", "neither high nor low", "Total"]
    rows = re.findall(r'<tr data-quarter="(\d+)-Q(\d)"><th scope="row">(.*?)</th>(.*?)</tr>', table.group(1),
                      re.S)
    assert [(int(y), int(q)) for y, q, _, _ in rows] == sorted(want)  # consecutive here: within 60 days
    for y, q, label, cells in rows:
        assert label == f"{y} Q{q}"
        shown = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        got = want[(int(y), int(q))]
        expect = [f"{got[g][0]} · {got[g][1]:,}" if g in got else "–" for g in ("high", "low")]
        assert shown[:2] == expect and shown[2] == "–"
    reasons = re.search(r'<table id="trend-reasons">(.*?)</table>', text, re.S)
    assert reasons and SCRIPT not in reasons.group(0) and "\x1b" not in reasons.group(0)
    assert len(re.findall(r'<th scope="col"', reasons.group(0))) == 1 + 5 + 1  # quarter, 5 reasons, total
    ja = hostile.signed_in("reader", VIEWER_PASSWORD, lang="ja").get("/losses").text
    y, q = _quarter((now - timedelta(days=10)).date())
    assert f"{y}年 第{q}四半期" in ja and "四半期ごとの推移" in ja
