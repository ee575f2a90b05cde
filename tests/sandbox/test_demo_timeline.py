"""The demo's 18 months (`sandbox.demo_timeline`, lived by `leadsync demo`): the timeline itself, and
the state its monthly syncs leave, checked against what the timeline says happened (its deals and
comebacks), not against the report's own output."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from rich.console import Console

from mappings.emails import parse_email
from sandbox import demo_timeline as T
from sandbox.demo_data import generate
from sandbox.launcher import Sandbox
from sync.cli.demo import DEFAULT_PEOPLE, live, pipeline_summary, writes_in
from sync.cli.history import history_command
from sync.cli.sync import execute
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult
from sync.run.setup import run_setup
from sync.settings import load_settings
from sync.views.history import person_history
from sync.views.kpis import MIN_PEOPLE, stage_kpis

END = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
PEOPLE = DEFAULT_PEOPLE  # what `leadsync demo` shows
SEED = 1


def test_the_timeline_is_deterministic_and_each_month_lies_between_its_runs() -> None:
    book = generate(people=200, seed=SEED, now=T.start_of(END))
    a, b = T.plan(book, END), T.plan(generate(people=200, seed=SEED, now=T.start_of(END)), END)
    assert a.events == b.events and a.comebacks == b.comebacks
    assert a.run_at(0) == book.now and a.run_at(T.MONTHS) == END and len(a.events) == T.MONTHS + 1
    assert a.events[0] == []
    for k in range(1, T.MONTHS + 1):
        assert all(a.run_at(k - 1) < e.at < a.run_at(k) for e in a.events[k]), k
    # at least one full calendar month between runs: a month's cohort is one run's moves
    assert all((a.run_at(k) - a.run_at(k - 1)).days >= 28 for k in range(1, T.MONTHS + 1))
    # a comeback's deal opens at least two runs after the loss: some run sees them recycled first
    assert a.comebacks and all(c.deal.opened_month >= c.lost_month + 2 for c in a.comebacks)
    assert {"won", "lost", "open"} <= {c.deal.final for c in a.comebacks}


def test_the_book_must_be_drawn_at_the_timelines_start() -> None:
    with pytest.raises(ValueError, match="start"):
        T.plan(generate(people=20, seed=SEED, now=END), END)


@dataclass
class Lived:
    box: Sandbox
    ctx: SyncContext
    settings_path: Path
    timeline: T.Timeline
    runs: list[RunResult]


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lived]:
    """A demo book of PEOPLE people lived for 18 months, one sync a month (as `leadsync demo` does)."""
    folder = tmp_path_factory.mktemp("timeline")
    start = T.start_of(END)
    box = Sandbox.start(people=PEOPLE, seed=SEED, workdir=folder / "sandbox", now=start)
    try:
        settings_path = box.write_settings(folder / "settings.toml",
                                           state_url=f"sqlite:///{(folder / 'state.db').as_posix()}")
        settings = load_settings(settings_path)
        box.move_clocks(start)
        ctx = open_context(settings)
        try:
            assert run_setup(ctx, create_missing=True).ok
        finally:
            ctx.close()
        assert box.book is not None
        timeline = T.plan(box.book, END)
        runs = live(box, timeline, T.apply_month, settings)
        ctx = open_context(settings)
        yield Lived(box, ctx, settings_path, timeline, runs)
        ctx.close()
    finally:
        box.stop()


@pytest.mark.slow
def test_every_run_of_the_18_months_finishes(lived: Lived) -> None:
    assert len(lived.runs) == T.MONTHS + 1
    assert [r.status for r in lived.runs] == ["ok"] * len(lived.runs), [r.to_dict() for r in lived.runs
                                                                       if r.status != "ok"]
    assert all(r.counts.get("stage_moves", 0) > 0 for r in lived.runs[1:])  # people move every month


def _day(value: object) -> date:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at.astimezone(UTC).date()


def _expected_new_deals(lived: Lived) -> dict[tuple[str, str], tuple[str, str] | None]:
    """(person, lost deal) -> (new deal id, "contact" | "account") of every recycle cycle, from the
    emulator's records: the first opportunity created after the loss day on which the person's contact
    is a contact role, else the first one created on the lost deal's account; None when there is none."""
    sf = lived.box.salesforce.store
    opps = {o["Id"]: o for o in sf.all("Opportunity")}
    email_of = {c["Id"]: parse_email(c.get("Email"))[0] for c in sf.all("Contact")}
    roles: dict[str, set[str]] = {}
    for r in sf.all("OpportunityContactRole"):
        roles.setdefault(r["OpportunityId"], set()).add(email_of.get(r["ContactId"]) or "")
    out: dict[tuple[str, str], tuple[str, str] | None] = {}
    for cycle in lived.ctx.store.iter_cycles():
        person, lost = str(cycle["person_key"]), str(cycle["deal_id"])
        lost_on = cycle["lost_on"]
        assert isinstance(lost_on, date)
        later = sorted((_day(o["CreatedDate"]), oid) for oid, o in opps.items()
                       if oid != lost and _day(o["CreatedDate"]) > lost_on)
        own = [oid for _, oid in later if person in roles.get(oid, ())]
        account = [oid for _, oid in later if opps[oid]["AccountId"] == opps[lost]["AccountId"]]
        out[(person, lost)] = ((own[0], "contact") if own else (account[0], "account") if account else None)
    return out


