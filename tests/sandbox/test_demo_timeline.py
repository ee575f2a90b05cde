"""The demo's 18 months (`sandbox.demo_timeline`, lived by `leadsync demo`): the timeline itself, and
the state its monthly syncs leave, checked against what the timeline says happened (its deals and
comebacks), not against the report's own output."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

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


@pytest.mark.slow
def test_the_second_pipeline_counts_the_timelines_comebacks(lived: Lived) -> None:
    k = stage_kpis(lived.ctx.store, lived.ctx.mapping)
    groups = [p for p in k.pipeline if p.by == "group"]
    comebacks = lived.timeline.comebacks
    won = [c.deal for c in comebacks if c.deal.final == "won"]
    lost = [c.deal for c in comebacks if c.deal.final == "lost"]
    assert won and lost  # the demo shows both
    assert sum(p.new_deals for p in groups) == len(comebacks)
    assert sum(p.new_amount for p in groups) == sum(c.deal.amount for c in comebacks)
    assert sum(p.won_deals for p in groups) == len(won)
    assert sum(p.won_amount for p in groups) == sum(d.amount for d in won)
    assert sum(p.lost_again for p in groups) == len(lost)
    # every comeback engaged again after the loss, before their new deal
    assert sum(p.reengaged for p in groups) >= len(comebacks)
    # the same totals by loss reason and by phase (each cycle is in one row of each)
    for by in ("reason", "phase"):
        assert sum(p.won_deals for p in k.pipeline if p.by == by) == len(won)
    line = pipeline_summary(k)
    assert f"{len(comebacks)} new deals" in line and f"{len(won)} won" in line
    assert f"{len(lost)} lost again" in line


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
