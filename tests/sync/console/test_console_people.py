"""The People pages over the seeded world of test_console_overview: search by the start of the email,
paged; a person's page with the explanation and the history the CLI shows, hostile names as text."""

from __future__ import annotations

import re

from sync.console import people
from sync.views.explain import explain_person

from .conftest import VIEWER_PASSWORD, Site
from .test_console_overview import BREAKER, NAME, hostile  # noqa: F401  (the fixture)


def _emails(page: str) -> list[str]:
    return re.findall(r'<a href="/person\?email=[^"]+">([^<]+)</a>', page)


def test_search_by_the_start_of_the_email_paged(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    everyone = client.get("/people").text
    assert _emails(everyone) == [f"{c}@example.com" for c in "abcdefg"]
    assert _emails(client.get("/people", params={"q": "  C@EXAMPLE"}).text) == ["c@example.com"]
    assert "No one found." in client.get("/people", params={"q": "zz"}).text
    first = people.search(hostile.local.store, "", limit=3)
    assert [r.email for r in first.rows] == ["a@example.com", "b@example.com", "c@example.com"]
    assert first.next_after == "c@example.com"
    page = client.get("/people", params={"q": "", "after": "c@example.com"}).text
    assert _emails(page)[:2] == ["d@example.com", "e@example.com"]
    last = people.search(hostile.local.store, "", after="e@example.com", limit=3)
    assert [r.email for r in last.rows] == ["f@example.com", "g@example.com"] and last.next_after is None


def test_a_person_page_shows_the_explanation_and_history(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    page = client.get("/person", params={"email": "C@example.com"})
    assert page.status_code == 200
    text = page.text
    assert re.search(r'<dd id="group">high</dd>', text)
    want = explain_person(hostile.local.store, hostile.local.mapping, "c@example.com",
                          hostile.world.now)
    assert want is not None
    shown = re.search(r'<pre class="explain" id="explanation">(.*?)</pre>', text, re.S)
    assert shown and shown.group(1).count("\n") == len(want.explanation)
    moves = re.search(r'<table id="move-table">.*?</table>', text, re.S)
    assert moves and "high" in moves.group(0)
    cycles = re.search(r'<table id="cycle-table">.*?</table>', text, re.S)
    assert cycles and hostile.world.deals["c@example.com"] in cycles.group(0)
    # the hostile name and loss reason, as text
    assert NAME not in text and "&lt;script&gt;alert(3)&lt;/script&gt;" in text
    assert BREAKER not in text and "<img" not in text and "\x1b" not in text
    assert r"\x1b[2Jx\x07" in text  # the first name's control characters, made visible


def test_an_unknown_person_is_404(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("reader", VIEWER_PASSWORD)
    page = client.get("/person", params={"email": "nobody@example.com"})
    assert page.status_code == 404 and "Not in the state store." in page.text
    assert client.get("/person", params={"email": "<b>x"}).status_code == 404