@pytest.mark.slow
def test_the_second_pipeline_counts_the_timelines_comebacks_and_the_accounts_new_deals(lived: Lived) -> None:
    k = stage_kpis(lived.ctx.store, lived.ctx.mapping)
    comebacks = lived.timeline.comebacks
    won = [c.deal for c in comebacks if c.deal.final == "won"]
    lost = [c.deal for c in comebacks if c.deal.final == "lost"]
    assert won and lost  # the demo shows both
    # each cycle's new deal is the one the emulator's records say
    expected = _expected_new_deals(lived)
    cycles = list(lived.ctx.store.iter_cycles())
    assert {(str(c["person_key"]), str(c["deal_id"])): (c["new_deal_id"], c["new_deal_via"])
            if c["new_deal_id"] else None for c in cycles} == expected
    # the people's own new deals are the timeline's comebacks
    own = {str(c["new_deal_id"]): c for c in cycles if c["new_deal_via"] == "contact"}
    assert len(own) == len(comebacks)
    assert sum(float(c["new_deal_amount"] or 0) for c in own.values()) == sum(
        c.deal.amount for c in comebacks)
    assert sum(c["new_deal_state"] == "won" for c in own.values()) == len(won)
    assert sum(c["new_deal_state"] == "lost" for c in own.values()) == len(lost)
    # the report's total counts every new deal once, with the emulator's amounts and outcomes
    sf = lived.box.salesforce.store
    deals = {v[0] for v in expected.values() if v is not None}
    by_contact = {v[0] for v in expected.values() if v is not None and v[1] == "contact"}
    assert deals - by_contact  # the demo's accounts have new deals that no recycled person is on
    records = [sf.get("Opportunity", d) or {} for d in deals]
    (total,) = [p for p in k.pipeline if p.by == "total"]
    assert (total.new_deals, total.new_via_account) == (len(deals), len(deals - by_contact))
    assert total.new_amount == sum(float(r["Amount"] or 0) for r in records)
    assert total.won_deals == sum(bool(r["IsWon"]) for r in records)
    assert total.won_amount == sum(float(r["Amount"] or 0) for r in records if r["IsWon"])
    assert total.lost_again == sum(bool(r["IsClosed"]) and not r["IsWon"] for r in records)
    assert total.recycled == len(cycles) == sum(p.recycled for p in k.pipeline if p.by == "group")
    # every comeback engaged again after the loss, before their new deal
    assert total.reengaged >= len(comebacks)
    # sales worked the call tasks (the timeline completes three in four): the calls completed are the
    # cycles whose task the emulator holds as closed, read back by the runs
    closed = {task["Leadsync_Cycle_Key__c"] for task in sf.all("Task") if task["IsClosed"]}
    keyed = [c for c in cycles if c["task_cycle_key"]]
    assert 0 < total.completed < total.called
    assert total.completed == sum(c["task_cycle_key"] in closed for c in keyed)
    line = pipeline_summary(k)
    assert f"{total.called} called ({total.completed} completed)" in line
    assert f"{len(deals)} new deals" in line and f"{len(deals - by_contact)} via the account" in line
    assert f"{total.won_deals} won" in line and f"{total.lost_again} lost again" in line


