"""`build_report`: its numbers against independent counts from the emulators and the demo book, and a
hand-seeded world whose recycle groups and re-engagement are known person by person. The hand-seeded
expectations hold for both paths: what the last run recorded, aggregated in the database (no `now`),
and the what-if that decides everyone again at `now` (the run's `now`: the two must agree)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest

from mappings import DEFAULT_MAPPING_RESOURCE, load_mapping_text
from sync.run.runner import RunOptions, run
from sync.views.loss_labels import NO_REASON, UNMAPPED
from sync.views.report import Report, build_report

from .worlds import SeededWorld, Synced

PATHS = pytest.mark.parametrize("stored", [True, False], ids=["stored", "what-if"])


def _report(world: SeededWorld | Synced, stored: bool) -> Report:
    """The stored report (what the last run decided) or the what-if at the world's `now`."""
    ctx = world.ctx
    return build_report(ctx.store, ctx.mapping) if stored else build_report(ctx.store, ctx.mapping, world.now)


def _without_now(report: Report) -> dict[str, Any]:
    data = report.to_dict()
    data.pop("now")
    return data


@PATHS
def test_lost_deals_match_the_salesforce_emulator(synced: Synced, stored: bool) -> None:
    report = _report(synced, stored)
    by_reason: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for opp in synced.box.salesforce.store.all("Opportunity"):
        if opp["IsClosed"] and not opp["IsWon"]:  # any closed-lost stage ("Lost - No Budget" too)
            row = by_reason[(opp.get("Loss_Reason__c") or "").strip() or NO_REASON]
            row[0] += 1
            row[1] += opp.get("Amount") or 0.0
    assert by_reason, "the demo book has lost deals"
    got = {r: [t.deals, t.amount] for r, t in report.lost.by_reason().items()}
    assert got == {r: [n, amount] for r, (n, amount) in by_reason.items()}
    assert report.lost.total.deals == sum(n for n, _ in by_reason.values())
    assert [r.reason for r in report.loss_reasons] == list(report.lost.reasons)
    ranked = [(r.deals, r.amount) for r in report.loss_reasons]
    assert ranked == sorted(ranked, key=lambda x: (-x[0], -x[1]))
    assert abs(sum(r.share for r in report.loss_reasons) - 1.0) < 1e-9


@PATHS
def test_phase_by_reason_matches_the_demo_book(synced: Synced, stored: bool) -> None:
    mapping = synced.ctx.mapping
    book = synced.box.book
    assert book is not None
    expected: Counter[tuple[str, str]] = Counter()
    for account in book.accounts():
        if not account.company.in_salesforce:
            continue
        for opp in account.opportunities:
            if opp.outcome == "lost":
                phase = mapping.phases.get(opp.lost_at_stage or "", UNMAPPED)
                expected[(phase, (opp.loss_reason or "").strip() or NO_REASON)] += 1
    report = _report(synced, stored)
    assert {k: t.deals for k, t in report.lost.cells.items()} == dict(expected)
    by_phase = Counter()
    for (phase, _), n in expected.items():
        by_phase[phase] += n
    assert {p: t.deals for p, t in report.lost.by_phase().items() if t.deals} == dict(by_phase)


@PATHS
def test_people_stages_ranks_and_groups_add_up(synced: Synced, stored: bool) -> None:
    report = _report(synced, stored)
    box = synced.box
    sf = box.salesforce.store
    on_deals = {r["ContactId"] for r in sf.all("OpportunityContactRole")}
    sf_emails = {c["Email"].strip().lower() for c in sf.all("Contact") if c["Id"] in on_deals and c["Email"]}
    hs_emails = {c.values["email"].strip().lower() for c in box.hubspot.store.all_active()
                 if c.values.get("email")}
    assert report.people == len(sf_emails | hs_emails) > 0
    assert sum(report.stages.values()) == report.people
    assert list(report.stages)[: len(synced.ctx.mapping.stage_order)] == list(synced.ctx.mapping.stage_order)
    assert sum(report.ranks.values()) == report.people
    assert sum(g.people for g in report.groups) + report.not_recycled == report.people
    counts = synced.result.counts
    for g in report.groups:
        assert g.people == counts.get(f"group.{g.group}", 0)
        assert 0 <= g.re_engaged <= g.people
    assert report.stages == {s: counts.get(f"stage.{s}", 0) for s in report.stages}
    assert report.quarantined == counts["quarantined"]


