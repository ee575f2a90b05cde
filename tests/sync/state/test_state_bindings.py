"""The org / portal a state store is bound to, and what rebinding forgets (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import ContactRef, FieldUpdate
from sync.state.store import StateStore

AT = datetime(2025, 6, 1, tzinfo=UTC)


def test_binding_is_kept_and_a_rebind_forgets_only_that_systems_beliefs(store: StateStore) -> None:
    assert store.bindings() == {}
    store.bind("salesforce", "00D000000000001AAA", at=AT)
    store.bind("hubspot", "111", at=AT)
    assert store.bindings() == {"salesforce": "00D000000000001AAA", "hubspot": "111"}

    store.record_writes("hubspot", [FieldUpdate("contacts", "h1", {"lead_rank": "hot"})], run_id=None,
                        mapping_version=1, at=AT)
    store.record_writes("salesforce", [FieldUpdate("Contact", "c1", {"Lead_Rank__c": "hot"})], run_id=None,
                        mapping_version=1, at=AT)
    store.add_memberships("hubspot", "Nurture", ["h1"], run_id=None, at=AT)
    store.set_list_id("hubspot", "Nurture", "9", at=AT)
    store.upsert_contacts("hubspot", [ContactRef("h1", "a@example.com", {}, AT)])
    store.set_watermark("hubspot.contacts", AT)
    store.set_watermark("salesforce.opportunities", AT)

    removed = store.bind("hubspot", "222", forget=True, at=AT)
    assert store.bindings()["hubspot"] == "222"
    assert removed["written_values"] == 1 and removed["list_memberships"] == 1
    assert removed["list_ids"] == 1 and removed["contacts"] == 1 and removed["watermarks"] == 1
    assert store.list_ids("hubspot") == {} and store.get_memberships("hubspot") == []
    assert store.get_watermark("hubspot.contacts") is None
    # Salesforce's side is untouched
    assert store.get_watermark("salesforce.opportunities") == AT
    assert [w.record_id for w in store.iter_written("salesforce")] == ["c1"]
    assert [w.record_id for w in store.iter_written("hubspot")] == []
