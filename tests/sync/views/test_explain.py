"""`explain_person` on a synced demo book: a person's inputs, assignment, last writes, lists and task,
checked against what the emulators hold."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import pytest

from sandbox.demo_data import DemoOpportunity, DemoPerson
from sync.run.plan import canonical
from sync.views.explain import explain_person

from .worlds import Synced


def _demo_people(synced: Synced) -> list[tuple[DemoPerson, list[DemoOpportunity]]]:
    book = synced.box.book
    assert book is not None
    out = []
    for account in book.accounts():
        for person in account.people:
            opps = [o for o in account.opportunities
                    if any(r.person_key == person.key for r in o.contact_roles)]
            out.append((person, opps))
    return out


def _lost_person(synced: Synced) -> tuple[DemoPerson, DemoOpportunity]:
    """A person in both systems with a lost deal; one whose Salesforce email differs in letter case
    from HubSpot's when the book has one."""
    candidates = [(p, o) for p, opps in _demo_people(synced) for o in opps
                  if o.outcome == "lost" and p.in_salesforce and p.hubspot is not None and p.email
                  and p.hubspot.archived_at is None and len(opps) == 1]
    assert candidates, "the demo book has people with one lost deal in both systems"
    candidates.sort(key=lambda po: po[0].salesforce_email == po[0].email)  # case-differing first
    return candidates[0]


def _sf_contact(synced: Synced, email: str) -> dict[str, Any]:
    on_deals = {r["ContactId"] for r in synced.box.salesforce.store.all("OpportunityContactRole")}
    found = [c for c in synced.box.salesforce.store.all("Contact")
             if c["Id"] in on_deals and (c["Email"] or "").lower() == email]
    assert len(found) == 1
    return found[0]


def test_explain_shows_the_deal_the_assignment_and_what_was_written(synced: Synced) -> None:
    person, opp = _lost_person(synced)
    assert person.email is not None and person.salesforce_email is not None
    sf, hs = synced.box.salesforce.store, synced.box.hubspot.store
    contact = _sf_contact(synced, person.email)
    x = explain_person(synced.ctx.store, synced.ctx.mapping, f"  {person.salesforce_email.upper()} ",
                       synced.now)
    assert x is not None
    assert x.email == person.email
    assert [c.contact_id for c in x.salesforce] == [contact["Id"]]

    roles = [r for r in sf.all("OpportunityContactRole") if r["ContactId"] == contact["Id"]]
    assert [d.deal_id for d in x.deals] == [r["OpportunityId"] for r in roles]
    deal = x.deals[0]
    record = sf.get("Opportunity", deal.deal_id)
    assert record is not None and record["StageName"] == "Closed Lost"
    assert (deal.state, deal.loss_reason, deal.amount, deal.lost_date, deal.stage_at_loss) == (
        "lost", record.get("Loss_Reason__c"), record["Amount"], date.fromisoformat(str(record["CloseDate"])),
        opp.lost_at_stage)
    assert deal.phase == synced.ctx.mapping.phases[opp.lost_at_stage or ""]

    hs_ids = [h.contact_id for h in x.hubspot]
    assert len(hs_ids) == 1
    assert set(x.hubspot[0].properties) >= set(synced.ctx.mapping.hubspot_properties())
    assert x.explanation[0].startswith(f"{person.email}: stage {x.assignment.stage}")

    # every owned field of both records was written, and the systems hold exactly that value
    hs_props = hs.get_contact(hs_ids[0])["properties"]
    written = {(f.system, f.field): f for f in x.fields}
    assert len(written) == len(synced.ctx.mapping.field_mappings)
    for f in x.fields:
        assert f.written_at is not None and f.mapping_version == synced.ctx.mapping.version, f
        assert f.run_id == synced.result.run_id and f.status == "in sync", f
        in_system = contact[f.field] if f.system == "salesforce" else hs_props.get(f.field)
        assert canonical(in_system) == canonical(f.written), f

    # lists: the managed memberships are exactly the lists the systems have this person on
    hs_lists = {n for n in synced.ctx.mapping.list_names("hubspot").values()
                if hs_ids[0] in hs.list_members(n)}
    assert {m.list_name for m in x.lists if m.system == "hubspot" and m.managed_since} == hs_lists
    campaigns = {c["Id"]: c["Name"] for c in sf.all("Campaign")}
    sf_lists = {campaigns[m["CampaignId"]] for m in sf.all("CampaignMember")
                if m["ContactId"] == contact["Id"]}
    assert {m.list_name for m in x.lists if m.system == "salesforce" and m.managed_since} == sf_lists

    tasks = [t for t in sf.all("Task") if t["WhoId"] == contact["Id"]]
    assert [t.task.task_id for t in x.tasks if t.task] == [t["Id"] for t in tasks]
    assert bool(tasks) == (x.assignment.recycle_group == "high")
    json.dumps(x.to_dict(), ensure_ascii=False)


def test_a_high_group_person_has_its_call_task_recorded(synced: Synced) -> None:
    found = None
    for person, opps in _demo_people(synced):
        if person.email and any(o.outcome == "lost" for o in opps):
            x = explain_person(synced.ctx.store, synced.ctx.mapping, person.email, synced.now)
            if x is not None and x.assignment.recycle_group == "high":
                found = x
                break
    assert found is not None, "the demo book has a person in the high group"
    current = [t for t in found.tasks if t.current]
    assert len(current) == 1 and current[0].task is not None
    assert current[0].deal_id == found.assignment.deal_id
    assert [d.deal_id for d in found.deals if d.decides_group] == [found.assignment.deal_id]
    task = synced.box.salesforce.store.get("Task", current[0].task.task_id)
    assert task is not None and task["WhatId"] == found.assignment.deal_id


def test_a_hubspot_only_person_has_no_deals(synced: Synced) -> None:
    person = next(p for p, _ in _demo_people(synced)
                  if not p.in_salesforce and p.hubspot is not None and p.email
                  and p.hubspot.archived_at is None)
    assert person.email is not None
    x = explain_person(synced.ctx.store, synced.ctx.mapping, person.email, synced.now)
    assert x is not None
    assert (x.salesforce, x.deals, x.assignment.recycle_group) == ((), (), None)
    assert len(x.hubspot) == 1 and {f.system for f in x.fields} == {"hubspot"}


@pytest.mark.parametrize("email", ["nobody@example.com", "not an email", "", "@example.com"])
def test_unknown_or_unusable_email_is_not_found(synced: Synced, email: str) -> None:
    assert explain_person(synced.ctx.store, synced.ctx.mapping, email, synced.now) is None


def test_no_full_email_is_logged_at_info(synced: Synced, caplog: pytest.LogCaptureFixture) -> None:
    person, _ = _lost_person(synced)
    assert person.email is not None
    caplog.set_level(logging.INFO)
    assert explain_person(synced.ctx.store, synced.ctx.mapping, person.email, synced.now) is not None
    assert explain_person(synced.ctx.store, synced.ctx.mapping, "nobody-here@example.com", synced.now) is None
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert messages, "the not-found lookup is logged (masked)"
    assert not any(person.email in m or "nobody-here@example.com" in m for m in messages)
