"""Bad source data in both systems: every record is either handled (leadsync's fields written, lists
and tasks right) or quarantined with a reason in the state store, and every run completes.

One world is seeded once per module (on the shared empty sandbox servers), synced, changed between runs
(a HubSpot contact archived, one merged into another), synced again, and copied into a `Snapshot`; the
tests read the snapshot. Real HTTP to both emulators, a real SQLite state file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from mappings.facts import STAGES
from sandbox.launcher import Sandbox
from tests.reliability.badinput_mapping_mutations import DEFAULT_TEXT
from tests.reliability.badinput_world import Seeder, Snapshot, open_world_context, snapshot, sync_once

# The org added a stage the mapping does not know (here: the mapping lost one).
MAPPING = DEFAULT_TEXT.replace('"Perception Analysis" = "comparison"\n', "")
HUGE_REASON = ("予算不足 💸 " * 40)[:255]  # Japanese and emoji, as long as the picklist field holds
HUGE_NAME = ("基幹システム刷新 🚀 " * 12)[:120]  # Opportunity.Name holds 120 characters
HUGE_TEXT = "長" * 60_000


@dataclass(frozen=True)
class Seeded:
    """What was seeded for one case: the record ids on each side."""

    sf: tuple[str, ...] = ()
    hs: tuple[str, ...] = ()


@dataclass(frozen=True)
class World:
    snap: Snapshot
    cases: dict[str, Seeded]
    now: datetime


def _seed(s: Seeder) -> dict[str, Seeded]:
    now = s.now
    iso = (now + timedelta(days=300)).isoformat()
    c: dict[str, Seeded] = {}

    # emails: missing, malformed, blank, differing only in case or by spaces
    no_email = s.contact(None)
    s.lost_deal([no_email])
    c["sf_no_email"] = Seeded(sf=(no_email,))
    c["hs_no_email"] = Seeded(hs=(s.hubspot({"firstname": "No", "lastname": "Email"}),))
    for key, email in {"hs_malformed_two_ats": "hanako@@example.com", "hs_malformed_no_at": "not-an-email",
                       "hs_malformed_no_domain_dot": "x@localhost", "hs_blank_email": "   ",
                       "hs_malformed_space": "taro yamada@example.com"}.items():
        c[key] = Seeded(hs=(s.hubspot({"email": email}),))
    sf_case = s.contact("Case.Person@Example.COM")
    s.lost_deal([sf_case], last_open="Proposal/Price Quote")
    c["case_pair"] = Seeded(sf=(sf_case,), hs=(s.hubspot({"email": " case.person@example.com "}),))
    dup_a, dup_b = s.contact("dup@example.com"), s.contact("DUP@Example.com")
    s.lost_deal([dup_a], days_ago=50)
    s.lost_deal([dup_b], days_ago=45)
    c["sf_case_duplicates"] = Seeded(sf=(dup_a, dup_b))

    # huge and empty strings, Japanese and emoji
    big = s.contact("big@example.com", first="", last=("山田🎌" * 40)[:80])
    s.lost_deal([big], reason=HUGE_REASON, name=HUGE_NAME)
    c["huge_strings"] = Seeded(sf=(big,), hs=(s.hubspot({"email": "big@example.com", "firstname": HUGE_TEXT,
                                                         "lastname": "", "lifecyclestage": ""}),))
    jp = s.contact("山田.太郎@例え.jp", first="太郎 😀", last="山田")
    s.lost_deal([jp], reason="予算不足", name="商談 🚀")
    jp_hs = s.hubspot({"email": "山田.太郎@例え.jp", "firstname": "太郎"})
    c["japanese_email"] = Seeded(sf=(jp,), hs=(jp_hs,))

    # unknown stages and lifecycle values
    zombie = s.hubspot_unchecked({"email": "zombie@example.com", "lifecyclestage": "zombie_lead",
                                  "hs_lead_status": "PARKED 🅿"})
    c["unknown_lifecycle"] = Seeded(hs=(zombie,))
    unknown = s.contact("unknown.stage@example.com")
    s.lost_deal([unknown], last_open="Perception Analysis")
    c["unknown_stage_at_loss"] = Seeded(sf=(unknown,))
    direct = s.contact("direct.loss@example.com")
    s.lost_deal([direct], last_open=None)
    c["no_stage_before_loss"] = Seeded(sf=(direct,))

    # dates in the future, null amounts
    fut = s.contact("future@example.com")
    s.lost_deal([fut], close_date=(now + timedelta(days=30)).date())
    c["future_dates"] = Seeded(sf=(fut,), hs=(s.hubspot({"email": "future@example.com", "hs_email_click": "3",
                                                          "hs_email_last_click_date": iso}),))
    cheap = s.contact("no.amount@example.com")
    s.lost_deal([cheap], amount=None, reason=None)
    c["null_amount_and_reason"] = Seeded(sf=(cheap,))

    # archived and merged between runs (the changes happen in the fixture)
    gone = s.contact("archived@example.com")
    s.lost_deal([gone], last_open="Proposal/Price Quote")
    c["archived_between_runs"] = Seeded(sf=(gone,), hs=(s.hubspot({"email": "archived@example.com"}),))
    c["merged_primary"] = Seeded(hs=(s.hubspot({"email": "primary@example.com", "hs_email_open": "2"}),))
    merged_sf = s.contact("merged@example.com")
    s.lost_deal([merged_sf], last_open="Value Proposition")
    c["merged_away"] = Seeded(sf=(merged_sf,), hs=(s.hubspot({"email": "merged@example.com"}),))

    # one ordinary person as the control
    ok = s.contact("ordinary@example.com")
    s.lost_deal([ok])
    c["ordinary"] = Seeded(sf=(ok,), hs=(s.hubspot({"email": "ordinary@example.com", "hs_email_open": "1"}),))
    return c


@pytest.fixture(scope="module")
def world(_empty_sandbox_servers: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    box = _empty_sandbox_servers
    box.reset(people=0)
    now = datetime.now(UTC).replace(microsecond=0)
    seeder = Seeder(box, now)
    cases = _seed(seeder)
    ctx = open_world_context(box, tmp_path_factory.mktemp("bad-source"), MAPPING)
    try:
        first = sync_once(ctx, now)
        hs = box.hubspot.store
        hs.archive_contact(cases["archived_between_runs"].hs[0], at=now + timedelta(minutes=1))
        hs.merge_contacts(cases["merged_primary"].hs[0], cases["merged_away"].hs[0],
                          at=now + timedelta(minutes=1))
        second = sync_once(ctx, now + timedelta(hours=1))
        all_hs = [i for seeded in cases.values() for i in seeded.hs]
        snap = snapshot(box, ctx, [first, second], all_hs)
    finally:
        ctx.close()
        box.reset(people=0)  # leave the shared servers empty, as the `empty_sandbox` fixture expects
    yield World(snap, cases, now)


QUARANTINED = {  # case -> (system, words of the reason)
    "sf_no_email": ("salesforce", "no email"),
    "hs_no_email": ("hubspot", "no email"),
    "hs_blank_email": ("hubspot", "no email"),
    "hs_malformed_two_ats": ("hubspot", "malformed email"),
    "hs_malformed_no_at": ("hubspot", "malformed email"),
    "hs_malformed_no_domain_dot": ("hubspot", "malformed email"),
    "hs_malformed_space": ("hubspot", "malformed email"),
}
HANDLED = ["case_pair", "sf_case_duplicates", "huge_strings", "japanese_email", "unknown_lifecycle",
           "unknown_stage_at_loss", "no_stage_before_loss", "future_dates", "null_amount_and_reason",
           "merged_primary", "merged_away", "ordinary"]


def _written_sf(world: World, cid: str) -> dict[str, object]:
    return world.snap.sf_contacts[cid]


def _written_hs(world: World, hid: str) -> dict[str, object]:
    contact = world.snap.hs_contacts[hid]
    assert contact is not None, f"hubspot {hid} is gone"
    return contact["properties"]


def test_every_run_completes(world: World) -> None:
    for result in world.snap.results:
        assert result.status in ("ok", "partial"), (result.status, result.error)
        assert result.error is None


def test_the_cases_cover_every_seeded_record(world: World) -> None:
    assert set(QUARANTINED) | set(HANDLED) | {"archived_between_runs"} == set(world.cases)


@pytest.mark.parametrize("case", sorted(QUARANTINED))
def test_bad_email_is_quarantined_with_its_reason(world: World, case: str) -> None:
    system, words = QUARANTINED[case]
    seeded = world.cases[case]
    ids = seeded.sf if system == "salesforce" else seeded.hs
    for rid in ids:
        failures = world.snap.open_failures(rid)
        assert [(f.system, f.stage) for f in failures] == [(system, "identity")], failures
        assert words in failures[0].reason
        assert failures[0].attempts == 2  # seen again by the second run, still one row
    if system == "hubspot":  # nothing written to a record leadsync cannot place
        props = _written_hs(world, ids[0])
        assert props.get("leadsync_stage") is None


def test_quarantine_counts_match_the_bad_records(world: World) -> None:
    expected = {rid for case in QUARANTINED for rid in world.cases[case].sf + world.cases[case].hs}
    identity = {f.record_key for f in world.snap.failures if f.stage == "identity"}
    assert identity == expected
    for result in world.snap.results:
        assert result.counts["quarantined"] == len(expected)


@pytest.mark.parametrize("case", HANDLED)
def test_handled_records_get_their_fields_written(world: World, case: str) -> None:
    seeded = world.cases[case]
    for cid in seeded.sf:
        contact = _written_sf(world, cid)
        assert contact["Lead_Stage__c"] in STAGES, contact
        assert contact["Recycle_Group__c"], contact
        assert not world.snap.open_failures(cid)
    for hid in seeded.hs:
        if case == "merged_away":
            continue  # merged into merged_primary: the id no longer exists
        props = _written_hs(world, hid)
        assert props.get("leadsync_stage") in STAGES, props
        assert not world.snap.open_failures(hid)


def test_emails_differing_in_case_and_spaces_are_one_person(world: World) -> None:
    seeded = world.cases["case_pair"]
    sf, hs = _written_sf(world, seeded.sf[0]), _written_hs(world, seeded.hs[0])
    assert str(sf["Lead_Score__c"]).split(".")[0] == hs["leadsync_score"]
    assert sf["Lead_Stage__c"] == hs["leadsync_stage"]
    assert sf["Nurture_List__c"] == hs["leadsync_nurture_list"]


def test_same_email_on_two_salesforce_contacts_keeps_both(world: World) -> None:
    a, b = (_written_sf(world, cid) for cid in world.cases["sf_case_duplicates"].sf)
    assert (a["Lead_Stage__c"], a["Recycle_Group__c"]) == (b["Lead_Stage__c"], b["Recycle_Group__c"])
    assert all(r.counts["duplicates"] >= 1 for r in world.snap.results)


def test_huge_and_japanese_values_reach_the_task_intact(world: World) -> None:
    cid = world.cases["huge_strings"].sf[0]
    tasks = [t for t in world.snap.tasks if t["WhoId"] == cid]
    assert len(tasks) == 1, tasks  # high group (Negotiation/Review): one call task, not one per run
    assert len(tasks[0]["Subject"]) <= 255
    assert tasks[0]["Subject"].startswith("Recycle: call back about 基幹システム刷新 🚀")
    assert HUGE_REASON.strip() in tasks[0]["Description"]


def test_unknown_stage_at_loss_goes_to_review(world: World) -> None:
    for case in ("unknown_stage_at_loss", "no_stage_before_loss"):
        contact = _written_sf(world, world.cases[case].sf[0])
        assert contact["Recycle_Group__c"] == "review", (case, contact)
    assert all(r.counts["needs_review"] >= 3 for r in world.snap.results)


def test_unknown_lifecycle_value_is_not_guessed(world: World) -> None:
    props = _written_hs(world, world.cases["unknown_lifecycle"].hs[0])
    assert props["leadsync_stage"] == "inquiry"  # no other evidence: the first stage, not a guess
    assert "zombie_lead" in props["leadsync_explanation"]


def test_future_dates_are_taken_at_face_value_without_errors(world: World) -> None:
    contact = _written_sf(world, world.cases["future_dates"].sf[0])
    # CloseDate next month, but marked lost 40 days ago (stage history): the CloseDate is a forecast and
    # does not make the deal wait; the loss counts from the day it entered Closed Lost
    assert contact["Recycle_Group__c"] == "high"
    assert "(entered closed-lost, from stage history)" in contact["Leadsync_Explanation__c"]
    # three clicks "in the future" count like clicks today (3 x 20, no decay) + company size 20
    assert float(contact["Lead_Score__c"]) == 80


def test_null_amount_and_reason_still_make_a_task(world: World) -> None:
    cid = world.cases["null_amount_and_reason"].sf[0]
    tasks = [t for t in world.snap.tasks if t["WhoId"] == cid]
    assert len(tasks) == 1
    assert "None" not in tasks[0]["Description"]


def test_archived_contact_leaves_the_lists_and_gets_no_writes(world: World) -> None:
    seeded = world.cases["archived_between_runs"]
    hid = seeded.hs[0]
    assert world.snap.hs_contacts[hid] is None or world.snap.hs_contacts[hid].get("archived")
    assert all(hid not in members for members in world.snap.hs_lists.values())
    assert not world.snap.open_failures(hid)
    assert _written_sf(world, seeded.sf[0])["Lead_Stage__c"] in STAGES  # the Salesforce side lives on


def test_merged_contact_causes_no_failures_and_the_primary_is_written(world: World) -> None:
    merged = world.cases["merged_away"].hs[0]
    primary = world.cases["merged_primary"].hs[0]
    assert world.snap.hs_contacts[merged] is None or world.snap.hs_contacts[merged]["id"] == primary
    assert not world.snap.open_failures(merged)
    assert all(merged not in members for members in world.snap.hs_lists.values())
    assert _written_hs(world, primary).get("leadsync_stage") in STAGES
    assert world.snap.results[-1].status == "ok"


def test_control_person_is_unaffected(world: World) -> None:
    seeded = world.cases["ordinary"]
    contact = _written_sf(world, seeded.sf[0])
    assert contact["Recycle_Group__c"] == "high"
    assert any(seeded.sf[0] in members for members in world.snap.campaigns.values())
    assert any(seeded.hs[0] in members for members in world.snap.hs_lists.values())