@pytest.mark.slow
def test_conversion_velocity_and_losses_over_time_have_numbers(lived: Lived) -> None:
    timeline = lived.timeline
    k = stage_kpis(lived.ctx.store, lived.ctx.mapping)
    cohorts = {c.cohort for c in k.conversion}
    months = {timeline.run_at(m).strftime("%Y-%m") for m in range(1, T.MONTHS + 1)}
    assert len(cohorts & months) >= 12  # entries in most months of the timeline
    assert any(c.rate is not None for c in k.conversion)  # some cohort has at least MIN_PEOPLE
    assert any(v.median_days is not None and v.left >= MIN_PEOPLE for v in k.velocity)
    # the deals the timeline lost are the losses after the start (the book's are all before it)
    since = stage_kpis(lived.ctx.store, lived.ctx.mapping, since=timeline.start)
    lost = [d for d in timeline.deals if d.final == "lost"]
    assert lost and sum(c.deals for c in since.losses) == len(lost)
    assert sum(c.amount for c in since.losses) == sum(d.amount for d in lost)
    quarters = {c.quarter for c in since.losses}
    assert len(quarters) >= 3  # losses spread over the quarters of the 18 months


@pytest.mark.slow
def test_history_shows_a_recycled_person_who_came_back_and_won(lived: Lived) -> None:
    won = next(c for c in lived.timeline.comebacks if c.deal.final == "won")
    h = person_history(lived.ctx.store, won.email)
    assert h is not None
    stages = [m.to_value for m in h.moves if m.dimension == "stage"]
    assert "recycle" in stages and stages[-1] == "close"
    assert stages.index("recycle") < len(stages) - 1 - stages[::-1].index("sql")  # recycle, then sql
    cycle = next(c for c in h.cycles if c["new_deal_state"] == "won")
    assert cycle["new_deal_amount"] == won.deal.amount
    opened = lived.timeline.run_at(won.deal.opened_month - 1)
    assert cycle["new_deal_opened_on"] > opened.date()  # the timeline's deal, not an older one
    text = io.StringIO()
    assert history_command(won.email, lived.settings_path, False,
                           Console(file=text, width=250, color_system=None)) == 0
    out = text.getvalue()
    assert "recycle" in out and "close" in out and f"won {won.deal.amount}" in out


def test_move_clocks_moves_both_emulators_and_reset_brings_them_back(empty_sandbox: Sandbox) -> None:
    box, when = empty_sandbox, datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    box.move_clocks(when)
    hs_id = box.hubspot.store.create_contact({"email": "clock@example.com"})  # written "now"
    sf_id = box.salesforce.store.create("Account", {"Name": "Clock"})
    created = box.hubspot.store.get_contact(hs_id)["createdAt"]
    assert created.startswith("2025-03-01T12:0"), created
    assert str(box.salesforce.store.get("Account", sf_id)["CreatedDate"]).startswith("2025-03-01")
    box.reset()
    assert box.hubspot.clock().year == datetime.now(UTC).year and box.salesforce.clock.offset.days == 0


@pytest.mark.slow
def test_a_repeat_sync_after_the_18_months_writes_nothing(lived: Lived) -> None:
    again = execute(load_settings(lived.settings_path), RunOptions(now=END), show_progress=False)
    assert again.status == "ok" and again.counts.get("stage_moves") == 0  # nothing moved...
    assert writes_in(again) == 0, again.counts  # ...so nothing is written
