"""The writer resolves contacts the snapshots know are gone before sending: merged -> the survivor,
archived -> a failure with its reason, never sent."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import BatchSizes, CallTask, FieldUpdate, ListChange, WriteResult
from sync.run.plan_model import WritePlan
from sync.run.writer import Writer
from sync.state.store import StateStore

from .state_samples import contact

SIZES = BatchSizes(fields=100, list_members=100, tasks=100)


class RecordingSink:
    """A sink that accepts everything and keeps what it was sent."""

    system = "hubspot"
    write_sizes = SIZES

    def __init__(self) -> None:
        self.updates: list[FieldUpdate] = []
        self.changes: list[ListChange] = []

    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        self.updates.extend(updates)
        return [WriteResult(u.record_id, True) for u in updates]

    def change_lists(self, changes: Sequence[ListChange]) -> list[WriteResult]:
        self.changes.extend(changes)
        return [WriteResult(c.record_id, True) for c in changes]

    def create_tasks(self, tasks: Sequence[CallTask]) -> list[WriteResult]:
        return []


def test_merged_contacts_are_written_to_the_survivor_and_archived_ones_fail(store: StateStore) -> None:
    live, archived, a, b = contact(1), contact(2, archived=True), contact(3), contact(4)
    # 1003 was merged into 1004, then 1004 into 1005 (a chain); 1006 was merged into archived 1002
    store.upsert_contacts("hubspot", [live, archived, a, b])
    store.upsert_contacts("hubspot", [contact(5, merged=("1004",)), contact(6)])
    store.upsert_contacts("hubspot", [contact(4, merged=("1003",))])
    store.upsert_contacts("hubspot", [contact(5, merged=("1004",))])
    store.upsert_contacts("hubspot", [contact(2, archived=True, merged=("1006",))])
    assert store.contact_fates("hubspot", ["1001", "1002", "1003", "1004", "1006", "9"]) == {
        "1002": None, "1003": "1005", "1004": "1005", "1006": None}

    sink = RecordingSink()
    writer = Writer(store, {"hubspot": sink}, sink, run_id=None, mapping_version=1,
                    sizes={"hubspot": SIZES, "salesforce": SIZES})
    ups = tuple(FieldUpdate("contacts", rid, {"leadsync_stage": "mql"}) for rid in ("1001", "1002", "1003"))
    chs = tuple(ListChange("Nurture", rid, "add") for rid in ("1001", "1006"))
    writer.add(WritePlan(field_updates={("hubspot", "contacts"): ups}, list_changes={"hubspot": chs}))
    writer.flush()

    assert [u.record_id for u in sink.updates] == ["1001", "1005"]
    assert [c.record_id for c in sink.changes] == ["1001"]
    reasons = {f.record_key: f.reason for f in writer.failures}
    assert set(reasons) == {"1002", "1006@Nurture"}
    assert all("ARCHIVED" in r and "restore it" in r for r in reasons.values())
    assert writer.counts["hubspot.write_failures"] == 2
    assert {f.record_key for f in store.list_failures(stage="write")} == {"1002", "1006@Nurture"}
    assert store.last_written("hubspot", "contacts", ["1005"])[("1005", "leadsync_stage")].value == "mql"
