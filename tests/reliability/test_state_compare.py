"""The ground the other reliability tests stand on: two sandboxes loaded with the same people, seed
and `now` hold the same records under the same ids, so their final states compare directly; and the
comparison sees a single changed value, membership or task."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from tests.reliability.conftest import References
from tests.reliability.harness import NOW, PEOPLE, SEED, Harness
from tests.reliability.state_compare import capture, checkpoint_mismatches, differences


def _ids(box: Sandbox) -> dict[str, list[str]]:
    sf = box.salesforce.store
    out = {obj: sorted(r["Id"] for r in sf.all(obj))
           for obj in ("Account", "Contact", "Opportunity", "OpportunityContactRole", "User")}
    out["hubspot"] = sorted(c["id"] for c in box.hubspot.store.contacts(include_archived=True))
    return out


def test_same_book_gives_the_same_ids_and_the_same_final_state(
        harness: Harness, references: References, tmp_path: Path) -> None:
    expected = references.get()
    harness.load()
    with Sandbox.start(people=PEOPLE, seed=SEED, now=NOW, workdir=tmp_path / "second") as other:
        assert _ids(other) == _ids(harness.box)
        assert all(_ids(other).values())
        second = Harness(other, tmp_path / "second")
        second.configure()
        second.setup()
        assert second.run().status == "ok"
        assert differences(expected, capture(other)) == []


def test_a_changed_value_membership_or_task_is_seen(harness: Harness, references: References) -> None:
    expected = references.get()
    assert expected.tasks and expected.campaigns and any(expected.hs_lists.values())
    contact = next(k for k, v in expected.sf_contacts.items() if v["Lead_Stage__c"] is not None)
    changed = dict(expected.sf_contacts)
    changed[contact] = {**changed[contact], "Lead_Stage__c": "sql-by-hand"}
    assert any(contact in d for d in differences(expected, replace(expected, sf_contacts=changed)))

    name, members = next((n, m) for n, m in expected.hs_lists.items() if m)
    fewer = {**expected.hs_lists, name: members - {min(members)}}
    assert any(name in d for d in differences(expected, replace(expected, hs_lists=fewer)))

    key = next(iter(expected.tasks))
    tasks = {k: v for k, v in expected.tasks.items() if k != key}
    assert any(key in d for d in differences(expected, replace(expected, tasks=tasks)))


def _clean_run(harness: Harness) -> None:
    harness.load()
    harness.configure()
    harness.setup()
    result = harness.run()
    assert result.status == "ok", result.error


def test_duplicates_are_reported(harness: Harness) -> None:
    _clean_run(harness)
    assert capture(harness.box).duplicates == ()
    sf = harness.box.salesforce.store
    member = sf.all("CampaignMember")[0]
    task = sf.all("Task")[0]
    # the org refuses a second member or a second task for a cycle; a second campaign of one name it
    # accepts (as Salesforce does), and the capture reports it
    with pytest.raises(Exception, match="(?i)duplicate|already"):
        sf.create("CampaignMember", {"CampaignId": member["CampaignId"], "ContactId": member["ContactId"]})
    with pytest.raises(Exception, match="(?i)duplicate"):
        sf.create("Task", {"Subject": "again", "Leadsync_Cycle_Key__c": task["Leadsync_Cycle_Key__c"]})
    sf.create("Campaign", {"Name": sf.get("Campaign", member["CampaignId"])["Name"]})
    assert any("Campaigns named" in d for d in capture(harness.box).duplicates)


def test_checkpoints_match_the_systems_after_a_clean_run(harness: Harness) -> None:
    _clean_run(harness)
    with harness.store() as store:
        assert checkpoint_mismatches(store, harness.box) == []
        contact = next(w for w in store.iter_written("salesforce") if w.field == "Lead_Rank__c")
    harness.box.salesforce.store.update("Contact", contact.record_id, {"Lead_Rank__c": None})
    with harness.store() as store:
        assert any(contact.record_id in m for m in checkpoint_mismatches(store, harness.box))
