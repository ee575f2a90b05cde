"""The demo book as loaded into the two emulators (through the shared `sandbox` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.demo_data import DemoBook, DemoOpportunity, DemoPerson, generate
from sandbox.demo_load import load_demo
from sandbox.launcher import Sandbox
from sandbox.salesforce import SalesforceEmulator


def book_of(box: Sandbox) -> DemoBook:
    assert box.book is not None
    return box.book


def persons(box: Sandbox) -> list[DemoPerson]:
    return [p for a in book_of(box).accounts() for p in a.people]


def opportunities(box: Sandbox) -> list[DemoOpportunity]:
    return [o for a in book_of(box).accounts() for o in a.opportunities]


def sf_contacts_by_email(box: Sandbox) -> dict[str, dict[str, Any]]:
    return {c["Email"].lower(): c for c in box.salesforce.store.all("Contact") if c["Email"]}


def hs_contacts_by_email(box: Sandbox, *, include_archived: bool = False) -> dict[str, dict[str, Any]]:
    found = box.hubspot.store.contacts(include_archived=include_archived)
    return {c["properties"]["email"]: c for c in found}


def test_record_counts_match_the_book(sandbox: Sandbox) -> None:
    book = book_of(sandbox)
    accounts = list(book.accounts())
    sf = sandbox.salesforce.store
    people = [p for a in accounts for p in a.people]
    assert len(sf.all("Account")) == sum(a.company.in_salesforce for a in accounts)
    assert len(sf.all("Contact")) == sum(p.in_salesforce for p in people)
    assert len(sf.all("Opportunity")) == sum(len(a.opportunities) for a in accounts)
    assert len(sf.all("OpportunityContactRole")) == sum(len(o.contact_roles) for a in accounts
                                                        for o in a.opportunities)
    assert {u["Username"] for u in sf.all("User")} >= {u.username for u in book.users}
    assert sf.all("Campaign") == []  # leadsync creates its campaigns
    active = [p for p in people if p.hubspot and not p.hubspot.archived_at]
    assert len(sandbox.hubspot.store.contacts()) == len(active)
    assert sandbox.loaded.contacts == len(sf.all("Contact"))


def test_lost_deals_carry_their_stage_history(sandbox: Sandbox) -> None:
    sf = sandbox.salesforce.store
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in sf.all("Opportunity"):
        by_name.setdefault(row["Name"], []).append(row)
    history: dict[str, list[dict[str, Any]]] = {}
    for row in sf.all("OpportunityHistory"):
        history.setdefault(row["OpportunityId"], []).append(row)
    checked = 0
    for opp in opportunities(sandbox):
        candidates = [r for r in by_name[opp.name] if r["CreatedDate"] == opp.created_at]
        assert len(candidates) == 1, opp.name
        record = candidates[0]
        rows = sorted(history[record["Id"]], key=lambda r: r["CreatedDate"])
        stages = [r["StageName"] for r in rows]
        collapsed = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
        assert collapsed == [s.stage for s in opp.path]
        assert [r["CreatedDate"] for r in rows][: len(opp.path)] == [s.at for s in opp.path]
        assert record["IsClosed"] == (opp.outcome != "open")
        assert record["IsWon"] == (opp.outcome == "won")
        assert record["CloseDate"] == opp.close_date
        assert record["Loss_Reason__c"] == opp.loss_reason
        checked += opp.outcome == "lost"
    assert checked >= 8


def test_contact_roles_primary_first(sandbox: Sandbox) -> None:
    roles: dict[str, list[dict[str, Any]]] = {}
    for row in sandbox.salesforce.store.all("OpportunityContactRole"):
        roles.setdefault(row["OpportunityId"], []).append(row)
    assert roles
    for rows in roles.values():
        rows.sort(key=lambda r: r["Id"])  # creation order
        assert [r["IsPrimary"] for r in rows] == [True] + [False] * (len(rows) - 1)


def test_case_differing_duplicates_and_opt_outs(sandbox: Sandbox) -> None:
    sf, hs = sf_contacts_by_email(sandbox), hs_contacts_by_email(sandbox, include_archived=True)
    case_pairs = 0
    for p in persons(sandbox):
        if p.in_salesforce and p.email:
            contact = sf[p.email]
            assert contact["Email"] == p.salesforce_email
            assert contact["HasOptedOutOfEmail"] is p.sf_opted_out
        if p.hubspot:
            props = hs[p.email or ""]["properties"]
            assert props.get("hs_email_optout") == ("true" if p.hubspot.opted_out else None)
            if p.in_salesforce and p.salesforce_email != props["email"]:
                assert p.salesforce_email and p.salesforce_email.lower() == props["email"]
                case_pairs += 1
    assert case_pairs >= 1
    assert any(c["HasOptedOutOfEmail"] for c in sf.values())
    assert any(c["properties"].get("hs_email_optout") == "true" for c in hs.values())


def test_archived_and_merged_contacts(sandbox: Sandbox) -> None:
    store = sandbox.hubspot.store
    everything = hs_contacts_by_email(sandbox, include_archived=True)
    active = hs_contacts_by_email(sandbox)
    archived = merged = 0
    for p in persons(sandbox):
        if not p.hubspot:
            continue
        record = everything[p.hubspot.email]
        if p.hubspot.archived_at:
            archived += 1
            assert p.hubspot.email not in active and record["archived"] is True
        if p.hubspot.duplicate_email:
            merged += 1
            merged_ids = record["properties"]["hs_merged_object_ids"].split(";")
            assert merged_ids and all(store.get_contact(i) is None for i in merged_ids)
            assert p.hubspot.duplicate_email not in everything
    assert archived >= 1 and merged >= 1


def test_engagement_lands_at_the_last_activity(sandbox: Sandbox) -> None:
    hs = hs_contacts_by_email(sandbox)
    seen = 0
    for p in persons(sandbox):
        if not p.hubspot or p.hubspot.archived_at or p.hubspot.duplicate_email:
            continue
        e, props = p.hubspot.engagement, hs[p.hubspot.email]["properties"]
        assert props.get("hs_email_open") == (str(e.opens) if e.delivered else None)
        assert props.get("hs_email_click") == (str(e.clicks) if e.delivered else None)
        assert props["lifecyclestage"] == p.hubspot.lifecyclestage
        assert props.get("inquiry_type") == p.hubspot.inquiry_type
        if e.last_activity:
            seen += 1
            assert _parse(props["lastmodifieddate"]) == e.last_activity
            if e.last_open:
                assert _parse(props["hs_email_last_open_date"]) == e.last_open
    assert seen >= 10


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_reload_gives_the_same_records(sandbox: Sandbox) -> None:
    """Determinism through the stores: the same seed loads the same rows (ids included)."""
    def snapshot() -> tuple[list[dict[str, Any]], ...]:
        sf = sandbox.salesforce.store
        return (sf.all("Account"), sf.all("Contact"), sf.all("Opportunity"), sf.all("OpportunityHistory"),
                sf.all("OpportunityContactRole"), sandbox.hubspot.store.contacts(include_archived=True))

    book = book_of(sandbox)
    first = snapshot()
    sandbox.reset(people=book.people, seed=book.seed, now=book.now)
    assert snapshot() == first
    sandbox.reset(people=book.people, seed=book.seed + 1, now=book.now)
    assert snapshot() != first


def test_empty_sandbox_has_no_records(empty_sandbox: Sandbox) -> None:
    sf = empty_sandbox.salesforce.store
    assert empty_sandbox.book is None
    assert [len(sf.all(o)) for o in ("Account", "Contact", "Opportunity")] == [0, 0, 0]
    assert empty_sandbox.hubspot.store.contacts(include_archived=True) == []


def _salesforce_contents(emu: SalesforceEmulator) -> dict[str, Any]:
    """Everything one org holds, as text: each table's rows (ids, keys in order, values with their
    types: 1 and 1.0 differ), its id counter and the state of each of its indexes."""
    out: dict[str, Any] = {}
    for name, table in emu.store.tables.items():
        out[name] = {
            "counter": table.counter,
            "rows": [repr((rid, row.to_dict())) for rid, row in table.rows.items()],
            "eq": {field: repr(vars(idx)) for field, idx in table.eq.items()},
            "ranges": {field: repr(vars(idx)) for field, idx in table.ranges.items()},
        }
    return out


def test_trusted_demo_load_builds_exactly_what_the_checked_writes_build() -> None:
    """The demo book's unchecked bulk path (the default) against the API-grade create/update path:
    every table, row, id, system field, history row and index the same."""
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    book = generate(people=400, seed=3, now=now)
    loaded = {}
    for trusted in (True, False):
        emu = SalesforceEmulator(clock=lambda: now)
        summary = load_demo(book, salesforce=emu, trusted=trusted)
        loaded[trusted] = (summary, _salesforce_contents(emu))
    assert loaded[True][0] == loaded[False][0]
    assert loaded[True][0].opportunity_history > 0 and loaded[True][0].contact_roles > 0
    trusted_tables, checked_tables = loaded[True][1], loaded[False][1]
    assert trusted_tables.keys() == checked_tables.keys()
    for name in checked_tables:
        assert trusted_tables[name] == checked_tables[name], name
