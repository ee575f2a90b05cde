"""The stage history and recycle cycles every run records: real clients over HTTP to both emulators, a
real SQLite state file. Expected values follow from each test's hand-made people and the bundled
mapping's rules (recycle.wait_days = 30; Negotiation/Review is a high phase, Prospecting a low one;
an email click after the loss promotes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from mappings import load_mapping_text
from mappings.emails import parse_email
from sync.cli.main import app
from sync.run.context import open_context
from sync.run.runner import RunOptions, run
from sync.state.history import Move
from sync.views.kpis import stage_kpis
from tests.sync.run.conftest import World

DEFAULT_MAPPING = Path(__file__).resolve().parents[3] / "mappings" / "default.toml"


def key(email: str) -> str:
    k = parse_email(email)[0]
    assert k is not None
    return k


def moves(world: World, email: str, dimension: str | None = None) -> list[Move]:
    return [m for m in world.ctx.store.moves_of(key(email)) if dimension is None or m.dimension == dimension]


def test_the_first_run_records_where_everyone_starts_and_a_quiet_run_records_nothing(world: World) -> None:
    world.person("late@example.com", lost_stage="Negotiation/Review", lost_days_ago=40)
    world.person("fresh@example.com", hubspot={"lifecyclestage": "marketingqualifiedlead"})
    first = world.sync()

    late = {m.dimension: m for m in moves(world, "late@example.com")}
    assert set(late) == {"stage", "rank", "group"}
    assert all(m.cause == "first" and m.from_value is None and m.run_id == first.run_id
               for m in late.values())
    assert late["stage"].to_value == world.sf_contact("late@example.com")["Lead_Stage__c"] == "recycle"
    assert late["group"].to_value == "high"
    assert late["group"].deal_id == world.people["late@example.com"].opportunity_id
    assert "recycle.high" in (late["group"].why or "")
    assert late["rank"].to_value == world.sf_contact("late@example.com")["Lead_Rank__c"]
    standing = world.ctx.store.standing_of(key("late@example.com"))
    assert standing is not None
    assert standing["score"] == world.sf_contact("late@example.com")["Lead_Score__c"]
    assert standing["nurture_list"] == "recycle_high" and standing["recycle_group"] == "high"

    fresh = {m.dimension: m for m in moves(world, "fresh@example.com")}
    assert set(fresh) == {"stage", "rank"}  # no recycle group: nothing to record for it
    assert fresh["stage"].to_value == world.hs_props("fresh@example.com")["leadsync_stage"] == "mql"
    assert "lifecyclestage" in (fresh["stage"].why or "")
    assert first.counts["stage_moves"] == 5

    again = world.sync()
    assert again.counts.get("stage_moves", 0) == 0
    assert len(moves(world, "late@example.com")) == 3 and len(moves(world, "fresh@example.com")) == 2


def test_a_waiting_period_that_ends_is_a_move_caused_by_time(world: World) -> None:
    world.person("recent@example.com", lost_stage="Proposal/Price Quote", lost_days_ago=10)
    world.sync()
    later = world.now + timedelta(days=25)  # 35 days after the loss; nothing changed in either system
    second = world.sync(now=later)

    group = moves(world, "recent@example.com", "group")
    assert [(m.from_value, m.to_value, m.cause) for m in group] == [(None, "waiting", "first"),
                                                                    ("waiting", "high", "time")]
    assert group[1].at == later and group[1].run_id == second.run_id
    (cycle,) = world.ctx.store.cycles_of(key("recent@example.com"))
    assert cycle["entered_at"] == world.now  # the cycle opened while waiting ...
    assert cycle["first_group"] == "high" and cycle["group_now"] == "high"  # ... is counted where worked
    assert cycle["promoted_at"] is None  # lost in a high phase: waited, not promoted
    assert cycle["deal_id"] == world.people["recent@example.com"].opportunity_id
    (task,) = world.tasks_for("recent@example.com")  # the call task of this cycle
    assert cycle["task_cycle_key"] == task["Leadsync_Cycle_Key__c"]


def test_a_click_after_the_loss_promotes_and_the_cycle_says_when(world: World) -> None:
    p = world.person("early@example.com", lost_stage="Prospecting", lost_days_ago=45, reason="時期尚早")
    world.sync()
    (cycle,) = world.ctx.store.cycles_of(key("early@example.com"))
    assert (cycle["first_group"], cycle["group_now"], cycle["promoted_at"], cycle["reengaged_at"]) == (
        "low", "low", None, None)
    assert cycle["loss_reason"] == "時期尚早" and cycle["phase"] == "awareness"
    assert cycle["lost_amount"] == 1200000
    assert cycle["lost_on"] == (world.now - timedelta(days=45)).astimezone(UTC).date()

    clicked = world.now - timedelta(days=2)
    stamp = clicked.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    world.box.hubspot.store.update_contact(p.hubspot_id or "", {"hs_email_click": "1",
                                                                "hs_email_last_click_date": stamp})
    later = world.now + timedelta(hours=1)
    world.sync(now=later)

    group = moves(world, "early@example.com", "group")
    assert [(m.from_value, m.to_value, m.cause) for m in group][-1] == ("low", "high", "facts")
    (cycle,) = world.ctx.store.cycles_of(key("early@example.com"))
    assert cycle["group_now"] == "high" and cycle["promoted_at"] == later
    day = clicked.astimezone(UTC).date()
    assert cycle["reengaged_at"] == datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_a_rule_change_that_moves_people_is_recorded_as_the_mapping(world: World, tmp_path: Path) -> None:
    world.person("a@example.com", lost_stage="Negotiation/Review", lost_days_ago=10)
    world.person("b@example.com", lost_stage="Negotiation/Review", lost_days_ago=12)
    world.sync()
    text = DEFAULT_MAPPING.read_text(encoding="utf-8")
    assert "wait_days = 30" in text and "\nversion = 1 " in text
    changed = load_mapping_text(text.replace("wait_days = 30", "wait_days = 7")
                                .replace("\nversion = 1 ", "\nversion = 2 "), "changed.toml")
    ctx = open_context(world.ctx.settings, mapping=changed)
    try:
        result = run(ctx, RunOptions(now=world.now))
        assert result.status == "ok", result.error
        for email in ("a@example.com", "b@example.com"):
            last = ctx.store.moves_of(key(email))[-1]
            assert (last.dimension, last.from_value, last.to_value) == ("group", "waiting", "high")
            assert (last.cause, last.mapping_version, last.run_id) == ("mapping", 2, result.run_id)
    finally:
        ctx.close()


def test_a_dry_run_records_no_history(world: World) -> None:
    world.person("late@example.com", lost_stage="Negotiation/Review", lost_days_ago=40)
    world.sync(dry_run=True)
    assert moves(world, "late@example.com") == []
    assert world.ctx.store.standing_of(key("late@example.com")) is None


def test_history_command_shows_the_path_and_escapes_crm_text(world: World, tmp_path: Path) -> None:
    reason = "\x1b[2J<script>alert(1)</script> [bold]予算[/bold]"
    world.person("early@example.com", lost_stage="Prospecting", lost_days_ago=45, reason=reason)
    first = world.sync()
    runner = CliRunner(env={"COLUMNS": "200"})
    settings = str(tmp_path / "settings.toml")

    result = runner.invoke(app, ["history", "EARLY@example.com", "--config", settings])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\\x1b[2J<script>" in result.stdout
    assert "[bold]予算[/bold]" in result.stdout  # shown as stored, not as markup
    assert "first record" in result.stdout and "awareness" in result.stdout and "recycle.low" in result.stdout

    result = runner.invoke(app, ["history", "early@example.com", "--config", settings, "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["now"]["recycle_group"] == "low" and data["now"]["run_id"] == first.run_id
    assert [(m["dimension"], m["to_value"]) for m in data["moves"]] == [
        ("stage", "recycle"), ("rank", data["now"]["rank"]), ("group", "low")]
    assert data["cycles"][0]["loss_reason"] == reason  # JSON stays exact

    result = runner.invoke(app, ["history", "nobody@example.com", "--config", settings])
    assert result.exit_code == 2 and "no history" in result.stderr


def open_deal(world: World, name: str, amount: int, at: datetime, contact_id: str | None = None) -> str:
    """A new opportunity on the world's account, opened at `at`, with `contact_id` as its buyer."""
    sf = world.box.salesforce.store
    deal = sf.create("Opportunity", {"Name": name, "AccountId": world.account, "OwnerId": world.owner,
                                     "Amount": amount, "StageName": "Qualification",
                                     "CloseDate": (at + timedelta(days=60)).date()}, at=at)
    if contact_id is not None:
        sf.create("OpportunityContactRole", {"OpportunityId": deal, "ContactId": contact_id, "Role": "Buyer",
                                             "IsPrimary": True}, at=at)
    return deal