@PATHS
def test_list_sizes_match_both_emulators(synced: Synced, stored: bool) -> None:
    report = _report(synced, stored)
    sf = synced.box.salesforce.store
    campaigns = {c["Id"]: c["Name"] for c in sf.all("Campaign")}
    sf_members = Counter(campaigns[m["CampaignId"]] for m in sf.all("CampaignMember"))
    assert {(s.system, s.list_name) for s in report.lists} >= {
        (system, synced.ctx.mapping.list_name(key, system))
        for key in synced.ctx.mapping.nurture_lists for system in ("salesforce", "hubspot")}
    for s in report.lists:
        in_system = (len(synced.box.hubspot.store.list_members(s.list_name)) if s.system == "hubspot"
                     else sf_members[s.list_name])
        assert s.managed == in_system, s
        assert s.desired_records == s.managed, s  # a clean run leaves nothing to add or remove
    assert sum(s.managed for s in report.lists) > 0


def test_both_paths_agree_on_the_synced_demo_book(synced: Synced) -> None:
    stored = _report(synced, True)
    assert stored.people > 0 and stored.lost.total.deals > 0
    assert _without_now(stored) == _without_now(_report(synced, False))


def _seed(world: SeededWorld, *, sync: bool = True) -> None:
    w = world
    w.person("a@example.com", lost_stage="Prospecting", lost_days_ago=40, reason="Timing", amount=100,
             hubspot={"hs_email_click": "1", "hs_email_last_click_date": w.days_ago(5)})
    w.person("b@example.com", lost_stage="Prospecting", lost_days_ago=40, reason="Timing", amount=200)
    w.person("c@example.com", lost_stage="Negotiation/Review", lost_days_ago=60, reason="Price", amount=400,
             hubspot={"hs_email_open": "2", "hs_email_last_open_date": w.days_ago(10)})
    w.person("d@example.com", lost_stage="Negotiation/Review", lost_days_ago=60, reason="Price", amount=800,
             hubspot={"hs_email_open": "2", "hs_email_last_open_date": w.days_ago(90)})
    w.person("e@example.com", lost_stage="Value Proposition", lost_days_ago=10, reason="Price", amount=1600)
    w.person("f@example.com", lost_stage="Proposal/Price Quote", lost_days_ago=50, reason="Spam", amount=3200)
    w.person("g@example.com", lost_stage="Qualification", lost_days_ago=45, reason=None, amount=6400)
    if sync:
        w.sync()


@PATHS
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_recycle_groups_and_re_engagement_since_the_loss(seeded_world: SeededWorld, stored: bool) -> None:
    _seed(seeded_world)
    report = _report(seeded_world, stored)
    groups = {g.group: (g.people, g.re_engaged, g.promoted, g.lost_amount) for g in report.groups}
    assert groups == {
        "high": (3, 2, 1, 100 + 400 + 800),  # a promoted by a click after the loss; c opened after it
        "low": (2, 0, 0, 200 + 6400),
        "waiting": (1, 0, 0, 1600),
        "excluded": (1, 0, 0, 3200),
        "review": (0, 0, 0, 0),
    }
    assert report.people == 7 and report.not_recycled == 0
    assert report.stages["recycle"] == 6  # the excluded person keeps the stage of the systems


@PATHS
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_loss_table_and_reasons_of_the_seeded_world(seeded_world: SeededWorld, stored: bool) -> None:
    _seed(seeded_world)
    report = _report(seeded_world, stored)
    cells = {k: (t.deals, t.amount) for k, t in report.lost.cells.items()}
    assert cells == {
        ("awareness", "Timing"): (2, 300), ("purchase", "Price"): (2, 1200),
        ("comparison", "Price"): (1, 1600), ("purchase", "Spam"): (1, 3200),
        ("interest", NO_REASON): (1, 6400),
    }
    assert report.lost.phases == ("awareness", "interest", "information_gathering", "comparison", "purchase")
    first = report.loss_reasons[0]
    assert (first.reason, first.deals, first.top_phase, first.people_by_group) == (
        "Price", 3, "purchase", {"high": 2, "waiting": 1})
    assert [r.reason for r in report.loss_reasons] == ["Price", "Timing", NO_REASON, "Spam"]  # ties: amount
    assert {r.reason: r.excluded for r in report.loss_reasons}["Spam"] is True


def test_a_stage_missing_from_the_mapping_is_unmapped_and_in_review(seeded_world: SeededWorld) -> None:
    _seed(seeded_world)
    text = resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
    trimmed = "\n".join(line for line in text.splitlines() if not line.startswith('"Value Proposition"'))
    assert trimmed != text
    mapping = load_mapping_text(trimmed, "trimmed.toml")
    report = build_report(seeded_world.ctx.store, mapping, seeded_world.now)
    assert report.lost.phases[-1] == UNMAPPED
    assert report.lost.cell(UNMAPPED, "Price").deals == 1
    assert {g.group: g.people for g in report.groups}["review"] == 1
    assert report.to_dict()["lost_deals"]["by_phase"][UNMAPPED] == {"deals": 1, "amount": 1600}


