"""The People search by name, over a seeded world synced by a real run against the sandbox: Japanese and
Latin names from the Salesforce contacts on the lost deals, found by the start of the family or given
name, with or without the space, in full-width letters too; paged with nothing missed or listed twice;
the email search as before; hostile names as text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from sync.console import people
from tests.sync.views.worlds import SeededWorld

from .conftest import VIEWER_PASSWORD, Site, open_site

SCRIPT = "<script>alert(9)</script>"
BREAKER = '"><img src=x onerror=alert(8)>'
TERMINAL = "\x1b[31mRed"
# email -> (LastName, FirstName) of the Salesforce contact on their lost deal
NAMED = {
    "yamada@example.jp": ("山田", "太郎"),
    "hanako@example.jp": ("佐藤", "花子"),
    "taro.y@example.com": ("Yamada", "Taro"),
    "wide@example.com": ("Ｙａｍａｚａｋｉ", "Ｋｅｎ"),  # full-width letters
    "hostile@example.com": (SCRIPT, BREAKER),
    "term@example.com": ("Smith", TERMINAL),
    **{f"suzuki{i}@example.jp": ("鈴木", f"一郎{i}") for i in range(7)},
}


@pytest.fixture
def named(seeded_world: SeededWorld) -> Iterator[Site]:
    w = seeded_world
    for email in NAMED:
        w.person(email, lost_stage="Prospecting", lost_days_ago=40, reason="Price", amount=1_000_000)
    sf = w.box.salesforce.store
    for contact in sf.all("Contact"):
        last, first = NAMED[contact["Email"]]
        sf.update("Contact", contact["Id"], {"LastName": last, "FirstName": first},
                  at=w.now - timedelta(days=300))
    w.sync()
    yield from open_site(w)


def _emails(page: str) -> list[str]:
    return re.findall(r'<a href="/person\?email=[^"]+">([^<]+)</a>', page)


def _finder(client: Any) -> Callable[[str], list[str]]:
    """The emails the people page lists for a search, in its order."""

    def found(query: str) -> list[str]:
        response = client.get("/people", params={"q": query})
        assert response.status_code == 200
        return _emails(response.text)

    return found


def test_search_by_japanese_and_latin_names(named: Site) -> None:
    client = named.signed_in("reader", VIEWER_PASSWORD, lang="en")
    found = _finder(client)

    for query in ("山田太郎", "山田 太郎", "山田　太郎", "山田", "太郎", "太郎山田"):
        assert found(query) == ["yamada@example.jp"], query
    assert found("yamada") == ["taro.y@example.com", "yamada@example.jp"]  # a name, and an email
    assert found("Ｙａｍａｄａ") == found("YAMADA") == found("yamada")  # full-width letters, any case
    assert found("taro yamada") == ["taro.y@example.com"] == found("Yamada Taro") == found("yamadataro")
    assert found("yamazaki") == ["wide@example.com"] == found("ken yama")
    assert found("佐藤花子") == ["hanako@example.jp"] == found("花子")
    assert found("藤") == [] and "No one found." in client.get("/people", params={"q": "amada"}).text
    assert found("HANAKO@EXAMPLE") == ["hanako@example.jp"]  # the email search still works
    row = re.search(r'<tr><td><a href="/person\?email=yamada%40example.jp">.*?</tr>',
                    client.get("/people", params={"q": "山田"}).text, re.S)
    assert row and '<td class="names">山田 太郎</td>' in row.group(0)


def test_a_name_search_is_paged_without_overlap_or_gaps(named: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people, "PAGE_SIZE", 3)
    client = named.signed_in("reader", VIEWER_PASSWORD)
    seen: list[str] = []
    url: str | None = "/people?" + "q=%E9%88%B4%E6%9C%A8"  # 鈴木
    pages = 0
    while url:
        page = client.get(url).text
        seen += _emails(page)
        pages += 1
        more = re.search(r'<a id="next-page" href="([^"]+)">', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert pages == 3  # 3 + 3 + 1
    assert seen == sorted(f"suzuki{i}@example.jp" for i in range(7))


def test_hostile_names_are_shown_as_text(named: Site) -> None:
    client = named.signed_in("reader", VIEWER_PASSWORD)
    text = client.get("/people", params={"q": "<script>"}).text
    assert _emails(text) == ["hostile@example.com"]  # found by its (hostile) family name
    assert SCRIPT not in text and BREAKER not in text and "<img" not in text
    assert "&lt;script&gt;alert(9)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(8)&gt;" in text
    term = client.get("/people", params={"q": "smith"}).text
    assert _emails(term) == ["term@example.com"]
    assert "\x1b" not in term and r"\x1b[31mRed Smith" in term
    assert 'value="&lt;script&gt;"' in text  # the query is put back in the box escaped


# HubSpot-only people (no deal, no Salesforce contact): their name is the HubSpot contact's lastname and
# firstname, which the connector reads whatever the mapping uses
HUBSPOT_ONLY = {
    "kobayashi@example.jp": ("小林", "直樹"),
    "reed@example.com": ("Reed", "Alice"),
    "nameless@example.com": (None, None),
}


@pytest.fixture
def hubspot_only(seeded_world: SeededWorld) -> Iterator[Site]:
    w = seeded_world
    assert "lastname" not in w.ctx.mapping.hubspot_properties()  # the rules do not read the name
    for email, (last, first) in HUBSPOT_ONLY.items():
        props = {"email": email, "lifecyclestage": "lead", "lastname": last, "firstname": first}
        w.box.hubspot.store.create_contact({k: v for k, v in props.items() if v is not None},
                                           at=w.now - timedelta(days=30))
    w.sync()
    yield from open_site(w)


def test_hubspot_only_people_are_found_by_name(hubspot_only: Site) -> None:
    client = hubspot_only.signed_in("reader", VIEWER_PASSWORD, lang="ja")
    found = _finder(client)

    assert found("") == sorted(HUBSPOT_ONLY)  # all three were decided by the run
    for query in ("小林", "小林 直樹", "小林直樹", "直樹", "直樹 小林"):  # family; "family given"; given
        assert found(query) == ["kobayashi@example.jp"], query
    for query in ("Reed", "reed alice", "Ｒｅｅｄ Ａｌｉｃｅ", "alice reed", "ALICE"):
        assert found(query) == ["reed@example.com"], query  # reed@ by its email too: one row
    assert found("nameless") == ["nameless@example.com"] and found("林") == []  # by email; no mid-match
    row = re.search(r'<tr><td><a href="/person\?email=kobayashi%40example.jp">.*?</tr>',
                    client.get("/people", params={"q": "小林"}).text, re.S)
    assert row and '<td class="names">小林 直樹</td>' in row.group(0)