def test_a_new_deal_of_a_recycled_person_is_the_cycles_outcome_until_it_is_won(world: World) -> None:
    p = world.person("back@example.com", lost_stage="Prospecting", lost_days_ago=60)
    world.sync()
    sf = world.box.salesforce.store
    opened = world.now + timedelta(days=1)
    new = open_deal(world, "Second try", 480000, opened, p.contact_id)
    world.sync(now=opened + timedelta(hours=1))
    (cycle,) = world.ctx.store.cycles_of(key("back@example.com"))
    # an open deal takes them out of recycling (the cycle closes) and is the cycle's second pipeline
    assert cycle["left_at"] == opened + timedelta(hours=1)
    outcome = tuple(cycle[k] for k in ("new_deal_id", "new_deal_state", "new_deal_amount", "new_deal_stage"))
    assert outcome == (new, "open", 480000, "Qualification")
    assert cycle["new_deal_opened_on"] == opened.astimezone(UTC).date()

    won = opened + timedelta(days=30)
    sf.update("Opportunity", new, {"StageName": "Closed Won", "CloseDate": won.date()}, at=won)
    world.sync(now=won + timedelta(hours=1))
    (cycle,) = world.ctx.store.cycles_of(key("back@example.com"))
    assert (cycle["new_deal_state"], cycle["new_deal_closed_on"]) == ("won", won.date())
    assert [(m.from_value, m.to_value) for m in moves(world, "back@example.com", "group")] == [
        (None, "low"), ("low", None)]