@PATHS
def test_report_of_an_empty_store_is_all_zeros(seeded_world: SeededWorld, stored: bool) -> None:
    report = _report(seeded_world, stored)
    data = report.to_dict()
    assert data["people"]["total"] == 0 and data["lost_deals"]["deals"] == 0
    assert data["last_run"] is None
    assert all(s["managed"] == 0 and s["desired_records"] == 0 for s in data["nurture_lists"])


@PATHS
def test_open_failures_are_counted_by_error_code(seeded_world: SeededWorld, stored: bool) -> None:
    _seed(seeded_world, sync=False)
    mapping = seeded_world.ctx.mapping  # the campaigns exist: the faults hit the field writes
    seeded_world.ctx.salesforce.prepare_lists(sorted(set(mapping.list_names("salesforce").values())))
    faults = seeded_world.box.salesforce.faults
    faults.add("salesforce.collections", "record", 1.0, 2, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    faults.add("salesforce.collections", "record", 1.0, 1, "ENTITY_IS_LOCKED")
    result = run(seeded_world.ctx, RunOptions(now=seeded_world.now))
    assert result.status == "partial", result.to_dict()
    report = _report(seeded_world, stored)
    assert report.failures == (("salesforce", "FIELD_CUSTOM_VALIDATION_EXCEPTION", 2),
                               ("salesforce", "ENTITY_IS_LOCKED", 1))
    assert {"system": "salesforce", "code": "ENTITY_IS_LOCKED", "records": 1} in \
        report.to_dict()["open_failures"]
    failures = seeded_world.ctx.store.list_failures()
    assert all("(check: " in f.reason for f in failures)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_both_paths_agree_on_the_seeded_world(seeded_world: SeededWorld) -> None:
    _seed(seeded_world)
    assert _without_now(_report(seeded_world, True)) == _without_now(_report(seeded_world, False))


@PATHS
def test_opted_out_people_are_not_wanted_on_an_email_list(seeded_world: SeededWorld, stored: bool) -> None:
    """b and g are in the low group (list recycle_low, which sends email); h too, but opted out of email
    in HubSpot, even with a mapping whose [optout] sources leave HubSpot out (the sync layer's own flag,
    `optout.hubspot_property`, still counts): the run does not put h on the list, and neither report
    path wants h there."""
    text = resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
    sources = 'sources = ["hubspot.hs_email_optout", "salesforce.Contact.HasOptedOutOfEmail"]'
    assert sources in text
    seeded_world.ctx.mapping = load_mapping_text(
        text.replace(sources, 'sources = ["salesforce.Contact.HasOptedOutOfEmail"]'), "sf-optout-only.toml")
    _seed(seeded_world, sync=False)
    seeded_world.person("h@example.com", lost_stage="Prospecting", lost_days_ago=40, reason="Timing",
                        amount=50, hubspot={"hs_email_optout": "true"})
    seeded_world.sync()
    report = _report(seeded_world, stored)
    assert {g.group: g.people for g in report.groups}["low"] == 3  # b, g and h
    mapping = seeded_world.ctx.mapping
    for system in ("salesforce", "hubspot"):
        name = mapping.list_name("recycle_low", system)
        (row,) = [s for s in report.lists if (s.system, s.list_name) == (system, name)]
        # b and g: one contact each in each system; h left out
        assert (row.desired_people, row.desired_records, row.managed) == (2, 2, 2), row


def test_the_stored_report_is_what_the_run_decided_the_what_if_moves_with_time(
        seeded_world: SeededWorld) -> None:
    """e was lost 10 days before the run: waiting. Long after, a run would decide e again (the waiting
    period is over); the stored report still says what the last run decided."""
    _seed(seeded_world)
    later = seeded_world.now + timedelta(days=120)
    what_if = build_report(seeded_world.ctx.store, seeded_world.ctx.mapping, later)
    stored = build_report(seeded_world.ctx.store, seeded_world.ctx.mapping, reported_at=later)
    assert {g.group: g.people for g in stored.groups}["waiting"] == 1
    assert {g.group: g.people for g in what_if.groups}["waiting"] == 0
    assert stored.now == later


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_person_gone_from_the_store_is_no_longer_counted(seeded_world: SeededWorld) -> None:
    """z (HubSpot only) is decided by the first run; their contact is archived before the second. Their
    last standing stays in the history, but the stored report counts the people the store still has,
    as the what-if does."""
    _seed(seeded_world, sync=False)
    hubspot = seeded_world.box.hubspot.store
    z = hubspot.create_contact({"email": "z@example.com", "lifecyclestage": "lead"},
                               at=seeded_world.now - timedelta(days=30))
    seeded_world.sync()
    assert _report(seeded_world, True).people == 8
    hubspot.archive_contact(z)
    seeded_world.sync()
    assert seeded_world.ctx.store.standing_of("z@example.com") is not None
    stored = _report(seeded_world, True)
    assert stored.people == 7
    assert _without_now(stored) == _without_now(_report(seeded_world, False))
