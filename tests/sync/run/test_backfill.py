"""`leadsync backfill` (the stage history from before the first run): real clients over HTTP to both
emulators, a real SQLite state file. The people are hand-made with known HubSpot lifecycle dates (the
HubSpot emulator dates a stage when a contact enters it; the Python handle may set a date itself, as an
import of history does) and lost deals; the expected entries, flow rows and "could not reconstruct"
counts are worked out below from those dates and the bundled mapping (lead -> inquiry,
marketingqualifiedlead -> mql, opportunity -> sql, hs_lead_status CONNECTED -> sal; recycle.wait_days =
30; Negotiation/Review is a high phase, Prospecting a low one)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from mappings import load_mapping_text
from mappings.emails import parse_email
from sync.cli.main import app
from sync.run.backfill import backfill, plan_person
from sync.run.lock import RunLock
from sync.run.stage_dates import lifecycle_dates
from sync.state.history import Move
from sync.state.history_backfill import BackfillBasis
from tests.sync.run.conftest import World

DAY = timedelta(days=1)


def key(email: str) -> str:
    k = parse_email(email)[0]
    assert k is not None
    return k


def cohort(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def days(a: datetime, b: datetime) -> int:
    return int((b - a).total_seconds() // 86400)


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def backfilled(world: World, email: str, dimension: str) -> list[tuple[str | None, str | None, datetime,
                                                                        str | None, datetime | None]]:
    return [(m.from_value, m.to_value, m.at, m.next_value, m.next_at)
            for m in world.ctx.store.moves_of(key(email))
            if m.cause == "backfill" and m.dimension == dimension]


def seed(world: World) -> dict[str, datetime]:
    """Five people; returns the instants the expectations are built from."""
    hs, now = world.box.hubspot.store, world.now
    created = now - 300 * DAY  # World.person creates HubSpot contacts 300 days back (lifecyclestage lead)
    # alice: lead (created) -> MQL 100 days later; found at mql by the first run
    alice = world.person("alice@example.com")
    hs.update_contact(alice.hubspot_id or "", {"lifecyclestage": "marketingqualifiedlead"},
                      at=now - 200 * DAY)
    # bob: created as an opportunity (sql), then lost a deal in a high phase 40 days ago: recycled (high)
    world.person("bob@example.com", lost_stage="Negotiation/Review", lost_days_ago=40,
                 hubspot={"lifecyclestage": "opportunity"})
    # carol: lead (created); an import dated her MQL before that: out of order; found at mql
    carol = world.person("carol@example.com")
    hs.update_contact(carol.hubspot_id or "", {
        "lifecyclestage": "marketingqualifiedlead",
        "hs_lifecyclestage_marketingqualifiedlead_date": (now - 400 * DAY).astimezone(UTC).isoformat()},
        at=now - 250 * DAY)
    # dave: Salesforce only, lost in a low phase 40 days ago: recycled (low)
    world.person("dave@example.com", lost_stage="Prospecting", lost_days_ago=40, in_hubspot=False)
    # erin: lead (created); sales connected (hs_lead_status: sal, which keeps no date)
    world.person("erin@example.com", hubspot={"hs_lead_status": "CONNECTED"})
    return {"created": created, "alice_mql": now - 200 * DAY}


def test_backfill_seeds_entries_before_the_first_run_and_says_what_it_could_not(world: World) -> None:
    t = seed(world)
    first = world.sync()
    first_at = world.now
    store = world.ctx.store
    flow_before = Counter({(c, st, nx, d): n for c, st, nx, d, n in store.flow_rows()})
    assert all(c >= cohort(first_at) for c, *_ in flow_before)  # the first run dates no entry

    summary = backfill(store, world.ctx.mapping)

    created, mql = t["created"], t["alice_mql"]
    assert backfilled(world, "alice@example.com", "stage") == [
        (None, "inquiry", created, "mql", mql),
        ("inquiry", "mql", mql, None, None)]  # continues into her first record (still mql)
    bob_cycle = store.cycles_of(key("bob@example.com"))[0]
    bob_lost = day_start(bob_cycle["lost_on"])
    assert backfilled(world, "bob@example.com", "stage") == [
        (None, "sql", created, "recycle", bob_lost),
        ("sql", "recycle", bob_lost, None, None)]
    assert backfilled(world, "bob@example.com", "group") == [
        (None, "waiting", bob_lost, "high", bob_lost + 30 * DAY),
        ("waiting", "high", bob_lost + 30 * DAY, None, None)]
    assert (bob_cycle["entered_at"], bob_cycle["first_group"]) == (bob_lost, "high")  # where worked
    assert backfilled(world, "carol@example.com", "stage") == [
        (None, "inquiry", created, "mql", first_at)]  # her MQL date goes backwards: the first run bounds it
    dave_lost = day_start(store.cycles_of(key("dave@example.com"))[0]["lost_on"])
    assert backfilled(world, "dave@example.com", "stage") == [(None, "recycle", dave_lost, None, None)]
    assert backfilled(world, "dave@example.com", "group") == [
        (None, "waiting", dave_lost, "low", dave_lost + 30 * DAY),
        ("waiting", "low", dave_lost + 30 * DAY, None, None)]
    assert backfilled(world, "erin@example.com", "stage") == [(None, "inquiry", created, "sal", first_at)]
    assert all(m.run_id == summary.run_id for m in store.iter_moves() if m.cause == "backfill")
    run = store.get_run(summary.run_id or 0)
    assert run is not None and (run.kind, run.status) == ("history_backfill", "ok")

    expected = Counter([
        (cohort(created), "inquiry", "mql", days(created, mql)),  # alice
        (cohort(mql), "mql", "", -1),
        (cohort(created), "sql", "recycle", days(created, bob_lost)),  # bob
        (cohort(bob_lost), "recycle", "", -1),
        (cohort(created), "inquiry", "mql", days(created, first_at)),  # carol (upper bound)
        (cohort(dave_lost), "recycle", "", -1),  # dave
        (cohort(created), "inquiry", "sal", days(created, first_at)),  # erin (upper bound)
    ])
    after = Counter({(c, st, nx, d): n for c, st, nx, d, n in store.flow_rows()})
    assert after - flow_before == expected and flow_before - after == Counter()

    assert (summary.people, summary.backfilled, summary.already_backfilled) == (5, 5, 0)
    assert (summary.stage_entries, summary.group_entries, summary.cycles_seeded) == (7, 4, 2)
    assert dict(summary.not_reconstructed) == {
        "ranks_before_first_run": 5,
        "no_hubspot_contact": 1,  # dave
        "dates_out_of_order": 1,  # carol
        "gap_upper_bound": 2,  # carol, erin
        "stage_only_undated_sources": 1,  # erin (sal)
        "promotions_and_tasks_before_leadsync": 2,  # bob, dave
    }
    assert summary.stages_without_date_property == []
    assert first.run_id != summary.run_id


def test_a_second_backfill_changes_nothing_and_later_moves_close_the_backfilled_entries(world: World) -> None:
    t = seed(world)
    world.sync()
    store = world.ctx.store
    backfill(store, world.ctx.mapping)
    moves_once, flow_once = list(store.iter_moves()), store.flow_rows()
    cycles_once = list(store.iter_cycles())

    again = backfill(store, world.ctx.mapping)
    assert (again.already_backfilled, again.backfilled, again.stage_entries) == (5, 0, 0)
    assert list(store.iter_moves()) == moves_once and store.flow_rows() == flow_once
    assert list(store.iter_cycles()) == cycles_once

    # alice becomes an SQL; a run 10 days later closes her backfilled mql entry and her first record
    later = world.now + 10 * DAY
    world.box.hubspot.store.update_contact(world.people["alice@example.com"].hubspot_id or "",
                                           {"lifecyclestage": "salesqualifiedlead"})
    world.sync(now=later)
    stage = [m for m in store.moves_of(key("alice@example.com")) if m.dimension == "stage"]
    mql_entry = next(m for m in stage if m.cause == "backfill" and m.to_value == "mql")
    first_record = next(m for m in stage if m.cause == "first")
    sql_move = stage[-1]
    assert sql_move.to_value == "sql" and sql_move.cause == "facts"
    assert (mql_entry.next_value, mql_entry.next_at) == ("sql", sql_move.at)
    assert (first_record.next_value, first_record.next_at) == ("sql", sql_move.at)
    flow = Counter({(c, st, nx, d): n for c, st, nx, d, n in store.flow_rows()})
    mql = t["alice_mql"]
    assert flow[(cohort(mql), "mql", "", -1)] == 0
    assert flow[(cohort(mql), "mql", "sql", days(mql, sql_move.at))] == 1


def test_a_dry_run_writes_nothing_and_records_no_run(world: World) -> None:
    seed(world)
    world.sync()
    store = world.ctx.store
    moves, flow, runs = list(store.iter_moves()), store.flow_rows(), store.list_runs()
    summary = backfill(store, world.ctx.mapping, dry_run=True)
    assert summary.run_id is None and summary.stage_entries == 7 and summary.cycles_seeded == 2
    assert list(store.iter_moves()) == moves and store.flow_rows() == flow and store.list_runs() == runs


def test_contacts_read_before_the_dates_were_asked_for_are_reported() -> None:
    """A snapshot without any date property (stored by a leadsync that did not ask for them) is not
    taken as "no dates": the summary says to re-read it."""
    mapping = load_mapping_text((Path(__file__).resolve().parents[3] / "mappings" / "default.toml")
                                .read_text(encoding="utf-8"), "default.toml")
    at = datetime(2026, 1, 5, tzinfo=UTC)
    first = Move("p", "stage", None, "inquiry", at, 1, 1, "first", None, None)
    dates = lifecycle_dates(mapping)
    old = BackfillBasis("p", first, None, False, None, None, None, None, ({"email": "p@x.test",
                                                                          "lifecyclestage": "lead"},))
    assert plan_person(old, mapping, dates, run_id=None).reasons == {
        "ranks_before_first_run", "dates_not_read", "first_stage_undated"}
    read = BackfillBasis("p", first, None, False, None, None, None, None, (
        {"lifecyclestage": "lead", "hs_lifecyclestage_lead_date": "1735689600000"},))  # 2025-01-01, epoch ms
    plan = plan_person(read, mapping, dates, run_id=None)
    assert [(m["to_value"], m["at"], m["next_at"]) for m in plan.moves] == [
        ("inquiry", datetime(2025, 1, 1, tzinfo=UTC), None)]
    assert plan.reasons == {"ranks_before_first_run"}


def test_backfill_command_prints_the_summary_and_the_report_shows_the_backfilled_cohorts(
        world: World, tmp_path: Path) -> None:
    t = seed(world)
    world.sync()
    runner = CliRunner(env={"COLUMNS": "200"})
    settings = str(tmp_path / "settings.toml")

    flow = world.ctx.store.flow_rows()
    result = runner.invoke(app, ["backfill", "--config", settings, "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert "would reconstruct 7 stage entries" in result.stdout and "upper bound" in result.stdout
    assert world.ctx.store.flow_rows() == flow

    result = runner.invoke(app, ["backfill", "--config", settings, "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["stage_entries"], data["cycles_seeded"]) == (7, 2)
    assert {r["reason"]: r["people"] for r in data["not_reconstructed"]}["gap_upper_bound"] == 2

    result = runner.invoke(app, ["report", "--config", settings, "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    conversion = {(r["cohort"], r["stage"]): (r["entered"], r["converted"])
                  for r in report["over_time"]["conversion"]}
    # alice, carol and erin entered inquiry in the month they were created and all moved further
    assert conversion[(cohort(t["created"]), "inquiry")] == (3, 3)
    assert report["last_run"]["kind"] == "sync"  # the snapshot's counts stay the last sync's

    result = runner.invoke(app, ["backfill", "--config", settings, "--until", "2026-01-01"])
    assert result.exit_code == 2 and "--since" in result.stderr

    lock = RunLock(world.ctx.store.engine)  # a run in progress: the backfill waits for nobody
    lock.acquire()
    try:
        result = runner.invoke(app, ["backfill", "--config", settings])
    finally:
        lock.release()
    assert result.exit_code == 3 and "lock" in result.stderr.lower()