def test_a_deal_opened_on_a_recycled_persons_account_without_them_is_their_cycles_outcome(
        world: World, tmp_path: Path) -> None:
    """Both people are lost on deals of the world's account; a new deal is then opened on that account
    with no contact role (read by the same deals stream: no extra call). Both cycles take it as their
    outcome, "via account"; once one of them is a contact role on another new deal, theirs is that one."""
    world.person("ann@example.com", lost_stage="Prospecting", lost_days_ago=60)
    # lost the same day (a deal opened on the account after Ann's loss would be her new deal, lost again)
    bob = world.person("bob@example.com", lost_stage="Prospecting", lost_days_ago=60)
    world.sync()
    opened = world.now + timedelta(days=1)
    shared = open_deal(world, "Account-wide", 900000, opened)  # no contact role
    world.sync(now=opened + timedelta(hours=1))
    settings = tmp_path / "settings.toml"
    for email in ("ann@example.com", "bob@example.com"):
        (cycle,) = world.ctx.store.cycles_of(key(email))
        assert (cycle["new_deal_id"], cycle["new_deal_via"], cycle["new_deal_amount"],
                cycle["new_deal_state"]) == (shared, "account", 900000, "open")
        assert cycle["new_deal_opened_on"] == opened.astimezone(UTC).date()
        assert cycle["left_at"] is None  # a deal they are not on does not take them out of recycling
    (total,) = [p for p in stage_kpis(world.ctx.store, world.ctx.mapping).pipeline if p.by == "total"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["history", "ann@example.com", "--config",
                                                             str(settings)])
    assert result.exit_code == 0, result.stderr
    assert f"{shared} open 900000" in result.stdout and "(via the account)" in result.stdout
    # two cycles, one deal (900,000), reached through the account
    assert (total.recycled, total.new_deals, total.new_amount, total.new_via_account) == (2, 1, 900000, 1)

    later = opened + timedelta(days=2)
    own = open_deal(world, "Bob again", 300000, later, bob.contact_id)
    world.sync(now=later + timedelta(hours=1))
    (ann,), (bobs,) = world.ctx.store.cycles_of(key("ann@example.com")), world.ctx.store.cycles_of(
        key("bob@example.com"))
    assert (ann["new_deal_id"], ann["new_deal_via"]) == (shared, "account")
    assert (bobs["new_deal_id"], bobs["new_deal_via"], bobs["new_deal_amount"]) == (own, "contact", 300000)
    (total,) = [p for p in stage_kpis(world.ctx.store, world.ctx.mapping).pipeline if p.by == "total"]
    assert (total.new_deals, total.new_amount, total.new_via_account) == (2, 1200000, 1)
