"""People's names in the state store (`person_names`, sync.state.person_names): kept with the contact and
deal snapshots in the same transaction, found by the start of a name (NFKC, any case, family or given
name first, with or without the space) or of the email, keyset-paged by person key. Both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.base import DealContact
from sync.state import schema as s
from sync.state.names import display_name, name_key, name_keys
from sync.state.person_names import deal_contact_names, find_people, names_of
from sync.state.store import StateStore

from .state_samples import contact, deal


def _decided(store: StateStore, *keys: str) -> None:
    """Assignments for these people, as a run records them (the search lists people the runs decided)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(s.assignments.insert(), [
            {"person_key": k, "stage": "recycle", "rank": "cold", "facts_digest": "f", "mapping_digest": "m",
             "mapping_version": 1, "changed_at": at} for k in keys])


def _person(i: int, email: str, family: str | None, given: str | None) -> DealContact:
    return DealContact(f"003{i:04d}", email, given, family, False, True)


def _found(store: StateStore, query: str, after: str | None = None, limit: int = 50) -> list[str]:
    return [r.person_key for r in find_people(store.engine, query, after, limit)]


def test_name_keys_are_nfkc_case_folded_without_spaces_both_ways_round() -> None:
    assert name_key("  Ｙａｍａｄａ　Taro ") == "yamadataro"
    assert name_key("ﾔﾏﾀﾞ") == "ヤマダ"  # half-width katakana made full-width
    assert name_keys("山田", "太郎") == ["山田太郎", "太郎山田"]
    assert name_keys(None, "Ann") == ["ann"] and name_keys("", None) == []
    assert display_name("山田", "太郎") == "山田 太郎" and display_name("Smith", "Ann") == "Ann Smith"


def test_search_by_japanese_and_latin_names_with_and_without_space(store: StateStore) -> None:
    store.upsert_deals([replace(deal(1), contacts=(
        _person(1, "taro@example.jp", "山田", "太郎"), _person(2, "hanako@example.jp", "佐藤", "花子")))])
    store.upsert_contacts("hubspot", [
        contact(1, email="yamada@example.com", props={"firstname": "Taro", "lastname": "Yamada"}),
        contact(2, email="ann@example.com", props={"firstname": "Ann", "lastname": "Ｓｍｉｔｈ"})])
    _decided(store, "taro@example.jp", "hanako@example.jp", "yamada@example.com", "ann@example.com")
    for query in ("山田太郎", "山田 太郎", "山田", "太郎", "太郎 山田", "山田　太郎"):
        assert _found(store, query) == ["taro@example.jp"], query
    for query in ("Ｙａｍａｄａ", "yamada", "YAMADA TARO", "taro yamada", "Taro"):
        assert "yamada@example.com" in _found(store, query), query
    assert _found(store, "taro") == ["taro@example.jp", "yamada@example.com"]  # email of one, name of other
    assert _found(store, "smith") == ["ann@example.com"] == _found(store, "Ann Smith")
    assert _found(store, "佐藤花") == ["hanako@example.jp"]
    assert _found(store, "田") == [] and _found(store, "amada") == []  # the start of a name only
    assert _found(store, "ANN@EXAMPLE") == ["ann@example.com"]  # the email search still works
    assert names_of(store.engine, ["taro@example.jp", "ann@example.com"]) == {
        "taro@example.jp": ["山田 太郎"], "ann@example.com": ["Ann Ｓｍｉｔｈ"]}
    assert deal_contact_names(store.engine, [deal(1).opportunity_id]) == {
        (deal(1).opportunity_id, "0030001"): "山田 太郎", (deal(1).opportunity_id, "0030002"): "佐藤 花子"}


def test_names_follow_the_snapshots(store: StateStore) -> None:
    """A renamed contact or a deal that lost a person is found by the new name only; people the runs
    have not decided are not listed."""
    store.upsert_contacts("hubspot", [contact(1, email="a@example.com", props={"lastname": "Old"})])
    store.upsert_deals([replace(deal(1), contacts=(_person(1, "b@example.com", "Kato", "Ken"),))])
    assert _found(store, "old") == []  # not decided yet
    _decided(store, "a@example.com", "b@example.com")
    assert _found(store, "old") == ["a@example.com"] and _found(store, "kato") == ["b@example.com"]
    store.upsert_contacts("hubspot", [contact(1, email="a@example.com", props={"lastname": "New"})])
    store.upsert_deals([replace(deal(1), contacts=())])
    assert _found(store, "old") == [] and _found(store, "new") == ["a@example.com"]
    assert _found(store, "kato") == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.person_names)).scalar() == 1


def test_paging_lists_every_match_once(store: StateStore) -> None:
    """23 people named Suzuki (on deals and contacts, some on both, some twice on one name), 4 others:
    pages of 5 list the 23, each once, in person key order."""
    suzuki = [f"s{i:02d}@example.com" for i in range(23)]
    others = [f"o{i}@example.com" for i in range(4)]
    store.upsert_deals([replace(deal(i), contacts=(_person(i, email, "鈴木", f"一郎{i}"),))
                        for i, email in enumerate(suzuki[:15])])
    named = {"firstname": "Ichiro", "lastname": "鈴木"}
    store.upsert_contacts("hubspot", [contact(i, email=email, props=named)
                                      for i, email in enumerate(suzuki[10:], start=10)])
    store.upsert_contacts("hubspot", [contact(100 + i, email=email, props={"lastname": "Sato"})
                                      for i, email in enumerate(others)])
    _decided(store, *suzuki, *others)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = _found(store, "鈴木", after, limit=5)
        seen += page
        if len(page) < 5:
            break
        after = page[-1]
    assert seen == sorted(suzuki)  # nothing missed, nothing twice
    assert len(_found(store, "", limit=100)) == 27


def test_names_go_with_the_snapshots_a_rebind_forgets(store: StateStore) -> None:
    store.upsert_contacts("hubspot", [contact(1, email="a@example.com", props={"lastname": "Ito"})])
    store.upsert_deals([replace(deal(1), contacts=(_person(1, "b@example.com", "Kato", "Ken"),))])
    _decided(store, "a@example.com", "b@example.com")
    store.bind("hubspot", "1")
    store.bind("salesforce", "00D1")
    removed = store.bind("hubspot", "2", forget=True)
    assert removed["person_names"] == 1  # the contact's one key (a family name only)
    assert _found(store, "ito") == [] and _found(store, "kato") == ["b@example.com"]
    assert store.bind("salesforce", "00D2", forget=True)["person_names"] == 2
    assert _found(store, "kato") == []
